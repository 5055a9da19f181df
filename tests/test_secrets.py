"""A password planted in the task's db_connection never leaves the `parameters` column of our own database.

The demo server uses trust authentication for local socket connections, so a URL carrying a made-up password
still works and a complete run (real executor subprocess, rule-based generation) goes through. Then every API
answer of the run, every downloadable file (both URL forms and the zip archive), every file in the task
directory, the log query/stream answers, the DB rows written for the task, the vector rows and the service's
own log records are scanned for the password: zero hits.
"""
from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.executor_support import BASE, stop_executors, wait_executor_exit, wait_final
from tests.secret_scan import Scanner, scan_database, scan_task_dir, scan_task_read_endpoints
from tests.vector_fixtures import empty_vector_tables

PASSWORD = "PLANTED_pw_123"


def planted_url(business_url: str) -> str:
    parts = urlsplit(business_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    user = (parts.username or "highway_reader")
    return urlunsplit((parts.scheme, f"{user}:{PASSWORD}@{host}", parts.path, parts.query, parts.fragment))


@pytest.fixture()
def scanner(caplog):
    caplog.set_level(logging.DEBUG)
    s = Scanner([PASSWORD])
    yield s
    s.check("service log records (caplog)", caplog.text)


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
    scan_database(scanner, app_ctx.db, task_id, kept_in_connection=PASSWORD)
    assert scanner.checked > 20


def test_planted_password_after_a_complete_run(client, app_ctx, business_url, scanner):
    # the run must be the store's only database: rows another test loaded from elsewhere (the privacy canary's
    # database) would rightly make it VECTOR_STORE_MIXED -> partial_completed
    empty_vector_tables(app_ctx.db)
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
        assert resp.status_code == 202, resp.get_json()
        wait_final(client, task_id, timeout=240)
        wait_executor_exit(app_ctx.db, resp.get_json()["data"]["execution_id"])  # its last log batch is written
        scan_task_read_endpoints(scanner, client, task_id)
        files = scan_task_dir(scanner, app_ctx.task_dir(task_id))
        assert files >= 6  # config, table list, log, ddl/md, pairs, reports ...
        scan_database(scanner, app_ctx.db, task_id, kept_in_connection=PASSWORD)
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
        # the connection is tried by the executor, not by the request: the run starts, then fails
        assert resp.status_code == 202, resp.get_json()
        status = wait_final(client, task_id, timeout=120)
        assert status["status"] == "failed" and status["error_message"]
        wait_executor_exit(app_ctx.db, resp.get_json()["data"]["execution_id"])
        listing = client.post(f"{BASE}/{task_id}/table-list", json={"table_names": ["bss_company"]})
        scanner.check("table-list against an unreachable database", listing.data)
        scan_task_read_endpoints(scanner, client, task_id)
        scan_task_dir(scanner, app_ctx.task_dir(task_id))
        scan_database(scanner, app_ctx.db, task_id, kept_in_connection=PASSWORD)
    finally:
        stop_executors(app_ctx.db)
