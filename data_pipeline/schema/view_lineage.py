"""Which source columns each output column of a view draws on, so a computed column such as
`first_name || ' ' || last_name AS name` is known to carry a person's name.

The catalog (pg_depend on the view's rewrite rule) says WHICH columns of which relations a view reads;
`output_sources` parses the definition (`pg_get_viewdef`, sqlglot) to say which of them feed each output column:
every branch of a UNION at that position, through subqueries and CTEs by alias name (an alias such as
`x.nm` is followed to the expressions that define `nm`). Over-including is the safe side: a column that might
draw on a personal column is treated as personal. `inherited_kinds` then gives each output column the kind of
the first personal source it draws on. A definition that does not parse falls back to the catalog: an output
column named like a personal source column takes its kind, and text columns of a view reading any personal
column are treated as personal (never silently public).
"""
from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Callable, Optional

import sqlglot
from sqlglot import exp

log = logging.getLogger(__name__)

# when one output column draws on several kinds, say the most sensitive one
KIND_ORDER = ("secret", "id_card", "card_number", "iban", "email", "phone", "person_name", "address", "birth_date")
_TEXT_TYPES = re.compile(r"^(text|character|varchar|char|name|citext|json|jsonb)", re.I)


@dataclass(frozen=True)
class SourceColumn:
    """A column a view depends on (pg_depend), with what is needed to classify it."""
    schema: str
    table: str
    column: str
    relkind: str = "r"
    comment: Optional[str] = None
    data_type: str = "text"


Ref = tuple[Optional[str], str]   # (table name the alias resolves to, or None; column name)


def _branches(node: exp.Expression) -> list[exp.Select]:
    """The SELECTs whose lists make the view's columns: both sides of UNION/INTERSECT/EXCEPT, recursively."""
    if isinstance(node, exp.Subquery):
        return _branches(node.this)
    if isinstance(node, exp.Select):
        return [node]
    if isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
        return _branches(node.left) + _branches(node.right)
    return []


def _alias_tables(tree: exp.Expression) -> dict[str, str]:
    return {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}


def _refs(expression: exp.Expression, tables: dict[str, str]) -> set[Ref]:
    return {(tables.get(c.table) if c.table else None, c.name) for c in expression.find_all(exp.Column)}


@functools.lru_cache(maxsize=1024)   # introspection resolves views twice (before sampling, after masking)
def output_sources(definition: str, width: int, label: str = "view") -> Optional[list[set[Ref]]]:
    """For each of the view's `width` output columns (in order), the (table, column) references it draws on;
    None when the definition cannot be parsed or its select lists do not have `width` items."""
    try:
        tree = sqlglot.parse_one(definition.strip().rstrip(";"), read="postgres")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError) as exc:
        log.warning("%s: definition not parsed (%s); its text columns reading personal columns count as personal",
                    label, str(exc).splitlines()[0][:120])
        return None
    tables = _alias_tables(tree)
    branches = _branches(tree)
    if not branches or any(len(b.expressions) != width for b in branches):
        return None
    # every aliased expression anywhere (subqueries, CTEs): alias -> what it reads, to follow `x.nm` to its source
    defined: dict[str, set[Ref]] = {}
    for select in tree.find_all(exp.Select):
        for e in select.expressions:
            if e.alias_or_name:
                defined.setdefault(e.alias_or_name, set()).update(_refs(e, tables))
    out: list[set[Ref]] = []
    for i in range(width):
        refs: set[Ref] = set()
        for branch in branches:
            refs |= _refs(branch.expressions[i], tables)
        out.append(_follow(refs, defined))
    return out


def _follow(refs: set[Ref], defined: dict[str, set[Ref]]) -> set[Ref]:
    """Add what every referenced name is defined from inside the definition (by alias name: over-including is
    the safe side, a CTE or subquery column is followed to the base columns it selects)."""
    seen, todo = set(refs), list(refs)
    while todo:
        _table, name = todo.pop()
        for ref in defined.get(name, ()):
            if ref not in seen:
                seen.add(ref)
                todo.append(ref)
    return seen


def _most_sensitive(kinds: list[tuple[str, SourceColumn]]) -> Optional[tuple[str, SourceColumn]]:
    ranked = [k for k in kinds if k[0] in KIND_ORDER]
    return min(ranked, key=lambda k: KIND_ORDER.index(k[0])) if ranked else None


def inherited_kinds(definition: Optional[str], columns: list[tuple[str, str]], sources: list[SourceColumn],
                    kind_of: Callable[[SourceColumn], Optional[str]], label: str = "view"
                    ) -> dict[str, tuple[str, str]]:
    """Output column name -> (kind, "view:<schema>.<table>.<column>") for the view's columns that draw on a
    personal source. `columns` are the view's (name, data_type) in order; `kind_of` classifies a source."""
    classified = [(kind_of(s), s) for s in sources]
    personal = [(k, s) for k, s in classified if k]
    if not personal:
        return {}
    per_column = output_sources(definition, len(columns), label) if definition else None
    source_tables = {s.table for s in sources}
    out: dict[str, tuple[str, str]] = {}
    for i, (name, data_type) in enumerate(columns):
        if per_column is not None:
            refs = per_column[i]
            hits = [(k, s) for k, s in personal
                    if any(col == s.column and (table in (None, s.table) or table not in source_tables)
                           for table, col in refs)]
        else:
            hits = [(k, s) for k, s in personal if s.column == name] or (
                personal if _TEXT_TYPES.match(data_type or "") else [])
        best = _most_sensitive(hits)
        if best:
            kind, s = best
            out[name] = (kind, f"view:{s.schema}.{s.table}.{s.column}")
    return out


@dataclass
class ViewShape:
    """A view or materialised view as lineage needs it: definition, output columns (name, type) in order, and
    the columns it reads according to the catalog."""
    schema: str
    name: str
    definition: Optional[str]
    columns: list[tuple[str, str]]
    sources: list[SourceColumn]


def resolve_views(views: dict[tuple[str, str], ViewShape], base_kind: Callable[[SourceColumn], Optional[str]]
                  ) -> dict[tuple[str, str], dict[str, tuple[str, str]]]:
    """Inherited kinds of every view in `views`; a source that is itself one of `views` (a view on a view) is
    resolved first, anything else is classified by `base_kind`. Cycles (impossible in PostgreSQL) end empty."""
    memo: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}

    def inherited(key: tuple[str, str], stack: tuple = ()) -> dict[str, tuple[str, str]]:
        if key in memo:
            return memo[key]
        if key in stack:
            return {}
        view = views[key]

        def kind_of(source: SourceColumn) -> Optional[str]:
            skey = (source.schema, source.table)
            if skey in views:
                hit = inherited(skey, stack + (key,)).get(source.column)
                if hit:
                    return hit[0]
            return base_kind(source)

        memo[key] = inherited_kinds(view.definition, view.columns, view.sources, kind_of,
                                    f"view {view.schema}.{view.name}")
        return memo[key]

    return {key: inherited(key) for key in views}
