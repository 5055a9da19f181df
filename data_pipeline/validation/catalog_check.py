"""What a statement names, checked against the business database's own catalog, before it is planned or run.

The static guard (guard.py) reads the SQL with PostgreSQL's parser but cannot know what a name resolves to in
one particular database. PostgreSQL resolves an unqualified function, operator or type through the search path,
and column notation `x.f` (or `(x).f`) is the call `f(x)` whenever `f` is not a column of `x`. A business
database may define `public.count`, a `first(anyelement)` aggregate, an operator `=` on a user type, a domain
`text` whose CHECK calls a function, or `evil_sleep(t)`: each would run inside our read-only transaction. So,
on the checking connection (same session, same search path, inside the READ ONLY transaction, before EXPLAIN):
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

# Run with search_path = pg_catalog (see `_pg_catalog_only`): a hostile database must not answer its own
# questions — a domain named `text` or an operator `=` ahead of pg_catalog would otherwise run inside them.
_PATH_SQL = ("SELECT pg_catalog.current_setting('search_path'), "
             "pg_catalog.current_schemas(true)::pg_catalog.text[]")

_NAMES_SQL = """
SELECT 'function', p.proname::text, n.nspname::text, '' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proname = ANY(%(functions)s::name[]) AND n.nspname <> 'pg_catalog'
UNION ALL
SELECT 'operator', o.oprname::text, n.nspname::text, '' FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
 WHERE o.oprname = ANY(%(operators)s::name[]) AND n.nspname <> 'pg_catalog'
UNION ALL
SELECT 'type', t.typname::text, n.nspname::text, t.typtype::text FROM pg_type t
  JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE t.typname = ANY(%(types)s::name[]) AND (n.nspname <> 'pg_catalog' OR t.typtype = 'd')
UNION ALL
SELECT DISTINCT 'callable', p.proname::text, '', '' FROM pg_proc p WHERE p.proname = ANY(%(fields)s::name[])
UNION ALL
SELECT 'relation', r.ord::text, found.oid::text, found.nspname::text
  FROM unnest(%(schemas)s::text[], %(relnames)s::text[]) WITH ORDINALITY AS r(schema, name, ord)
  CROSS JOIN LATERAL (
    SELECT c.oid, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relname = r.name AND CASE WHEN r.schema = '' THEN n.nspname = ANY(%(path)s::name[])
                                       ELSE n.nspname = r.schema END
     ORDER BY array_position(%(path)s::text[], n.nspname::text) NULLS LAST LIMIT 1) AS found
"""
_COLUMNS_SQL = """
SELECT 'column', a.attrelid::text, a.attname::text, '' FROM pg_attribute a
 WHERE a.attrelid = ANY(%(oids)s::oid[]) AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY(%(fields)s::name[])
UNION ALL
SELECT 'cast', format_type(c.castsource, NULL), format_type(c.casttarget, NULL), n.nspname || '.' || p.proname
  FROM pg_cast c JOIN pg_proc p ON p.oid = c.castfunc JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname <> 'pg_catalog'
   AND (c.castsource IN (SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = ANY(%(oids)s::oid[]) AND a.attnum > 0)
        OR c.casttarget IN (SELECT t.oid FROM pg_type t WHERE t.typname = ANY(%(types)s::name[])))
"""


def catalog_problem(cur, names: CatalogNames) -> Optional[str]:
    """The first thing the statement names that does not resolve into PostgreSQL's own catalog, as a reason;
    None when everything does. `cur` is a cursor of the checking transaction (READ ONLY)."""
    cur.execute(_PATH_SQL)
    original, path = cur.fetchone()
    cur.execute("SELECT pg_catalog.set_config('search_path', 'pg_catalog', true)")
    try:
        return _problem(cur, names, list(path or []))
    finally:
        cur.execute("SELECT pg_catalog.set_config('search_path', %s, true)", (original,))


def _problem(cur, names: CatalogNames, path: list[str]) -> Optional[str]:
    derived = set(names.derived)
    relations = [(s, r) for s, r in names.relations if s or r not in derived]
    fields = sorted({f for _, _, f in names.column_refs})
    cur.execute(_NAMES_SQL, {
        "functions": list(names.functions), "operators": list(names.operators), "types": list(names.types),
        "fields": fields, "schemas": [s for s, _ in relations], "relnames": [r for _, r in relations],
        "path": path})
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
    resolved: dict[tuple[str, str], int] = {}
    for kind, ord_, oid, schema in rows:
        if kind != "relation":
            continue
        ref = relations[int(ord_) - 1]
        if schema in SYSTEM_SCHEMAS or schema.startswith(("pg_temp", "pg_toast")):
            return f"relation {'.'.join(filter(None, ref))} is a system catalog ({schema}); pairs read business tables only"
        resolved[ref] = int(oid)
    callable_fields = {name for kind, name, _, _ in rows if kind == "callable"} - set(ALLOWED_FUNCTIONS)
    return _columns_problem(cur, names, derived, resolved, callable_fields)


def _columns_problem(cur, names: CatalogNames, derived: set, resolved: dict, callable_fields: set) -> Optional[str]:
    oids = sorted(set(resolved.values()))
    rows: list = []
    if oids or names.types:
        cur.execute(_COLUMNS_SQL, {"oids": oids, "fields": sorted(callable_fields), "types": list(names.types)})
        rows = cur.fetchall()
    for kind, source, target, function in rows:
        if kind == "cast":
            return (f"the cast from {source} to {target} runs function {function} of this database: only "
                    f"built-in casts")
    columns = {(int(rel), name) for kind, rel, name, _ in rows if kind == "column"}
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
