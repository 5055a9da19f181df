"""Static SQL check (data_pipeline/validation/guard.py): pure, no database."""
from __future__ import annotations

import doctest

import pytest

from data_pipeline.validation import guard as sql_guard
from data_pipeline.validation.guard import check_sql, denied_function

ACCEPTED = [
    "SELECT 1",
    "select count(*) from bss_company",
    "WITH a AS (SELECT id FROM bss_company) SELECT count(*) FROM a",
    "SELECT service_name, sum(pay_sum) FROM bss_business_day_data GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
    "SELECT 1 UNION ALL SELECT 2",
    "(SELECT 1)",
    "SELECT date_trunc('month', oper_date), now(), COALESCE(wx, 0) FROM bss_business_day_data",
    "SELECT a.id FROM bss_service_area a JOIN bss_company c ON c.id = a.company_id WHERE c.company_name LIKE '%集团%'",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY pay_sum) FROM bss_business_day_data",
    "SELECT 'a;b' AS semicolon_in_string",
    "SELECT 1; -- trailing comment",
    "SELECT 'pg_sleep(1)' AS text_not_a_call, 'nextval(1)'",
    "SELECT * FROM generate_series(1, 3) AS g",
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_read_only_selects_are_accepted(sql):
    verdict = check_sql(sql)
    assert verdict.ok, verdict.reason
    assert verdict.reason == ""
    assert verdict.body and not verdict.body.endswith(";")


