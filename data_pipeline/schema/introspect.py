"""Reading business tables: catalog (batched), row counts, samples and value profiles, PII-masked.

`introspect(url, refs, settings)` answers `(tables, missing)`. The catalog is read with four queries for ALL
requested tables together (relations, columns, constraints, pg_stats); only samples (one query per table),
bounded exact counts of small tables and a bounded profile of enum-like candidates without statistics go per
table. Every statement runs through `core.business_db.business_readonly` (vetted; READ ONLY transaction,
statement and lock timeouts); identifiers are always `psycopg2.sql.Identifier`. Sample and profile values are masked by
`data_pipeline.schema.pii.protect_table` right here, before anything else sees them.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any, Iterable, Optional

import psycopg2
from psycopg2 import sql

from core.business_db import business_readonly
from core.db import first_line
from data_pipeline.schema import pii, view_lineage
from data_pipeline.schema.model import Column, ForeignKey, Table, ValueCount
from data_pipeline.taskfiles.table_list import TableRef

log = logging.getLogger(__name__)

EXACT_COUNT_LIMIT = 100_000      # below this estimate an exact (bounded) count(*) is cheap enough
TABLESAMPLE_FROM = 10_000        # above this many rows samples use TABLESAMPLE SYSTEM instead of a plain LIMIT
ENUM_MAX_DISTINCT = 20           # a column with 2..20 distinct values is enum-like
PROFILE_ROWS = 5_000             # rows read to profile enum-like candidates that have no pg_stats
SAMPLE_TEXT_MAX = 120            # sample values are cut to this many characters
TOP_VALUES = 10

KINDS = {"r": "table", "p": "partitioned_table", "v": "view", "m": "materialized_view", "f": "foreign_table"}
_ENUMLIKE_TYPES = re.compile(r"^(character varying|varchar|character|char|text|smallint|integer|bigint|boolean)"
                             r"(\(\d+\))?$")

_RELATIONS = """
SELECT r.ord, c.oid, n.nspname AS schema, c.relname AS name, c.relkind,
       obj_description(c.oid, 'pg_class') AS comment,
       CASE WHEN c.relkind = 'p' THEN (SELECT sum(greatest(pc.reltuples, 0))::bigint
                                        FROM pg_partition_tree(c.oid) pt JOIN pg_class pc ON pc.oid = pt.relid
                                        WHERE pt.isleaf)
            ELSE c.reltuples::bigint END AS reltuples,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS view_definition,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key
