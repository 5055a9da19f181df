"""Privacy check of a generated SQL: personal columns are never filter values, group keys or listed columns.

The rule-based generator never picks such columns (`qa.columns` skips every `Column.pii_kind`); an LLM may, so
each LLM pair goes through `personal_data_use(sql, tables)`: the reason it must be dropped, or None. Allowed:
counting (`COUNT(email)`, `COUNT(DISTINCT phone)`), `IS [NOT] NULL` and join conditions between two columns —
none of them needs or shows a value. A birth date may also be read at year level or in aggregate (`EXTRACT(YEAR
FROM birth_date)`, `date_trunc('year', …)`, `AVG(age(birth_date))`) and compared in a WHERE/HAVING (born before
1990, a range, not one exact date): that is how ages are asked about, and no one's date is shown. Refused: any
other use of a personal or secret column (`MIN(birth_date)` is one person's date), and any string literal that
is a masked sample value (`'138****5678'`: the model copied a mask from the docs).
"""
from __future__ import annotations

import re
from typing import Optional, Sequence

from sqlglot import exp

from data_pipeline.qa.pair_quality import parsed_sql
from data_pipeline.schema.model import Table
from data_pipeline.schema.pii import BIRTH_DATE

_MASKED = re.compile(r"\w\*{2,}|\*{2,}\w|^\*+$")


def _personal_columns(tables: Sequence[Table]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for t in tables:
        for c in t.columns:
            if c.pii_kind:
                out.setdefault(t.name, {})[c.name] = c.pii_kind
    return out


def _harmless(column: exp.Column) -> bool:
    """Inside COUNT(...), an IS [NOT] NULL test, or a column = column join condition: no value needed or shown."""
    node, parent = column, column.parent
    while parent is not None:
        if isinstance(parent, exp.Count) or isinstance(parent, exp.Is):
            return True
        if isinstance(parent, exp.EQ) and node is column and all(isinstance(s, exp.Column) for s in
                                                                  (parent.left, parent.right)):
            return True
        if isinstance(parent, (exp.Select, exp.Where, exp.Group, exp.Order, exp.Having)):
            return False
        node, parent = parent, parent.parent
    return False


_COARSE_UNITS = {"YEAR", "YEARS", "DECADE", "CENTURY", "MILLENNIUM"}
_RANGE_TESTS = (exp.LT, exp.LTE, exp.GT, exp.GTE, exp.Between)   # not =: one exact date could single someone out


def _unit(node: exp.Expression) -> str:
    unit = node.args.get("unit") if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)) else node.this
    return (unit.name if isinstance(unit, exp.Expression) else str(unit or "")).upper()


def _birth_date_harmless(column: exp.Column) -> bool:
    """A birth date read at year level, averaged or counted, or compared in a filter: nobody's date is shown."""
    parent = column.parent
    while parent is not None and not isinstance(parent, (exp.Select, exp.Group, exp.Order)):
        if isinstance(parent, (exp.Extract, exp.TimestampTrunc, exp.DateTrunc)) and _unit(parent) in _COARSE_UNITS:
            return True
        if isinstance(parent, (exp.Avg, exp.Count)):
            return True
        if isinstance(parent, _RANGE_TESTS) and parent.find_ancestor(exp.Where, exp.Having) is not None:
            return True
        if isinstance(parent, (exp.Where, exp.Having)):
            return False
        parent = parent.parent
    return False


def personal_data_use(sql: str, tables: Sequence[Table]) -> Optional[str]:
    """Why `sql` may not be a training pair (it shows, filters or groups on personal data), or None."""
    tree = parsed_sql(sql)    # the tree coverage and the other checks read too (never mutated)
    if tree is None:
        return None   # the SQL guard and validation judge unparsable SQL
    for literal in tree.find_all(exp.Literal):
        if literal.is_string and _MASKED.search(literal.this):
            return "it uses a masked sample value as a literal"
    personal = _personal_columns(tables)
    if not personal:
        return None
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    referenced = set(aliases.values())
    for star in tree.find_all(exp.Star):
        column = star.parent if isinstance(star.parent, exp.Column) else None
        owners = [aliases.get(column.table)] if column is not None and column.table else sorted(referenced)
        hit = next((o for o in owners if o in personal), None)
        if hit and not isinstance(star.parent, exp.Count):
            return f"it lists every column of {hit}, personal ones included"
    for column in tree.find_all(exp.Column):
        if isinstance(column.this, exp.Star):
            continue
        owners = [aliases[column.table]] if column.table in aliases else sorted(referenced)
        for owner in owners:
            kind = personal.get(owner, {}).get(column.name)
            if kind and not _harmless(column) and not (kind == BIRTH_DATE and _birth_date_harmless(column)):
                return f"it uses the personal column {owner}.{column.name} ({kind})"
    return None
