"""A password planted in the task's db_connection never leaves the `parameters` column of our own database.

The demo server uses trust authentication for local socket connections, so a URL carrying a made-up password
still works and a complete run (real executor subprocess, rule-based generation) goes through. Then every API
answer of the run, every downloadable file (both URL forms and the zip archive), every file in the task
directory, the log query/stream answers, the DB rows written for the task, the vector rows and the service's
own log records are scanned for the password: zero hits.
"""
from __future__ import annotations

import io
import json
import logging
import os
import zipfile
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from tests.executor_support import BASE, stop_executors, wait_final

PASSWORD = "PLANTED_pw_123"


def planted_url(business_url: str) -> str:
    parts = urlsplit(business_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    user = (parts.username or "highway_reader")
    return urlunsplit((parts.scheme, f"{user}:{PASSWORD}@{host}", parts.path, parts.query, parts.fragment))


class Scanner:
    """Collects everything a client could see and every place the secret could be written."""

    def __init__(self):
        self.checked = 0

    def check(self, label: str, data) -> None:
        if isinstance(data, (dict, list)):
            data = json.dumps(data, ensure_ascii=False)
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        self.checked += 1
        assert PASSWORD.encode() not in data, f"planted password leaked in {label}"

    def get(self, client, url: str):
        resp = client.get(url)
        self.check(f"GET {url}", resp.data)
        return resp

    def post(self, client, url: str, body: dict):
        resp = client.post(url, json=body)
        self.check(f"POST {url}", resp.data)
        return resp


@pytest.fixture()
def scanner(caplog):
    caplog.set_level(logging.DEBUG)
    s = Scanner()
    yield s
    s.check("service log records (caplog)", caplog.text)


def scan_task_read_endpoints(s: Scanner, client, task_id: str) -> None:
    s.get(client, f"{BASE}/{task_id}")
    s.get(client, f"{BASE}?limit=500")
    s.post(client, f"{BASE}/query", {"page_size": 100})
    s.get(client, f"{BASE}/active")
    s.get(client, f"{BASE}/{task_id}/executions")
    s.get(client, f"{BASE}/{task_id}/table-list-info")
    listing = s.get(client, f"{BASE}/{task_id}/files").get_json()["data"]
    for f in listing["files"]:
        s.get(client, f["download_url"])
        if not f["directory"]:
            s.get(client, f"{BASE}/{task_id}/files/download/{quote(f['file_name'])}?inline=1")
    archive = client.get(f"{BASE}/{task_id}/files/archive")
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.data)) as zf:
        for name in zf.namelist():
            s.check(f"archive member {name}", zf.read(name))
    s.get(client, f"{BASE}/{task_id}/logs?limit=1000")
    page, total_pages = 1, 1
    while page <= total_pages:
        d = s.post(client, f"{BASE}/{task_id}/logs/query", {"page": page, "page_size": 500}).get_json()["data"]
        total_pages = d["pagination"]["total_pages"]
        page += 1
    # searching for a fragment of the secret finds nothing (the answer echoes only the fragment)
    found = s.post(client, f"{BASE}/{task_id}/logs/query", {"keyword": PASSWORD[:-3]}).get_json()["data"]
    assert found["pagination"]["total"] == 0
    s.get(client, f"{BASE}/{task_id}/logs/stream?from=start&max_seconds=3")


def scan_task_dir(s: Scanner, task_dir) -> int:
    n = 0
    for root, _dirs, names in os.walk(task_dir):
        for name in names:
            with open(os.path.join(root, name), "rb") as fh:
                s.check(f"file {name}", fh.read())
            n += 1
    return n


def scan_database(s: Scanner, db, task_id: str) -> None:
    """Everything we wrote for the task, except the one column that keeps the secret by design."""
    task = db.fetchone("SELECT to_jsonb(t) - 'parameters' AS row FROM data_pipeline_tasks t WHERE id = %s",
                       (task_id,))
    s.check("data_pipeline_tasks row (parameters excluded)", task["row"])
    raw_params = db.fetchone("SELECT parameters FROM data_pipeline_tasks WHERE id = %s", (task_id,))["parameters"]
    assert PASSWORD in raw_params["db_connection"]  # the executor needs it: it is stored, only there
    for table in ("data_pipeline_task_executions", "data_pipeline_task_logs", "data_pipeline_task_outputs"):
        rows = db.fetchall(f"SELECT to_jsonb(x) AS row FROM {table} x WHERE task_id = %s", (task_id,))
        s.check(table, [r["row"] for r in rows])
    for table in ("langchain_pg_embedding", "langchain_pg_collection"):
        exists = db.fetchone("SELECT to_regclass(%s) IS NOT NULL AS ok", (table,))["ok"]
        if exists:
            rows = db.fetchall(f"SELECT to_jsonb(x) - 'embedding' AS row FROM {table} x")
            s.check(table, [r["row"] for r in rows])