FROM unnest(%(schemas)s::text[], %(names)s::text[]) WITH ORDINALITY AS r(schema, name, ord)
JOIN pg_namespace n ON n.nspname = r.schema
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = r.name AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY r.ord
"""

_COLUMNS = """
SELECT a.attrelid AS oid, a.attname AS name, a.attnum, format_type(a.atttypid, a.atttypmod) AS data_type,
       a.attnotnull, pg_get_expr(d.adbin, d.adrelid) AS default_expr, a.attidentity, a.attgenerated,
       col_description(a.attrelid, a.attnum) AS comment, t.typtype, tn.nspname AS type_schema,
       t.typname AS type_name, t.typcategory,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS domain_base_type,
       CASE WHEN a.atttypmod > 4 AND t.typcategory = 'S' THEN a.atttypmod - 4
            WHEN t.typtype = 'd' AND t.typtypmod > 4 THEN t.typtypmod - 4 END AS max_length,
       ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
           AS enum_values,
       ARRAY(SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k WHERE k.contypid = t.oid ORDER BY k.conname)
           AS domain_checks
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_namespace tn ON tn.oid = t.typnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY(%(oids)s::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

# what a constraint row carries besides its table and kind (both queries below are read by one parser)
_CONSTRAINT_FIELDS = """
       ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(num, ord)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.num ORDER BY u.ord) AS columns,
       fn.nspname AS ref_schema, fc.relname AS ref_table,
       ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(num, ord)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.num ORDER BY u.ord) AS ref_columns,
       pg_get_constraintdef(k.oid) AS definition"""

_CONSTRAINTS = f"""
SELECT k.conrelid AS oid, k.conname AS name, k.contype,{_CONSTRAINT_FIELDS}
FROM pg_constraint k
LEFT JOIN pg_class fc ON fc.oid = k.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE k.conrelid = ANY(%(oids)s::oid[]) AND k.contype IN ('p', 'u', 'f', 'c') AND k.conparentid = 0
ORDER BY k.conrelid, k.contype, k.conname
"""

_STATS = """
SELECT s.schemaname AS schema, s.tablename AS name, s.attname AS column_name, s.n_distinct, s.null_frac,
       s.most_common_vals::text AS mcv, s.most_common_freqs AS mcf
FROM pg_stats s
JOIN unnest(%(schemas)s::text[], %(names)s::text[]) AS r(schema, name)
  ON s.schemaname = r.schema AND s.tablename = r.name
WHERE (NOT s.inherited OR s.tablename IN (SELECT relname FROM pg_class WHERE relkind = 'p'))
  AND NOT EXISTS (SELECT 1 FROM unnest(%(w_schemas)s::text[], %(w_names)s::text[], %(w_columns)s::text[])
                                AS w(schema, name, column_name)
                   WHERE w.schema = s.schemaname AND w.name = s.tablename AND w.column_name = s.attname)
"""


def introspect(business_url: str, refs: list[TableRef], settings, *, sample: bool = True
               ) -> tuple[list[Table], list[TableRef]]:
    """Describe `refs` (in their order). Tables that do not exist come back in `missing`.

    `sample=False` skips samples and profiles (the catalog and counts only). Raises
    `core.errors.DatabaseConnectionError` when the database cannot be reached.
    """
    if not refs:
        return [], []
    with business_readonly(business_url, statement_timeout_ms=settings.statement_timeout_ms,
                           lock_timeout_ms=settings.lock_timeout_ms, settings=settings) as conn:
        tables = _read_catalog(conn, refs)
        found = {(t.schema, t.name) for t in tables}
        missing = [r for r in refs if (r.schema, r.name) not in found]
        views = _read_view_shapes(conn, tables)
        for table in tables:
            _refine_row_count(conn, table)
        if sample:
            # secrets (by name or comment, or view columns computed from one) are never selected: not in the
            # pg_stats read, NULL in their place in samples, not profiled
            secret_view_columns = _secret_view_columns(views)
            withheld = {(t.schema, t.name): _withheld_columns(t, secret_view_columns) for t in tables}
            stats = _read_stats(conn, tables, withheld)
            for table in tables:
                key = (table.schema, table.name)
                _sample(conn, table, settings.sample_rows, withheld[key])
                _profile(conn, table, stats.get(key, {}), withheld[key])
        _protect(tables, views)
    return tables, missing


# --------------------------------------------------------------------------------------------------- catalog
def _dict_rows(cur) -> list[dict]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _read_catalog(conn, refs: list[TableRef]) -> list[Table]:
    with conn.cursor() as cur:
        cur.execute(_RELATIONS, {"schemas": [r.schema for r in refs], "names": [r.name for r in refs]})
        relations = _dict_rows(cur)
        by_oid: dict[int, Table] = {}
        tables: list[Table] = []
        for rel in relations:
            if rel["oid"] in by_oid:
                continue
            table = Table(schema=rel["schema"], name=rel["name"], kind=KINDS[rel["relkind"]],
                          comment=rel["comment"], view_definition=rel["view_definition"],
                          partition_key=rel["partition_key"],
                          row_estimate=rel["reltuples"] if (rel["reltuples"] or 0) >= 0 else None)
            by_oid[rel["oid"]] = table
            tables.append(table)
        if not tables:
            return []
        oids = list(by_oid)
        cur.execute(_COLUMNS, {"oids": oids})
        for row in _dict_rows(cur):
            by_oid[row["oid"]].columns.append(_column(row))
        cur.execute(_CONSTRAINTS, {"oids": oids})
        for row in _dict_rows(cur):
            _apply_constraint(by_oid[row["oid"]], row)
        _add_partition_foreign_keys(cur, by_oid)
    conn.rollback()
    return tables


# ------------------------------------------------------------------------------------------- partitions (issue 12)
_PARTITION_FKS = f"""
SELECT p.oid AS oid, k.conname AS name, 'f' AS contype,{_CONSTRAINT_FIELDS}
FROM unnest(%(oids)s::oid[]) AS p(oid)
JOIN pg_class pc ON pc.oid = p.oid AND pc.relkind = 'p'
CROSS JOIN LATERAL pg_partition_tree(p.oid) AS t
JOIN pg_constraint k ON k.conrelid = t.relid AND k.contype = 'f' AND k.conparentid = 0
JOIN pg_class fc ON fc.oid = coalesce(pg_partition_root(k.confrelid), k.confrelid)
JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE t.relid <> p.oid
ORDER BY p.oid, t.level, k.conname
"""


def _add_partition_foreign_keys(cur, by_oid: dict) -> None:
    """Foreign keys declared on the partitions of a partitioned table (PostgreSQL allows it, sample databases
    do it) count as the parent's: the parent is then joined and its edges counted. One FK per (columns,
    referenced table, referenced columns), whichever partition declares it; one referencing a partition
    counts for that partition's root."""
    if not any(t.kind == "partitioned_table" for t in by_oid.values()):
        return
    cur.execute(_PARTITION_FKS, {"oids": list(by_oid)})
    for row in _dict_rows(cur):
        table = by_oid[row["oid"]]
        key = (tuple(row["columns"] or []), row["ref_schema"], row["ref_table"], tuple(row["ref_columns"] or []))
        if any((tuple(f.columns), f.ref_schema, f.ref_table, tuple(f.ref_columns)) == key
               for f in table.foreign_keys):
            continue
        _apply_constraint(table, row)


def _column(row: dict) -> Column:
    kind = {"e": "enum", "d": "domain"}.get(row["typtype"], "base")
    checks = list(row["domain_checks"] or [])
    enum_values = list(row["enum_values"] or []) or _check_literals(checks)
    default = row["default_expr"] if not row["attgenerated"] else None
    return Column(name=row["name"], data_type=row["data_type"], nullable=not row["attnotnull"],
                  default=default, comment=row["comment"], max_length=row["max_length"], ordinal=row["attnum"],
                  enum_values=enum_values, type_kind=kind,
                  type_schema=row["type_schema"] if kind != "base" else None,
                  type_name=row["type_name"] if kind != "base" else None,
                  domain_base_type=row["domain_base_type"], domain_checks=checks,
                  identity=row["attidentity"] or "",
                  generated_expr=row["default_expr"] if row["attgenerated"] == "s" else None)


_LITERAL = re.compile(r"'((?:[^']|'')*)'")


def _check_literals(checks: Iterable[str]) -> list[str]:
    """Allowed values of a domain written as `VALUE IN (...)` / `VALUE = ANY (ARRAY[...])`, else []."""
    for check in checks:
        if "VALUE" in check and (" ANY " in check or " IN " in check):
            values = [v.replace("''", "'") for v in _LITERAL.findall(check)]
            if values:
                return values
    return []


def _apply_constraint(table: Table, row: dict) -> None:
    columns = list(row["columns"] or [])
    if row["contype"] == "p":
        table.primary_key = columns
        for col in table.columns:
            col.is_primary_key = col.name in columns
    elif row["contype"] == "u":
        table.unique_keys.append(columns)
    elif row["contype"] == "f":
        table.foreign_keys.append(ForeignKey(name=row["name"], columns=columns, ref_schema=row["ref_schema"],
                                             ref_table=row["ref_table"], ref_columns=list(row["ref_columns"])))
    elif row["contype"] == "c":
        table.check_constraints.append(row["definition"])


def _quoted(table: Table):
    return sql.Identifier(table.schema, table.name)


def _read_rows(conn, query: sql.Composable, action: str, table: Table) -> Optional[list[tuple]]:
    """Run one read of a table's rows; None (logged) when it fails. Always rolled back, so the next read starts
    in a clean transaction (a failed statement aborts it). The query carries no %s parameters: values go in as
    sql.Literal, because a `%` inside a quoted identifier would be read as a placeholder."""
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall()
    except psycopg2.Error as exc:
        log.warning("%s %s skipped: %s", action, table.qualified, first_line(exc))
        return None
    finally:
        conn.rollback()


def _refine_row_count(conn, table: Table) -> None:
    """Exact count when the estimate says the table is small (or it was never analysed), bounded either way."""
    if table.kind == "view" and table.row_estimate in (None, 0, -1):
        table.row_estimate = None
    if table.row_estimate is not None and table.row_estimate >= EXACT_COUNT_LIMIT:
        return
    query = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT {}) s").format(
        _quoted(table), sql.Literal(EXACT_COUNT_LIMIT + 1))
    rows = _read_rows(conn, query, "row count of", table)
    if rows is None:
        return
    count = rows[0][0]
    if count <= EXACT_COUNT_LIMIT:
        table.row_estimate, table.row_count_exact = count, True
    else:
        table.row_estimate = max(table.row_estimate or 0, count)


