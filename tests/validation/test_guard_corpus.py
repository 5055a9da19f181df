"""The guard against an attacker's database (issue 23, point 3), through the real entry points.

A scratch business database on the embedded server holds what a hostile schema can hide behind ordinary-looking
SQL: functions reachable by column notation (`t.evil_sleep` calls `evil_sleep(t)`), a user operator, a domain
whose CHECK calls a function, a domain named `text` that the database's search path puts before pg_catalog,
functions named like SQL words (`range`, `first`), an allowlisted name redefined (`public.lower`), an implicit
cast implemented by a user function. Every one of those functions sleeps and then raises `EVIL_RAN`: had any run,
its pair would show that error (or a timeout); instead each pair is refused with a reason naming the object.

The corpus (December's 52 bypasses + the new cases below) goes through: an uploaded pair file (files API, then the
sql_validation step), LLM repair answers (the repaired SQL is never written into the pair file), and LLM
generation output (qa's guard, then the validation step). The step always completes: a 400-deep nesting or any
failure of the check rejects that pair only.
"""
from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import psycopg2
import pytest

from core.db import with_database
from core.llm import make_llm
from data_pipeline.qa.llm import generate_theme_pairs
from data_pipeline.qa.pairs import Pair, pairs_file_name, read_pairs, write_pairs
from data_pipeline.qa.themes import Theme
from data_pipeline.schema.model import Column, Table, save_snapshot
from data_pipeline.steps import sql_validation
from data_pipeline.steps.base import StepContext
from data_pipeline.validation.check import SqlChecker
from tests.business_roles import reader_url
from tests.ddl_fixture_db import admin_url, recreate, run_sql, scratch_db
from tests.openai_stub import OpenAIStub
from tests.validation.test_sql_guard import BYPASSES

API = "/api/v0/data_pipeline/tasks"
ATTACK_DB = "guard_attack"
EVIL = "EVIL_RAN"

ATTACK_SCHEMA = f"""
CREATE TABLE public.t (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO public.t VALUES (1, 'a'), (2, 'b'), (3, 'c');
CREATE TYPE public.mood AS ENUM ('happy', 'sad');
CREATE TABLE public.m (id int, feeling mood);
INSERT INTO public.m VALUES (1, 'happy');
CREATE FUNCTION public.evil_sleep(public.t) RETURNS int LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE FUNCTION public.evil_any(anyelement) RETURNS int LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE FUNCTION public.evil_bool(int, int) RETURNS bool LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE FUNCTION public.evil_prefix(int) RETURNS int LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE FUNCTION public.evil_check(int) RETURNS bool LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE FUNCTION public.evil_text_check(text) RETURNS bool LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE FUNCTION public.range(int) RETURNS int LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE FUNCTION public.first_step(anyelement, anyelement) RETURNS anyelement LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE AGGREGATE public.first(anyelement) (SFUNC = public.first_step, STYPE = anyelement);
CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE FUNCTION public.mood_text(mood) RETURNS text LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE CAST (public.mood AS text) WITH FUNCTION public.mood_text(mood) AS IMPLICIT;
CREATE OPERATOR public.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = public.evil_bool);
CREATE OPERATOR public.!!! (RIGHTARG = int, FUNCTION = public.evil_prefix);
CREATE DOMAIN public.evil_dom AS int CHECK (public.evil_check(VALUE));
CREATE DOMAIN public."text" AS pg_catalog.text CHECK (public.evil_text_check(VALUE));
CREATE TABLE public.secret_store (id int, owner_password text);
CREATE DOMAIN public.small AS int;
CREATE FUNCTION public.length(public.small) RETURNS int LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE TYPE public.grade AS ENUM ('a', 'b');
CREATE FUNCTION public.int_grade(int) RETURNS grade LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE CAST (int AS public.grade) WITH FUNCTION public.int_grade(int) AS IMPLICIT;
CREATE FUNCTION public.initcap(public.grade) RETURNS text LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE FUNCTION public.btrim(public.mood) RETURNS text LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE TYPE public.shade AS ENUM ('light');
CREATE FUNCTION public.bigint_shade(bigint) RETURNS shade LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE CAST (bigint AS public.shade) WITH FUNCTION public.bigint_shade(bigint) AS IMPLICIT;  -- a second one
CREATE TABLE public.blob (v bytea);
INSERT INTO public.blob VALUES ('\\x01');
CREATE FUNCTION public.bytea_int(bytea) RETURNS int LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(2); RAISE EXCEPTION '{EVIL}'; END$$;
CREATE CAST (bytea AS int) WITH FUNCTION public.bytea_int(bytea) AS IMPLICIT;   -- between built-in types
CREATE TABLE public.c2 (id int, evil_any int);
INSERT INTO public.c2 VALUES (1, 7);
"""

