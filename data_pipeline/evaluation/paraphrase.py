"""A reworded variant of each held-out question, so retrieval is also tested on words a person would use.

Rule-based (`rule_paraphrase`, pure): a question written by one of the rule-based templates
(data_pipeline/lexicon/phrases.py) is read back into its words and said again by *another phrase family* — other
verbs, another order of the parts ("服务区共有多少条记录？" -> "一共有多少个服务区？"); every question then gets
generic synonyms (多少 -> 几, 列出 -> 给出; in English also glossary synonyms: words the glossary translates the
same, e.g. amount/money, customer/client). A question no template wrote (LLM pairs) gets synonyms and its two
clauses swapped. LLM mode (`llm_paraphrases`): one batched call for all questions; a question it leaves out, or
a failed call, falls back to the rule-based variant (the report says how many).
"""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Optional

from data_pipeline.lexicon.glossary import GLOSSARY
from data_pipeline.lexicon.phrases import PHRASES

# The other family: same words, another wording and order. (zh, en) per template key of lexicon/phrases.py.
ALT_PHRASES: dict[str, tuple[str, str]] = {
    "count_all": ("一共有多少个{noun}？", "What is the total number of {plural}?"),
    "list_recent": ("最近{n}条{noun}的{what}是什么（按{time}排序）？",
                    "Show {what} for the latest {n} {plural}, newest {time} first."),
    "list_first": ("给出{key}最靠前的{n}条{noun}，显示{what}。", "Show {what} for {n} {plural}, ordered by {key}."),
    "count_distinct": ("{label}在{noun}里有几种不同取值？", "Count the different {labels} among the {plural}."),
    "group_count": ("按{cat}分组，每组{noun}有几条？", "Break down the number of {plural} by {cat}."),
    "filter_count": ("有几条{noun}的{cat}是{value}？", "Count the {plural} where {cat} equals {value}."),
    "filter_list": ("找出{cat}等于{value}的{noun}，给出最多{n}个{label}。",
                    "Which {labels} belong to {plural} with {cat} equal to {value}? Show at most {n}."),
    "stats_sum": ("统计{m}：{noun}里的合计、均值和最大值各是多少？",
                  "For {plural}, give the sum, mean and highest {m}."),
    "stats_avg": ("{m}在{noun}中的均值、最小值和最大值各是多少？",
                  "For {plural}, give the mean, lowest and highest {m}."),
    "group_measure": ("按{cat}统计{noun}的{what}。", "Break down the {what} of {plural} by {cat}."),
    "top_n": ("按{what}从高到低，{noun}排前{n}的{label}有哪些？",
              "Which {n} {labels} of {plural} have the highest {what}?"),
    "time_created": ("{noun}在{period}新增的数量是多少？", "Count the {plural} added during {period}."),
    "time_count": ("{period}内（按{time}）一共有几条{noun}？", "Count the {plural} whose {time} falls in {period}."),
    "time_measure": ("{period}内按{time}筛选的{noun}，其{what}为多少？",
                     "For {plural} with {time} during {period}, what is the {what}?"),
    "trend_created": ("{since}起，{noun}每个月新增多少？", "Monthly count of new {plural} from {since} on."),
    "trend_count": ("{since}起每个月（按{time}）{noun}有几条？", "Monthly count of {plural} by {time} from {since} on."),
    "trend_measure": ("{since}起按月（{time}）看{noun}的{what}是多少？",
                      "Monthly {what} of {plural} by {time} from {since} on."),
    "above_average": ("有几条{noun}的{m}超过了平均水平？", "Count the {plural} whose {m} exceeds the mean."),
    "above_average_group": ("哪些{cat}的{noun}数量超过了各{cat}的平均数？",
                            "Which {cats} have an above-average number of {plural}?"),
    "top_per_group": ("每个{cat}中，{what}最大的{label}是哪个（{noun}）？",
                      "In every {cat}, which {label} of the {plural} has the largest {what}?"),
    "rank": ("{noun}里{what}排名前{n}的{label}是哪些？", "Which {labels} of {plural} rank in the top {n} by {what}?"),
    "join_all": ("按{group}汇总，{child}{what}分别为多少？", "Break down the {what} of {child} by {group}."),
    "join_top": ("按{child}{what}排序，排前{n}的{group}有哪些？", "Which {n} {groups} have the highest {what} of {child}?"),
    "self_all": ("每个{role}{noun}（{key}）手下有几个{noun}？", "Count the {plural} under each {role} ({key})."),
    "self_top": ("手下{noun}数量排前{n}的{role}{noun}（{key}）有哪些？",
                 "Which {n} {roles} ({key}) manage the most {plural}?"),
    "join_filter": ("{parent}的{cat}是{value}时，{child}一共有几条？", "Count the {child} whose {parent} has {cat} {value}."),
    "link_all": ("每个{group}关联了几个{other}？", "Count the {other} linked to every {group}."),
    "link_top": ("哪{n}个{group}关联的{other}最多？", "Which {n} {groups} have the most linked {other}?"),
    "top_up_count": ("表{name}（{noun}）里一共有几行？", "Count the rows of table {name}."),
}

