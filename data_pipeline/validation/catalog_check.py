"""What a statement names, checked against the business database's own catalog, before it is planned or run.

The static guard (guard.py) reads the SQL with PostgreSQL's parser but cannot know what a name resolves to in
one particular database. PostgreSQL resolves an unqualified function, operator or type through the search path,
and column notation `x.f` (or `(x).f`) is the call `f(x)` whenever `f` is not a column of `x`. A business
database may define `public.count`, a `first(anyelement)` aggregate, an operator `=` on a user type, a domain
`text` whose CHECK calls a function, or `evil_sleep(t)`: each would run inside our read-only transaction. So,
on the checking connection (same session, same search path, inside the READ ONLY transaction, before EXPLAIN),
in one statement whose own names are all schema-qualified:
- no function named by the statement (called, or reachable through column notation) exists outside
  `pg_catalog` — whatever its arguments: resolution would then depend on argument types, so it is refused;
- no operator the statement writes or implies (`=`, `<`, ... for ORDER BY, GROUP BY, IN, CASE) exists outside
  `pg_catalog`;
- no type it names is a domain or lives outside `pg_catalog`;
- every table it reads resolves outside the system schemas (`pg_catalog`, `information_schema`, `pg_toast`);
- `x.f` where `f` is a built-in function not on the allowlist must be a real column of the table `x`;
- no cast implemented by a function outside `pg_catalog` starts from a column type of those tables or ends at a
  type the statement names (implicit casts are not written anywhere).
Every look-up is a catalog read by name, never the statement itself: nothing of it is planned or executed.
"""
from __future__ import annotations

from typing import Optional

from data_pipeline.validation.allowed_functions import ALLOWED_FUNCTIONS
from data_pipeline.validation.guard import CatalogNames

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")

# One statement, every name in it schema-qualified (relations, functions, types, and operators written as
# OPERATOR(pg_catalog.=)): a hostile database must not answer its own questions — a domain named `text`, an
# operator `=` or a table `pg_proc` ahead of pg_catalog in its search path would otherwise run inside them.
_EQ, _NE, _GT, _CAT = "OPERATOR(pg_catalog.=)", "OPERATOR(pg_catalog.<>)", "OPERATOR(pg_catalog.>)", \
    "OPERATOR(pg_catalog.||)"
_T, _N = "pg_catalog.text", "pg_catalog.name"
_CATALOG_SQL = f"""
WITH path AS (SELECT pg_catalog.current_schemas(true) AS p),
rel AS (
  SELECT r.ord, found.oid, found.nspname
    FROM ROWS FROM (pg_catalog.unnest(%(schemas)s::{_T}[]), pg_catalog.unnest(%(relnames)s::{_T}[]))
         WITH ORDINALITY AS r(schema, name, ord)
    CROSS JOIN path
    CROSS JOIN LATERAL (
      SELECT c.oid, n.nspname FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} c.relnamespace
       WHERE c.relname {_EQ} r.name::{_N}
         AND CASE WHEN r.schema {_EQ} ''::{_T} THEN n.nspname {_EQ} ANY (path.p) ELSE n.nspname {_EQ} r.schema::{_N} END
       ORDER BY pg_catalog.array_position(path.p, n.nspname) LIMIT 1) AS found)
SELECT 'function'::{_T}, p.proname::{_T}, n.nspname::{_T}, ''::{_T}
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} p.pronamespace
 WHERE p.proname {_EQ} ANY (%(functions)s::{_N}[]) AND n.nspname {_NE} 'pg_catalog'::{_N}
UNION ALL
SELECT 'operator'::{_T}, o.oprname::{_T}, n.nspname::{_T}, ''::{_T}
  FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} o.oprnamespace
 WHERE o.oprname {_EQ} ANY (%(operators)s::{_N}[]) AND n.nspname {_NE} 'pg_catalog'::{_N}
UNION ALL
SELECT 'type'::{_T}, t.typname::{_T}, n.nspname::{_T}, t.typtype::{_T}
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} t.typnamespace
 WHERE t.typname {_EQ} ANY (%(types)s::{_N}[])
   AND (n.nspname {_NE} 'pg_catalog'::{_N} OR t.typtype {_EQ} 'd'::"char")
UNION ALL
SELECT DISTINCT 'callable'::{_T}, p.proname::{_T}, ''::{_T}, ''::{_T}
  FROM pg_catalog.pg_proc p WHERE p.proname {_EQ} ANY (%(fields)s::{_N}[])
UNION ALL
SELECT 'relation'::{_T}, rel.ord::{_T}, rel.oid::{_T}, rel.nspname::{_T} FROM rel
UNION ALL
SELECT 'column'::{_T}, a.attrelid::{_T}, a.attname::{_T}, ''::{_T} FROM pg_catalog.pg_attribute a
 WHERE a.attrelid {_EQ} ANY (SELECT rel.oid FROM rel) AND a.attnum {_GT} 0 AND NOT a.attisdropped
   AND a.attname {_EQ} ANY (%(fields)s::{_N}[])
UNION ALL
SELECT 'cast'::{_T}, pg_catalog.format_type(c.castsource, NULL), pg_catalog.format_type(c.casttarget, NULL),
       n.nspname::{_T} {_CAT} '.'::{_T} {_CAT} p.proname::{_T}
  FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_proc p ON p.oid {_EQ} c.castfunc
  JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} p.pronamespace
 WHERE n.nspname {_NE} 'pg_catalog'::{_N}
   AND (c.castsource {_EQ} ANY (SELECT a.atttypid FROM pg_catalog.pg_attribute a
                                 WHERE a.attrelid {_EQ} ANY (SELECT rel.oid FROM rel) AND a.attnum {_GT} 0)
        OR c.casttarget {_EQ} ANY (SELECT t.oid FROM pg_catalog.pg_type t
                                    WHERE t.typname {_EQ} ANY (%(types)s::{_N}[])))
"""


