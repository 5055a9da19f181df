"""Rule-based work per theme: which theme generates which tables' and FK edges' pairs, and the coverage top-up.

Used by qa_generation in rule-based mode (`plan_theme_work` + `theme_pairs`) and in both modes for the top-up
(`coverage_pairs`) of tables or FK edges no kept pair covers. The SQL itself comes from data_pipeline/qa/synth.py.
"""
from __future__ import annotations

from typing import Sequence

from data_pipeline.qa.pair_quality import normalize_sql_text
from data_pipeline.qa.pairs import Pair
from data_pipeline.schema.model import Table
from data_pipeline.qa.synth import edge_key, edge_pairs, fk_pair, table_pairs
from data_pipeline.qa.themes import theme_tables
from data_pipeline.lexicon.phrases import say
from data_pipeline.lexicon.vocabulary import quoted, table_noun

TOP_UP_THEME = "覆盖补充"   # where a top-up pair is filed when no theme lists its table



def plan_theme_work(themes: Sequence, tables: Sequence[Table]) -> dict[str, tuple[list[Table], list[Table]]]:
    """theme name -> (tables whose single-table pairs it generates, child tables whose FK joins it generates).

    A table's own pairs go to the smallest theme that contains it (a big table's own theme); an FK edge goes to
    the first theme containing both ends, else the first containing the child. So every table and edge is
    generated exactly once over all themes.
    """
    members = {th.topic_name: theme_tables(th, tables) for th in themes}
    work: dict[str, tuple[list[Table], list[Table]]] = {th.topic_name: ([], []) for th in themes}
    for t in tables:
        owners = [th.topic_name for th in themes if t in members[th.topic_name]]
        if owners:
            work[min(owners, key=lambda n: len(members[n]))][0].append(t)
        if t.foreign_keys:
            parents = {f"{fk.ref_schema}.{fk.ref_table}" for fk in t.foreign_keys}
            both = [n for n in owners if parents & {m.qualified for m in members[n]}]
            if both or owners:
                work[(both or owners)[0]][1].append(t)
    return work


DEFAULT_PER_TABLE = 8     # app_config.Settings.qa_pairs_per_table


def within_budget(pairs: Sequence[Pair], budget: int) -> list[Pair]:
    """At most `budget` of one table's pairs, spread over the difficulties (one of each in turn, in template
    order), so a small budget still asks a count, a group-by, an aggregate and a nested question."""
    if len(pairs) <= budget:
        return list(pairs)
    buckets: dict[str, list[Pair]] = {}
    for p in pairs:
        buckets.setdefault(p.meta.get("difficulty") or "", []).append(p)
    chosen: list[Pair] = []
    while len(chosen) < budget:
        for bucket in buckets.values():
            if bucket and len(chosen) < budget:
                chosen.append(bucket.pop(0))
    order = {id(p): i for i, p in enumerate(pairs)}
    return sorted(chosen, key=lambda p: order[id(p)])


def theme_pairs(theme_name: str, own_tables: Sequence[Table], join_children: Sequence[Table],
                tables: Sequence[Table], per_table: int = DEFAULT_PER_TABLE) -> list[Pair]:
    """All rule-based pairs of one theme: joins first (they cover edges and two tables at once), then up to
    `per_table` single-table pairs of each table it owns: the output grows with the schema, not past it."""
    by_q = {t.qualified: t for t in tables}
    out: list[Pair] = []
    for child in join_children:
        out.extend(edge_pairs(child, by_q, theme_name))
    for t in own_tables:
        out.extend(within_budget(table_pairs(t, theme_name), per_table))
    return out


def coverage_pairs(tables: Sequence[Table], missing_tables: Sequence[str], missing_edges: Sequence[str],
                   theme_of: dict[str, str]) -> list[Pair]:
    """Rule-based pairs that cover what is still missing: one join per missing edge, one count per missing
    table (named by its identifier too). `theme_of` maps a qualified
    table name to the theme the pair is filed under (`TOP_UP_THEME` when absent)."""
    by_q = {t.qualified: t for t in tables}
    out: list[Pair] = []
    for t in tables:
        for fk in t.foreign_keys:
            parent = by_q.get(f"{fk.ref_schema}.{fk.ref_table}")
            if parent is not None and edge_key(t, fk) in missing_edges:
                out.append(fk_pair(t, fk, parent, theme_of.get(t.qualified, TOP_UP_THEME)))
    for q in missing_tables:
        t = by_q[q]
        p = table_pairs(t, theme_of.get(q, TOP_UP_THEME))[0]
        out.append(Pair(say("top_up_count", noun=table_noun(t), name=quoted(t.name)), p.sql, p.meta))
    for p in out:
        p.meta["coverage_top_up"] = True
    return out


def add_top_up(kept: list[Pair], top_up: Sequence[Pair]) -> int:
    """Append the coverage top-up to `kept`: never dropped as a duplicate (it is there because nothing kept
    covers its table or edge); a question already asked gets its table named, so one question never maps to
    two SQLs. A top-up SQL identical to a kept one is skipped (it covers nothing new). Returns how many went in."""
    questions = {p.question.strip() for p in kept}
    sqls = {normalize_sql_text(p.sql) for p in kept}
    added = 0
    for p in top_up:
        if normalize_sql_text(p.sql) in sqls:
            continue
        question, n = p.question.strip(), 1
        while question in questions:
            n += 1
            names = ", ".join(quoted(q.split(".", 1)[-1]) for q in p.meta.get("tables") or [])
            question = f"{p.question.strip()} ({names}{'' if n == 2 else f' #{n}'})"
        kept.append(Pair(question, p.sql, p.meta))
        questions.add(question)
        sqls.add(normalize_sql_text(p.sql))
        added += 1
    return added
