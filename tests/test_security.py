"""Issue 18's findings, each reproduced against the app and now refused with nothing leaking.

1. our own database as a "business database" (any spelling; any role) and privileged roles;
2. SQL guard bypasses: uploaded pairs run with force_execute, and a complete run whose LLM (the local OpenAI stub)
   answers with the bypass SQL — every attempt `rejected`, never executed;
3. `table_list_file` reading server files;
4. masking of spellings libpq accepts (percent-encoded keys) in the 201 answer and task_config.json;
5. port scanning: one message for unreachable hosts, BUSINESS_DB_ALLOWED_HOSTS, 429 + Retry-After on
   /api/v0/database/*;
6. task ids with a trailing newline, per-task upload quota (`FOR UPDATE` positions: tests/validation).
The app is the real one (Flask test client on the embedded server); runs use real executor subprocesses.
"""
from __future__ import annotations

import io
import json
import os
import re
import threading
from urllib.parse import quote

import psycopg2
import psycopg2.extensions
import pytest

from citu_app import create_app
from core import business_db
from core.db import with_database
from data_pipeline import ids
from data_pipeline.qa.pairs import latest_pairs_file
from tests.business_roles import reader_url, with_user
from tests.executor_support import BASE, comments_responder, llm_overrides, stop_executors, wait_final, wait_for
from tests.openai_stub import Reply
from tests.probe_servers import SilentServer, closed_port

DB_API = "/api/v0/database"


def post_db(client, path: str, body: dict):
    resp = client.post(f"{DB_API}/{path}", json=body)
    return resp.status_code, resp.get_json()


def socket_dir(app_ctx) -> str:
    return psycopg2.extensions.parse_dsn(app_ctx.runtime.meta_url)["host"]


# ------------------------------------------------------------------------------------- 1. our own database
def own_database_spellings(app_ctx, tmp_path) -> list[str]:
    sock = socket_dir(app_ctx)
    link = tmp_path / "socket_link"
    link.symlink_to(sock)
    return [
        app_ctx.runtime.meta_url,
        f"postgresql:///data_pipeline?host={sock}&user=postgres",
        f"postgresql://postgres@{quote(sock, safe='')}/data_pipeline",
        f"postgresql://highway_reader@/data_pipeline?host={link}",             # a symlink to the socket dir
        f"postgresql://highway_reader@/postgres?host={sock}&dbname=data_pipeline",   # dbname in the query wins
        f"postgres://highway_reader@/data_pipeline?host={sock}/&port=5432",
    ]


def test_own_metadata_database_is_refused_in_every_spelling(client, app_ctx, tmp_path):
    for url in own_database_spellings(app_ctx, tmp_path):
        for path, body in (("tables", {"db_connection": url}),
                           ("table/ddl", {"db_connection": url, "table": "data_pipeline_tasks"})):
            status, answer = post_db(client, path, body)
            assert status == 400 and answer["error"]["code"] == "VALIDATION_ERROR", (url, answer)
            assert "own metadata database" in answer["error"]["details"]
            assert "data_pipeline_tasks" not in json.dumps(answer).replace('"data_pipeline_tasks"}', "")
        created = client.post(BASE, json={"db_connection": url, "table_names": ["data_pipeline_tasks"]})
        assert created.status_code == 400 and "own metadata database" in created.get_json()["error"]["details"]


def test_a_connection_that_reached_our_database_is_refused_after_connecting(app_ctx):
    """Whatever spelling slips past the URL check: the server identity (start time + database) gives it away."""
    conn = psycopg2.connect(with_user(app_ctx.runtime.meta_url, "highway_reader"))
    try:
        with pytest.raises(business_db.BusinessUrlRefused, match="own metadata database"):
            business_db.vet_connection(conn)
    finally:
        conn.close()


