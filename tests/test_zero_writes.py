"""Zero writes, proved: a hostile LLM cannot change a business database through SQL validation and repair.

Part 1 runs the whole sql_validation step against a SCRATCH business database on the embedded server (never the
demo DB), connected as its superuser owner, so nothing but our guard, the READ ONLY transaction and the
timeouts stand between the LLM and the data. The scratch DB holds copies of two demo tables, a sequence, an audit
table and user-defined functions that write, bump the sequence or stall (the function allowlist rejects them; a
separate test runs them past the guard, straight on a vetted session, so the read-only transaction and
statement_timeout are proved on their own). Every pair starts invalid, so every pair is
"repaired" — with hostile SQL, answered by pair id. Afterwards every table's row count and checksum, the
sequence and the catalog are unchanged, and no check ran longer than the statement timeout (wall time).

Part 2 sends the same hostile SQL straight to the checker on the demo database highway_db and proves its
checksums unchanged.
"""
from __future__ import annotations

import json
import logging
import os
import re

import psycopg2
import psycopg2.extras
import pytest
from psycopg2 import sql as pgsql

from core.db import with_database
from core.llm import make_llm
from data_pipeline.qa.pairs import Pair, pairs_file_name, read_pairs, write_pairs
from data_pipeline.validation.check import SqlChecker
from data_pipeline.steps import sql_validation
from data_pipeline.steps.base import StepContext
from tests.openai_stub import OpenAIStub

TIMEOUT_MS = 500
# what the wall clock may add to the server-side timeout: EXPLAIN, the round trips, a busy 2-core machine. Generous
# (a loaded machine meets it): without the timeouts the hostile statements run 30 s (slow_fn) to 600 s (pg_sleep),
# and the lock wait until the 5 s statement timeout; how long a check really takes is measured in bench/.
WALL_MARGIN_S = 4.0

HOSTILE_SQL = [
    "DROP TABLE bss_company",
    "UPDATE bss_company SET company_name = 'pwned'",
    "DELETE FROM bss_service_area",
    "INSERT INTO bss_company (id, version, create_ts, company_name, company_no) "
    "VALUES ('x', 1, now(), 'x', 'x') RETURNING *",
    "CREATE TABLE stolen AS SELECT * FROM bss_company",
    "SELECT count(*) FROM bss_company; DROP TABLE bss_company",
    "SELECT 1 FROM bss_company; UPDATE bss_company SET version = version + 1",
    "SELECT pg_sleep(600)",
    "SELECT nextval('scratch_seq')",
    "SELECT setval('scratch_seq', 1000)",
    "WITH gone AS (DELETE FROM bss_company RETURNING *) SELECT count(*) FROM gone",
    "SELECT * FROM bss_company FOR UPDATE",
    "SELECT * INTO stolen2 FROM bss_company",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "COPY bss_company TO '/tmp/zero_writes_copy.csv'",
    "TRUNCATE bss_service_area",
    # user-defined functions: rejected by the function allowlist (test_second_line_... runs them past the guard)
    "SELECT audit_write(company_name) FROM bss_company",
    "SELECT sneaky_next() FROM bss_company LIMIT 1",
    "SELECT slow_fn() FROM bss_company LIMIT 1",
    "SELECT count(*) FROM bss_company a, bss_company b, bss_company c, bss_company d, generate_series(1, 100000) g",
]

SCRATCH_SETUP = """
CREATE TABLE bss_company (id varchar(32) PRIMARY KEY, version integer NOT NULL DEFAULT 1, create_ts timestamp NOT NULL,
    company_name varchar(255) NOT NULL, company_no varchar(255) NOT NULL UNIQUE);
CREATE TABLE bss_service_area (id varchar(32) PRIMARY KEY, service_area_name varchar(255) NOT NULL,
    company_id varchar(32) REFERENCES bss_company(id), service_area_type varchar(50));
CREATE SEQUENCE scratch_seq START 42;
CREATE TABLE audit_log (id serial PRIMARY KEY, note text);
CREATE FUNCTION audit_write(note text) RETURNS integer LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO audit_log (note) VALUES (note); RETURN 1; END $$;
CREATE FUNCTION sneaky_next() RETURNS bigint LANGUAGE sql AS $$ SELECT nextval('scratch_seq') $$;
CREATE FUNCTION slow_fn() RETURNS integer LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(30); RETURN 1; END $$;
"""


