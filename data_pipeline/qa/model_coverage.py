"""Coverage top-up asked against the semantic model: a question for each foreign key and table no generated
pair uses, with the same rules as the rest (a parent is grouped by its label or a dimension, never by a bare key;
a ranking only over enough groups; a bridge's rows are never counted as things; a self-reference is asked as
"the manager of another employee").
"""
from __future__ import annotations

import logging
from typing import Optional, Sequence

from data_pipeline.lexicon.glossary import pluralize
from data_pipeline.lexicon.questions import ask
from data_pipeline.lexicon.vocabulary import is_en
from data_pipeline.qa.columns import col, soft_delete_conditions, table_ref
from data_pipeline.qa.model_entities import EntityQuestions
from data_pipeline.qa.model_facts import Draft, top_n
from data_pipeline.qa.model_pairs import to_pair
from data_pipeline.qa.model_sql import Schema, where
from data_pipeline.qa.pair_quality import FkEdge
from data_pipeline.qa.pairs import Pair
from data_pipeline.semantics.model import JoinPath, Relationship

log = logging.getLogger(__name__)


def _edge_key(r: Relationship) -> str:
    return FkEdge(r.source, tuple(r.columns), r.target, tuple(r.target_columns)).key


def edge_draft(s: Schema, i: int, r: Relationship) -> Optional[Draft]:
    if r.source == r.target:
        drafts = EntityQuestions(s, r.source).hierarchy()
        return drafts[0] if drafts else None
    child, parent = r.source, r.target
    walk = s.walk(child, JoinPath(child, parent, [i]))
    if walk is None:
        return None
    pa = walk.aliases[parent]
    role = (r.role_name or {}).get("en" if is_en() else "zh")
    group = s.target_group(JoinPath(child, parent, [i]), pa)
    if group is not None:
        group.distinct = min(group.distinct, s.sem(child).rows or group.distinct)
    child_noun, child_plural = s.noun(child), s.plural(child)
    if s.sem(child).kind == "bridge":
        other = next((x for x in s.model.relationships if x.source == child and x is not r), None)
        if other is not None:
            child_noun, child_plural = s.noun(other.target), s.plural(other.target)
        group = None                     # a bridge's rows are not things to count per group
    if group is not None and group.distinct >= 2:
        sel, pos = ", ".join(group.select), ", ".join(str(k + 1) for k in range(len(group.select)))
        n = top_n(group.distinct)
        sql = (f"SELECT {sel}, COUNT(*) AS record_count\n{walk.from_sql}{where(walk.live)}\nGROUP BY {pos}\n"
               f"ORDER BY record_count DESC" + (f"\nLIMIT {n}" if n else ""))
        key = "count_top" if n else "count_by_group"
        question = ask(key, g=group.words, gs=group.plural, n=n, noun=child_noun, plural=child_plural)
        return Draft(question, sql, walk.tables, key, tuple(walk.hops))
    key = ", ".join(col(b, pa) for b in r.target_columns)
    count = f"COUNT(DISTINCT {key})" if len(r.target_columns) == 1 else f"COUNT(DISTINCT ({key}))"
    sql = f"SELECT {count} AS parent_count\n{walk.from_sql}{where(walk.live)}"
    parent_noun = role or s.noun(parent)
    parents = s.plural(parent) if not role else (pluralize(role) if is_en() else role)
    question = ask("edge_distinct", parent=parent_noun, parents=parents, child=child_noun if not is_en() else
                   child_noun)
    return Draft(question, sql, walk.tables, "edge_distinct", tuple(walk.hops))


def model_top_up(s: Schema, missing_tables: Sequence[str], missing_edges: Sequence[str],
                 theme_of: dict[str, str], fallback_theme: str) -> tuple[list[Pair], set[str], set[str]]:
    """Pairs for the missing edges and tables the model knows; returns them with what is still missing."""
    edges, tables = set(missing_edges), set(missing_tables)
    out: list[Pair] = []
    for i, r in enumerate(s.model.relationships):
        key = _edge_key(r)
        if key not in edges or r.source not in s.tables or r.target not in s.tables:
            continue
        try:
            d = edge_draft(s, i, r)
        except Exception:       # left to the older top-up (synth.py)
            log.warning("no model-based top-up for %s", key, exc_info=True)
            d = None
        if d is not None:
            out.append(to_pair(s, d, theme_of.get(r.source, fallback_theme)))
            edges.discard(key)
            tables -= set(d.tables)
    for q in sorted(tables):
        if q not in s.tables:
            continue
        eq = EntityQuestions(s, q)
        try:
            drafts = eq.count() or eq.bridges()[-1:] or eq.nulls()[:1]
        except Exception:
            log.warning("no model-based top-up for %s", q, exc_info=True)
            drafts = []
        if not drafts:
            t = s.tables[q]
            drafts = [Draft(ask("count_entity", noun=s.noun(q), plural=s.plural(q)),
                            f"SELECT COUNT(*) AS record_count\nFROM {table_ref(t)}{where(soft_delete_conditions(t))}",
                            "count_entity", [q])]
        out.append(to_pair(s, drafts[0], theme_of.get(q, fallback_theme)))
        tables.discard(q)
    for p in out:
        p.meta["coverage_top_up"] = True
    return out, tables, edges