DEEP = 400
NESTED_SUBQUERIES = "SELECT " + "(SELECT " * DEEP + "1" + ")" * DEEP
NESTED_PARENTHESES = "SELECT " + "(" * DEEP + "1" + ")" * DEEP + " FROM t"

# (SQL, what the refusal names): every item of issue 23 point 3, run on the attack database
NEW_ATTACKS = [
    # column notation: x.f is the call f(x) when f is not a column of x
    ("SELECT t.evil_sleep FROM t", "evil_sleep"),
    ("SELECT x.evil_sleep FROM t AS x", "evil_sleep"),
    ("SELECT public.t.evil_sleep FROM public.t", "evil_sleep"),
    ("SELECT (t).evil_sleep FROM t", "evil_sleep"),
    ("SELECT (t.*).evil_sleep FROM t", "evil_sleep"),
    ("SELECT s.evil_sleep FROM (SELECT * FROM t) s", "evil_sleep"),
    ("WITH c AS (SELECT * FROM t) SELECT c.evil_sleep FROM c", "evil_sleep"),
    ("SELECT count(*) FROM t WHERE t.evil_sleep IS NOT NULL", "evil_sleep"),
    ("SELECT id FROM t ORDER BY t.evil_sleep", "evil_sleep"),
    ("SELECT (SELECT u.evil_sleep FROM t u LIMIT 1)", "evil_sleep"),
    ("SELECT t.evil_any FROM t", "evil_any"),
    ("SELECT id FROM t GROUP BY id, t.evil_any", "evil_any"),
    ("SELECT t.pg_typeof FROM t", "pg_typeof"),
    ("SELECT s.pg_column_size FROM (SELECT 1 AS a) s", "pg_column_size"),
    # user-defined operators
    ("SELECT 1 === 1", "==="),
    ("SELECT id FROM t WHERE id === 2", "==="),
    ("SELECT id FROM t WHERE id > 0 AND (id === 1 OR id = 2)", "==="),
    ("SELECT !!! 1", "!!!"),
    ("SELECT id FROM t WHERE !!! id > 0", "!!!"),
    ("SELECT 1 OPERATOR(public.===) 1", "OPERATOR(public.===)"),
    # domains: a cast to one runs its CHECK
    ("SELECT 5::evil_dom", "evil_dom"),
    ("SELECT CAST(id AS evil_dom) FROM t", "evil_dom"),
    ("SELECT evil_dom '5'", "evil_dom"),
    ("SELECT ARRAY[1]::evil_dom[]", "evil_dom"),
    ("SELECT id::public.evil_dom FROM t", "public.evil_dom"),
    ("SELECT name::text FROM t", "type text is a domain"),
    ("SELECT CAST('x' AS text)", "type text is a domain"),
    # functions named like words the December scan skipped, and an allowlisted name redefined
    ("SELECT range(1)", "range()"),
    ('SELECT "range"(1)', "range()"),
    ("SELECT * FROM range(1) r", "range()"),
    ("SELECT first(id) FROM t", "first()"),
    ("SELECT id FROM t WHERE id IN (SELECT first(id) FROM t)", "first()"),
    ("SELECT lower(name) FROM t", "function lower is defined in schema public"),
    ("SELECT t.lower FROM t", "function lower is defined in schema public"),
    # an overload PostgreSQL picks for an int through a domain over int, or through an implicit user cast
    ("SELECT length(id) FROM t", "function length is defined in schema public"),
    ("SELECT initcap(id) FROM t", "function initcap is defined in schema public"),
    ("SELECT btrim(feeling) FROM m", "function btrim is defined in schema public"),   # a type read
    # an implicit cast implemented by a user function
    ("SELECT feeling || '!' FROM m", "mood_text"),
    ("SELECT upper(feeling) FROM m", "mood_text"),
    # catalog oracles: reg* and aclitem input looks objects up by name; system catalogs are not business data
    ("SELECT '{pg_sleep}'::_regproc", "cast to _regproc (a catalog lookup"),
    ("SELECT '{pg_sleep,nosuch}'::regproc[]", "cast to regproc (a catalog lookup"),
    ("SELECT 'pg_catalog.pg_sleep(float8)'::regprocedure", "cast to regprocedure (a catalog lookup"),
    ("SELECT CAST('public' AS regnamespace)", "cast to regnamespace (a catalog lookup"),
    ("SELECT 'int4'::regtype", "cast to regtype (a catalog lookup"),
    ("SELECT 'postgres=r/postgres'::aclitem", "cast to aclitem (a catalog lookup"),
    ("SELECT '{}'::_aclitem", "cast to _aclitem (a catalog lookup"),
    ("SELECT to_regproc('pg_sleep')", "to_regproc()"),
    ("SELECT relname FROM pg_class", "system catalog"),
    ("SELECT * FROM information_schema.tables", "system catalog"),
    ("SELECT query FROM pg_stat_activity", "system catalog"),
    # grammar PostgreSQL has and a pair has no use for
    ("SELECT $1", "ParamRef"),
    ("SELECT xmlelement(name x)", "XmlExpr"),
    ("SELECT * FROM t TABLESAMPLE SYSTEM (50)", "RangeTableSample"),
    ("SELECT name COLLATE public.evil FROM t", "collation public.evil"),
    (NESTED_SUBQUERIES, "nested too deeply"),
    # rows are capped, bytes too (issue 23 point 7): 2 MB rows against guard_settings' 1 MB cap, so a loaded machine
    # builds the first row well inside the 5 s timeout (the 4 x 100 MB attack has its own test below)
    ("SELECT repeat('x', 2000000) FROM generate_series(1, 4)", "VALIDATION_BYTE_CAP"),
]
CORPUS = [(sql, named) for sql, named in BYPASSES] + NEW_ATTACKS
# plain SQL on the same hostile database still passes: nothing above is refused for what it merely looks like
HARMLESS = ["SELECT id, name FROM t WHERE id > 1 ORDER BY id", "SELECT count(*) FROM t",
            "SELECT t.name, upper(t.name) FROM t", "SELECT s.n FROM (SELECT id AS n FROM t) s",
            "SELECT x.id FROM t x WHERE x.name LIKE 'a%'", NESTED_PARENTHESES]