REJECTED = [
    ("DROP TABLE bss_company", "not a SELECT statement (DROP TABLE)"),
    ("UPDATE bss_company SET company_name = 'x'", "not a SELECT statement (UPDATE)"),
    ("DELETE FROM bss_company", "not a SELECT statement (DELETE FROM)"),
    ("INSERT INTO bss_company (id) VALUES ('x') RETURNING *", "not a SELECT statement (INSERT INTO)"),
    ("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "not a SELECT statement (MERGE)"),
    ("CREATE TABLE x AS SELECT * FROM bss_company", "not a SELECT statement (CREATE TABLE)"),
    ("ALTER TABLE bss_company ADD COLUMN x int", "not a SELECT statement (ALTER TABLE)"),
    ("TRUNCATE bss_company", "not a SELECT statement (TRUNCATE)"),
    ("COPY bss_company TO '/tmp/x.csv'", "not a SELECT statement (COPY)"),
    ("BEGIN", "not a SELECT statement (BEGIN)"),
    ("COMMIT", "not a SELECT statement (COMMIT)"),
    ("SET statement_timeout = 0", "not a SELECT statement (SET)"),
    ("DO $$ BEGIN DELETE FROM t; END $$", "not a SELECT statement (DO)"),
    ("CALL do_things()", "not a SELECT statement (CALL)"),
    ("LISTEN chan", "not a SELECT statement (LISTEN)"),
    ("NOTIFY chan", "not a SELECT statement (NOTIFY)"),
    ("EXPLAIN ANALYZE DELETE FROM t", "not a SELECT statement (EXPLAIN)"),
    ("VALUES (1)", "not a SELECT statement (VALUES)"),
    ("SELECT 1; DROP TABLE bss_company", "multiple statements (2)"),
    ("SELECT 1; SELECT 2;", "multiple statements (2)"),
    ("WITH d AS (DELETE FROM bss_company RETURNING *) SELECT * FROM d", "DELETE in a CTE"),
    ("WITH u AS (UPDATE t SET a = 1 RETURNING a) SELECT * FROM u", "UPDATE in a CTE"),
    ("SELECT * INTO new_table FROM bss_company", "SELECT ... INTO"),
    ("SELECT * FROM bss_company FOR UPDATE", "locking clause (FOR UPDATE)"),
    ("SELECT * FROM bss_company FOR SHARE", "locking clause (FOR SHARE)"),
    ("SELECT * FROM t WHERE id IN (SELECT id FROM u FOR NO KEY UPDATE)", "locking clause"),
    ("SELECT pg_sleep(600)", "function pg_sleep()"),
    ("SELECT pg_catalog.pg_sleep(1)", "function pg_sleep()"),
    ('SELECT "PG_SLEEP"(1)', "function pg_sleep()"),
    ("SELECT nextval('bss_seq')", "function nextval()"),
    ("SELECT (SELECT setval('bss_seq', 1))", "function setval()"),
    ("SELECT currval('s'), 1", "function currval()"),
    ("SELECT pg_terminate_backend(123)", "function pg_terminate_backend()"),
    ("SELECT pg_read_file('/etc/passwd')", "function pg_read_file()"),
    ("SELECT lo_import('/etc/passwd')", "function lo_import()"),
    ("SELECT dblink_exec('dbname=x', 'DROP TABLE t')", "function dblink_exec()"),
    ("SELECT pg_advisory_lock(1)", "function pg_advisory_lock()"),
    ("SELECT set_config('default_transaction_read_only', 'off', false)", "function set_config()"),
    ("SELECT txid_current()", "function txid_current()"),
    ("SELECT pg_notify('c', 'x')", "function pg_notify()"),
    ("SELECT query_to_xml('DELETE FROM t RETURNING 1', true, true, '')", "function query_to_xml()"),
    ("SELECT * FROM pg_sleep(600)", "function pg_sleep()"),
    ("SELECT * FROM bss_company, LATERAL pg_sleep(1)", "function pg_sleep()"),
    ("SELECT * FROM dblink('dbname=x', 'DELETE FROM t') AS t(a int)", "function dblink()"),
    ("SELECT company_name FROM bss_company ORDER BY pg_sleep(1)", "function pg_sleep()"),
    ("SELECT 'x' WHERE pg_try_advisory_lock(1)", "function pg_try_advisory_lock()"),
    ("SELECT (pg_stat_reset())::text", "function pg_stat_reset()"),
    ("SELEC * FROM t", "unparseable SQL"),
    ("SELECT * FROM (SELECT 1", "unparseable SQL"),
    ("", "empty SQL"),
    ("  ;  ", "empty SQL"),
    ("-- nothing here", "empty SQL"),
]


@pytest.mark.parametrize("sql,reason", REJECTED)
def test_writes_locks_side_effects_and_garbage_are_rejected_with_a_reason(sql, reason):
    verdict = check_sql(sql)
    assert not verdict.ok
    assert reason in verdict.reason, verdict.reason
    assert verdict.body == ""


def test_the_remembered_verdict_is_check_sqls_own():
    """check_sql_once (the generation side judges a text twice) gives check_sql's verdict, computed once."""
    for sql in ("SELECT a FROM t WHERE b = 1", "DELETE FROM t", "SELECT 1; SELECT 2"):
        assert sql_guard.check_sql_once(sql) == check_sql(sql)
        assert sql_guard.check_sql_once(sql) is sql_guard.check_sql_once(sql)


def test_body_drops_trailing_semicolons_and_comments_only():
    assert check_sql("SELECT 1 ;  -- done\n;").body == "SELECT 1"
    assert check_sql("SELECT 'x -- not a comment' FROM t -- real comment").body == \
        "SELECT 'x -- not a comment' FROM t"
    assert check_sql("/* lead */ SELECT 1").body == "/* lead */ SELECT 1"


def test_unknown_and_user_functions_are_rejected_by_name():
    assert check_sql("SELECT my_schema.fancy_fn(1), upper('a')").reason == \
        "function my_schema.fancy_fn() is not allowed (only built-in functions)"
    assert check_sql("SELECT fancy_fn(1)").reason == "function fancy_fn() is not in the allowlist of functions"
    verdict = check_sql("SELECT upper('a'), pg_catalog.lower('B'), count(*) FROM t")
    assert verdict.ok and verdict.functions == ("count", "lower", "upper")


# Bypass attempts (issue 18): SQL given as text, escapes, comments, dollar quoting, reg* casts, locking clauses in
# every position, CTEs and set operations. Each one must be rejected; the reason names what was found.
BYPASSES = [
    ("SELECT * FROM ts_stat('SELECT pg_read_file(''/etc/passwd'')::tsvector')", "ts_stat()"),
    ("SELECT ts_stat('SELECT to_tsvector(company_name) FROM bss_company')", "ts_stat()"),
    ("SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery')", "ts_rewrite()"),
    ("SELECT * FROM pg_catalog.ts_stat($q$SELECT pg_read_file('pg_hba.conf')::tsvector$q$)", "ts_stat()"),
    ("SELECT ts_stat/**/('SELECT 1')", "ts_stat()"),
    ("SELECT ts_stat -- hidden\n ('SELECT 1')", "ts_stat()"),
    ('SELECT "ts_stat"(\'SELECT 1\')', "ts_stat()"),
    ('SELECT "TS_STAT"(\'SELECT 1\')', "ts_stat()"),
    ('SELECT U&"pg_sl\\0065ep"(1)', "pg_sleep()"),
    ('SELECT U&"\\0074s_stat"(\'SELECT 1\')', "ts_stat()"),
    ('SELECT U&"ts!005fstat" UESCAPE \'!\'(\'SELECT 1\')', "ts_stat()"),
    ('SELECT u&"pg_read_fil\\+000065"(\'/etc/passwd\')', "pg_read_file()"),
    ("SELECT query_to_xml('SELECT 1', true, true, '')", "query_to_xml()"),
    ("SELECT table_to_xml('bss_company', true, true, '')", "table_to_xml()"),
    ("SELECT cursor_to_xml('c', 1, true, true, '')", "cursor_to_xml()"),
    ("SELECT * FROM dblink('host=127.0.0.1', 'SELECT 1') AS t(a int)", "dblink()"),
    ("SELECT current_setting('data_directory')", "current_setting()"),
    ("SELECT set_config('default_transaction_read_only', 'off', true)", "set_config()"),
    ("SELECT pg_read_binary_file('/etc/hostname')", "pg_read_binary_file()"),
    ("SELECT pg_ls_dir('.')", "pg_ls_dir()"),
    ("SELECT lo_export(1, '/tmp/x')", "lo_export()"),
    ("SELECT pg_stat_file('postgresql.conf')", "pg_stat_file()"),
    ("SELECT pg_catalog.pg_get_functiondef(1)", "pg_get_functiondef()"),
    ("SELECT xml_is_well_formed('<x/>')", "xml_is_well_formed()"),
    ("SELECT public.evil()", "public.evil()"),
    ('SELECT "public"."count"(1)', "public.count()"),
    ("SELECT 'pg_sleep'::regproc", "regproc"),
    ("SELECT 'bss_company'::regclass", "regclass"),
    ("SELECT CAST('ts_stat' AS regprocedure)", "regprocedure"),
    ("SELECT regrole 'postgres'", "regrole"),
    ("SELECT 1 OPERATOR(pg_catalog.+) 1", "OPERATOR"),
    ("(SELECT * FROM bss_company) FOR UPDATE", "locking clause"),
    ("SELECT 1 UNION SELECT 2 FOR UPDATE", "locking clause"),
    ("WITH a AS (SELECT * FROM bss_company FOR SHARE) SELECT * FROM a", "locking clause"),
    ("SELECT * FROM (SELECT * FROM bss_company FOR KEY SHARE) s", "locking clause"),
    ("SELECT * FROM bss_company FOR NO KEY UPDATE SKIP LOCKED", "locking clause"),
    ("SELECT * FROM bss_company FOR UPDATE OF bss_company NOWAIT", "locking clause"),
    ("SELECT (SELECT id FROM bss_company LIMIT 1 FOR UPDATE)", "locking clause"),
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE ts_stat('x') IS NULL) SELECT * FROM r",
     "ts_stat()"),
    ("SELECT 1 UNION ALL SELECT ts_rewrite('a'::tsquery, 'SELECT 1') IS NULL", "ts_rewrite()"),
    ("SELECT 1 INTERSECT SELECT length(query_to_xml('SELECT 1', true, true, '')::text)", "query_to_xml()"),
    ("SELECT id FROM bss_company WHERE EXISTS (SELECT pg_sleep(10))", "pg_sleep()"),
    ("SELECT ts_stat('SELECT 1') FROM bss_company AS ts_stat(a)", "ts_stat()"),
    ("SELECT now() AT TIME ZONE ts_stat('SELECT 1') FROM bss_company ts_stat(a)", "ts_stat()"),
    ("SELECT count(*) FILTER (WHERE ts_stat('SELECT 1') IS NULL) FROM bss_company", "ts_stat()"),
    ("SELECT array_agg(x ORDER BY pg_sleep(1)) FROM bss_company", "pg_sleep()"),
    ("SELECT $$ignored$$, nextval($$s$$)", "nextval()"),
    ("SELECT * FROM ROWS FROM (ts_stat('SELECT 1')) AS t(a, b, c)", "ts_stat()"),
    ('SELECT U&"bad\\zz"(1)', "invalid Unicode escape"),
    ("SELECT 1, ts_stat(q) FROM (SELECT 'SELECT 1' AS q) s, bss_company ts_stat(a)", "ts_stat()"),
    ("SELECT trim(both ts_stat(q) from 'x') FROM (SELECT 'SELECT 1' AS q) s, bss_company ts_stat(a)", "ts_stat()"),
    ("SELECT 1 FROM bss_company pg_read_file(a)", "pg_read_file()"),
]