# ------------------------------------------------------------------------------------------- samples/profile
def _read_stats(conn, tables: list[Table], withheld: dict[tuple[str, str], frozenset]
                ) -> dict[tuple[str, str], dict[str, dict]]:
    out: dict[tuple[str, str], dict[str, dict]] = {}
    hidden = [(schema, name, column) for (schema, name), columns in withheld.items() for column in sorted(columns)]
    try:
        with conn.cursor() as cur:
            cur.execute(_STATS, {"schemas": [t.schema for t in tables], "names": [t.name for t in tables],
                                 "w_schemas": [h[0] for h in hidden], "w_names": [h[1] for h in hidden],
                                 "w_columns": [h[2] for h in hidden]})
            for row in _dict_rows(cur):
                out.setdefault((row["schema"], row["name"]), {})[row["column_name"]] = row
    except psycopg2.Error as exc:
        log.warning("pg_stats not readable: %s", first_line(exc))
    conn.rollback()
    return out


def _text_columns(names: Iterable[str], withheld: frozenset = frozenset()):
    """The select list of a sample/profile read; a withheld (secret) column is never read: NULL in its place.

    Values become text through their type's output function (`format('%s', v)`), never through a cast: a
    database may define its own cast from one of its types to text, implemented by any function it likes."""
    return sql.SQL(", ").join(
        sql.SQL("NULL::pg_catalog.text") if n in withheld else
        sql.SQL("CASE WHEN {0} IS NULL THEN NULL ELSE pg_catalog.left(pg_catalog.format({1}, {0}), {2}) END").format(
            sql.Identifier(n), sql.Literal("%s"), sql.Literal(SAMPLE_TEXT_MAX)) for n in names)