@pytest.fixture(scope="module")
def attack_url(app_ctx):
    url = recreate(admin_url(app_ctx), ATTACK_DB)
    run_sql(url, ATTACK_SCHEMA)
    run_sql(url, f"ALTER DATABASE {ATTACK_DB} SET search_path = public, pg_catalog")
    yield reader_url(url)


@pytest.fixture()
def guard_settings(settings):
    return settings.model_copy(update={"statement_timeout_ms": 5000, "validation_concurrency": 2,
                                       "validation_byte_cap": 1_000_000})


def _snapshot_tables() -> list[Table]:
    return [Table("public", "t", columns=[Column("id", "integer", False, is_primary_key=True),
                                         Column("name", "text", False)], primary_key=["id"]),
            Table("public", "m", columns=[Column("id", "integer", True), Column("feeling", "mood", True)])]


def _ctx(task_dir: Path, settings, url: str, llm=None) -> StepContext:
    return StepContext(task_id="task_20250101_120000", task_dir=task_dir, params={}, options={}, settings=settings,
                       business_url=url, meta_db=None, tables=[], logger=logging.getLogger("test.guard_corpus"),
                       llm=llm)


def _assert_refused_never_run(detail: dict, sql: str, named: str) -> None:
    assert detail["status"] == "rejected", (sql[:80], detail["status"], detail["error_message"])
    assert named in detail["error_message"], (sql[:80], detail["error_message"])
    assert EVIL not in detail["error_message"]