def test_planted_password_before_execution(client, app_ctx, business_url, scanner):
    url = planted_url(business_url)
    resp = client.post(BASE, json={"task_name": "secret", "db_connection": url, "table_names": ["bss_company"]})
    assert resp.status_code == 201
    scanner.check("create response", resp.data)
    task_id = resp.get_json()["data"]["task_id"]
    nested = client.post(BASE, json={"task_type": "data_workflow",
                                     "parameters": {"db_connection": url, "table_names": ["bss_company"]}})
    scanner.check("create response (nested form)", nested.data)
    bad = client.post(BASE, json={"db_connection": url.replace("postgresql", "mysql")})
    scanner.check("rejected create", bad.data)
    scan_task_read_endpoints(scanner, client, task_id)
    config = json.loads((app_ctx.task_dir(task_id) / "task_config.json").read_text(encoding="utf-8"))
    assert "******" in config["parameters"]["db_connection"]
    assert scan_task_dir(scanner, app_ctx.task_dir(task_id)) >= 2
    scan_database(scanner, app_ctx.db, task_id)
    assert scanner.checked > 20


def test_planted_password_after_a_complete_run(client, app_ctx, business_url, scanner):
    url = planted_url(business_url)
    resp = client.post(BASE, json={"task_name": "secret run", "db_connection": url,
                                   "table_names": ["bss_company", "bss_service_area"],
                                   "backup_vector_tables": True})
    task_id = resp.get_json()["data"]["task_id"]
    try:
        resp = client.post(f"{BASE}/{task_id}/execute", json={"execution_mode": "complete"})
        scanner.check("execute response", resp.data)
        assert resp.status_code == 202, resp.get_json()
        status = wait_final(client, task_id, timeout=240)
        assert status["status"] == "completed", (status["error_message"], status["step_status"])
        # a failing step-mode request with the secret around, and a re-run of one step
        resp = client.post(f"{BASE}/{task_id}/execute", json={"execution_mode": "step", "step_name": "qa_generation"})
        scanner.check("step execute response", resp.data)
        if resp.status_code == 202:
            wait_final(client, task_id, timeout=240)
        scan_task_read_endpoints(scanner, client, task_id)
        files = scan_task_dir(scanner, app_ctx.task_dir(task_id))
        assert files >= 6  # config, table list, log, ddl/md, pairs, reports ...
        scan_database(scanner, app_ctx.db, task_id)
        log_rows = app_ctx.db.fetchone("SELECT count(*) AS n FROM data_pipeline_task_logs WHERE task_id = %s",
                                       (task_id,))["n"]
        assert log_rows > 0 and scanner.checked > 30
    finally:
        stop_executors(app_ctx.db)


def test_planted_password_in_a_failing_run(client, app_ctx, scanner):
    """The connection fails (nothing listens on port 1): error messages, logs and files still hold no secret."""
    url = f"postgresql://someone:{PASSWORD}@127.0.0.1:1/nowhere?connect_timeout=2"
    resp = client.post(BASE, json={"task_name": "secret fail", "db_connection": url, "table_names": ["bss_company"]})
    task_id = resp.get_json()["data"]["task_id"]
    try:
        resp = client.post(f"{BASE}/{task_id}/execute", json={"execution_mode": "complete"})
        scanner.check("execute response", resp.data)
        if resp.status_code == 202:
            status = wait_final(client, task_id, timeout=120)
            assert status["status"] == "failed" and status["error_message"]
        listing = client.post(f"{BASE}/{task_id}/table-list", json={"table_names": ["bss_company"]})
        scanner.check("table-list against an unreachable database", listing.data)
        scan_task_read_endpoints(scanner, client, task_id)
        scan_task_dir(scanner, app_ctx.task_dir(task_id))
        scan_database(scanner, app_ctx.db, task_id)
    finally:
        stop_executors(app_ctx.db)