def test_superuser_is_refused_with_what_to_grant_instead(client, app_ctx):
    url = with_database(app_ctx.runtime.meta_url, "highway_db")     # the demo DB, as superuser postgres
    for path, body in (("tables", {"db_connection": url}),
                       ("table/ddl", {"db_connection": url, "table": "bss_company"})):
        status, answer = post_db(client, path, body)
        assert status == 400 and answer["error"]["code"] == "DATABASE_ROLE_TOO_PRIVILEGED", answer
        details = answer["error"]["details"]
        assert "'postgres' is a superuser" in details and "SELECT on its tables" in details
        assert "ALLOW_PRIVILEGED_BUSINESS_ROLE=true" in details
        assert answer["error"]["invalid_params"] == ["db_connection"]


def test_the_old_import_place_is_vetted_too(app_ctx):
    """core.db.business_readonly / connect_business delegate to core.business_db: no unvetted path is left."""
    from core import db
    superuser = with_database(app_ctx.runtime.meta_url, "highway_db")
    with pytest.raises(business_db.RoleTooPrivileged):
        with db.business_readonly(superuser, statement_timeout_ms=1000, lock_timeout_ms=100):
            pass
    with pytest.raises(business_db.BusinessUrlRefused):
        db.connect_business(with_user(app_ctx.runtime.meta_url, "highway_reader"), statement_timeout_ms=1000,
                            lock_timeout_ms=100)


@pytest.fixture(scope="module")
def file_reader_url(app_ctx):
    """A login role on the demo DB that may read server files (pg_read_server_files)."""
    admin = with_database(app_ctx.runtime.meta_url, "highway_db")
    url = reader_url(admin, "file_reader_18")
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("GRANT pg_read_server_files TO file_reader_18")
    conn.close()
    return url


def test_server_file_roles_are_refused_unless_the_operator_allows_them(client, settings, file_reader_url):
    status, answer = post_db(client, "tables", {"db_connection": file_reader_url})
    assert status == 400 and answer["error"]["code"] == "DATABASE_ROLE_TOO_PRIVILEGED"
    assert "'file_reader_18' is a member of pg_read_server_files" in answer["error"]["details"]
    allowing = create_app(settings=settings.model_copy(update={"allow_privileged_business_role": True}))
    resp = allowing.test_client().post(f"{DB_API}/tables", json={"db_connection": file_reader_url})
    assert resp.status_code == 200 and "public.bss_company" in resp.get_json()["data"]["tables"]


def test_a_task_on_a_superuser_url_is_refused_at_creation_and_in_the_step(client, app_ctx, tmp_path):
    import logging
    from data_pipeline.steps import ddl_generation
    from data_pipeline.steps.base import StepContext
    from data_pipeline.taskfiles.table_list import parse_names
    url = with_database(app_ctx.runtime.meta_url, "highway_db")
    created = client.post(BASE, json={"db_connection": url, "table_names": ["bss_company"]})   # pre-run table check
    assert created.status_code == 400 and created.get_json()["error"]["code"] == "DATABASE_ROLE_TOO_PRIVILEGED"
    ctx = StepContext(task_id="task_20250101_000018", task_dir=tmp_path, params={}, options={},
                      settings=app_ctx.settings, business_url=url, meta_db=app_ctx.db,
                      tables=parse_names(["bss_company"]), logger=logging.getLogger("test.security"))
    with pytest.raises(business_db.RoleTooPrivileged, match="is a superuser"):
        ddl_generation.run(ctx)   # the executor's own read of the business database is vetted too
    assert not list(tmp_path.glob("*.ddl"))


@pytest.mark.parametrize("extra, named", [
    ("passfile=/etc/passwd", "passfile"), ("pass%66ile=/etc/passwd", "passfile"), ("service=prod", "service"),
    ("requirepeer=root", "requirepeer"), ("sslkey=/etc/ssl/private/k.pem", "sslkey"),
    ("sslrootcert=/etc/passwd", "sslrootcert"), ("sslcert=/x", "sslcert"), ("sslcrl=/x", "sslcrl"),
    ("sslpassword=x", "sslpassword"), ("options=-c%20default_transaction_read_only%3Doff", "options"),
])
def test_file_reading_url_parameters_are_refused_by_name(client, business_url, extra, named):
    url = business_url + ("&" if "?" in business_url else "?") + extra
    status, answer = post_db(client, "tables", {"db_connection": url})
    assert status == 400 and f"may not set {named}" in answer["error"]["details"], answer
    created = client.post(BASE, json={"db_connection": url, "table_names": ["bss_company"]})
    assert created.status_code == 400 and named in created.get_json()["error"]["details"]


