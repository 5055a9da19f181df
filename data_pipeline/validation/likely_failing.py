"""A cheap guess, without the database, of which generated SQL will fail its check (issue 26).

Used only to ORDER work: the SQL guessed to fail is checked first, so the repair of what really failed can go
out before every other pair has been executed (validation/repair_ahead.py). A wrong guess costs nothing but
order: the verdict is always the real check's. The guess: the static guard refuses it, or it names a table
the task's snapshot does not have, or a column name that is none of its tables' columns nor an output column
of its subqueries/CTEs nor a name the statement introduces with `AS` (a select-list alias used in ORDER BY or
GROUP BY: read from the text, so `CAST(x AS numeric)` adds `numeric` too, which only makes a guess more lenient).

Round 1 of the repair batches the failures guessed apart (repair.first_round_batches) and the guessed SQL is
checked first, so a guess wrongly failing costs order only, never a prompt.
"""
from __future__ import annotations

import re
from typing import Sequence

from data_pipeline.schema.model import Table
from data_pipeline.validation.guard import check_sql_once


_AS_NAME = re.compile(r'\bAS\s+(?:"((?:[^"]|"")+)"|([A-Za-z_][\w$]*))', re.I)


class FailureGuess:
    """`guess(sql)` -> True when `sql` probably fails its check, from the snapshot's tables and columns."""

    def __init__(self, tables: Sequence[Table]):
        self._qualified = {(t.schema, t.name): {c.name for c in t.columns} for t in tables}
        self._by_name: dict[str, set[str]] = {}
        for t in tables:   # an unqualified name: any schema's table of that name may be the one meant
            self._by_name.setdefault(t.name, set()).update(c.name for c in t.columns)

    def __call__(self, sql: str) -> bool:
        try:
            verdict = check_sql_once(sql)     # qa_generation's guard verdict of the same text
        except Exception:  # noqa: BLE001 - a guess only: the real check reports what is wrong
            return True
        if not verdict.ok:
            return True
        names = verdict.names
        derived = set(names.derived)
        columns: set[str] = set()
        for schema, relation in names.relations:
            if not schema and relation in derived:
                continue
            found = self._qualified.get((schema, relation)) if schema else self._by_name.get(relation)
            if found is None:
                return True
            columns |= found
        for _alias, outputs in names.derived_columns:
            columns.update(outputs)
        columns.update(m.group(1).replace('""', '"') if m.group(1) else m.group(2).lower()
                       for m in _AS_NAME.finditer(sql))
        return any(field not in columns for field in names.fields)