@pytest.mark.parametrize("sql,named", BYPASSES)
def test_bypass_attempts_are_rejected_and_named(sql, named):
    verdict = check_sql(sql)
    assert not verdict.ok, sql
    assert named in verdict.reason, verdict.reason


def test_the_bypass_corpus_is_large_enough():
    assert len(BYPASSES) >= 40


SYNTAX_THAT_LOOKS_LIKE_CALLS = [
    "SELECT x::numeric(10,2), CAST(y AS varchar(5)) FROM t",
    "SELECT g.n FROM generate_series(1, 3) g(n)",
    "SELECT s.a FROM (SELECT 1) AS s(a)",
    "WITH c(x) AS (SELECT 1) SELECT x FROM c",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
    "SELECT count(*) FILTER (WHERE a > 1) OVER (PARTITION BY b) FROM t",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM t",
    "SELECT a FROM t WHERE a IN (1, 2) AND EXISTS (SELECT 1) AND b = ANY (ARRAY[1])",
    "SELECT left(a, 1), right(a, 2), replace(a, 'x', 'y'), substring(a FROM 1 FOR 2), trim(both ' ' FROM a) FROM t",
    "SELECT date(created_at), extract(year FROM d), to_char(d, 'YYYY-MM'), round(avg(x)::numeric, 2) FROM t",
    "SELECT a FROM t JOIN u USING (id) ORDER BY (a) DESC",
]