@pytest.mark.parametrize("extra, named", [("passfile=/etc/passwd", "passfile"), ("sslkey=/x", "sslkey"),
                                          ("pass%66ile=/etc/passwd", "passfile"), ("service=prod", "service")])
def test_a_vector_store_url_may_not_read_server_files_either(client, app_ctx, extra, named):
    url = "postgresql://someone:pw@127.0.0.1:5432/vectors?" + extra
    created = client.post(BASE, json={"vector_db_connection": url, "table_names": ["bss_company"]})
    assert created.status_code == 400, created.get_json()
    assert f"may not set {named}" in created.get_json()["error"]["details"]
    searched = client.post("/api/v0/data_pipeline/vector/search", json={"question": "公司", "vector_db_connection": url})
    assert searched.status_code == 400 and named in searched.get_json()["error"]["details"], searched.get_json()


# --------------------------------------------------------------------------------------- 2. guard bypasses
BYPASS_SQL = [
    "SELECT * FROM ts_stat('SELECT to_tsvector(pg_read_file(''pg_hba.conf''))')",
    "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, to_tsquery(current_setting(''data_directory''))')",
    'SELECT U&"pg_sl\\0065ep"(5)',
    "SELECT query_to_xml('SELECT parameters::text FROM data_pipeline_tasks', true, true, '')",
    "SELECT 'pg_read_file'::regproc",
    "(SELECT * FROM bss_company) FOR UPDATE",
    "SELECT pg_catalog.ts_stat/**/($$SELECT to_tsvector(pg_read_file('/etc/passwd'))$$)",
    "SELECT company_name FROM bss_company WHERE company_name = current_setting('data_directory')",
]
SERVER_FILE_MARKERS = ("root:x:0:0", "local   all", "host    all", "pgdata")


def _bypass_pairs() -> list[dict]:
    return [{"question": f"攻击{i}：列出公司", "sql": sql, "difficulty": "single_table",
             "tables": ["bss_company"]}
            for i, sql in enumerate(BYPASS_SQL)]


def _report(task_dir) -> dict:
    return json.loads(next(task_dir.glob("sql_validation_*_report.json")).read_text(encoding="utf-8"))


def _no_server_file_content(task_dir) -> None:
    for path in task_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            for marker in SERVER_FILE_MARKERS[:3]:
                assert marker not in text, (path.name, marker)


def test_uploaded_bypass_pairs_run_with_force_execute_are_all_rejected(client, app_ctx):
    created = client.post(BASE, json={"table_names": ["bss_company"], "enable_llm_repair": False})
    task_id = created.get_json()["data"]["task_id"]
    pairs = json.dumps(_bypass_pairs(), ensure_ascii=False).encode("utf-8")
    up = client.post(f"{BASE}/{task_id}/files",
                     data={"file": (io.BytesIO(pairs), "qs_highway_db_20250101_000000_pair.json")},
                     content_type="multipart/form-data")
    assert up.status_code == 200, up.get_json()
    try:
        resp = client.post(f"{BASE}/{task_id}/execute", json={"execution_mode": "step", "step_name": "sql_validation",
                                                               "force_execute": True})
        assert resp.status_code == 202, resp.get_json()
        wait_final(client, task_id, timeout=120)
        results = _report(app_ctx.task_dir(task_id))["detailed_results"]
        assert sorted(r["sql"] for r in results) == sorted(BYPASS_SQL)
        assert {r["status"] for r in results} == {"rejected"}, [(r["sql"], r["status"]) for r in results]
        _no_server_file_content(app_ctx.task_dir(task_id))
    finally:
        stop_executors(app_ctx.db)