def _admin(url):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


@pytest.fixture(scope="module")
def scratch_url(app_ctx, business_url):
    """A throwaway business database with copies of bss_company and bss_service_area (superuser owner URL)."""
    server_admin = with_database(app_ctx.runtime.meta_url, "postgres")
    name = f"zero_writes_scratch_{os.getpid()}"
    admin = _admin(server_admin)
    with admin.cursor() as cur:
        cur.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))
        cur.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    url = with_database(app_ctx.runtime.meta_url, name)
    source = psycopg2.connect(business_url)            # the demo DB, read as its read-only role
    source.set_session(readonly=True)
    with source.cursor() as cur:
        cur.execute("SELECT id, version, create_ts, company_name, company_no FROM bss_company")
        companies = cur.fetchall()
        cur.execute("SELECT id, service_area_name, company_id, service_area_type FROM bss_service_area")
        areas = cur.fetchall()
    source.close()
    target = psycopg2.connect(url)
    with target, target.cursor() as cur:
        cur.execute(SCRATCH_SETUP)
        psycopg2.extras.execute_values(cur, "INSERT INTO bss_company VALUES %s", companies)
        psycopg2.extras.execute_values(cur, "INSERT INTO bss_service_area VALUES %s", areas)
    target.close()
    assert companies and areas
    yield url
    with admin.cursor() as cur:
        cur.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))
    admin.close()