@pytest.mark.parametrize("sql", SYNTAX_THAT_LOOKS_LIKE_CALLS)
def test_syntax_that_looks_like_a_call_is_not_mistaken_for_one(sql):
    verdict = check_sql(sql)
    assert verdict.ok, verdict.reason


@pytest.mark.parametrize("sql,named", [
    ("SELECT '(0,1)'::tid", "type tid"), ("SELECT '1'::oid", "type oid"), ("SELECT '1'::xid", "type xid"),
    ("SELECT 'x'::name", "type name"), ("SELECT '0/0'::pg_lsn", "type pg_lsn"),
    ("SELECT * FROM jsonb_to_record('{}') AS r(a pg_catalog.oid)", "type oid"),
])
def test_types_outside_the_safe_list_are_refused(sql, named):
    verdict = check_sql(sql)
    assert not verdict.ok and f"{named} is not allowed" in verdict.reason, verdict.reason


IMPLIED = ("<", "<=", "<>", "=", ">", ">=")   # ORDER BY, GROUP BY, DISTINCT, IN, CASE and joins use them unwritten


def test_names_for_the_catalog_check_are_collected_exactly():
    """What catalog_check.py looks up comes from these names: one lost (a column-notation call `x.f`, an operator,
    a cast's type, a table) is one object of the business database nobody checks before it runs."""
    names = check_sql("SELECT c.name, public.t.f, s.n, (c).g, count(*), pg_catalog.lower(c.name) "
                      "FROM public.t AS c JOIN u USING (k), (SELECT id AS n, x, id + 1 FROM v) s "
                      "WHERE c.id BETWEEN 1 AND 2 AND c.id = ANY (SELECT 1) AND c.id::int8 > 0 AND c.name ~ 'a' "
                      "AND c.id::pg_catalog.int4 <> 0 AND c.name COLLATE pg_catalog.\"C\" > ''").names
    assert names == sql_guard.CatalogNames(
        functions=("count", "f", "g", "id", "n", "name"), operators=tuple(sorted(("+", "~") + IMPLIED)), types=("int8",),
        relations=(("", "u"), ("", "v"), ("public", "t")),
        column_refs=(("", "", "g"), ("", "c", "id"), ("", "c", "name"), ("", "s", "n"), ("public", "t", "f")),
        aliases=(("c", "public", "t"), ("u", "", "u"), ("v", "", "v")), derived=("s",),
        fields=("c", "f", "id", "k", "n", "name", "x"), called=("count",),
        whole_rows=True,            # `(c).g` reads the whole row of c
        literals=True, derived_columns=(),        # `id + 1` has no name: s's outputs are unknown
        # each call and operator with its argument kinds (BETWEEN is <= and >=; COLLATE hides the type)
        uses=(("fn", "count", ()), ("fn", "lower", (("col", "c", "name"),)),
              ("op", "+", (("col", "", "id"), ("const", "int4"))), ("op", "<=", (("col", "c", "id"), ("const", "int4"))),
              ("op", "<>", (("type", "int4"), ("const", "int4"))), ("op", "=", (("any",), ("any",))),
              ("op", ">", (("any",), ("const", "unknown"))), ("op", ">", (("type", "int8"), ("const", "int4"))),
              ("op", ">=", (("col", "c", "id"), ("const", "int4"))),
              ("op", "~", (("col", "c", "name"), ("const", "unknown")))),
        hidden_comparisons=True)    # JOIN USING and = ANY (subquery) compare what the tree does not pair up
    names = check_sql("WITH w (a, b) AS (SELECT 1, 2), z AS (SELECT p AS q, r FROM y UNION SELECT 1, 2) "
                      "SELECT * FROM w NATURAL JOIN z, generate_series(1, 2) AS g, (SELECT 1) AS e(one)").names
    assert names == sql_guard.CatalogNames(
        functions=("generate_series",), operators=IMPLIED, relations=(("", "w"), ("", "y"), ("", "z")),
        aliases=(("w", "", "w"), ("y", "", "y"), ("z", "", "z")), derived=("e", "g", "w", "z"), fields=("p", "r"),
        called=("generate_series",), whole_rows=True, literals=False,
        derived_columns=(("e", ("one",)), ("w", ("a", "b")), ("z", ("q", "r"))),
        uses=(("fn", "generate_series", (("const", "int4"), ("const", "int4"))),), hidden_comparisons=True)  # NATURAL
    names = check_sql("SELECT B'101', x IS NOT NULL, y NOT BETWEEN 1 AND 2 FROM (t JOIN u ON t.a < u.b) AS j").names
    assert names == sql_guard.CatalogNames(
        functions=("a", "b"), operators=IMPLIED, relations=(("", "t"), ("", "u")),
        column_refs=(("", "t", "a"), ("", "u", "b")), aliases=(("t", "", "t"), ("u", "", "u")), derived=("j",),
        fields=("a", "b", "x", "y"), whole_rows=False, literals=True,
        uses=(("op", "<", (("col", "t", "a"), ("col", "u", "b"))), ("op", "<=", (("col", "", "y"), ("const", "int4"))),
              ("op", ">=", (("col", "", "y"), ("const", "int4")))))
    # a bare name is a whole row only when it names a table, alias or derived table; `*` and NATURAL are too
    assert check_sql("SELECT t FROM t").names.whole_rows
    assert check_sql("SELECT x FROM (SELECT 1 AS x) AS x").names.whole_rows
    assert not check_sql("SELECT id, 2 FROM t x WHERE x.id = 1").names.whole_rows
    assert check_sql("SELECT x.*, x.id FROM t x").names.whole_rows
    assert check_sql("SELECT x.id, x.* FROM t x").names.whole_rows
    assert check_sql("SELECT 1 FROM t WHERE a BETWEEN SYMMETRIC 1 AND 2 AND b NOT BETWEEN SYMMETRIC 1 AND 2"
                     ).names.operators == IMPLIED               # BETWEEN's <= and >=, never a "BETWEEN" operator
    star = check_sql("SELECT x.*, public.t.* FROM t x, public.t").names
    assert star.whole_rows and star.column_refs == () and star.functions == () and star.fields == ()
    assert check_sql("SELECT 1 FROM t NATURAL JOIN u").names.whole_rows
    assert not check_sql("SELECT 1, 2.5, true, NULL FROM t").names.literals
    assert check_sql("SELECT id FROM t WHERE id > ALL (SELECT 1)").names.operators == IMPLIED
    # derived tables without a target list (VALUES, an empty SELECT) name no output column, and do not crash
    assert check_sql("SELECT * FROM (VALUES (1)) AS v").names.derived_columns == (("v", ()),)
    assert check_sql("WITH c AS (SELECT FROM t) SELECT 1 FROM c").names.derived_columns == (("c", ()),)
    # `*` is no output name: the outputs of `SELECT *` are unknown to the tree (the catalog check treats every
    # `s.f` as a possible call then)
    assert check_sql("SELECT 1 FROM (SELECT * FROM t) AS s, (SELECT t.* FROM t) AS u").names.derived_columns == ()
    assert check_sql("SELECT id FROM t WHERE id !~~ ANY (SELECT 'a')").names.operators == tuple(sorted(("!~~",) + IMPLIED))
    # a comparison the tree does not pair up stays recorded whatever the walk meets next: a subquery without a
    # test, a join without USING
    for sql in ("SELECT (SELECT 1), CASE id WHEN 1 THEN 1 END FROM t",
                "SELECT 1 FROM t a JOIN t b ON a.id = b.id WHERE CASE a.id WHEN 1 THEN true END"):
        assert check_sql(sql).names.hidden_comparisons, sql
    for sql in ("SELECT GREATEST(1, 2)", "SELECT CASE WHEN true THEN 1 END, GREATEST(1, 2)",
                "SELECT a = ANY (SELECT 1), (SELECT 1) FROM t", "SELECT 1 FROM t a JOIN t b USING (id)"):
        assert check_sql(sql).names.hidden_comparisons, sql
    # IN (list) pairs the left operand with each item
    assert check_sql("SELECT 1 FROM t WHERE a IN (1, 'x')").names.uses == (
        ("op", "=", (("col", "", "a"), ("const", "int4"))), ("op", "=", (("col", "", "a"), ("const", "unknown"))))


