"""Rule-based work per theme: which theme generates which tables' and FK edges' pairs, and the coverage top-up.

Used by qa_generation in rule-based mode (`plan_theme_work` + `theme_pairs`) and in both modes for the top-up
(`coverage_pairs`) of tables or FK edges no kept pair covers. The SQL itself comes from data_pipeline/sql_synth.
"""
from __future__ import annotations

from typing import Sequence

from data_pipeline.qa.pairs import Pair
from data_pipeline.schema.model import Table
from data_pipeline.qa.synth import edge_key, edge_pairs, fk_pair, table_pairs
from data_pipeline.qa.themes import theme_tables
from data_pipeline.qa.vocabulary import table_noun

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


def theme_pairs(theme_name: str, own_tables: Sequence[Table], join_children: Sequence[Table],
                tables: Sequence[Table]) -> list[Pair]:
    """All rule-based pairs of one theme: joins first (they cover edges and two tables at once)."""
    by_q = {t.qualified: t for t in tables}
    out: list[Pair] = []
    for child in join_children:
        out.extend(edge_pairs(child, by_q, theme_name))
    for t in own_tables:
        out.extend(table_pairs(t, theme_name))
    return out


def coverage_pairs(tables: Sequence[Table], missing_tables: Sequence[str], missing_edges: Sequence[str],
                   theme_of: dict[str, str]) -> list[Pair]:
    """Rule-based pairs that cover what is still missing: one join per missing edge (tagged with the table name
    so it cannot collide with a pair already kept), one count per missing table. `theme_of` maps a qualified
    table name to the theme the pair is filed under (`TOP_UP_THEME` when absent)."""
    by_q = {t.qualified: t for t in tables}
    out: list[Pair] = []
    for t in tables:
        for fk in t.foreign_keys:
            parent = by_q.get(f"{fk.ref_schema}.{fk.ref_table}")
            if parent is not None and edge_key(t, fk) in missing_edges:
                out.append(fk_pair(t, fk, parent, theme_of.get(t.qualified, TOP_UP_THEME),
                                   tag=f"（{t.name}→{parent.name}）"))
    for q in missing_tables:
        t = by_q[q]
        p = table_pairs(t, theme_of.get(q, TOP_UP_THEME))[0]
        out.append(Pair(f"{t.name}（{table_noun(t)}）表共有多少条记录？", p.sql, p.meta))
    for p in out:
        p.meta["coverage_top_up"] = True
    return out