def test_the_corpus_is_large_enough():
    assert len(BYPASSES) == 52 and len(NEW_ATTACKS) >= 40


def test_checker_refuses_every_attack_and_accepts_plain_sql(attack_url, guard_settings):
    with SqlChecker.from_settings(attack_url, guard_settings) as checker:
        results = checker.check_many([sql for sql, _ in NEW_ATTACKS] + HARMLESS)
    for (sql, named), result in zip(NEW_ATTACKS, results):
        assert result.status == "rejected" and named in result.error, (sql[:80], result.status, result.error)
        assert EVIL not in result.error
    assert [r.status for r in results[len(NEW_ATTACKS):]] == ["valid"] * len(HARMLESS), \
        [r.error for r in results[len(NEW_ATTACKS):]]


def test_uploaded_pair_file_every_attack_refused_step_completes(client, app_ctx, attack_url, guard_settings,
                                                                tmp_path):
    """Entry point: a pair file uploaded through the files API, then the sql_validation step."""
    task_id = client.post(API, json={"task_name": "guard corpus", "table_names": ["bss_company"]}
                          ).get_json()["data"]["task_id"]
    task_dir = app_ctx.task_dir(task_id)
    pairs = [Pair(f"攻击{i}", sql) for i, (sql, _) in enumerate(CORPUS)] + \
        [Pair(f"正常{i}", sql) for i, sql in enumerate(HARMLESS)]
    local = tmp_path / pairs_file_name(ATTACK_DB, "20250101_120000")
    write_pairs(local, pairs)
    answer = client.post(f"{API}/{task_id}/files", data={"file": (io.BytesIO(local.read_bytes()), local.name)},
                         content_type="multipart/form-data")
    assert answer.status_code == 200, answer.get_json()
    save_snapshot(task_dir / "schema_snapshot.json", _snapshot_tables())
    result = sql_validation.run(_ctx(task_dir, guard_settings, attack_url))
    details = {d["sql"]: d for d in json.loads(next(task_dir.glob("sql_validation_*_report.json")).read_text(
        encoding="utf-8"))["detailed_results"]}
    for sql, named in CORPUS:
        _assert_refused_never_run(details[sql], sql, named)
    assert all(details[sql]["status"] == "valid" for sql in HARMLESS)
    kept = {p.sql for p in read_pairs(task_dir / local.name)}
    assert kept == set(HARMLESS)
    assert result.summary["status_counts"]["timeout"] == 0


def test_llm_repair_answers_are_refused_and_never_written(attack_url, guard_settings, tmp_path):
    """Entry point: LLM repair. Every pair starts broken; the stub 'repairs' each with an attack."""
    attacks = {}
    broken = []
    for i, (sql, named) in enumerate(CORPUS):
        pair = Pair(f"第{i}个问题", f"SELECT nosuch_{i} FROM t")
        broken.append(pair)
        attacks[pair.id] = (sql, named)
    path = tmp_path / pairs_file_name(ATTACK_DB, "20250101_120000")
    write_pairs(path, broken)
    save_snapshot(tmp_path / "schema_snapshot.json", _snapshot_tables())

    def responder(req):
        ids = set(_ids(req))
        return json.dumps({"repairs": [{"pair_id": pid, "sql": attacks[pid][0]} for pid in ids]})

    with OpenAIStub() as stub:
        stub.responder = responder
        s = guard_settings.model_copy(update={"llm_base_url": stub.base_url, "llm_model": "stub-model"})
        with make_llm(s) as llm:
            result = sql_validation.run(_ctx(tmp_path, s, attack_url, llm=llm))
    report = json.loads(next(tmp_path.glob("sql_validation_*_report.json")).read_text(encoding="utf-8"))
    for detail in report["detailed_results"]:
        sql, named = attacks[detail["pair_id"]]
        attempts = [a for a in detail["repair_attempts"] if a["sql"] == sql]
        assert attempts, detail["repair_attempts"]
        for attempt in attempts:
            if attempt["status"] == "off_schema":     # e.g. `SELECT 1 === 1` reads no table: never checked
                continue
            assert attempt["status"] == "rejected" and named in attempt["error"], (sql[:80], attempt)
            assert EVIL not in attempt["error"]
        assert detail["repaired_sql"] is None
    assert read_pairs(path) == []            # nothing the attacker wrote reached the training data
    assert result.summary["repair_stats"]["successful"] == 0


