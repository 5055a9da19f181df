"""The real first and last date of each table's event time, read from the business database (issue 22's value
facts: samples only show a few pages, so a payment table running 2023-01 … 2024-12 looked like 2023-01 … 2023-06).

`read_time_ranges(url, wanted, settings)` with `wanted` = [(table, column)] answers a `TimeRanges`: per table
`{"column", "min_time", "max_time"}` (ISO dates; both None when the column holds no finite value) or the reason it
could not be read. One statement per table, `SELECT min(col), max(col)` on the relation itself (a partitioned
table's parent, a view, a materialised view), each in its own READ ONLY transaction through
`core.business_db.business_readonly` (vetted connection, lock timeout) with a statement timeout of at most
`TIMEOUT_MS`, identifiers quoted by `psycopg2.sql`. With an index on the column PostgreSQL answers min/max from
its two ends; without one it is a single scan, which the timeout bounds. All reads together stop after
`BUDGET_S`; what is left, times out or fails is reported, and the semantic model falls back to the sampled range
marked approximate. Foreign tables are not read (a remote scan). Raises `core.errors.DatabaseConnectionError`
when the database cannot be reached.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Optional, Sequence

import psycopg2
from psycopg2 import sql

from core.business_db import business_readonly
from core.db import first_line
from data_pipeline.schema.model import Table

log = logging.getLogger(__name__)

TIMEOUT_MS = 3000            # per table: longer and the range stays the sampled one (marked approximate)
BUDGET_S = 30.0              # all tables together
READ_KINDS = ("table", "partitioned_table", "materialized_view", "view")


@dataclass
class TimeRanges:
    ranges: dict[str, dict] = field(default_factory=dict)    # qualified -> {"column", "min_time", "max_time"}
    failed: dict[str, str] = field(default_factory=dict)     # qualified -> why it was not read
    seconds: float = 0.0


def _query(table: Table, column: str) -> sql.Composed:
    col = sql.Identifier(column)
    # infinite dates have no calendar day; to_char keeps the answer independent of the session's DateStyle
    return sql.SQL("SELECT to_char(min({c})::timestamp, 'YYYY-MM-DD'), to_char(max({c})::timestamp, 'YYYY-MM-DD') "
                   "FROM {t} WHERE {c} > '-infinity' AND {c} < 'infinity'").format(
        c=col, t=sql.Identifier(table.schema, table.name))


def _iso(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    return date.fromisoformat(value).isoformat()     # ValueError on a year past 9999: not a usable range


def read_time_ranges(business_url: str, wanted: Sequence[tuple[Table, str]], settings, *,
                     timeout_ms: Optional[int] = None, budget_s: Optional[float] = None) -> TimeRanges:
    """min/max of `column` in each `table` (see the module doc)."""
    out = TimeRanges()
    todo = []
    for table, column in wanted:
        if table.kind not in READ_KINDS:
            out.failed[table.qualified] = f"a {table.kind.replace('_', ' ')} is not scanned"
        else:
            todo.append((table, column))
    if not todo:
        return out
    started = time.monotonic()
    timeout = min(settings.statement_timeout_ms, timeout_ms if timeout_ms is not None else TIMEOUT_MS)
    budget = BUDGET_S if budget_s is None else budget_s
    with business_readonly(business_url, statement_timeout_ms=timeout, lock_timeout_ms=settings.lock_timeout_ms,
                           settings=settings) as conn:
        for table, column in todo:
            if time.monotonic() - started > budget:
                out.failed[table.qualified] = f"time budget of {budget:g} s spent"
                continue
            try:
                with conn.cursor() as cur:
                    cur.execute(_query(table, column))
                    lo, hi = cur.fetchone()
                out.ranges[table.qualified] = {"column": column, "min_time": _iso(lo), "max_time": _iso(hi)}
            except (psycopg2.Error, ValueError) as exc:
                out.failed[table.qualified] = first_line(exc)
            finally:
                conn.rollback()
    out.seconds = time.monotonic() - started
    for q, reason in list(out.failed.items())[:20]:
        log.warning("event time range of %s not read (the sampled range is kept, marked approximate): %s", q, reason)
    return out