def _sample(conn, table: Table, limit: int, withheld: frozenset = frozenset()) -> None:
    """Up to `limit` rows; TABLESAMPLE SYSTEM on big tables (a few pages instead of a scan)."""
    if not table.columns:
        return
    cols = _text_columns([c.name for c in table.columns], withheld)
    rows_known = table.row_estimate or 0
    queries = []
    if rows_known > TABLESAMPLE_FROM and table.kind in ("table", "materialized_view", "partitioned_table"):
        # SYSTEM picks whole pages: read ~100 rows per wanted sample (spread over many pages), keep a random few
        percent = min(100.0, max(0.001, limit * 100 * 100.0 / rows_known))
        queries.append(sql.SQL("SELECT {} FROM {} TABLESAMPLE SYSTEM ({}) ORDER BY random() LIMIT {}").format(
            cols, _quoted(table), sql.Literal(percent), sql.Literal(limit)))
    queries.append(sql.SQL("SELECT {} FROM {} LIMIT {}").format(cols, _quoted(table), sql.Literal(limit)))
    rows: list[tuple] = []
    for query in queries:
        rows = _read_rows(conn, query, "sampling", table) or []
        # pages that gave a few rows are enough; fewer (empty or unlucky pages) and the plain LIMIT runs
        if len(rows) >= min(limit, 3):
            break
    for i, col in enumerate(table.columns):
        seen: list[str] = []
        for row in rows:
            value = row[i]
            if value is not None and value not in seen:
                seen.append(value)
        col.samples = seen[:limit]


def _is_candidate(col: Column) -> bool:
    if col.is_primary_key or col.generated_expr:
        return False
    return col.type_kind == "enum" or bool(_ENUMLIKE_TYPES.match(col.data_type)) or (
        col.type_kind == "domain" and bool(_ENUMLIKE_TYPES.match(col.domain_base_type or "")))


def _profile(conn, table: Table, stats: dict[str, dict], withheld: frozenset = frozenset()) -> None:
    """distinct counts and top values: pg_stats where present, else a bounded GROUP BY-like pass on PROFILE_ROWS.
    Withheld (secret) columns are not profiled at all."""
    rows = table.row_estimate or 0
    unprofiled = []
    for col in table.columns:
        st = stats.get(col.name)
        if st is None:
            if _is_candidate(col) and col.name not in withheld:
                unprofiled.append(col)
            continue
        col.null_fraction = float(st["null_frac"]) if st["null_frac"] is not None else None
        nd = st["n_distinct"]
        if nd is not None:
            col.distinct_count = int(nd) if nd >= 0 else int(round(-nd * rows))
        mcv = _parse_array(st["mcv"]) if st["mcv"] else []
        freqs = list(st["mcf"] or [])
        if mcv and rows:
            col.top_values = [ValueCount(v[:SAMPLE_TEXT_MAX], int(round(f * rows)))
                              for v, f in zip(mcv, freqs)][:TOP_VALUES]
        _mark_enum_like(col)
    if unprofiled:
        _profile_by_reading(conn, table, unprofiled)


