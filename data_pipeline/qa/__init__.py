"""Step 2's question–SQL generation: business themes, then pairs (rule-based or LLM), deduplicated and covered.

In: the schema snapshot (`data_pipeline.schema.model.Table`) and the tables' Markdown docs. Out: `Pair` lists,
the pair file `qs_{db}_{ts}_pair.json` and `metadata_detail.md`. Lower modules never import higher ones:
glossary -> vocabulary/columns -> phrases -> prompting -> themes -> synth/llm -> rule_plan.

    glossary.py      built-in bilingual glossary of schema words; the task's question language (zh, en, auto)
    vocabulary.py    how tables and columns are named in questions, themes and prompts, in the run's language
    phrases.py       every rule-based question's wording, in Chinese and English
    columns.py       column roles (measure, category, label, time, soft delete) and SQL text (quoting, literals)
    pairs.py         the pair model and pair files (`qs_*_pair.json` and its meta sidecar)
    pair_quality.py  pure quality functions: dedupe, FK edges, coverage, difficulty
    pair_privacy.py  an LLM pair never filters on, groups by or lists a personal column, nor uses a masked value
    prompting.py     table docs and FK lists for prompts, one validated chat_json call
    themes.py        business themes: FK-graph clusters (rule-based) or one LLM call
    synth.py         rule-based SQL-first pair templates per table and per FK edge
    llm.py           the LLM path: one call per theme, answers validated against the schema
    rule_plan.py     which theme generates which tables' and edges' pairs, and the coverage top-up
    detail.py        `metadata_detail.md`: the themes of a run, for people
"""
