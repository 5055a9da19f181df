"""How tables and columns are named in schema docs, the semantic model, questions, themes and prompts: the shared
vocabulary, kept below schema/, semantics/ and qa/ so none of them imports another for it.

One language per run: `speaking(lang)` sets it (zh or en) for the generation it wraps, and every noun here
comes out in it. Sources, best first: a comment in that language from the database (or the LLM), used whole
up to its first clause; else the identifier through the glossary (`data_pipeline.lexicon.glossary`); in Chinese an
identifier the glossary cannot fully translate is quoted whole (“film_text”), never half translated.
Rule-based generated comments are not a source: they are derived from the same glossary, with remarks.
"""
from __future__ import annotations

import contextvars
import re
from contextlib import contextmanager
from typing import Iterator, Optional, Protocol, Sequence

from data_pipeline.lexicon.glossary import (en_from_zh, en_phrase, en_readable, has_cjk, pluralize, singular, words,
                                            zh_phrase)
from data_pipeline.taskfiles.table_list import TableRef


# The lexicon sits below schema/, semantics/ and qa/: it names their objects by shape, never imports them.
class Column(Protocol):
    name: str
    comment: str
    generated_comment: Optional[str]


class Table(Protocol):
    schema: str
    name: str
    comment: str
    generated_comment: Optional[str]
    columns: Sequence[Column]


class ForeignKey(Protocol):
    columns: Sequence[str]

# The language of the run: threading it through every template would double every signature, and a run
# speaks one language from its first theme to its last top-up pair.
_LANGUAGE: contextvars.ContextVar[str] = contextvars.ContextVar("question_language", default="zh")


@contextmanager
def speaking(language: str) -> Iterator[None]:
    token = _LANGUAGE.set(language if language in ("zh", "en") else "zh")
    try:
        yield
    finally:
        _LANGUAGE.reset(token)


def language() -> str:
    return _LANGUAGE.get()


def is_en() -> bool:
    return _LANGUAGE.get() == "en"


_BRACKETS = re.compile(r"[（(【\[].*?[）)】\]]")
_TABLE_SUFFIXES = ("基础信息表", "信息表", "明细表", "数据表", "记录表", "统计表", "关系表", "关联表", "映射表",
                   "对照表", "字典表", "配置表", "表")
_ZH_CLAUSE_END = re.compile(r"[，,。;；:：\n].*$", re.S)     # a Chinese comment's first clause (spaces kept)
_EN_CLAUSE_END = re.compile(r"[,.;:\n(].*$", re.S)
_EN_TABLE_WORDS = re.compile(r"^(the|a|an)\s+|\s+(table|records?|list|data)$", re.I)
_MAX_EN_WORDS = 5
_ADDRESS_HINTS = {"address", "city", "country", "postal", "zip", "postcode", "province"}


def display_name(table: Table) -> str:
    """How the table is named in table lists, prompts and themes: `name` in public, `schema.name` elsewhere,
    each part double-quoted only when it needs to be (as in table_list.txt)."""
    return TableRef(table.schema, table.name).short


def quoted(name: str) -> str:
    return f"“{name}”"


def _comment(obj) -> str:
    """The database comment, else an LLM-generated one (rule-based ones are glossary output: not a source)."""
    if obj.comment:
        return obj.comment
    return (obj.generated_comment or "") if getattr(obj, "comment_source", "") == "llm" else ""


def _en_clause(text: str, table: bool = False) -> Optional[str]:
    """An English comment's first clause when it is short enough to be a name (whole words, never cut)."""
    text = _EN_CLAUSE_END.sub("", text).strip()
    if table:
        text = _EN_TABLE_WORDS.sub("", text).strip()
    return text if text and not has_cjk(text) and len(text.split()) <= _MAX_EN_WORDS else None


def identifier_noun(name: str) -> str:
    """An identifier in the run's language: glossary words, else (zh) the identifier quoted whole."""
    tokens = words(name)
    if is_en():
        return name if any(ch.isdigit() for ch in name) or has_cjk(name) else en_phrase(tokens) or name
    if has_cjk(name):
        return name
    return zh_phrase(tokens) or quoted(name)


def _table_words(table: Table) -> str:
    """The table name without a short system prefix (t_, tb_, ods_) the glossary does not know."""
    tokens = words(table.name)
    if len(tokens) > 1 and len(tokens[0]) <= 3 and zh_phrase(tokens[:1]) is None and zh_phrase(tokens[1:]):
        return "_".join(tokens[1:])
    return table.name


_VIEW_TAILS = ("list", "extended", "ext", "view", "vw", "v", "summary", "report")


def _noun_words(table: Table) -> str:
    """The words a table's noun is made of. A view named for how it aggregates or presents its rows reads by
    what one row is: `sales_by_store` -> store (one row per store: "total sales of stores for each location",
    not "of sales by store"), `film_list` -> film, `order_details_extended` -> order details."""
    name = _table_words(table)
    if table.kind not in ("view", "materialized_view"):
        return name
    tokens = words(name)
    if "by" in tokens[1:-1]:
        grain = tokens[tokens.index("by", 1) + 1:]
        if zh_phrase(grain):
            return "_".join(grain)
    while len(tokens) > 1 and tokens[-1] in _VIEW_TAILS:
        tokens = tokens[:-1]
    return "_".join(tokens)