def _profile_by_reading(conn, table: Table, columns: list[Column]) -> None:
    query = sql.SQL("SELECT {} FROM {} LIMIT {}").format(_text_columns([c.name for c in columns]),
                                                         _quoted(table), sql.Literal(PROFILE_ROWS))
    rows = _read_rows(conn, query, "profiling", table)
    if rows is None:
        return
    complete = len(rows) < PROFILE_ROWS   # we saw every row: counts are exact
    for i, col in enumerate(columns):
        counts = Counter(row[i] for row in rows if row[i] is not None)
        nulls = sum(1 for row in rows if row[i] is None)
        col.null_fraction = round(nulls / len(rows), 4) if rows else None
        # a partial read that already shows many values only gives a lower bound: leave the count unknown
        col.distinct_count = len(counts) if complete or len(counts) <= ENUM_MAX_DISTINCT else None
        col.top_values = [ValueCount(v, n) for v, n in counts.most_common(TOP_VALUES)]
        _mark_enum_like(col)


def _mark_enum_like(col: Column) -> None:
    if col.type_kind == "enum":
        col.is_enum_like = True
        return
    col.is_enum_like = (_is_candidate(col) and col.distinct_count is not None
                        and 2 <= col.distinct_count <= ENUM_MAX_DISTINCT)
    if not col.is_enum_like and col.distinct_count and col.distinct_count > ENUM_MAX_DISTINCT:
        col.top_values = col.top_values[:5]


def _parse_array(text: str) -> list[str]:
    """Parse a PostgreSQL text array literal `{a,"b c",NULL}` into strings (NULLs dropped)."""
    if not text or text[0] != "{":
        return []
    out, i, n = [], 1, len(text) - 1
    while i < n:
        if text[i] == '"':
            i += 1
            buf = []
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                buf.append(text[i])
                i += 1
            out.append("".join(buf))
            i += 2  # closing quote and comma
        else:
            j = text.find(",", i)
            j = n if j < 0 else j
            item = text[i:j]
            if item != "NULL":
                out.append(item)
            i = j + 1
    return out


# ------------------------------------------------------------------------------------------------ privacy
# Which columns of which relations each requested view reads (the view's rewrite rule depends on them), with
# their comments and types; views read by views are followed (VIEW_DEPTH levels) so `name` in a view on a view
# on `customer` is still known to be first_name || last_name.
VIEW_DEPTH = 4

_VIEW_SOURCES = """
SELECT vn.nspname AS view_schema, v.relname AS view_name, n.nspname AS schema, c.relname AS table_name,
       c.relkind, a.attname AS column_name, col_description(a.attrelid, a.attnum) AS comment,
       format_type(a.atttypid, a.atttypmod) AS data_type
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS r(schema, name)
JOIN pg_namespace vn ON vn.nspname = r.schema
JOIN pg_class v ON v.relnamespace = vn.oid AND v.relname = r.name AND v.relkind IN ('v', 'm')
JOIN pg_rewrite rw ON rw.ev_class = v.oid
JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
                AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.refobjid <> v.oid
JOIN pg_class c ON c.oid = d.refobjid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
ORDER BY 1, 2, 3, 4, a.attnum
"""

_VIEW_HEADS = """
SELECT n.nspname AS schema, c.relname AS name, pg_get_viewdef(c.oid, true) AS definition,
       ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
             AND NOT a.attisdropped ORDER BY a.attnum) AS column_names,
       ARRAY(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = c.oid
             AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS column_types
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS r(schema, name)
JOIN pg_namespace n ON n.nspname = r.schema
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = r.name AND c.relkind IN ('v', 'm')
"""


