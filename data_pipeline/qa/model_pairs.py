"""Rule-based pairs asked against the semantic model: which intents each table gets, and the mix.

A fact (event, line, a view or log with measures) gets the most: its first measure over time (last months,
quarters, month-over-month, year-over-year), per group along its longest join paths, top-N overall and per
group, shares, thresholds, a comparison and a filter on real values; every other measure at least two of
those; its rows counted per year and per group. An entity gets its count, rankings by its own measures, averages
per group along its paths, distinct counts through its bridges, flags as filters, anti-joins against the facts
that point at it and missing values. A lookup is reached from the facts; a bridge only through COUNT(DISTINCT).
Simple lookups are capped at SIMPLE_SHARE of the pairs.
"""
from __future__ import annotations

import logging
from itertools import cycle
from typing import Optional, Sequence

from data_pipeline.qa.model_entities import EntityQuestions
from data_pipeline.qa.model_facts import Draft, FactQuestions
from data_pipeline.qa.model_sql import FACT_KINDS, Schema
from data_pipeline.qa.pair_quality import FkEdge, classify_difficulty
from data_pipeline.qa.pairs import Pair
from data_pipeline.semantics.complexity import complexity

log = logging.getLogger(__name__)
SIMPLE_SHARE = 0.10
DEFAULT_PER_TABLE = 8    # app_config.Settings.qa_pairs_per_table
FACT_FACTOR = 3


def _fact_drafts(fq: FactQuestions) -> list[Draft]:
    """The fact's drafts, most valuable first: its first measure's, one of every other measure's (so a budget
    still uses each), its counts, then the rest."""
    primary, others, counts = _fact_parts(fq)
    firsts = [d[0] for d in others if d]
    rest = [x for d in others for x in d[1:]]
    return primary[:8] + firsts + counts[:3] + primary[8:] + rest + counts[3:]


def _fact_parts(fq: FactQuestions) -> tuple[list[Draft], list[list[Draft]], list[Draft]]:
    out: list[Draft] = []
    others: list[list[Draft]] = []
    groups = fq.groups()
    multi = [g for g in groups if g[1] is not None and len(g[1].hops) >= 2]
    single = [g for g in groups if g not in multi]
    ordered = multi + single
    ms = fq.measures
    if ms:
        m = ms[0]
        out += fq.trend_recent(m) + fq.mom(m) + fq.yoy(m) + fq.per_quarter(m)
        for i, (g, _, w) in enumerate(ordered[:4]):
            out += fq.by_group(m, g, w, in_year=i % 2 == 1)
        if len(ordered) >= 2:
            out += fq.top_per_group(m, ordered[-1], ordered[0])
        if ordered:
            g, _, w = (single or ordered)[0]
            out += fq.share(m, g, w)
            g, _, w = ordered[0]
            out += fq.having_avg(m, g, w)
            out += _first(fq.compare(m, g, w) for g, _, w in (single + multi))
            out += _first(fq.filter_value(m, g, w, in_year=True) for g, _, w in multi + single)
        rotation = cycle(["group", "year", "share", "having", "compare", "trend"])
        for k, m2 in enumerate(ms[1:], 1):
            made, mine = 0, []
            for _ in range(6):
                kind = next(rotation)
                g, _, w = ordered[k % len(ordered)] if ordered else (None, None, None)
                new = {"group": lambda: fq.by_group(m2, g, w) if g else [],
                       "year": lambda: fq.per_year(m2), "share": lambda: fq.share(m2, g, w) if g else [],
                       "having": lambda: fq.having_avg(m2, g, w) if g else [],
                       "compare": lambda: fq.compare(m2, g, w) if g else [],
                       "trend": lambda: fq.trend_recent(m2)}[kind]()
                mine += new
                made += len(new)
                if made >= (2 if len(ms) <= 4 else 1):     # many measures: one question each
                    break
            others.append(mine)
    counts: list[Draft] = []
    if fq.s.sem(fq.q).kind == "view":
        return out, others, counts       # a view's rows are often already aggregated: never counted
    counts += fq.count_year() + fq.trend_recent(None)
    for g, _, w in ordered[:2]:
        counts += fq.by_group(None, g, w)
    if ordered:
        g, _, w = ordered[-1]
        counts += fq.having_count(g, w)
        if len(ordered) >= 2 and not ms:
            counts += fq.top_per_group(None, ordered[-1], ordered[0])
    return out, others, counts


