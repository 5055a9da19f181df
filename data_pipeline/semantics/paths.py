"""Relationships (the foreign-key graph with role names) and join paths of up to four hops.

A path walks from a table towards the things its rows can be grouped by: up a foreign key (many rows to one
parent: no fan-out), across a bridge (X <- bridge -> Y, two hops: a product's categories), or down from an event
into its lines (an order's lines, then up to their product). Only the shortest path to each target is kept, at
most MAX_PATHS_PER_TABLE per source, so the model stays linear in the schema's size. Each path has a phrase in
Chinese and English.
"""
from __future__ import annotations

from collections import deque
from typing import Sequence

from data_pipeline.lexicon.phrases import joined
from data_pipeline.lexicon.vocabulary import speaking
from data_pipeline.schema.model import Table
from data_pipeline.semantics.model import JoinPath, Relationship, SemanticModel

MAX_HOPS = 4
MAX_PATHS_PER_TABLE = 40


def _relationships(tables: Sequence[Table], model: SemanticModel) -> list[Relationship]:
    out = []
    for t in tables:
        for fk in t.foreign_keys:
            target = f"{fk.ref_schema}.{fk.ref_table}"
            if target not in model.tables:
                continue
            role = None
            if len(fk.columns) == 1:
                cs = model.column(t.qualified, fk.columns[0])
                role = cs.role_name if cs else None
            out.append(Relationship(t.qualified, list(fk.columns), target, list(fk.ref_columns), role))
    return out


def _moves(rels: list[Relationship], model: SemanticModel) -> dict[str, list[tuple[str, list[int]]]]:
    """table -> [(next table, relationship indexes walked)]."""
    moves: dict[str, list[tuple[str, list[int]]]] = {q: [] for q in model.tables}
    by_source: dict[str, list[int]] = {}
    for i, r in enumerate(rels):
        by_source.setdefault(r.source, []).append(i)
    for i, r in enumerate(rels):
        kind = model.tables[r.source].kind
        if r.source != r.target and kind != "bridge":
            moves[r.source].append((r.target, [i]))
        if kind == "bridge":            # X <- bridge -> Y
            for j in by_source.get(r.source, []):
                other = rels[j]
                if j != i and other.target != r.target:
                    moves[r.target].append((other.target, [i, j]))
        elif kind == "line" and model.tables[r.target].kind == "event" and r.source != r.target:
            moves[r.target].append((r.source, [i]))      # an event down into its lines
    return moves


def _phrase(source: str, target: str, via: list[str], model: SemanticModel, rels: list[Relationship],
            last: int) -> dict[str, str]:
    out = {}
    for lang in ("zh", "en"):
        name = lambda q: model.tables[q].name.get(lang) or q.split(".", 1)[-1]  # noqa: E731
        role = (rels[last].role_name or {}).get(lang) if rels[last].target == target else None
        dst = f"{role}（{name(target)}）" if role and lang == "zh" else (f"{role} ({name(target)})" if role
                                                                         else name(target))
        with speaking(lang):
            middle = joined([name(v) for v in via]) if via else ""
        if lang == "zh":
            out[lang] = f"{name(source)}经{middle}关联的{dst}" if via else f"{name(source)}所属的{dst}"
        else:
            out[lang] = f"the {dst} of each {name(source)}" + (f" (through {middle})" if via else "")
    return out


def build_paths(tables: Sequence[Table], model: SemanticModel) -> tuple[list[Relationship], list[JoinPath]]:
    rels = _relationships(tables, model)
    moves = _moves(rels, model)
    paths: list[JoinPath] = []
    for source, ts in model.tables.items():
        if ts.kind == "bridge":
            continue
        # one path per (target, last foreign key): a book's language and its original language are two
        seen = {(source, None)}
        queue = deque([(source, [], [])])         # (table, hops, tables visited after the source)
        found = 0
        while queue and found < MAX_PATHS_PER_TABLE:
            here, hops, via = queue.popleft()
            for nxt, walked in moves.get(here, []):
                if (nxt, walked[-1]) in seen or nxt == source or nxt in via or len(hops) + len(walked) > MAX_HOPS:
                    continue
                seen.add((nxt, walked[-1]))
                steps = hops + walked
                middle = via + ([rels[walked[0]].source] if len(walked) == 2 else [])
                paths.append(JoinPath(source, nxt, steps, middle, _phrase(source, nxt, middle, model, rels,
                                                                          steps[-1])))
                found += 1
                queue.append((nxt, steps, middle + [nxt]))
                if found >= MAX_PATHS_PER_TABLE:
                    break
    return rels, paths