def _hostile_llm(request: dict):
    """The stub as an LLM steered by a prompt injection: comments are fine, every SQL it writes is an attack."""
    prompt = request["messages"][-1]["content"]
    if "需要生成注释的字段" in prompt:
        return comments_responder(request)
    if "归纳为最多" in prompt:
        theme = {"topic_name": "公司", "description": "公司信息", "related_tables": ["bss_company"],
                 "biz_entities": ["公司"], "biz_metrics": ["公司数量"]}
        return json.dumps({"themes": [theme]}, ensure_ascii=False)
    if "请逐项修复" in prompt:
        pair_ids = re.findall(r'"pair_id":\s*"([^"]+)"', prompt)
        return json.dumps({"repairs": [{"pair_id": pid, "sql": BYPASS_SQL[i % len(BYPASS_SQL)]}
                                       for i, pid in enumerate(pair_ids)]})
    if "业务主题：" in prompt:
        return json.dumps(_bypass_pairs(), ensure_ascii=False)
    return Reply(status=500)


def test_complete_run_with_an_llm_answering_bypass_sql_executes_none_of_it(app_ctx, settings, openai_stub, clean_db):
    openai_stub.responder = _hostile_llm
    llm_app = create_app(settings=settings.model_copy(update=llm_overrides(openai_stub, llm_max_concurrency=2)))
    client = llm_app.test_client()
    task_id = client.post(BASE, json={"table_names": ["bss_company", "bss_service_area"],
                                      "enable_training_data_load": False}).get_json()["data"]["task_id"]
    try:
        resp = client.post(f"{BASE}/{task_id}/execute", json={"execution_mode": "complete"})
        assert resp.status_code == 202, resp.get_json()
        status = wait_final(client, task_id, timeout=240)
        assert status["step_status"]["qa_generation"] == "completed", status
        assert status["step_status"]["sql_validation"] == "completed", status
        task_dir = app_ctx.task_dir(task_id)
        qa_prompts = [r for r in openai_stub.requests if "业务主题：" in r.prompt_text()]
        assert qa_prompts, "the LLM was asked for pairs"
        # qa_generation refused every attack by name; only rule-based top-up pairs remain
        qa_result = json.dumps(status["result"], ensure_ascii=False)
        for name in ("ts_stat()", "pg_sleep()", "query_to_xml()", "regproc", "locking clause", "current_setting()"):
            assert name in qa_result, name
        pairs = json.loads(latest_pairs_file(task_dir).read_text(encoding="utf-8"))
        assert pairs and not any(sql in {p["sql"] for p in pairs} for sql in BYPASS_SQL)
        # whatever validation checked or the repair proposed: nothing of the attack was executed
        report = _report(task_dir)
        attempts = [a for d in report["detailed_results"] for a in d.get("repair_attempts") or []]
        for item in report["detailed_results"] + attempts:
            if item["sql"] in BYPASS_SQL:
                assert item["status"] == "rejected", item
        _no_server_file_content(task_dir)
    finally:
        stop_executors(app_ctx.db)


# ---------------------------------------------------------------------------------- 3. table_list_file
@pytest.fixture()
def planted_files(settings, app_ctx):
    """A secret-bearing .env in the data home, the server's pg_hba.conf, and a symlink in table_lists/ to it."""
    env = settings.data_home / ".env"
    env.write_text("LLM_API_KEY=sk-canary-env-18\nDB_PASSWORD=canary_pw_18\n", encoding="utf-8")
    lists = settings.table_lists_dir
    lists.mkdir(parents=True, exist_ok=True)
    link = lists / "innocent.txt"
    if os.path.lexists(link):
        link.unlink()
    link.symlink_to(settings.pgdata / "pg_hba.conf")
    yield {"env": env, "hba": settings.pgdata / "pg_hba.conf", "link": link}
    env.unlink()
    link.unlink()


