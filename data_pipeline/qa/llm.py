"""The LLM path of question–SQL generation: one call per theme, validated, checked against the schema.

`generate_theme_pairs(llm, theme, tables, docs, business_context, count, language, model)` returns the theme's
pairs and the problems found (rejected items, each a `Rejection` with its reason and kind); it raises the client's `LLMError` when the call itself fails,
so the step can report the theme as failed — an error never becomes a question or a SQL.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from pydantic import BaseModel, Field

from data_pipeline.qa.model_rules import model_prompt, model_rule_break
from data_pipeline.qa.pair_privacy import personal_data_use
from data_pipeline.qa.pair_quality import DIFFICULTIES, classify_difficulty, coverage_catalog, sql_coverage
from data_pipeline.lexicon.glossary import LANGUAGE_NAMES
from data_pipeline.qa.pairs import Pair
from data_pipeline.schema.model import Table
from data_pipeline.semantics.model import SemanticModel
from data_pipeline.validation.guard import check_sql_once
from data_pipeline.qa.prompting import ask_json, relationships, table_docs
from data_pipeline.qa.themes import Theme, theme_tables


class PairAnswer(BaseModel):
    question: str = Field(min_length=2, max_length=500)
    sql: str = Field(min_length=8, max_length=8000)
    difficulty: str = ""
    tables: list[str] = Field(default_factory=list)


PairsAnswer = list[PairAnswer]


class Rejection(str):
    """Why an LLM answer was dropped (the text, as before), with `kind` for the counts in the quality report:
    invalid_sql, no_task_table, personal_data, or one of model_rules.RULES."""
    kind: str

    def __new__(cls, text: str, kind: str) -> "Rejection":
        obj = super().__new__(cls, text)
        obj.kind = kind
        return obj


def count_rejections(problems: Sequence[str]) -> dict[str, int]:
    """Rejected LLM answers by kind (problems that are not a `Rejection`, e.g. a malformed theme, are not pairs)."""
    counts: dict[str, int] = {}
    for p in problems:
        if isinstance(p, Rejection):
            counts[p.kind] = counts.get(p.kind, 0) + 1
    return dict(sorted(counts.items()))


def generate_theme_pairs(llm: Any, theme: Theme, tables: Sequence[Table], docs: dict[str, str],
                         business_context: str, count: int, language: str = "zh",
                         model: Optional[SemanticModel] = None,
                         on_guarded: Optional[Callable[[list[str]], None]] = None) -> tuple[list[Pair], list[str]]:
    """Ask for `count` pairs about `theme`; keep the ones whose SQL is one read-only SELECT on known tables, uses
    no personal data and keeps the semantic model's rules (`model_rules.model_rule_break`). The prompt carries the
    model: roles, measures, event times, join paths and the complexity mix.

    Difficulty is recorded from the SQL's own syntax (the model's label is kept as `difficulty_claimed`).
    `on_guarded` gets the SQL that passed the read-only guard before the slower checks run (qa_generation starts
    checking it on the database meanwhile).
    """
    members = theme_tables(theme, tables)
    answer: PairsAnswer = ask_json(
        llm, "qa_pairs", PairsAnswer, business_context=business_context or "（未提供）",
        topic_name=theme.topic_name, topic_description=theme.description or theme.topic_name,
        biz_entities="、".join(theme.biz_entities) or "（未列出）",
        biz_metrics="、".join(theme.biz_metrics) or "（未列出）", pair_count=count,
        difficulties=", ".join(DIFFICULTIES), table_docs=table_docs(members, docs),
        relationships=relationships(members), question_language_name=LANGUAGE_NAMES.get(language, "中文"),
        semantic_model=model_prompt(model, members, language))
    items = [(item, item.question.strip(), item.sql.strip().rstrip(";").strip()) for item in answer]
    verdicts = [check_sql_once(sql) for _, _, sql in items]     # the failure guess reads them again
    if on_guarded is not None:
        on_guarded([sql for (_, _, sql), verdict in zip(items, verdicts) if verdict.ok])
    pairs, problems, catalog = [], [], coverage_catalog(tables)
    for i, ((item, question, sql), verdict) in enumerate(zip(items, verdicts)):
        where = f"theme '{theme.topic_name}' item {i + 1} rejected"
        if not verdict.ok:
            problems.append(Rejection(f"{where}: {verdict.reason}", "invalid_sql"))
            continue
        used, edges = sql_coverage(sql, tables, catalog)
        if not used:
            problems.append(Rejection(f"{where}: it reads none of the task's tables", "no_task_table"))
            continue
        personal = personal_data_use(sql, tables)
        if personal:   # personal columns are never filter values, group keys or listed columns
            problems.append(Rejection(f"{where}: {personal}", "personal_data"))
            continue
        broken = model_rule_break(sql, model)
        if broken:     # an aggregated id, a ranked flag, a bridge counted, an audit time as the axis
            problems.append(Rejection(f"{where}: {broken[1]}", broken[0]))
            continue
        pairs.append(Pair(question, sql, {
            "theme": theme.topic_name, "difficulty": classify_difficulty(sql),
            "difficulty_claimed": item.difficulty or None, "tables": sorted(used), "fk_edges": sorted(edges),
            "source": "llm", "template": None}))
    return pairs, problems