def _ids(req) -> list[str]:
    text = "\n".join(m["content"] for m in req["messages"])
    return list(dict.fromkeys(re.findall(r'"pair_id": "(p_[0-9a-f]{12})"', text)))


def test_llm_generated_pairs_are_refused_by_qa_or_by_validation(attack_url, guard_settings, tmp_path):
    """Entry point: LLM generation output. qa's static guard drops what it can judge alone; everything that
    reaches the pair file is refused by the validation step's catalog check; nothing is kept."""
    tables = _snapshot_tables()
    answer = [{"question": f"问题{i}：攻击", "sql": sql, "tables": ["public.t"]} for i, (sql, _) in
              enumerate(NEW_ATTACKS) if "FROM t" in sql or "FROM m" in sql or "FROM public.t" in sql]
    with OpenAIStub() as stub:
        stub.script(json.dumps(answer, ensure_ascii=False))
        s = guard_settings.model_copy(update={"llm_base_url": stub.base_url, "llm_model": "stub-model"})
        with make_llm(s) as llm:
            pairs, problems = generate_theme_pairs(llm, Theme("攻击", "攻击主题", ["public.t"]), tables, {},
                                                   "", len(answer))
    assert len(pairs) + len(problems) == len(answer) and pairs and problems
    path = tmp_path / pairs_file_name(ATTACK_DB, "20250101_120000")
    write_pairs(path, pairs)
    sql_validation.run(_ctx(tmp_path, guard_settings, attack_url))
    report = json.loads(next(tmp_path.glob("sql_validation_*_report.json")).read_text(encoding="utf-8"))
    named = dict(NEW_ATTACKS)
    for detail in report["detailed_results"]:
        _assert_refused_never_run(detail, detail["sql"], named[detail["sql"]])
    assert read_pairs(path) == []


