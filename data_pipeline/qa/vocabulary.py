"""How tables and columns are named in questions, themes and prompts: the shared vocabulary of the question
generators (themes, rule-based synthesis, the LLM path), kept below all of them so none imports another for it.
"""
from __future__ import annotations

import re

from data_pipeline.schema.model import Column, Table
from data_pipeline.taskfiles.table_list import TableRef

_BRACKETS = re.compile(r"[（(【\[].*?[）)】\]]")
_TABLE_SUFFIXES = ("基础信息表", "信息表", "明细表", "数据表", "记录表", "统计表", "关系表", "关联表", "映射表",
                   "对照表", "字典表", "配置表", "表")
_COLUMN_TAIL = re.compile(r"[，,。;；:：\s].*$")


def display_name(table: Table) -> str:
    """How the table is named in table lists, prompts and themes: `name` in public, `schema.name` elsewhere,
    each part double-quoted only when it needs to be (as in table_list.txt)."""
    return TableRef(table.schema, table.name).short


_PERIOD_WORDS = re.compile(r"(每日|每天|每月|每周|每年|每小时)")
_BY_PHRASE = re.compile(r"(?<=..)按.*$")          # "销量按门店统计" -> "销量": the grouping is not the noun


def table_noun(table: Table) -> str:
    """A short noun for the table from its comment, else its name: bracketed remarks, a trailing "…表" kind,
    "按…" phrases and period words go ("门店基础信息表（…）" -> "门店", "销量按门店每日统计表" -> "销量")."""
    text = _BRACKETS.sub("", table.effective_comment or "").strip()
    text = _COLUMN_TAIL.sub("", text)
    for suffix in _TABLE_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    text = _BY_PHRASE.sub("", text)
    shorter = _PERIOD_WORDS.sub("", text)
    text = shorter if len(shorter) >= 2 else text
    return text.rstrip("的之").strip() or table.name


def table_title(table: Table) -> str:
    """The table's comment without bracketed remarks, else its name."""
    return _BRACKETS.sub("", table.effective_comment or "").strip() or table.name


def column_noun(column: Column) -> str:
    """A short noun for the column: its comment up to the first punctuation or bracket, else its name."""
    text = _BRACKETS.sub("", column.effective_comment or "").strip()
    text = _COLUMN_TAIL.sub("", text).strip()
    return text or column.name