def test_table_list_file_reads_only_from_where_table_lists_belong(client, app_ctx, settings, planted_files):
    refused = [".env", "../.env", str(planted_files["env"]), str(planted_files["hba"]), "../data/pgdata/pg_hba.conf",
               "innocent.txt", "/etc/passwd", f"{settings.tasks_root}/../../.env"]
    hba_lines = [line for line in planted_files["hba"].read_text().splitlines() if line and not line.startswith("#")]
    for given in refused:
        resp = client.post(BASE, json={"table_list_file": given})
        body = json.dumps(resp.get_json(), ensure_ascii=False)
        assert resp.status_code == 400 and "table_list_file" in resp.get_json()["error"]["invalid_params"], given
        assert "canary" not in body and "sk-" not in body and not any(line in body for line in hba_lines), body
    # another task's table_list.txt may be reused; its task_config.json may not
    first = client.post(BASE, json={"table_names": ["bss_company"]}).get_json()["data"]["task_id"]
    reused = client.post(BASE, json={"table_list_file": str(app_ctx.task_dir(first) / "table_list.txt")})
    assert reused.status_code == 201
    config = client.post(BASE, json={"table_list_file": str(app_ctx.task_dir(first) / "task_config.json")})
    assert config.status_code == 400 and "task_id" not in config.get_json()["error"]["details"]


def test_invalid_lines_are_reported_by_number_and_masked_preview(client, settings):
    settings.table_lists_dir.mkdir(parents=True, exist_ok=True)
    path = settings.table_lists_dir / "mixed_18.txt"
    path.write_text("bss_company\nAPI_TOKEN=tok_canary_18 here\n", encoding="utf-8")
    try:
        resp = client.post(BASE, json={"table_list_file": "mixed_18.txt"})
    finally:
        path.unlink()
    details = resp.get_json()["error"]["details"]
    assert resp.status_code == 400 and "line 2" in details and "canary" not in details and "API_TOKEN" not in details


# ---------------------------------------------------------------------------------------------- 4. masking
def test_percent_encoded_password_key_is_masked_in_the_answer_and_task_config(client, app_ctx, business_url):
    url = business_url + ("&" if "?" in business_url else "?") + "pass%77ord=Secret1_canary"
    assert psycopg2.extensions.parse_dsn(url)["password"] == "Secret1_canary"     # libpq reads it as the password
    resp = client.post(BASE, json={"db_connection": url, "table_names": ["bss_company"]})
    assert resp.status_code == 201 and "Secret1_canary" not in resp.get_data(as_text=True)
    task_id = resp.get_json()["data"]["task_id"]
    assert "Secret1_canary" not in (app_ctx.task_dir(task_id) / "task_config.json").read_text(encoding="utf-8")
    assert "Secret1_canary" not in client.get(f"{BASE}/{task_id}").get_data(as_text=True)


# ------------------------------------------------------------------------------------------ 5. port scans
def test_unreachable_hosts_answer_one_message(client, openai_stub, caplog):
    http_port = int(openai_stub.base_url.split(":")[2].split("/")[0])
    probes = [f"postgresql://u:pw@127.0.0.1:{closed_port()}/x",          # refused
              f"postgresql://u:pw@127.0.0.1:{http_port}/x?sslmode=disable",   # an HTTP server, not PostgreSQL
              "postgresql://u:pw@no-such-host.invalid/x"]                # unknown host
    answers = set()
    for url in probes:
        status, answer = post_db(client, "tables", {"db_connection": url})
        assert status == 400 and answer["error"]["code"] == "DATABASE_CONNECTION_ERROR"
        answers.add(answer["error"]["details"])
    assert {a.split(": ", 1)[1] for a in answers} == {business_db.UNREACHABLE}   # only the host, as typed, differs
    assert "business database connect failed" in caplog.text and "pw@" not in caplog.text


