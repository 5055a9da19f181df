"""Comments for tables and columns that have none in the database: rule-based or by an LLM.

Contract: a comment that exists in the database (`Table.comment`, `Column.comment`) is kept as introspection
left it (`schema.pii` masks PII-shaped substrings) and never touched; only missing ones get a
`generated_comment`, and `comment_source` records where each came from (database, llm, rule_based). Generated
comments are in the task's language (zh default, en; see `data_pipeline.lexicon.glossary.resolve_language`). Nothing
here knows a business domain: the rule-based generator reads conventional audit names, the built-in glossary
of schema words (data_pipeline/lexicon/glossary.py), the table's foreign-key targets and profiled values; a name the
glossary cannot fully translate is quoted and said to be unconfirmed rather than half translated or guessed.
An LLM failure raises `core.errors.LLMError` for that table; its text never becomes a comment.
"""
from __future__ import annotations

import json
import re
from typing import Optional

from pydantic import BaseModel, Field

from core.errors import LLMError
from data_pipeline.lexicon.glossary import LANGUAGE_NAMES, en_phrase, singular, words, zh_phrase
from data_pipeline.schema.ddl_render import first_line
from data_pipeline.schema.model import Column, Table

RULE_BASED = "rule_based"
LLM = "llm"

# audit and personal columns whose meaning is fixed by convention: (name words) -> (Chinese, English)
AUDIT = {
    ("create", "ts"): ("创建时间", "Creation time"), ("create", "time"): ("创建时间", "Creation time"),
    ("created", "at"): ("创建时间", "Creation time"), ("gmt", "create"): ("创建时间", "Creation time"),
    ("created", "by"): ("创建人", "Created by"), ("create", "by"): ("创建人", "Created by"),
    ("creator",): ("创建人", "Creator"), ("update", "ts"): ("更新时间", "Update time"),
    ("update", "time"): ("更新时间", "Update time"), ("updated", "at"): ("更新时间", "Update time"),
    ("gmt", "modified"): ("更新时间", "Update time"), ("updated", "by"): ("更新人", "Updated by"),
    ("update", "by"): ("更新人", "Updated by"), ("modifier",): ("修改人", "Modified by"),
    ("last", "update"): ("最后更新时间", "Last update time"),
    ("delete", "ts"): ("删除时间（软删除标记）", "Deletion time (soft-delete marker)"),
    ("delete", "time"): ("删除时间（软删除标记）", "Deletion time (soft-delete marker)"),
    ("deleted", "at"): ("删除时间（软删除标记）", "Deletion time (soft-delete marker)"),
    ("deleted", "by"): ("删除人", "Deleted by"), ("delete", "by"): ("删除人", "Deleted by"),
    ("is", "deleted"): ("是否删除（软删除标记）", "Whether deleted (soft-delete marker)"),
    ("del", "flag"): ("删除标记", "Deletion flag"), ("deleted",): ("是否删除（软删除标记）", "Whether deleted (soft-delete marker)"),
    ("version",): ("版本号", "Version number"), ("full", "name"): ("姓名", "Full name"),
    ("real", "name"): ("姓名", "Full name"), ("id", "card"): ("身份证号", "ID card number"),
    ("id", "card", "no"): ("身份证号", "ID card number"),
}
_CJK = re.compile(r"[\u4e00-\u9fff]")
_PAREN = re.compile(r"[（(].*?[）)]")


def _words(name: str) -> list[str]:
    return [singular(w) for w in words(name)] or [name]


def _en_sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def table_label(table: Optional[Table], name: str, language: str = "zh") -> str:
    """A short name for a table in `language`: its comment (in that language) without parentheses and a
    trailing 表, else its name through the glossary (quoted in Chinese when the glossary cannot translate it)."""
    comment = _PAREN.sub("", first_line((table.effective_comment if table else "") or "")).strip()
    if comment and bool(_CJK.search(comment)) == (language == "zh"):
        if language == "en":
            return re.sub(r"\s+(table|view)$", "", comment, flags=re.I)
        return comment[:-1] if comment.endswith("表") and len(comment) > 1 else comment
    if language == "en":
        return name if any(ch.isdigit() for ch in name) else en_phrase(words(name)) or name
    return zh_phrase(words(name)) or f"“{name}”"


