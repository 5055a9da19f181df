"""The sentences of questions asked against the semantic model, one per intent, written in each language.

The English ones are English sentences, not the Chinese word order: they share the SQL, not the phrasing.
Every sentence states the LIMIT its SQL has ({n}), says "average" where the SQL averages (the measure words
carry it), and names the group ("each category") when every group is listed. `ask(key, **words)` picks the run's
language; `tidy` removes a doubled word ("total total", "记录记录") a noun and a template may make together.
"""
from __future__ import annotations

import re

from data_pipeline.lexicon.vocabulary import is_en

QUESTIONS: dict[str, tuple[str, str]] = {
    # measures over time
    "trend_recent": ("按月统计最近{k}个月（以数据中最新的{time}为准）{noun}的{m}。",
                     "What was the monthly {m} of {plural} over the last {k} months of data (up to the latest {time})?"),
    "per_year": ("每年{noun}的{m}分别是多少？", "What is the {m} of {plural} in each year?"),
    "per_quarter": ("{year}年各季度{noun}的{m}分别是多少？", "What was the {m} of {plural} in each quarter of {year}?"),
    "mom": ("最近{k}个月{noun}的{m}逐月环比变化了多少？",
            "How did the {m} of {plural} change from one month to the next over the last {k} months of data?"),
    "yoy": ("{noun}的{m}每年与上一年相比增长了百分之多少？",
            "By what percentage did the yearly {m} of {plural} change against the year before?"),
    "count_year": ("{year}年共有多少条{noun}？", "How many {plural} were there in {year}?"),
    "count_trend": ("按月统计最近{k}个月（以数据中最新的{time}为准）每月的{noun}数量。",
                    "How many {plural} were there in each of the last {k} months of data?"),
    # measures per group
    "by_group": ("各{g}的{noun}{m}分别是多少？", "What is the {m} of {plural} for each {g}?"),
    "by_group_year": ("{year}年各{g}的{noun}{m}分别是多少？", "What was the {m} of {plural} for each {g} in {year}?"),
    "top_groups": ("{noun}{m}最高的前{n}个{g}是哪些？", "Which {n} {gs} have the highest {m} of {plural}?"),
    "top_groups_year": ("{year}年{noun}{m}最高的前{n}个{g}是哪些？",
                        "Which {n} {gs} had the highest {m} of {plural} in {year}?"),
    "count_by_group": ("各{g}的{noun}数量分别是多少？", "How many {plural} does each {g} have?"),
    "count_top": ("{noun}数量最多的前{n}个{g}是哪些？", "Which {n} {gs} have the most {plural}?"),
    "top_per_group": ("每个{g}中{noun}{m}最高的前{n}个{h}分别是哪些？",
                      "For each {g}, which {n} {hs} have the highest {m} of {plural}?"),
    "share": ("各{g}的{noun}{m}分别占总体的百分之多少？",
              "What percentage of the overall {m} of {plural} does each {g} account for?"),
    "avg_per_entity": ("平均每个{e}的{noun}{m}是多少？", "What is the {m} of {plural} per {e}, on average?"),
    "count_per_entity": ("平均每个{e}有多少条{noun}？", "How many {plural} does a {e} have on average?"),
    "having_avg": ("哪些{g}的{noun}{m}高于所有{g}的平均水平？",
                   "Which {gs} have a {m} of {plural} above the average over all {gs}?"),
    "having_count": ("哪些{g}的{noun}超过{k}条？", "Which {gs} have more than {k} {plural}?"),
    # through a bridge
    "bridge_count": ("各{g}关联了多少个不同的{other}？", "How many different {others} does each {g} have?"),
    "bridge_top": ("关联{other}最多的前{n}个{g}是哪些？", "Which {n} {gs} have the most {others}?"),
    "bridge_avg": ("平均每个{g}关联多少个{other}？", "How many {others} does a {g} have on average?"),
    # anti-joins and nulls
    "never_count": ("有多少个{e}从未有过{noun}？", "How many {es} have never had any {plural}?"),
    "never_list": ("列出前{n}个从未有过{noun}的{e}。", "List the first {n} {es} (by name) that have never had any {plural}."),
    "never_year": ("有多少个{e}在{year}年没有任何{noun}？", "How many {es} had no {plural} at all in {year}?"),
    "never_role_count": ("有多少个{e}从未作为{role}出现在{noun}中？", "How many {es} have never been the {role} of any {noun}?"),
    "never_role_year": ("有多少个{e}在{year}年没有作为{role}出现在任何{noun}中？",
                        "How many {es} were not the {role} of any {noun} in {year}?"),
    "never_role_list": ("列出前{n}个从未作为{role}出现在{noun}中的{e}。",
                        "List the first {n} {es} (by name) that have never been the {role} of any {noun}."),
    "null_count": ("有多少{unit}{noun}没有填写{c}？", "How many {plural} have no {c}?"),
    "null_share": ("{noun}中{c}为空的记录占百分之多少？", "What percentage of {plural} have no {c}?"),
    # values
    "compare": ("{c}为{v1}与{c}为{v2}的{noun}，{m}分别是多少？",
                "Compare the {m} of {plural} with {c} {v1} against those with {c} {v2}."),
    "filter_value": ("{c}为{v}的{noun}，{m}是多少？", "What is the {m} of {plural} whose {c} is {v}?"),
    "filter_group_year": ("{year}年{g}为{v}的{noun}{m}是多少？", "What was the {m} of {plural} for the {g} {v} in {year}?"),
    "value_count": ("{c}为{v}的{noun}有多少个？", "How many {plural} have {c} {v}?"),
    "flag_count": ("{flag}为“是”的{noun}有多少个？", "How many {plural} are marked {flag}?"),
    "flag_measure": ("{flag}为“是”的{noun}，{m}是多少？", "What is the {m} of {plural} marked {flag}?"),
    "flag_is_count": ("属于{flag}的{noun}有多少个？", "How many {plural} are marked {flag}?"),
    "flag_is_measure": ("属于{flag}的{noun}，{m}是多少？", "What is the {m} of {plural} marked {flag}?"),
    # coverage of a foreign key no other question walks
    "edge_distinct": ("有多少个不同的{parent}至少有一条{child}？", "How many different {parents} have at least one {child}?"),
    "edge_self": ("有多少个{noun}作为{role}至少有一个下属{noun}？",
                  "How many {plural} have other {plural} report to them as their {role}?"),
    "self_count": ("各{role}分别有多少个下属{noun}？", "How many {plural} report to each {role}?"),
    "self_avg": ("平均每个{role}有多少个下属{noun}？", "On average, how many {plural} report to one {role}?"),
    # entities
    "count_entity": ("共有多少个{noun}？", "How many {plural} are there?"),
    "rank_entity": ("按{m}排名，前{n}名的{noun}是哪些？", "Which {n} {plural} rank highest by {m}?"),
    "entity_by_group": ("各{g}的{noun}{m}分别是多少？", "What is the {m} of the {plural} for each {g}?"),
    "time_range": ("{noun}最早和最晚的{time}分别是什么时候？", "When were the earliest and the latest {time} of {plural}?"),
}

_DOUBLED_EN = re.compile(r"\b(\w{3,})(\s+\1)+\b", re.I)
_DOUBLED_ZH = re.compile(r"([\u4e00-\u9fff]{2,6})\1")


def ask(key: str, **words) -> str:
    zh, en = QUESTIONS[key]
    return tidy((en if is_en() else zh).format(**words))


def tidy(text: str) -> str:
    """One word where a noun and its template said it twice: "total total amount", "记录记录"."""
    text = _DOUBLED_EN.sub(r"\1", text)
    text = _DOUBLED_ZH.sub(r"\1", text)
    text = re.sub(r"\s{2,}", " ", text)
    if is_en():
        text = re.sub(r"\b([Aa]) (?=[aeiouAEIOU]|hour\b|honest)", r"\1n ", text)
    return text[0].upper() + text[1:] if is_en() and text else text