def test_every_refusal_names_its_reason():
    """Each refusal of the walk, one SQL each, with the reason the operator reads (not merely 'refused')."""
    cases = {
        "SELECT 1 FROM t FOR KEY SHARE": "locking clause (FOR KEY SHARE) takes row locks; not allowed",
        "SELECT 1 FROM t FOR NO KEY UPDATE": "locking clause (FOR NO KEY UPDATE) takes row locks; not allowed",
        "SELECT 1 FROM t pg_sleep": "alias pg_sleep carries the name of a refused function pg_sleep(); not allowed",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SEARCH DEPTH FIRST BY n SET o "
        "SELECT * FROM r": "SEARCH/CYCLE clauses of recursive CTEs are not allowed",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) CYCLE n SET c USING p SELECT * FROM r":
            "SEARCH/CYCLE clauses of recursive CTEs are not allowed",
        "WITH i AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT 1":
            "INSERT in a CTE: data-modifying or non-query statements are not allowed",
        "SELECT 1 OPERATOR(public.+) 1": "OPERATOR(public.+) syntax is not allowed (only built-in operators, "
                                         "written plainly)",
        "SELECT 1 WHERE 1 OPERATOR(public.=) ANY (SELECT 1)": "OPERATOR(public.=) syntax is not allowed",
        "SELECT 1::public.int4": "type public.int4 is not allowed (only built-in types)",
        "SELECT 1::pg_catalog.int4 + 1::pg_catalog.regclass::pg_catalog.int4":
            "cast to regclass (a catalog lookup by name) is not allowed",
        "SELECT 'x' COLLATE public.c": "collation public.c is not allowed (only built-in collations)",
        "SELECT 1 FROM otherdb.public.t": "cross-database references are not allowed",
        "SELECT $1": "ParamRef is not allowed in a pair's SQL (only plain SELECT syntax)",
        "SELECT pg_catalog.pg_sleep(1)": "function pg_sleep() is not allowed (runs SQL text, side effects, stalls, "
                                         "signals other sessions or reads server files)",
        "SELECT nosuch_fn(1)": "function nosuch_fn() is not in the allowlist of functions",
    }
    for sql, reason in cases.items():
        verdict = check_sql(sql)
        assert not verdict.ok and verdict.reason.startswith(reason), (sql, verdict.reason)


