"""Step 2's question–SQL generation: business themes, then pairs (rule-based or LLM), deduplicated and covered.

In: the schema snapshot (`data_pipeline.schema.model.Table`) and the tables' Markdown docs. Out: `Pair` lists,
the pair file `qs_{db}_{ts}_pair.json` and `metadata_detail.md`. Wording (glossary, vocabulary, phrases) comes
from `data_pipeline.lexicon`. Lower modules never import higher ones:
columns -> prompting -> themes -> synth/llm -> rule_plan; model_sql -> model_facts -> model_entities ->
model_pairs -> model_coverage.

    columns.py       column roles (measure, category, label, time, soft delete) and SQL text (quoting, literals)
    pairs.py         the pair model and pair files (`qs_*_pair.json` and its meta sidecar)
    pair_quality.py  pure quality functions: dedupe, FK edges, coverage, difficulty
    pair_privacy.py  an LLM pair never filters on, groups by or lists a personal column, nor uses a masked value
    prompting.py     table docs and FK lists for prompts, one validated chat_json call
    themes.py        business themes: FK-graph clusters (rule-based) or one LLM call
    model_sql.py     SQL pieces against the semantic model: measures, groups (labels, dimensions), time axis, joins
    model_facts.py   questions about facts: measures over time, per group along join paths, top-N, shares, HAVING
    model_entities.py  questions about entities, bridges (distinct counts), anti-joins, missing values, flags
    model_pairs.py   which intents each table gets (rule-based mode), the cap on simple lookups
    model_coverage.py  coverage top-up from the model: a question for each foreign key and table not yet used
    synth.py         older SQL-first templates per table and FK edge (the top-up of tables outside the model)
    model_rules.py   the semantic model in the LLM path: its prompt section, the rules an LLM pair must keep
    llm.py           the LLM path: one call per theme, answers validated against the schema, privacy and model
    rule_plan.py     which theme generates which tables' and edges' pairs, and the coverage top-up
    detail.py        `metadata_detail.md`: the themes of a run, then the semantic model, for people
"""