def _read_view_shapes(conn, tables: list[Table]) -> dict[tuple[str, str], view_lineage.ViewShape]:
    """The requested views and the views they read, with the columns each reads (see VIEW_DEPTH). A catalog
    read that fails leaves the views without lineage (logged): their own column names still classify them."""
    shapes = {(t.schema, t.name): view_lineage.ViewShape(t.schema, t.name, t.view_definition,
                                                         [(c.name, c.data_type) for c in t.columns], [])
              for t in tables if t.kind in ("view", "materialized_view")}
    pending = list(shapes)
    try:
        with conn.cursor() as cur:
            for _ in range(VIEW_DEPTH):
                if not pending:
                    break
                cur.execute(_VIEW_SOURCES, {"schemas": [k[0] for k in pending], "names": [k[1] for k in pending]})
                nested = []
                for row in _dict_rows(cur):
                    source = view_lineage.SourceColumn(row["schema"], row["table_name"], row["column_name"],
                                                       row["relkind"], row["comment"], row["data_type"])
                    shapes[(row["view_schema"], row["view_name"])].sources.append(source)
                    key = (source.schema, source.table)
                    if source.relkind in ("v", "m") and key not in shapes and key not in nested:
                        nested.append(key)
                if nested:
                    cur.execute(_VIEW_HEADS, {"schemas": [k[0] for k in nested], "names": [k[1] for k in nested]})
                    for row in _dict_rows(cur):
                        shapes[(row["schema"], row["name"])] = view_lineage.ViewShape(
                            row["schema"], row["name"], row["definition"],
                            list(zip(row["column_names"], row["column_types"])), [])
                pending = [k for k in nested if k in shapes]
    except psycopg2.Error as exc:
        log.warning("view dependencies not readable: %s", first_line(exc))
    conn.rollback()
    return shapes


def _catalog_kind(source: view_lineage.SourceColumn) -> Optional[str]:
    return pii.kind_by_meta(source.column, source.comment, source.data_type)[0]


def _secret_view_columns(views: dict[tuple[str, str], view_lineage.ViewShape]) -> dict[tuple[str, str], set[str]]:
    """View columns computed from a secret column (known from the catalog alone, before any value is read)."""
    inherited = view_lineage.resolve_views(views, _catalog_kind) if views else {}
    return {key: {name for name, (kind, _) in cols.items() if kind == pii.SECRET} for key, cols in inherited.items()}


def _withheld_columns(table: Table, secret_view_columns: dict[tuple[str, str], set[str]]) -> frozenset:
    """Columns never read: secrets by name or comment, and view columns computed from such columns."""
    withheld = {c.name for c in table.columns if pii.is_withheld_by_catalog(c, table)}
    return frozenset(withheld | secret_view_columns.get((table.schema, table.name), set()))


def _protect(tables: list[Table], views: dict[tuple[str, str], view_lineage.ViewShape]) -> None:
    """Mask every table; views last, each view column computed from a personal column taking its kind (with
    what the base tables of this same run showed by their values, e.g. a fax column recognised by its numbers)."""
    by_key = {(t.schema, t.name): t for t in tables}
    for table in tables:
        if (table.schema, table.name) not in views:
            pii.protect_table(table)

    def base_kind(source: view_lineage.SourceColumn) -> Optional[str]:
        table = by_key.get((source.schema, source.table))
        column = table.column(source.column) if table is not None else None
        if column is not None and (source.schema, source.table) not in views:
            return column.pii_kind
        return _catalog_kind(source)

    inherited = view_lineage.resolve_views(views, base_kind) if views else {}
    for table in tables:
        key = (table.schema, table.name)
        if key in views:
            pii.protect_table(table, inherited.get(key, {}))


# ------------------------------------------------------------------------------------------------ listing
def like_pattern(pattern: str) -> str:
    """`*`/`?` wildcards -> a LIKE pattern with `%`, `_` and `\\` taken literally."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def list_tables(business_url: str, schemas: list[str], pattern: Optional[str], settings) -> list[dict[str, Any]]:
    """Tables, partitioned parents, views, materialized views and foreign tables (partitions excluded), sorted.

    Each item: {schema, name, type, comment, readable (the role may SELECT it)}. `pattern` uses `*`/`?` and matches case-insensitively.
    """
    query = """
        SELECT n.nspname AS schema, c.relname AS name, c.relkind, obj_description(c.oid, 'pg_class') AS comment,
               has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT') AS readable
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
          AND (%(pattern)s::text IS NULL OR c.relname ILIKE %(pattern)s ESCAPE '\\')
        ORDER BY n.nspname, c.relname
    """
    with business_readonly(business_url, statement_timeout_ms=settings.statement_timeout_ms,
                           lock_timeout_ms=settings.lock_timeout_ms, settings=settings) as conn:
        with conn.cursor() as cur:
            cur.execute(query, {"schemas": schemas, "pattern": like_pattern(pattern) if pattern else None})
            rows = _dict_rows(cur)
    return [{"schema": r["schema"], "name": r["name"], "type": KINDS[r["relkind"]], "comment": r["comment"],
             "readable": bool(r["readable"])} for r in rows]