def test_edges_of_the_statement_checks():
    """Each pinned by a mutation that survived (issue 27)."""
    assert check_sql(None).reason == "empty SQL" and check_sql("   ").reason == "empty SQL"
    long = check_sql("SELECT '" + "x" * 400)                                       # the error quotes the rest
    assert long.reason.startswith("unparseable SQL (PostgreSQL parser): ")
    assert len(long.reason) == len("unparseable SQL (PostgreSQL parser): ") + 300      # cut, not the whole text
    assert check_sql("SELECT 'x'::aclitem").reason == "cast to aclitem (a catalog lookup by name) is not allowed"
    assert check_sql("SELECT 'a' COLLATE \"C\"").ok                               # unqualified: built-in
    assert check_sql("SELECT * FROM (SELECT 1) , generate_series(1, 2)").ok         # no alias (PostgreSQL 16)
    assert check_sql("SELECT 1 FROM (a JOIN b ON true) NATURAL JOIN c").names.whole_rows


def test_denied_prefix_matching_ignores_schema_and_case():
    assert denied_function("PG_CATALOG.pg_sleep_for") == "pg_sleep"
    assert denied_function('"nextval"') == "nextval"
    assert denied_function("sum") is None
    assert denied_function("pg_size_pretty") is None


def test_docstring_examples():
    failures, _ = doctest.testmod(sql_guard)
    assert failures == 0
