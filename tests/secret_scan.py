"""Scanning everything a client could see and every place a secret could be written, for planted secrets.

Shared by the canary tests (`test_secrets.py`: the business-database password; `test_secret_canaries.py`:
LLM_API_KEY, EMBEDDING_API_KEY, API_TOKEN): every API answer about a task, every downloadable file (both URL
forms and the zip archive), every file in the task directory, the log query/stream answers, the DB rows written
for the task, the vector rows, and (through the caller's caplog) the service's own log records.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from typing import Iterator, Optional, Sequence
from urllib.parse import quote

from tests.executor_support import BASE


class Scanner:
    """Asserts that none of `secrets` appears in anything handed to `check`; counts what it checked."""

    def __init__(self, secrets: Sequence[str]):
        assert secrets and all(len(s) >= 8 for s in secrets), "canaries must be long enough to be unique"
        self.secrets = tuple(secrets)
        self.checked = 0

    def check(self, label: str, data) -> None:
        if isinstance(data, (dict, list)):
            data = json.dumps(data, ensure_ascii=False)
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        self.checked += 1
        for secret in self.secrets:
            assert secret.encode() not in data, f"planted secret {secret[:6]}... leaked in {label}"

    def get(self, client, url: str):
        return self._checked(f"GET {url}", client.get(url))

    def post(self, client, url: str, body: dict):
        return self._checked(f"POST {url}", client.post(url, json=body))

    def _checked(self, label: str, resp):
        self.check(label, resp.data)
        # closed now, like a real server does: a log stream's slot is released on close, and a test client
        # response left open would hold it until garbage collection (later tests then see the cap reached)
        resp.close()
        return resp


def scan_task_read_endpoints(s: Scanner, client, task_id: str) -> None:
    s.get(client, "/health")
    s.get(client, f"{BASE}/{task_id}")
    s.get(client, f"{BASE}?limit=500")
    s.post(client, f"{BASE}/query", {"page_size": 100})
    s.get(client, f"{BASE}/active")
    s.get(client, f"{BASE}/{task_id}/executions")
    s.get(client, f"{BASE}/{task_id}/table-list-info")
    listing = s.get(client, f"{BASE}/{task_id}/files")
    assert listing.status_code == 200, listing.get_json()
    for f in listing.get_json()["data"]["files"]:
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
    # searching for a fragment of a secret finds nothing (the answer echoes only the fragment)
    for secret in s.secrets:
        found = s.post(client, f"{BASE}/{task_id}/logs/query", {"keyword": secret[:-3]}).get_json()["data"]
        assert found["pagination"]["total"] == 0
    s.get(client, f"{BASE}/{task_id}/logs/stream?from=start&max_seconds=3")


def task_files(task_dir) -> Iterator[tuple[str, bytes]]:
    """(name, content) of every file under a task directory, subdirectories included."""
    for root, _dirs, names in os.walk(task_dir):
        for name in names:
            with open(os.path.join(root, name), "rb") as fh:
                yield name, fh.read()


def scan_task_dir(s: Scanner, task_dir) -> int:
    n = 0
    for name, content in task_files(task_dir):
        s.check(f"file {name}", content)
        n += 1
    return n


def scan_database(s: Scanner, db, task_id: str, *, kept_in_connection: Optional[str] = None) -> None:
    """Everything we wrote for the task. `kept_in_connection`: the one secret the task's `parameters` keep by
    design (the executor needs the business database password); that column is then checked apart."""
    if kept_in_connection is None:
        task = db.fetchone("SELECT to_jsonb(t) AS row FROM data_pipeline_tasks t WHERE id = %s", (task_id,))
        s.check("data_pipeline_tasks row", task["row"])
    else:
        task = db.fetchone("SELECT to_jsonb(t) - 'parameters' AS row FROM data_pipeline_tasks t WHERE id = %s",
                           (task_id,))
        s.check("data_pipeline_tasks row (parameters excluded)", task["row"])
        raw_params = db.fetchone("SELECT parameters FROM data_pipeline_tasks WHERE id = %s", (task_id,))["parameters"]
        assert kept_in_connection in raw_params["db_connection"]  # stored for the executor, only there
    for table in ("data_pipeline_task_executions", "data_pipeline_task_logs", "data_pipeline_task_outputs"):
        rows = db.fetchall(f"SELECT to_jsonb(x) AS row FROM {table} x WHERE task_id = %s", (task_id,))
        s.check(table, [r["row"] for r in rows])
    for table in ("langchain_pg_embedding", "langchain_pg_collection"):  # created by migration 002
        rows = db.fetchall(f"SELECT to_jsonb(x) - 'embedding' AS row FROM {table} x")
        s.check(table, [r["row"] for r in rows])