def fingerprint(url: str) -> dict:
    """Row count and an order-independent checksum of every table, the sequence state and the catalog."""
    conn = psycopg2.connect(url)
    conn.set_session(readonly=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' ORDER BY 1")
            catalog = cur.fetchall()
            out: dict = {"catalog": catalog}
            for (name, kind) in catalog:
                if kind == "r":
                    cur.execute(pgsql.SQL(
                        "SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0) "
                        "FROM {} AS t").format(pgsql.Identifier(name)))
                    out[name] = cur.fetchone()
                elif kind == "S":
                    cur.execute(pgsql.SQL("SELECT last_value, is_called FROM {}").format(pgsql.Identifier(name)))
                    out[name] = cur.fetchone()
            cur.execute("SELECT proname, md5(prosrc) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                        "WHERE n.nspname = 'public' ORDER BY 1")
            out["functions"] = cur.fetchall()
            return out
    finally:
        conn.rollback()
        conn.close()


def test_hostile_llm_repairs_write_nothing_to_a_scratch_database(tmp_path, settings, scratch_url):
    before = fingerprint(scratch_url)
    assert before["scratch_seq"] == (42, False) and before["audit_log"][0] == 0
    # every pair starts invalid (a typo), so every pair goes to repair; each gets two hostile answers
    pairs = [Pair(f"问题{i}：公司数量", f"SELECT count(*) FROM bss_compan{i}") for i in range(len(HOSTILE_SQL) // 2)]
    plan = {p.id: (HOSTILE_SQL[2 * i], HOSTILE_SQL[2 * i + 1]) for i, p in enumerate(pairs)}
    path = tmp_path / pairs_file_name("scratch", "20250101_000000")
    write_pairs(path, pairs)
    answered = []

    def hostile(request):
        text = "\n".join(m["content"] for m in request["messages"])
        ids = list(dict.fromkeys(re.findall(r'"pair_id": "(p_[0-9a-f]{12})"', text)))
        repairs = []
        for pid in ids:
            n = sum(1 for a in answered if a == pid)
            answered.append(pid)
            repairs.append({"pair_id": pid, "sql": plan[pid][min(n, 1)]})
        return json.dumps({"repairs": repairs})

    with OpenAIStub() as stub:
        stub.responder = hostile
        # the superuser on purpose: the read-only transaction must hold even for a role that could write
        s = settings.model_copy(update={"allow_privileged_business_role": True,
                                        "statement_timeout_ms": TIMEOUT_MS, "lock_timeout_ms": 200,
                                        "validation_concurrency": 3, "llm_base_url": stub.base_url,
                                        "llm_model": "stub-model"})
        with make_llm(s) as llm:
            ctx = StepContext(task_id="task_20250101_000000", task_dir=tmp_path, params={}, options={}, settings=s,
                              business_url=scratch_url, meta_db=None, tables=[],
                              logger=logging.getLogger("test.zero_writes"), llm=llm)
            result = sql_validation.run(ctx)

    report = json.loads(next(tmp_path.glob("sql_validation_*_report.json")).read_text(encoding="utf-8"))
    attempts = [a for d in report["detailed_results"] for a in d["repair_attempts"]]
    tried = sorted(a["sql"] for a in attempts)
    assert tried == sorted(HOSTILE_SQL[: 2 * len(pairs)])       # every hostile statement was really tried
    assert result.summary["repair_stats"]["successful"] == 0
    assert all(a["status"] in ("rejected", "error", "timeout") for a in attempts)
    by_sql = {a["sql"]: a for a in attempts}
    assert by_sql["SELECT pg_sleep(600)"]["status"] == "rejected"
    assert by_sql["SELECT nextval('scratch_seq')"]["status"] == "rejected"
    for user_function in ("audit_write", "sneaky_next", "slow_fn"):
        attempt = next(a for q, a in by_sql.items() if user_function in q)
        assert attempt["status"] == "rejected" and f"{user_function}()" in attempt["error"]

    # no check ran longer than the timeout (wall clock per check, original SQL and every repair)
    times = [d["execution_time"] for d in report["detailed_results"]] + [a["execution_time"] for a in attempts]
    assert max(times) < TIMEOUT_MS / 1000 + WALL_MARGIN_S, max(times)

    assert fingerprint(scratch_url) == before                   # zero writes
    assert read_pairs(path) == []                               # nothing hostile made it into the training data
    assert not os.path.exists("/tmp/zero_writes_copy.csv")


def test_hostile_sql_directly_on_the_demo_database_changes_nothing(settings, business_url):
    before = fingerprint(business_url)
    assert len([k for k, kind in before["catalog"] if kind == "r"]) == 7
    s = settings.model_copy(update={"statement_timeout_ms": TIMEOUT_MS, "validation_concurrency": 3})
    with SqlChecker.from_settings(business_url, s) as checker:
        results = checker.check_many(HOSTILE_SQL)
    assert not any(r.executable for r in results), [(q, r.status) for q, r in zip(HOSTILE_SQL, results)
                                                    if r.executable]
    assert max(r.execution_time for r in results) < TIMEOUT_MS / 1000 + WALL_MARGIN_S
    assert fingerprint(business_url) == before


def test_second_line_read_only_session_stops_writing_functions_past_the_guard(settings, scratch_url):
    """Without the static check: the vetted session itself (READ ONLY, statement_timeout) stops user functions."""
    from core.business_db import business_readonly
    before = fingerprint(scratch_url)
    s = settings.model_copy(update={"allow_privileged_business_role": True})   # the owner, on purpose
    outcomes = {}
    for query in ("SELECT audit_write(company_name) FROM bss_company", "SELECT sneaky_next()",
                  "SELECT slow_fn()"):
        with business_readonly(scratch_url, statement_timeout_ms=TIMEOUT_MS, lock_timeout_ms=200,
                               settings=s) as conn:
            with pytest.raises(psycopg2.Error) as caught, conn.cursor() as cur:
                cur.execute(query)
            outcomes[query] = str(caught.value)
    assert "read-only transaction" in outcomes["SELECT audit_write(company_name) FROM bss_company"]
    assert "read-only transaction" in outcomes["SELECT sneaky_next()"]
    assert "statement timeout" in outcomes["SELECT slow_fn()"]
    assert fingerprint(scratch_url) == before


def test_a_lock_wait_ends_at_lock_timeout(app_ctx, settings, scratch_url):
    """A table locked by someone else (e.g. a migration) makes a check wait at most lock_timeout."""
    holder = psycopg2.connect(scratch_url)
    try:
        with holder.cursor() as cur:
            cur.execute("LOCK TABLE bss_company IN ACCESS EXCLUSIVE MODE")
        s = settings.model_copy(update={"statement_timeout_ms": 5000, "lock_timeout_ms": 200,
                                        "allow_privileged_business_role": True})   # scratch_url is the owner
        with SqlChecker.from_settings(scratch_url, s) as checker:
            result = checker.check("SELECT count(*) FROM bss_company")
        assert result.status == "timeout" and "lock timeout" in result.error
        assert result.execution_time < 0.2 + WALL_MARGIN_S
    finally:
        holder.rollback()
        holder.close()