def _first(options) -> list[Draft]:
    for drafts in options:
        if drafts:
            return drafts[:1]
    return []


def _entity_drafts(schema: Schema, q: str) -> list[Draft]:
    eq = EntityQuestions(schema, q)
    fq = FactQuestions(schema, q)
    groups = fq.groups()
    by_group: list[Draft] = []
    ms = fq.measures
    for i, (g, _, w) in enumerate(groups[:3]):      # each group with the next measure: every one gets asked
        m = ms[i % len(ms)] if ms else None
        by_group += fq.by_group(m, g, w) if m or i < 2 else []
    if ms and groups:
        g, _, w = groups[0]
        by_group += fq.having_avg(ms[-1], g, w)
    ranked = [m.column for m in ms[3:]] + [m.column for m in ms[:3]]     # the measures no group asked first
    ranks = eq.rank(ranked)[:1 if len(ms) >= 3 else 2]
    return eq.count() + eq.value_count() + eq.hierarchy() + by_group + ranks + eq.bridges() + eq.never() + \
        eq.flags() + eq.nulls()


def table_drafts(schema: Schema, q: str, per_table: int = DEFAULT_PER_TABLE) -> list[Draft]:
    """Up to `per_table` drafts of an entity or lookup, three times as many of a fact (its measures and paths
    carry most of the questions worth asking)."""
    ts = schema.sem(q)
    if ts.kind == "bridge":
        return EntityQuestions(schema, q).bridges()[:1] or []
    if ts.kind in FACT_KINDS and (ts.measures or ts.derived_measures or schema.time_axis(q)):
        drafts = _fact_drafts(FactQuestions(schema, q))
        drafts += EntityQuestions(schema, q).nulls()[:1] + EntityQuestions(schema, q).flags()[:1]
        return drafts[:FACT_FACTOR * per_table]
    return _entity_drafts(schema, q)[:per_table]


def _edges(schema: Schema, hops: Sequence[int]) -> list[str]:
    out = []
    for i in hops:
        r = schema.model.relationships[i]
        out.append(FkEdge(r.source, tuple(r.columns), r.target, tuple(r.target_columns)).key)
    return sorted(set(out))


def to_pair(schema: Schema, d: Draft, theme: Optional[str]) -> Pair:
    return Pair(d.question, d.sql, {"theme": theme, "difficulty": classify_difficulty(d.sql),
                                    "tables": sorted(set(d.tables)), "fk_edges": _edges(schema, d.hops),
                                    "source": "rule_based", "template": d.intent, "intent": d.intent,
                                    "complexity": complexity(d.sql)})


def model_pairs(schema: Schema, tables: Sequence[str], theme: Optional[str] = None,
                per_table: int = DEFAULT_PER_TABLE) -> list[Pair]:
    """The pairs of `tables` (qualified names in the model), in the run's language."""
    out: list[Pair] = []
    seen: set[str] = set()
    for q in tables:
        if q not in schema.tables:
            continue
        try:
            drafts = table_drafts(schema, q, per_table)
        except Exception:       # a shape no rule foresaw: this table's pairs come from the coverage top-up
            log.warning("no model-based questions for %s", q, exc_info=True)
            continue
        for d in drafts:
            if d.question not in seen:
                seen.add(d.question)
                out.append(to_pair(schema, d, theme))
    return out


def cap_simple(pairs: list[Pair], share: float = SIMPLE_SHARE) -> list[Pair]:
    """At most `share` of the pairs are simple lookups (the first ones of each table are kept)."""
    allowed = int(len(pairs) * share)
    kept, simple = [], 0
    for p in pairs:
        if complexity(p.sql) == "simple":
            simple += 1
            if simple > allowed and not p.meta.get("coverage_top_up"):
                continue
        kept.append(p)
    return kept