def _type_word(col: Column, language: str) -> str:
    t = col.data_type
    if re.match(r"(numeric|decimal|double|real|money)", t):
        return ("数值", "numeric")[language == "en"]
    if re.match(r"(integer|bigint|smallint)", t):
        return ("整数", "integer")[language == "en"]
    if t.startswith(("timestamp", "date", "time")):
        return ("时间", "time")[language == "en"]
    if t == "boolean":
        return ("布尔", "boolean")[language == "en"]
    return ("文本", "text")[language == "en"]


def _with_values(text: str, col: Column, language: str) -> str:
    sep, allowed, e_g = ("，", "可选值：", "取值如：") if language == "zh" else ("; ", "allowed values: ", "e.g. ")
    joiner = "、" if language == "zh" else ", "
    if col.enum_values:
        return text + f"{sep}{allowed}{joiner.join(col.enum_values[:8])}"
    if col.is_enum_like and col.top_values:
        return text + f"{sep}{e_g}{joiner.join(tv.value for tv in col.top_values[:6])}"
    return text


def rule_column_comment(table: Table, col: Column, tables_by_name: dict[tuple[str, str], Table],
                        language: str = "zh") -> str:
    """A column comment in `language` from its name alone: conventional audit names, keys and foreign keys,
    else the glossary. In Chinese a name the glossary cannot fully translate is quoted whole and marked as
    unconfirmed, never half translated ("last更新")."""
    en = language == "en"
    if _CJK.search(col.name):
        return _with_values(col.name, col, language)   # the name is already words a reader understands
    toks = _words(col.name)
    if tuple(toks) in AUDIT:
        return AUDIT[tuple(toks)][en]
    if toks == ["id"]:
        return ("主键ID", "Primary key ID")[en] if col.is_primary_key else "ID"
    fk = next((f for f in table.foreign_keys if col.name in f.columns), None)
    if fk is not None:
        target = tables_by_name.get((fk.ref_schema, fk.ref_table))
        ref_col = fk.ref_columns[fk.columns.index(col.name)]
        label = table_label(target, fk.ref_table, language)
        stem = words(col.name)[:-1] if toks[-1] == "id" else words(col.name)
        parent_words = _words(fk.ref_table)
        if stem and [singular(w) for w in stem] != parent_words[-len(stem):] and not re.search(r"\d", "".join(stem)):
            # a role (original_language_id): the column says more than the table it references
            role = en_phrase(stem) if en else zh_phrase(stem)
            label = role or label
        if en:
            return f"{_en_sentence(label)} ID (references {fk.ref_table}.{ref_col})"
        if ref_col == "id" or toks[-1] == "id":
            return f"{label}ID（关联 {fk.ref_table}.{ref_col}）"
        return f"{label}（关联 {fk.ref_table}.{ref_col}）" if label != table_label(target, fk.ref_table, language) \
            else f"关联 {fk.ref_table}.{ref_col}"
    if en:
        text = en_phrase(words(col.name))
        if toks[0] == "is" and len(toks) > 1:
            text = "whether " + en_phrase(words(col.name)[1:])
        return _with_values(_en_sentence(text) if text else col.name, col, language)
    text = zh_phrase(words(col.name))
    if text is None:
        # not every word is known: say so instead of inventing (or half translating) a meaning
        text = f"“{col.name}”（{_type_word(col, language)}字段，含义待确认）"
    return _with_values(text, col, language)