ZH_SYNONYMS = (("多少条记录", "几条数据"), ("分别是多少", "各是多少"), ("是多少", "为多少"), ("多少", "几"),
               ("列出", "给出"), ("最高", "最大"), ("平均值", "均值"), ("总计", "合计"), ("记录数", "条数"),
               ("有哪些", "是哪些"), ("查询", "找出"), ("统计", "汇总"), ("数量", "个数"))
EN_SYNONYMS = (("How many", "What number of"), ("List", "Show"), ("highest", "largest"), ("average", "mean"),
               ("total", "sum of"), ("per ", "for each "), ("What are", "Which are"), ("What is", "Tell me"))

_FIELD = re.compile(r"\{(\w+)\}")


def _pattern(template: str) -> re.Pattern:
    out, seen, last = [], set(), 0
    for m in _FIELD.finditer(template):
        out.append(re.escape(template[last:m.start()]))
        name = m.group(1)
        out.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        last = m.end()
    out.append(re.escape(template[last:]))
    return re.compile("".join(out), re.S)


# more literal text first: a long template is a surer match than a short one
_PATTERNS = {lang: sorted(((key, _pattern(PHRASES[key][i])) for key in ALT_PHRASES),
                          key=lambda kp: -len(_FIELD.sub("", PHRASES[kp[0]][i])))
             for i, lang in enumerate(("zh", "en"))}


def _en_glossary_synonyms() -> dict[str, str]:
    """English words the glossary translates alike (amount/money, customer/client): word -> another one."""
    groups: dict[str, list[str]] = defaultdict(list)
    for en, zh in GLOSSARY.items():
        if en.isalpha() and len(en) > 3:
            groups[zh].append(en)
    swap = {}
    for words in groups.values():
        for i, w in enumerate(words):
            if len(words) > 1:
                swap[w] = words[(i + 1) % len(words)]
    return swap


EN_GLOSSARY_SYNONYMS = _en_glossary_synonyms()


def language_of(text: str) -> str:
    return "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"


def _template_variant(question: str, lang: str, template: Optional[str]) -> Optional[str]:
    idx = 0 if lang == "zh" else 1
    keys = [(k, p) for k, p in _PATTERNS[lang] if template in (None, k)] or _PATTERNS[lang]
    for key, pattern in keys:
        m = pattern.fullmatch(question.strip())
        if not m:
            continue
        words = m.groupdict()
        if lang == "en":   # the English templates' plural words: take what the question said
            for many, one in (("labels", "label"), ("groups", "group"), ("cats", "cat"), ("roles", "role")):
                words.setdefault(many, words.get(one, ""))
            words.setdefault("plural", words.get("noun", ""))
        try:
            return ALT_PHRASES[key][idx].format(**defaultdict(str, words))
        except (KeyError, IndexError):
            continue
    return None


def _synonyms(text: str, lang: str) -> str:
    if lang == "zh":
        for old, new in ZH_SYNONYMS:
            if old in text:
                text = text.replace(old, new, 1)
        return text
    for old, new in EN_SYNONYMS:
        if old in text:
            text = text.replace(old, new, 1)
            break
    def swap(m: re.Match) -> str:
        word = m.group(0)
        other = EN_GLOSSARY_SYNONYMS.get(word.lower())
        return other if other else word
    return re.sub(r"[A-Za-z]{4,}", swap, text, count=0)


def _reorder(text: str, lang: str) -> str:
    """Two clauses in the other order ("A，B？" -> "B，A？"), else the text."""
    parts = re.split(r"([，,；;])", text.rstrip("？?。. "), maxsplit=1)
    end = "？" if lang == "zh" else "?"
    if len(parts) == 3 and parts[0].strip() and parts[2].strip():
        return f"{parts[2].strip()}{parts[1]}{parts[0].strip()}{end}"
    return text


def rule_paraphrase(question: str, template: Optional[str] = None) -> str:
    """Another wording of `question` (never the same text when any rule applies)."""
    lang = language_of(question)
    variant = _template_variant(question, lang, template)
    if variant is None:
        variant = _synonyms(_reorder(question, lang), lang)
    return variant if variant != question else _synonyms(question, lang)


# ------------------------------------------------------------------------------------------------ LLM mode
def llm_paraphrases(llm, items: list[dict], language: str) -> dict[str, str]:
    """One batched call: {id: paraphrase} for the items ({id, question}) the LLM answered usably."""
    import json

    from pydantic import BaseModel

    from core.llm import load_prompt

    class One(BaseModel):
        id: str
        question: str

    class Answer(BaseModel):
        paraphrases: list[One]

    prompt = load_prompt("eval_paraphrase", language="中文" if language == "zh" else "English",
                         items=json.dumps([{"id": i["id"], "question": i["question"]} for i in items],
                                          ensure_ascii=False, indent=1))
    answer = llm.chat_json([{"role": "user", "content": prompt}], Answer, purpose="eval_paraphrase")
    wanted = {i["id"]: i["question"] for i in items}
    return {p.id: p.question.strip() for p in answer.paraphrases
            if p.id in wanted and p.question.strip() and p.question.strip() != wanted[p.id].strip()}