def catalog_problem(cur, names: CatalogNames) -> Optional[str]:
    """The first thing the statement names that does not resolve into PostgreSQL's own catalog, as a reason;
    None when everything does. `cur` is a cursor of the checking transaction (READ ONLY). One round trip."""
    derived = set(names.derived)
    relations = [(s, r) for s, r in names.relations if s or r not in derived]
    cur.execute(_CATALOG_SQL, {
        "functions": list(names.functions), "operators": list(names.operators), "types": list(names.types),
        "fields": sorted({f for _, _, f in names.column_refs}), "schemas": [s for s, _ in relations],
        "relnames": [r for _, r in relations]})
    rows = cur.fetchall()
    for kind, name, schema, extra in rows:
        if kind == "function":
            return (f"function {name} is defined in schema {schema} of this database: a pair may call built-in "
                    f"functions only (column notation x.{name} would call it too)")
        if kind == "operator":
            return f"operator {name} is defined in schema {schema} of this database: only built-in operators"
        if kind == "type":
            what = "a domain" if extra == "d" else f"a type of schema {schema}"
            return f"type {name} is {what} in this database: only built-in types"
        if kind == "cast":
            return (f"the cast from {name} to {schema} runs function {extra} of this database: only built-in "
                    f"casts")
    resolved: dict[tuple[str, str], int] = {}
    for kind, ord_, oid, schema in rows:
        if kind != "relation":
            continue
        ref = relations[int(ord_) - 1]
        if schema in SYSTEM_SCHEMAS or schema.startswith(("pg_temp", "pg_toast")):
            return (f"relation {'.'.join(filter(None, ref))} is a system catalog ({schema}); pairs read business "
                    f"tables only")
        resolved[ref] = int(oid)
    callable_fields = {name for kind, name, _, _ in rows if kind == "callable"} - set(ALLOWED_FUNCTIONS)
    columns = {(int(rel), name) for kind, rel, name, _ in rows if kind == "column"}
    return _columns_problem(names, derived, resolved, callable_fields, columns)


def _columns_problem(names: CatalogNames, derived: set, resolved: dict, callable_fields: set,
                     columns: set) -> Optional[str]:
    by_alias: dict[str, set[int]] = {}
    for alias, schema, relname in names.aliases:
        oid = resolved.get((schema, relname))
        if oid is not None and (schema or relname not in derived):
            by_alias.setdefault(alias, set()).add(oid)
    for schema, rel, field in names.column_refs:
        if field not in callable_fields:
            continue
        targets = {resolved[(schema, rel)]} if schema and (schema, rel) in resolved else \
            (set() if rel in derived else by_alias.get(rel, set()))
        if not targets or any((oid, field) not in columns for oid in targets):
            shown = f"{rel}.{field}" if rel else f"(...).{field}"
            return (f"{shown} is not a column of a table named {rel or 'there'}: PostgreSQL would call the "
                    f"function {field}({rel or '...'}) (column notation); not allowed")
    return None