def rule_table_comment(table: Table, tables_by_name: dict[tuple[str, str], Table], language: str = "zh") -> str:
    en = language == "en"
    fk_targets = [table_label(tables_by_name.get((f.ref_schema, f.ref_table)), f.ref_table, language)
                  for f in table.foreign_keys]
    pk_from_fks = table.primary_key and all(any(c in f.columns for f in table.foreign_keys)
                                            for c in table.primary_key)
    if len(fk_targets) >= 2 and pk_from_fks:
        targets = list(dict.fromkeys(fk_targets))
        return f"Link between {' and '.join(targets)}" if en else f"{'与'.join(targets)}的关联表"
    if _CJK.search(table.name):
        return table.name
    toks = words(table.name) or [table.name]
    if len(toks) > 1 and zh_phrase(toks[:1]) is None and len(toks[0]) <= 4 and zh_phrase(toks[1:]):
        toks = toks[1:]   # a short system prefix such as t_, tb_, ods_: not part of the meaning
    if en:
        kind = {"view": "view", "materialized_view": "materialized view"}.get(table.kind, "table")
        name = table.name if any(ch.isdigit() for ch in table.name) else en_phrase(toks)
        return _en_sentence(f"{name} {kind}")
    kind = {"view": "视图", "materialized_view": "物化视图"}.get(table.kind, "表")
    text = zh_phrase(toks)
    return f"{text}{kind}" if text else f"“{table.name}”{kind}（含义待确认）"


# the words of `describe` per output language; the sentence is built the same way in both
_DESCRIBE_WORDS = {
    "zh": {"named": "{name}（{label}）", "rows": "：共{approx} {rows} 行数据", "approx": "约", "columns": "{n} 个字段",
           "primary_key": "主键为 {cols}", "references": "{cols} 关联 {table}({ref})", "sep": "，", "clause": "；",
           "end": "。",
           "kinds": {"view": "（视图）", "materialized_view": "（物化视图）", "partitioned_table": "（分区表）"}},
    "en": {"named": "{name} ({label})", "rows": ": {approx}{rows} rows", "approx": "about ", "columns": "{n} columns",
           "primary_key": "primary key {cols}", "references": "{cols} references {table}({ref})", "sep": ", ",
           "clause": "; ",
           "end": ".", "kinds": {"view": " (view)", "materialized_view": " (materialized view)",
                                 "partitioned_table": " (partitioned table)"}},
}


def describe(table: Table, language: str = "zh") -> str:
    """A factual one-paragraph description for the md body (counts, keys, relations; no guessing)."""
    words = _DESCRIBE_WORDS["en" if language == "en" else "zh"]
    label = table_label(table, table.name, language)
    rows = table.row_estimate
    parts = [words["named"].format(name=table.name, label=label) if label != table.name else table.name]
    if rows is not None:
        parts[0] += words["rows"].format(approx="" if table.row_count_exact else words["approx"], rows=rows)
    parts.append(words["columns"].format(n=len(table.columns)))
    if table.primary_key:
        parts.append(words["primary_key"].format(cols=key_columns(table.primary_key)))
    refs = [words["references"].format(cols=key_columns(fk.columns), table=fk.ref_table, ref=", ".join(fk.ref_columns))
            for fk in table.foreign_keys]
    # the foreign keys after a clause of their own: a composite key's columns never run into them
    text = words["sep"].join(parts) + (words["clause"] + words["sep"].join(refs) if refs else "")
    return text + words["kinds"].get(table.kind, "") + words["end"]


def key_columns(columns: list[str]) -> str:
    """A key's columns as one item: `id`, or `(order_id, line_no)` for a composite key."""
    return columns[0] if len(columns) == 1 else f"({', '.join(columns)})"


def apply_rule_based(table: Table, tables_by_name: dict[tuple[str, str], Table], language: str = "zh") -> int:
    """Fill every missing comment with a rule-based one in `language` (zh, en); returns how many were
    generated."""
    generated = 0
    if not table.comment:
        table.generated_comment = rule_table_comment(table, tables_by_name, language)
        generated += 1
    for col in table.columns:
        if col.comment:
            col.comment_source = "database"
            continue
        if not col.generated_comment:
            col.generated_comment = rule_column_comment(table, col, tables_by_name, language)
            col.comment_source = RULE_BASED
        generated += 1
    table.description = table.description or describe(table, language)
    table.comment_source = _source(table, RULE_BASED)
    table.generated_comment_count = generated
    return generated


def _source(table: Table, generator: str) -> str:
    """database when nothing was generated; else the generator (llm/rule_based)."""
    if table.comment and all(c.comment for c in table.columns):
        return "database"
    return generator


