"""Step 2's question–SQL generation: business themes, then pairs (rule-based or LLM), deduplicated and covered.

In: the schema snapshot (`data_pipeline.schema.model.Table`) and the tables' Markdown docs. Out: `Pair` lists,
the pair file `qs_{db}_{ts}_pair.json` and `metadata_detail.md`. Wording (glossary, vocabulary, phrases) comes
from `data_pipeline.lexicon`. Lower modules never import higher ones:
columns -> prompting -> themes -> synth/llm -> rule_plan.

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