# what the catalog check decides from several names at once (each pinned by a mutation that survived, issue 27)
CATALOG_EDGES = [
    # a CTE named like a system catalog does not hide the schema-qualified catalog read beside it
    ("WITH pg_class AS (SELECT 1 AS relname) SELECT relname FROM pg_catalog.pg_class",
     "relation pg_catalog.pg_class is a system catalog (pg_catalog)"),
    # the refusal names the catalog, whichever place it takes among the tables
    ("SELECT t.id FROM pg_class, t", "relation pg_class is a system catalog (pg_catalog)"),
    ("SELECT t.id FROM t, pg_roles", "relation pg_roles is a system catalog (pg_catalog)"),
    # a column read only through `*` (renamed by the alias) still makes its type's functions candidates
    ("SELECT btrim(x) FROM (SELECT * FROM m) AS s(i, x)", "function btrim is defined in schema public"),
    # evil_any is a column of c2 but the call evil_any(t) for t: one name, both uses, refused
    ("SELECT c2.evil_any, t.evil_any FROM c2, t", "function evil_any is defined in schema public"),
    ("SELECT a.evil_any, z.evil_any FROM t AS a, c2 AS z", "function evil_any is defined in schema public"),
    # one alias for c2 and, in a subquery, for t: a column of one of them only is still the call evil_any(t)
    ("SELECT x.evil_any FROM c2 x WHERE EXISTS (SELECT 1 FROM t x WHERE x.evil_any IS NULL)",
     "function evil_any is defined in schema public"),
    # a schema-qualified table that does not exist: refused with the reason, not a failure of the check
    ("SELECT public.nosuch.pg_typeof FROM public.nosuch", "nosuch.pg_typeof is not a column of a table named nosuch"),
    # an implicit cast between two built-in types, by a user function, from a type the statement reads
    ("SELECT abs(v) FROM blob", "the cast from bytea to integer runs function public.bytea_int"),
    # a derived table's output names a built-in function only when the tree names that output plainly
    ("SELECT s.pg_typeof FROM (SELECT 1 + 1) AS s", "s.pg_typeof is not a column of a table named s: PostgreSQL "
                                                    "would call the function pg_typeof(s) (column notation)"),
    ("SELECT (t).pg_typeof FROM t", "(...).pg_typeof is not a column of a table named there: PostgreSQL would "
                                    "call the function pg_typeof(...) (column notation)"),
    # an alias that names a table shadows the CTE of the same name: its outputs do not count
    ("WITH s AS (SELECT 1 AS pg_typeof) SELECT s.pg_typeof FROM t AS s",
     "s.pg_typeof is not a column of a table named s"),
    # a schema-qualified reference is the table's, never the CTE named like it (PostgreSQL refuses this one itself
    # too: public.t is not in the FROM clause under that name)
    ("WITH t AS (SELECT 1 AS pg_typeof) SELECT public.t.pg_typeof FROM public.t AS z",
     "t.pg_typeof is not a column of a table named t"),
]
# ... and what looks alike but is plain reading on the same database
CATALOG_EDGES_HARMLESS = ["SELECT c2.evil_any FROM c2", "SELECT x.evil_any FROM c2 AS x",
                          "SELECT public.c2.evil_any FROM public.c2", "SELECT s.pg_typeof FROM (SELECT 1 AS pg_typeof) s",
                          "WITH w AS (SELECT id AS pg_typeof FROM t) SELECT w.pg_typeof FROM w",
                          "SELECT s.pg_typeof FROM (SELECT 1) AS s(pg_typeof)",
                          # a CTE named like a table does not hide the schema-qualified table's columns
                          "WITH c2 AS (SELECT 1 AS x) SELECT z.evil_any FROM public.c2 AS z",
                          # the alias t is c2 here, whatever the table named t
                          "SELECT t.evil_any FROM c2 AS t, t AS x",
                          # a CTE named like a table shadows it: t.pg_typeof is the CTE's column
                          "WITH t AS (SELECT 1 AS pg_typeof) SELECT t.pg_typeof FROM t"]


def test_checker_refuses_catalog_edge_cases(attack_url, guard_settings):
    with SqlChecker.from_settings(attack_url, guard_settings) as checker:
        for sql, named in CATALOG_EDGES:
            result = checker.check(sql)
            assert result.status == "rejected" and result.error.startswith(named), (sql, result)
        for sql in CATALOG_EDGES_HARMLESS:
            result = checker.check(sql)
            assert result.status == "valid", (sql, result)


def test_checker_refuses_another_sessions_temporary_table(app_ctx, attack_url, guard_settings):
    """pg_temp_N (and pg_toast_temp_N) are no business tables either: refused by the catalog, not left to EXPLAIN."""
    owner = psycopg2.connect(with_database(admin_url(app_ctx), ATTACK_DB))
    try:
        with owner.cursor() as cur:
            cur.execute("CREATE TEMP TABLE scratch (id int)")
            cur.execute("SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()")
            schema = cur.fetchone()[0]
        owner.commit()
        with SqlChecker.from_settings(attack_url, guard_settings) as checker:
            result = checker.check(f"SELECT id FROM {schema}.scratch")
        assert schema.startswith("pg_temp_") and result.status == "rejected", result
        assert result.error == (f"relation {schema}.scratch is a system catalog ({schema}); pairs read business "
                                f"tables only")
    finally:
        owner.close()


