"""Which listed tables exist, which the connecting role may read, which materialised views hold no data.

One catalog query (read-only, like every business read): `check_tables(url, refs, settings)` answers a
`TableAccess`. Used twice: by the API before a run starts (a missing table is a 400, an unreadable one a 400 unless
the caller accepts it) and by ddl_generation, which skips what cannot be read and says so in step warnings, so a
run that covered only part of its table list never ends plain `completed`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional

import psycopg2

from core.db import business_readonly, database_name, first_line
from core.errors import DatabaseConnectionError, ValidationFailed
from data_pipeline.taskfiles.table_list import TableRef

log = logging.getLogger(__name__)
PREFLIGHT_CONNECT_TIMEOUT_S = 3   # an API request waits for this check: an unreachable host must not hold it long
MAX_LISTED = 100                  # table names put in invalid_params

# Readable = USAGE on the schema and SELECT on the relation (table-level; a grant on some columns only is not
# enough for the `SELECT count(*)` / sampling reads of ddl_generation, nor for most generated SQL).
_ACCESS = """
SELECT r.ord, c.relkind, c.relispopulated,
       has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT') AS readable
FROM unnest(%(schemas)s::text[], %(names)s::text[]) WITH ORDINALITY AS r(schema, name, ord)
JOIN pg_namespace n ON n.nspname = r.schema
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = r.name AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
"""


@dataclass
class TableAccess:
    readable: list[TableRef] = field(default_factory=list)     # in the table list's order
    missing: list[TableRef] = field(default_factory=list)      # no such table, view or materialised view
    unreadable: list[TableRef] = field(default_factory=list)   # exists; the role may not SELECT it
    unpopulated: list[TableRef] = field(default_factory=list)  # materialised view never refreshed: no rows to read


def check_tables(business_url: str, refs: list[TableRef], settings, *,
                 connect_timeout_s: Optional[int] = None) -> TableAccess:
    """Classify `refs`. Raises core.errors.DatabaseConnectionError when the database cannot be reached."""
    access = TableAccess()
    if not refs:
        return access
    with business_readonly(business_url, statement_timeout_ms=settings.statement_timeout_ms,
                           lock_timeout_ms=settings.lock_timeout_ms, connect_timeout_s=connect_timeout_s) as conn:
        with conn.cursor() as cur:
            cur.execute(_ACCESS, {"schemas": [r.schema for r in refs], "names": [r.name for r in refs]})
            found = {row[0]: row[1:] for row in cur.fetchall()}
    for i, ref in enumerate(refs, start=1):
        if i not in found:
            access.missing.append(ref)
            continue
        kind, populated, readable = found[i]
        if not readable:
            access.unreadable.append(ref)
        elif kind == "m" and not populated:
            access.unpopulated.append(ref)
        else:
            access.readable.append(ref)
    return access


class MissingTables(ValidationFailed):
    """Listed tables that do not exist: 400 with their names in `invalid_params`."""

    def __init__(self, missing: list[TableRef], database: str):
        names = [r.short for r in missing]
        super().__init__(f"{len(names)} listed table(s) do not exist in database {database}: "
                         + ", ".join(names[:50]) + (", ..." if len(names) > 50 else ""),
                         invalid_params=names[:MAX_LISTED], message="表不存在")


class UnreadableTables(ValidationFailed):
    """Listed tables the role may not read: 400 unless the caller accepts skipping them."""

    def __init__(self, unreadable: list[TableRef], database: str):
        names = [r.short for r in unreadable]
        super().__init__(f"the database role cannot read (SELECT) {len(names)} listed table(s) in {database}: "
                         + ", ".join(names[:50]) + (", ..." if len(names) > 50 else "")
                         + "; grant SELECT, remove them from the list, or send allow_unreadable_tables=true "
                         "(or force_execute=true) to run without them", invalid_params=names[:MAX_LISTED],
                         message="部分表无读取权限")


def require_usable(business_url: str, refs: list[TableRef], settings, *, allow_unreadable: bool) -> dict:
    """The check made before a run starts (task creation, execute). Missing tables -> MissingTables; unreadable
    ones -> UnreadableTables unless `allow_unreadable` (then they are listed: the run skips them and ends
    partial_completed). An unreachable database is not an error here (`checked: false`): the run reports it."""
    try:
        access = check_tables(business_url, refs, settings, connect_timeout_s=PREFLIGHT_CONNECT_TIMEOUT_S)
    except (DatabaseConnectionError, psycopg2.Error) as exc:
        reason = exc.details if isinstance(exc, DatabaseConnectionError) else first_line(exc)
        log.warning("table list not checked before the run: %s", reason)
        return {"checked": False, "reason": reason, "unreadable_tables": [], "unpopulated_views": []}
    database = database_name(business_url) or "?"
    if access.missing:
        raise MissingTables(access.missing, database)
    if access.unreadable and not allow_unreadable:
        raise UnreadableTables(access.unreadable, database)
    return {"checked": True, "unreadable_tables": [r.short for r in access.unreadable],
            "unpopulated_views": [r.short for r in access.unpopulated]}