# "每日营业数据表" is the business data of a day, not "营业" (a verb): after an activity word 数据 stays
_ACTIVITY_WORDS = ("营业", "销售", "交易", "运营", "经营", "监测", "运行", "考勤", "生产", "营收", "收支")
_KEEP_BIAO = ("列表", "报表", "图表", "代表", "仪表", "手表", "发表")
_PERIOD_WORDS = re.compile(r"(每日|每天|每月|每周|每年|每小时)")
_BY_PHRASE = re.compile(r"(?<=..)按.*$")          # "销量按门店统计" -> "销量": the grouping is not the noun


def table_noun(table: Table) -> str:
    """A short noun for the table. Chinese comment: bracketed remarks, a trailing "…表" kind, "按…" phrases and
    period words go ("门店基础信息表（…）" -> "门店"); English: a short comment clause or the name's words."""
    comment = _comment(table)
    if is_en():
        clause = _en_clause(comment, table=True) if comment else None
        return clause or identifier_noun(_noun_words(table))
    if not has_cjk(comment):
        return identifier_noun(_noun_words(table))
    text = _BRACKETS.sub("", comment).strip()
    text = _ZH_CLAUSE_END.sub("", text).strip()
    for suffix in _TABLE_SUFFIXES:
        if suffix == "表" and text.endswith(_KEEP_BIAO):
            break                                   # 列表, 报表, 图表: the 表 is part of the word
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            if suffix == "数据表" and text.endswith(_ACTIVITY_WORDS):
                text += "数据"
            break
    text = _BY_PHRASE.sub("", text)
    shorter = _PERIOD_WORDS.sub("", text)
    text = shorter if len(shorter) >= 2 else text
    return text.rstrip("的之").strip() or identifier_noun(table.name)


def table_plural(table: Table) -> str:
    """English: the table noun in the plural ("customers"); an identifier English has no plural for is counted
    in rows ("rows of d26_t3", not "How many d26_t3 are there?"). Chinese nouns have no plural."""
    noun = table_noun(table)
    if not is_en():
        return noun
    return pluralize(noun) if re.fullmatch(r"[A-Za-z][A-Za-z '’()-]*", noun) else f"rows of {noun}"


def table_title(table: Table) -> str:
    """The table's comment without bracketed remarks (in the run's language), else its noun."""
    comment = _BRACKETS.sub("", _comment(table)).strip()
    if comment and has_cjk(comment) != is_en():
        return comment if not is_en() else (_en_clause(comment) or table_noun(table))
    return table_noun(table)


def column_noun(column: Column, table: Optional[Table] = None) -> str:
    """A short noun for the column: its comment's first clause (whole, never cut to one word) when in the
    run's language, else the name through the glossary."""
    comment = _BRACKETS.sub("", _comment(column)).strip()
    if comment:
        if is_en() and not has_cjk(comment):
            clause = _en_clause(comment)
            if clause:
                return clause
        elif is_en() and not has_cjk(column.name) and not en_readable(words(column.name)):
            # `wx` commented 微信支付金额: the comment's words in English, else the comment itself quoted (what
            # the column means), never the raw code
            clause = _ZH_CLAUSE_END.sub("", comment).strip()
            if clause:
                return en_from_zh(clause) or quoted(clause)
        elif not is_en() and has_cjk(comment):
            clause = _ZH_CLAUSE_END.sub("", comment).strip()
            if clause:
                return clause
    if column.name.lower() == "title" and table is not None and \
            any({"first", "last"} & set(words(c.name)) and "name" in words(c.name) for c in table.columns):
        return "job title" if is_en() else "职位"      # a person's title is their job, not a heading
    if not is_en() and column.name.lower() == "state" and table is not None and \
            any(set(words(c.name)) & _ADDRESS_HINTS for c in table.columns):
        return "州/省"                             # an address's state is a place, not a status
    return identifier_noun(column.name)


def role_noun(fk: ForeignKey, parent: Table) -> Optional[str]:
    """The role a foreign key gives its parent when its column says more than the parent's name
    (`original_language_id` -> 原始语言 / "original language"; `language_id` -> None), else None."""
    if len(fk.columns) != 1:
        return None
    tokens = words(fk.columns[0])
    if tokens and tokens[-1] in ("id", "no", "code", "key", "fk", "ref"):
        tokens = tokens[:-1]
    parent_tokens = words(_table_words(parent))
    if not tokens or tokens == parent_tokens or tokens == words(parent.name):
        return None
    if [singular(t) for t in tokens] == [singular(t) for t in parent_tokens]:
        return None
    full = [singular(t) for t in words(parent.name)]
    if [singular(t) for t in tokens] == full[-len(tokens):]:   # t0_id -> d20_t0, customer_id -> t_customer
        return None
    name = "_".join(tokens)
    if is_en():
        return en_phrase(tokens) if not any(ch.isdigit() for ch in name) else name
    return zh_phrase(tokens) or quoted(name)
