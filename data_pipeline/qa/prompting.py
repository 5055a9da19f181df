"""Prompt plumbing shared by the LLM theme and pair calls: table docs for a prompt (capped), the FK list, and one
validated `chat_json` call with a prompt file.
"""
from __future__ import annotations

from typing import Any, Sequence

from data_pipeline.qa.pair_quality import fk_edges
from data_pipeline.lexicon.vocabulary import display_name
from data_pipeline.schema.model import Table

DOC_CHARS_PER_TABLE = 6000    # a wide table's Markdown is cut here: the prompt stays within a model's context


def doc_excerpt(text: str, limit: int = DOC_CHARS_PER_TABLE) -> str:
    """`text` cut at the last line break before `limit` characters, saying so."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    return text[: cut if cut > 0 else limit] + "\n…（文档过长，已截断）"


def table_docs(tables: Sequence[Table], docs: dict[str, str], limit: int = DOC_CHARS_PER_TABLE) -> str:
    """The tables' Markdown docs (as on disk), each capped; a table without a doc gets its name as heading."""
    return "\n\n".join(doc_excerpt(docs.get(display_name(t)) or f"## {display_name(t)}", limit) for t in tables)


def relationships(tables: Sequence[Table]) -> str:
    """The foreign keys among `tables`, one per line, for the pair prompt (joins should follow them)."""
    lines = [f"- {e.child}({', '.join(e.columns)}) -> {e.parent}({', '.join(e.ref_columns)})" for e in fk_edges(tables)]
    return "\n".join(lines) or "（无外键关系）"


def prompt_messages(prompt_name: str, **variables: Any) -> list[dict]:
    """The system prompt and prompts/<prompt_name>.txt rendered with `variables` as the user message."""
    from core.llm import load_prompt
    return [{"role": "system", "content": load_prompt("qa_system")},
            {"role": "user", "content": load_prompt(prompt_name, **variables)}]


def ask_json(llm: Any, prompt_name: str, schema: Any, **variables: Any) -> Any:
    """One chat_json call with `prompt_messages(prompt_name, **variables)`."""
    return llm.chat_json(prompt_messages(prompt_name, **variables), schema, purpose=prompt_name)