# ----------------------------------------------------------------------------------------------------- LLM
class TableComments(BaseModel):
    """What the LLM answers for one table (prompts/ddl_comments.txt)."""
    table_comment: str = Field("", max_length=200)
    table_description: str = Field("", max_length=1000)
    columns: dict[str, str] = Field(default_factory=dict)


_REFUSAL = re.compile(r"(抱歉|对不起|无法(提供|生成|回答|确定)|作为.{0,6}(AI|模型|助手)|sorry|I cannot|I can't|"
                      r"as an AI)", re.I)


def _usable(text: Optional[str], limit: int = 200) -> Optional[str]:
    """A generated comment, or None when empty, too long or an apology/refusal (never stored as content)."""
    if not isinstance(text, str):
        return None
    text = " ".join(text.split())
    if not text or len(text) > limit or _REFUSAL.search(text):
        return None
    return text


def prompt_payload(table: Table, tables_by_name: Optional[dict[tuple[str, str], Table]] = None) -> str:
    """The table as the LLM sees it, compact (one column per line): structure, existing comments, masked
    samples or frequent values, enum values, referenced tables with their comments."""
    tables_by_name = tables_by_name or {}
    head = {"table": table.qualified, "kind": table.kind, "comment": table.comment, "rows": table.row_estimate,
            "primary_key": table.primary_key,
            "foreign_keys": [{"columns": f.columns, "references": f"{f.ref_schema}.{f.ref_table}",
                              "ref_columns": f.ref_columns,
                              "ref_comment": table_label(tables_by_name.get((f.ref_schema, f.ref_table)), "")
                              or None} for f in table.foreign_keys]}
    lines = [json.dumps(head, ensure_ascii=False), "columns:"]
    for c in table.columns:
        item = {"name": c.name, "type": c.data_type}
        if c.comment:
            item["comment"] = c.comment
        if c.is_primary_key:
            item["primary_key"] = True
        if c.enum_values:
            item["allowed_values"] = c.enum_values[:20]
        elif c.is_enum_like and c.top_values:
            item["frequent_values"] = [tv.value for tv in c.top_values[:10]]
        elif c.samples:
            item["samples"] = c.samples[:3]
        if c.pii_kind:
            item["personal_data"] = c.pii_kind
        lines.append(json.dumps(item, ensure_ascii=False))
    return "\n".join(lines)


def apply_llm(table: Table, llm, business_context: str, tables_by_name: dict[tuple[str, str], Table],
              language: str = "zh") -> int:
    """One chat_json call for the table; missing comments come from the answer (rule-based for any the answer
    leaves out or makes unusable). Returns how many comments were generated; raises LLMError on failure."""
    from core.llm import load_prompt
    missing = [c.name for c in table.columns if not c.comment]
    if table.comment and not missing:
        # every comment is already in the database: a call would write nothing (a whole wave of LLM latency
        # for a description); the rule-based pass keeps the database's comments and describes the table
        return apply_rule_based(table, tables_by_name)
    messages = [
        {"role": "system", "content": load_prompt("ddl_comments_system")},
        {"role": "user", "content": load_prompt(
            "ddl_comments", business_context=business_context or "（未提供）", table_json=prompt_payload(table, tables_by_name),
            missing_columns=json.dumps(missing, ensure_ascii=False),
            need_table_comment="是" if not table.comment else "否（已有注释，保持不变）",
            comment_language_name=LANGUAGE_NAMES.get(language, "中文"))},
    ]
    answer: TableComments = llm.chat_json(messages, TableComments, purpose="ddl_comments")
    if not isinstance(answer, TableComments):
        raise LLMError(f"unexpected LLM answer type for {table.qualified}")
    generated = 0
    if not table.comment:
        table.generated_comment = _usable(answer.table_comment) or rule_table_comment(table, tables_by_name, language)
        generated += 1
    for col in table.columns:
        if col.comment:
            continue
        text = _usable(answer.columns.get(col.name))
        if text:
            col.generated_comment, col.comment_source = text, LLM
        else:
            col.generated_comment = rule_column_comment(table, col, tables_by_name, language)
            col.comment_source = RULE_BASED
        generated += 1
    table.description = _usable(answer.table_description, 1000) or describe(table, language)
    table.comment_source = _source(table, LLM)
    table.generated_comment_count = generated
    return generated
