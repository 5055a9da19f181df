"""Optional step 5's logic: what the loaded training data does for retrieval and for SQL accuracy.

    shape.py       OmniSQL complexity levels (pair_lint's definition), the tables a SQL reads, its skeleton
    holdout.py     the stratified hold-out training_load keeps out of the store (eval_holdout.json)
    paraphrase.py  a reworded variant per held-out question (another phrase family, synonyms; or one LLM call)
    retrieval.py   Vanna's retrieval (the POST /vector/search queries) and table recall@k, pair hit@k, MRR
    compare.py     BIRD execution accuracy and defog's subset match of two results (pure)
    accuracy.py    Vanna's get_sql_prompt, SQL extraction, guarded read-only runs, both arms per question
    report.py      evaluation_report.json and its Markdown summary
The step itself (files, logs, progress) is data_pipeline/steps/evaluation.py.
"""
