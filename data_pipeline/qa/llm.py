"""The LLM path of question–SQL generation: one call per theme, validated, checked against the schema.

`generate_theme_pairs(llm, theme, tables, docs, business_context, count)` returns the theme's pairs and the
problems found (rejected items, with reasons); it raises the client's `LLMError` when the call itself fails,
so the step can report the theme as failed — an error never becomes a question or a SQL.
"""
from __future__ import annotations

from typing import Any, Sequence

from pydantic import BaseModel, Field

from data_pipeline.qa.pair_privacy import personal_data_use
from data_pipeline.qa.pair_quality import DIFFICULTIES, classify_difficulty, sql_coverage
from data_pipeline.lexicon.glossary import LANGUAGE_NAMES
from data_pipeline.qa.pairs import Pair
from data_pipeline.schema.model import Table
from data_pipeline.validation.guard import check_sql
from data_pipeline.qa.prompting import ask_json, relationships, table_docs
from data_pipeline.qa.themes import Theme, theme_tables


class PairAnswer(BaseModel):
    question: str = Field(min_length=2, max_length=500)
    sql: str = Field(min_length=8, max_length=8000)
    difficulty: str = ""
    tables: list[str] = Field(default_factory=list)


PairsAnswer = list[PairAnswer]

def generate_theme_pairs(llm: Any, theme: Theme, tables: Sequence[Table], docs: dict[str, str],
                         business_context: str, count: int, language: str = "zh") -> tuple[list[Pair], list[str]]:
    """Ask for `count` pairs about `theme`; keep the ones whose SQL is one read-only SELECT on known tables.

    Difficulty is recorded from the SQL's own syntax (the model's label is kept as `difficulty_claimed`).
    """
    members = theme_tables(theme, tables)
    answer: PairsAnswer = ask_json(
        llm, "qa_pairs", PairsAnswer, business_context=business_context or "（未提供）",
        topic_name=theme.topic_name, topic_description=theme.description or theme.topic_name,
        biz_entities="、".join(theme.biz_entities) or "（未列出）",
        biz_metrics="、".join(theme.biz_metrics) or "（未列出）", pair_count=count,
        difficulties=", ".join(DIFFICULTIES), table_docs=table_docs(members, docs),
        relationships=relationships(members), question_language_name=LANGUAGE_NAMES.get(language, "中文"))
    pairs, problems = [], []
    for i, item in enumerate(answer):
        question, sql = item.question.strip(), item.sql.strip().rstrip(";").strip()
        verdict = check_sql(sql)
        if not verdict.ok:
            problems.append(f"theme '{theme.topic_name}' item {i + 1} rejected: {verdict.reason}")
            continue
        used, edges = sql_coverage(sql, tables)
        if not used:
            problems.append(f"theme '{theme.topic_name}' item {i + 1} rejected: it reads none of the task's tables")
            continue
        personal = personal_data_use(sql, tables)
        if personal:   # personal columns are never filter values, group keys or listed columns
            problems.append(f"theme '{theme.topic_name}' item {i + 1} rejected: {personal}")
            continue
        pairs.append(Pair(question, sql, {
            "theme": theme.topic_name, "difficulty": classify_difficulty(sql),
            "difficulty_claimed": item.difficulty or None, "tables": sorted(used), "fk_edges": sorted(edges),
            "source": "llm", "template": None}))
    return pairs, problems