def test_a_user_equals_operator_refuses_every_comparison(app_ctx, guard_settings):
    """`=` is implied by IN, GROUP BY, DISTINCT and CASE: a business database that defines its own `=` (ahead of
    pg_catalog in its search path) gets no query checked at all, each refused with the reason."""
    with scratch_db(admin_url(app_ctx), "guard_shadow_op") as url:
        run_sql(url, f"""CREATE TABLE public.t (id int);
            CREATE FUNCTION public.evil_eq(int, int) RETURNS bool LANGUAGE plpgsql AS
              $$BEGIN RAISE EXCEPTION '{EVIL}'; END$$;
            CREATE OPERATOR public.= (LEFTARG = int, RIGHTARG = int, FUNCTION = public.evil_eq);
            INSERT INTO public.t VALUES (1);
            ALTER DATABASE guard_shadow_op SET search_path = public, pg_catalog;""")
        with SqlChecker.from_settings(reader_url(url), guard_settings) as checker:
            for sql in ("SELECT id FROM t WHERE id = 1", "SELECT DISTINCT id FROM t", "SELECT id FROM t WHERE id "
                        "IN (1, 2)", "SELECT CASE id WHEN 1 THEN 'one' END FROM t"):
                result = checker.check(sql)
                assert result.status == "rejected" and "operator = is defined in schema public" in result.error


def test_an_exception_while_checking_one_pair_rejects_that_pair_only(monkeypatch, tmp_path, guard_settings,
                                                                      business_url):
    """Whatever breaks inside one pair's check (here the guard itself raising RecursionError) rejects that pair
    with a reason; the step completes and the other pairs are checked."""
    from data_pipeline.validation import check as check_module
    real = check_module.check_sql

    def fragile(sql):
        if "boom" in sql:
            raise RecursionError("maximum recursion depth exceeded")
        return real(sql)

    monkeypatch.setattr(check_module, "check_sql", fragile)
    write_pairs(tmp_path / pairs_file_name("highway_db", "20250101_120000"),
                [Pair("公司数", "SELECT count(*) FROM bss_company"), Pair("炸弹", "SELECT 'boom' FROM bss_company")])
    result = sql_validation.run(_ctx(tmp_path, guard_settings, business_url))
    assert result.summary["status_counts"]["valid"] == 1 and result.summary["status_counts"]["rejected"] == 1
    report = json.loads(next(tmp_path.glob("sql_validation_*_report.json")).read_text(encoding="utf-8"))
    boom = next(d for d in report["detailed_results"] if "boom" in d["sql"])
    assert boom["error_message"] == "the check failed on this SQL (RecursionError); refused"


def test_byte_cap_refuses_the_4_x_100_mb_result_at_the_first_row(settings, business_url):
    """Issue 23 point 7 with the default VALIDATION_BYTE_CAP: refused, and the cursor stopped after one row (the
    executor never holds the rows: bench/bench_guard.py measures its peak RSS)."""
    assert settings.validation_byte_cap == 16_000_000
    roomy = settings.model_copy(update={"statement_timeout_ms": 120_000})  # a 100 MB row on a loaded machine: the cap
    with SqlChecker.from_settings(business_url, roomy) as checker:          # must answer, not the timeout
        result = checker.check("SELECT repeat('x', 100000000) FROM generate_series(1, 4)")
        small = checker.check("SELECT repeat('x', 1000) FROM generate_series(1, 4)")
    assert result.status == "rejected" and result.row_count == 1
    assert result.error == ("result too large: more than 16000000 bytes in the first 1 row(s) (VALIDATION_BYTE_CAP); "
                            "refused")
    assert small.status == "valid" and small.row_count == 4


def test_introspection_of_the_attack_database_runs_none_of_its_code(attack_url, settings):
    """The database tools and ddl_generation read the catalog and sample rows with `::text`, `left()`, `=`: under
    the attack database's search path (public before pg_catalog) those resolved to its domain `text` and ran
    EVIL_RAN, and `feeling::text` ran the database's own cast. business_readonly puts pg_catalog first and
    samples are turned into text by output functions (format), never casts: the reads work and run nothing."""
    from data_pipeline.schema.introspect import introspect, list_tables
    from data_pipeline.taskfiles.table_list import TableRef
    tables, missing = introspect(attack_url, [TableRef("public", "t"), TableRef("public", "m")], settings)
    assert missing == [] and [c.samples for c in tables[0].columns] == [["1", "2", "3"], ["a", "b", "c"]]
    assert [c.samples for c in tables[1].columns] == [["1"], ["happy"]]   # read without the user cast mood -> text
    assert {t["name"] for t in list_tables(attack_url, ["public"], None, settings)} >= {"t", "m"}
