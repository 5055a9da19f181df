"""The rule-based questions' wording, one entry per template, in Chinese and English (`say(key, **words)`).

Keeping every sentence here, side by side, is what makes a run speak one language: synth.py builds the SQL and
picks the words (nouns from `data_pipeline.lexicon.vocabulary`), this module only phrases. A question states every
LIMIT its SQL has ("前 {n} 个"), names each join's role, and says "average" where the SQL averages.
"""
from __future__ import annotations

import re
from datetime import date

from data_pipeline.lexicon.glossary import pluralize
from data_pipeline.lexicon.vocabulary import is_en

PHRASES: dict[str, tuple[str, str]] = {
    "count_all": ("{noun}共有多少条记录？", "How many {plural} are there?"),
    "list_recent": ("按{time}列出最近的{n}条{noun}记录的{what}。",
                    "List the {what} of the {n} most recent {plural} by {time}."),
    "list_first": ("按{key}排序，列出前{n}条{noun}记录的{what}。", "List the {what} of the first {n} {plural} by {key}."),
    "count_distinct": ("{noun}中共有多少个不同的{label}？", "How many distinct {labels} do the {plural} have?"),
    "group_count": ("{noun}中各{cat}的记录数是多少？", "How many {plural} are there per {cat}?"),
    "filter_count": ("{cat}为{value}的{noun}有多少条记录？", "How many {plural} have {cat} {value}?"),
    "filter_list": ("{cat}为{value}的{noun}有哪些？列出前{n}个{label}。",
                    "List up to {n} {labels} of the {plural} whose {cat} is {value}."),
    "stats_sum": ("{noun}的{m}总计、平均值和最大值分别是多少？",
                  "What are the total, average and maximum {m} of the {plural}?"),
    "stats_avg": ("{noun}的{m}平均值、最小值和最大值分别是多少？",
                  "What are the average, minimum and maximum {m} of the {plural}?"),
    "group_measure": ("{noun}中各{cat}的{what}是多少？", "What is the {what} of the {plural} per {cat}?"),
    "top_n": ("{noun}中{what}最高的前{n}个{label}是哪些？",
              "What are the top {n} {labels} of the {plural} by {what}?"),
    "time_created": ("{period}新增了多少条{noun}记录？", "How many {plural} were created in {period}?"),
    "time_count": ("{time}在{period}的{noun}有多少条记录？", "How many {plural} have {time} in {period}?"),
    "time_measure": ("{time}在{period}的{noun}，{what}是多少？",
                     "What is the {what} of the {plural} with {time} in {period}?"),
    "trend_created": ("按月统计{since}以来每月新增的{noun}数量。", "How many {plural} were created each month since {since}?"),
    "trend_count": ("按{time}逐月统计{since}以来{noun}的记录数。",
                    "How many {plural} are there per month of {time} since {since}?"),
    "trend_measure": ("按{time}逐月统计{since}以来{noun}的{what}。",
                      "What is the {what} of the {plural} per month of {time} since {since}?"),
    "above_average": ("{noun}中{m}高于平均值的记录有多少条？", "How many {plural} have {m} above the average?"),
    "above_average_group": ("{noun}中记录数高于各{cat}平均水平的{cat}有哪些？",
                            "Which {cats} have more {plural} than the average {cat}?"),
    "top_per_group": ("{noun}中，各{cat}里{what}最高的{label}分别是什么？",
                      "For each {cat} of the {plural}, which {label} has the highest {what}?"),
    "rank": ("按{what}对{noun}的{label}排名，前{n}名分别是哪些？",
             "Rank the {labels} of the {plural} by {what}: which are the top {n}?"),
    "join_all": ("各{group}对应的{child}{what}是多少？", "What is the {what} of {child} for each {group}?"),
    "join_top": ("{child}{what}最高的前{n}个{group}是哪些？", "What are the top {n} {groups} by {what} of {child}?"),
    "self_all": ("各{role}{noun}（{key}）的下属{noun}数量是多少？", "How many {plural} report to each {role} ({key})?"),
    "self_top": ("下属{noun}最多的前{n}个{role}{noun}（{key}）是哪些？",
                 "Which {n} {roles} ({key}) have the most {plural} that report to them?"),
    "join_filter": ("{cat}为{value}的{parent}共有多少条{child}记录？", "How many {child} have {parent} {cat} {value}?"),
    "link_all": ("各{group}关联的{other}数量是多少？", "How many {other} are linked to each {group}?"),
    "link_top": ("关联{other}最多的前{n}个{group}是哪些？", "Which {n} {groups} are linked to the most {other}?"),
    "top_up_count": ("{noun}（表{name}）共有多少条记录？", "How many rows does the table {name} have?"),
    # pieces
    "total": ("{m}合计", "total {m}"),
    "average": ("平均{m}", "average {m}"),
    "count": ("数量", "number"),
    "records": ("记录数", "number of records"),
}

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


# the words a template may also want in the plural ("{labels}": "store names"), English only
_PLURAL_OF = {"labels": "label", "groups": "group", "cats": "cat", "roles": "role"}


def say(phrase: str, **words) -> str:
    zh, en = PHRASES[phrase]
    if not is_en():
        return zh.format(**words)
    plurals = {many: plural_label(words[one]) for many, one in _PLURAL_OF.items() if one in words}
    return en.format(**words, **plurals)


def plural_label(label: str) -> str:
    """"store name" -> "store names", "account ID" -> "accounts (account ID)"; a label English cannot simply
    pluralise (a quoted column name, one with a unit, an uncountable word) is counted as values:
    "temperature (°C) values"."""
    identified = re.fullmatch(r"([a-z][a-z ]*) ID", label)
    if identified and pluralize(identified.group(1)) != identified.group(1):
        return f"{pluralize(identified.group(1))} ({label})"
    if not re.fullmatch(r"[a-z][a-z ]*", label):
        return f"{label} values"
    plural = re.sub(r"\bstatus$", "statuses", label) if label.endswith("status") else pluralize(label)
    return plural if plural != label else f"{label} values"


def quoted(value: str, numeric: bool) -> str:
    """A filter value as the question shows it: quoted text (“cash”), a bare number (1) when the SQL compares a
    number."""
    return value if numeric else f"“{value}”"


def month(d: date) -> str:
    """A calendar month in the run's language: 2024年6月 / June 2024."""
    return f"{_MONTHS[d.month - 1]} {d.year}" if is_en() else f"{d.year}年{d.month}月"


def joined(items: list[str]) -> str:
    """A list of nouns: 名称、状态、金额 / name, status and amount."""
    if not is_en():
        return "、".join(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


_KEEP_S = re.compile(r"(ss|us|is|ics|news|series|data|sales|species|status|bus|gas)$", re.I)


def singular_en(phrase: str) -> str:
    """An English noun phrase with its last word in the singular ("order details" -> "order detail",
    "territories" -> "territory"); words that only look plural ("status", "sales", "analysis") stay."""
    head, _, last = phrase.rpartition(" ")
    if not re.fullmatch(r"[A-Za-z]+", last or "") or len(last) <= 3 or _KEEP_S.search(last):
        return phrase
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh"), ("s", "")):
        if last.lower().endswith(suffix):
            last = last[: -len(suffix)] + repl
            break
    return f"{head} {last}" if head else last