def test_allowed_hosts_refuse_other_hosts_before_connecting(settings, business_url, app_ctx):
    strict = create_app(settings=settings.model_copy(update={"business_db_allowed_hosts": "10.0.0.0/8, db.internal"}))
    c = strict.test_client()
    for url in ("postgresql://u@127.0.0.1:1/x", "postgresql://u@localhost/x", business_url + "&connect_timeout=5"):
        resp = c.post(f"{DB_API}/tables", json={"db_connection": url})
        assert resp.status_code == 400 and "BUSINESS_DB_ALLOWED_HOSTS" in resp.get_json()["error"]["details"], url
    assert c.post(f"{DB_API}/tables", json={}).status_code == 200      # the operator's default stays usable
    sockets = create_app(settings=settings.model_copy(update={"business_db_allowed_hosts": socket_dir(app_ctx)}))
    resp = sockets.test_client().post(f"{DB_API}/tables", json={"db_connection": business_url + "&connect_timeout=5"})
    assert resp.status_code == 200, resp.get_json()                    # a listed socket directory
    pinned = business_db.vet_url("postgresql://u@localhost:1/x", settings.model_copy(
        update={"business_db_allowed_hosts": "127.0.0.0/8, ::1/128"}))
    assert pinned["hostaddr"] in ("127.0.0.1", "::1")                 # connects to the address it checked
    loopback = create_app(settings=settings.model_copy(update={"business_db_allowed_hosts": "127.0.0.0/8"}))
    resp = loopback.test_client().post(f"{DB_API}/tables", json={"db_connection": "postgresql://u@127.0.0.1:1/x"})
    assert resp.status_code == 400 and resp.get_json()["error"]["details"].endswith(business_db.UNREACHABLE)


def test_database_tools_cap_answers_429_with_retry_after(settings):
    capped = create_app(settings=settings.model_copy(update={"database_tools_concurrency": 1}))
    silent = SilentServer()
    first: dict = {}
    probe = {"db_connection": f"postgresql://u@127.0.0.1:{silent.port}/x?sslmode=disable"}

    def hold():
        resp = capped.test_client().post(f"{DB_API}/tables", json=probe)
        first.update(status=resp.status_code, body=resp.get_json())

    worker = threading.Thread(target=hold)
    worker.start()
    try:
        wait_for(lambda: silent.accepted, 10, what="the first request to connect")
        resp = capped.test_client().post(f"{DB_API}/tables", json={})
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "2"
        assert resp.get_json()["error"]["code"] == "TOO_MANY_REQUESTS"
    finally:
        silent.close()
        worker.join(timeout=30)
    assert first["status"] == 400 and first["body"]["error"]["details"].endswith(business_db.UNREACHABLE)
    assert capped.test_client().post(f"{DB_API}/tables", json={}).status_code == 200   # the slot came back


# ------------------------------------------------------------------------------------------- 6. low ones
def test_task_id_with_a_trailing_newline_is_not_an_id(client):
    assert not ids.is_valid_task_id("task_20250101_000000\n")
    resp = client.get(f"{BASE}/task_20250101_000000%0A")
    assert resp.status_code == 400 and resp.get_json()["error"]["invalid_params"] == ["task_id"]


def test_uploads_into_one_task_stop_at_the_quota(settings, clean_db):
    small = create_app(settings=settings.model_copy(update={"max_task_uploads_mb": 0.002}))   # ~2 KB
    c = small.test_client()
    task_id = c.post(BASE, json={"table_names": ["bss_company"]}).get_json()["data"]["task_id"]

    def upload(name: str):
        return c.post(f"{BASE}/{task_id}/files", data={"file": (io.BytesIO(b"-- x\n" * 160), name)},
                      content_type="multipart/form-data")

    assert upload("a.sql").status_code == 200            # 800 bytes (+ the table list)
    assert upload("b.sql").status_code == 200
    over = upload("c.sql")
    assert over.status_code == 413 and "MAX_TASK_UPLOADS_MB" in over.get_json()["error"]["details"]
    assert not (clean_db.task_dir(task_id) / "c.sql").exists()
