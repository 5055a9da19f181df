"""The polled reads: lean status and list entries, `?include=`, ETag / 304, one statement per status GET."""
from __future__ import annotations

import json
import os
import socket
from datetime import datetime

import psycopg2.extras
import pytest

from data_pipeline import tasks as task_service

BASE = "/api/v0/data_pipeline/tasks"
WIDE = 300


def create(client, **body) -> str:
    resp = client.post(BASE, json=body or {"table_names": ["bss_company"], "task_name": "status"})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["task_id"]


def wide_result(n: int = WIDE) -> dict:
    """A result shaped like a run over n tables: per-table lists in every step summary."""
    names = [f"public.t_area_{i:03d}" for i in range(n)]
    return {"steps": {
        "ddl_generation": {"tables": names, "files": [f"{t}.ddl" for t in names], "table_count": n,
                           "warnings": [{"code": "TABLES_SKIPPED", "message": f"{n} tables skipped",
                                         "objects": names[:20], "object_count": n}]},
        "qa_generation": {"per_table": {t: {"pairs": 10, "themes": ["统计", "排名", "趋势"]} for t in names}},
        "sql_validation": {"failed": [{"sql": "SELECT 1", "error": "x" * 80} for _ in range(n)]},
        "training_load": {"loaded": {"sql": n * 10, "ddl": n, "documentation": n}}},
        "quality": {"tables": {t: 0.9 for t in names}}}


def make_wide(app_ctx, task_id: str) -> None:
    app_ctx.db.execute(
        """UPDATE data_pipeline_tasks SET result = %s, status = 'completed', progress = 100,
               step_status = '{"ddl_generation": "completed", "qa_generation": "completed",
                                "sql_validation": "completed", "training_load": "completed"}'::jsonb,
               started_at = now() - interval '5 minutes', completed_at = now(), updated_at = now(),
               business_context = '高速公路服务区管理系统，300 张表的业务库'
           WHERE id = %s""", (psycopg2.extras.Json(wide_result()), task_id))


def long_lists_without_count(value, path="data") -> list[str]:
    """Lists of more than 20 names that have no sibling count field (the status answer may not carry any)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, list) and len(item) > 20 and not any(
                    k != key and ("count" in k or k.startswith("total")) for k in value):
                found.append(f"{path}.{key}")
            found += long_lists_without_count(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += long_lists_without_count(item, f"{path}[{i}]")
    return found


def test_status_is_lean_unless_asked(client, app_ctx):
    task_id = create(client)
    make_wide(app_ctx, task_id)
    lean = client.get(f"{BASE}/{task_id}")
    data = lean.get_json()["data"]
    assert lean.status_code == 200 and "parameters" not in data and "result" not in data
    for key in ("task_id", "task_name", "status", "progress", "step_status", "current_step", "steps",
                "total_steps", "created_at", "started_at", "completed_at", "duration", "db_name",
                "output_directory", "directory_exists", "updated_at"):
        assert key in data, key
    assert set(data) - {"response", "timestamp"} <= set(task_service.LEAN_STATUS_FIELDS)
    assert len(lean.data) <= 4096, len(lean.data)
    # the step warnings come with the lean status (read from the result without reading the rest of it)
    (warning,) = data["warnings"]
    assert warning["code"] == "TABLES_SKIPPED" and warning["count"] == WIDE and len(warning["objects"]) == 20
    assert data["finished"] is True
    assert long_lists_without_count(lean.get_json()) == []
    full = client.get(f"{BASE}/{task_id}?include=parameters,result").get_json()["data"]
    assert full["parameters"]["file_upload_mode"] is False
    assert len(full["result"]["steps"]["ddl_generation"]["tables"]) == WIDE
    only = client.get(f"{BASE}/{task_id}?include=result").get_json()["data"]
    assert "result" in only and "parameters" not in only
    bad = client.get(f"{BASE}/{task_id}?include=result,secrets")
    assert bad.status_code == 400 and bad.get_json()["error"]["invalid_params"] == ["include"]


def test_list_entries_are_summaries_and_fit_40_kb(client, app_ctx):
    ids = [create(client, table_names=["bss_company", "bss_service_area"], task_name=f"任务 {i}",
                  business_context="高速公路服务区管理系统" * 20) for i in range(50)]
    for task_id in ids:
        make_wide(app_ctx, task_id)
    resp = client.get(f"{BASE}?limit=50")
    body = resp.get_json()["data"]
    assert len(body["tasks"]) == 50 and body["total"] == 50
    assert len(resp.data) <= 40 * 1024, len(resp.data)
    for entry in body["tasks"]:
        assert set(entry) <= set(task_service.LIST_FIELDS)
        assert {"task_id", "task_name", "status", "progress", "step_status", "created_at", "db_name"} <= set(entry)
        assert entry["status"] == "completed" and entry["duration"] is not None
        assert entry["warning_count"] == 1 and entry["finished"] is True
    query = client.post(f"{BASE}/query", json={"page_size": 100}).get_json()["data"]
    assert query["pagination"]["total"] == 50 and "result" not in query["tasks"][0]


def test_status_etag_304_and_change(client, app_ctx):
    task_id = create(client)
    first = client.get(f"{BASE}/{task_id}")
    etag = first.headers["ETag"]
    assert etag.startswith('W/"') and first.headers["Cache-Control"] == "no-cache"
    # Last-Modified is the row's last change (informative; 304s are decided by the ETag)
    updated = datetime.fromisoformat(first.get_json()["data"]["updated_at"]).astimezone()
    assert first.last_modified == updated.replace(microsecond=0)
    again = client.get(f"{BASE}/{task_id}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    # the include set is part of the representation
    full = client.get(f"{BASE}/{task_id}?include=result", headers={"If-None-Match": etag})
    assert full.status_code == 200 and full.headers["ETag"] != etag
    # a change to the row (a table list given) makes the status new
    assert client.post(f"{BASE}/{task_id}/table-list", json={"table_names": ["bss_service_area"]}).status_code == 200
    changed = client.get(f"{BASE}/{task_id}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    # so does a running execution appearing (current_step), without any change to the task row
    etag = changed.headers["ETag"]
    app_ctx.db.execute(
        """INSERT INTO data_pipeline_task_executions (task_id, execution_id, execution_step, pid, host,
               heartbeat_at) VALUES (%s, %s, 'ddl_generation', 1, %s, now())""",
        (task_id, f"{task_id}_step_ddl_generation_exec_x", socket.gethostname()))
    running = client.get(f"{BASE}/{task_id}", headers={"If-None-Match": etag})
    assert running.status_code == 200 and running.get_json()["data"]["current_step"]["step"] == "ddl_generation"
    # a heartbeat is not a change of what the status shows
    app_ctx.db.execute("UPDATE data_pipeline_task_executions SET heartbeat_at = now() + interval '1 s'")
    beat = client.get(f"{BASE}/{task_id}", headers={"If-None-Match": running.headers["ETag"]})
    assert beat.status_code in (200, 304)
    app_ctx.db.execute("DELETE FROM data_pipeline_task_executions WHERE task_id = %s", (task_id,))


def test_list_executions_and_files_etags(client, app_ctx):
    task_id = create(client)
    for url in (BASE, f"{BASE}?limit=5&status=pending", f"{BASE}/{task_id}/executions", f"{BASE}/{task_id}/files"):
        first = client.get(url)
        assert first.status_code == 200 and first.headers.get("ETag"), url
        again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.data == b"", url
        stale = client.get(url, headers={"If-None-Match": 'W/"something-else"'})
        assert stale.status_code == 200 and stale.get_json()["success"] is True, url
    list_etag = client.get(BASE).headers["ETag"]
    create(client)
    assert client.get(BASE, headers={"If-None-Match": list_etag}).status_code == 200
    files_etag = client.get(f"{BASE}/{task_id}/files").headers["ETag"]
    (app_ctx.task_dir(task_id) / "extra.md").write_text("# x\n", encoding="utf-8")
    os.utime(app_ctx.task_dir(task_id) / "extra.md", (1_700_000_000, 1_900_000_000))
    listed = client.get(f"{BASE}/{task_id}/files", headers={"If-None-Match": files_etag})
    assert listed.status_code == 200
    assert listed.last_modified.timestamp() == 1_900_000_000  # the newest file's time


def test_status_get_is_one_statement(client, app_ctx, monkeypatch):
    """The polled path reads the row, the running execution and the version in one autocommit statement."""
    task_id = create(client)
    calls = []
    for name in ("execute", "fetchone", "fetchall", "read_one", "cursor"):
        real = getattr(app_ctx.db, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)
        monkeypatch.setattr(app_ctx.db, name, spy)
    resp = client.get(f"{BASE}/{task_id}")
    assert resp.status_code == 200
    assert calls == ["read_one"], calls
    calls.clear()
    assert client.get(f"{BASE}/{task_id}", headers={"If-None-Match": resp.headers["ETag"]}).status_code == 304
    assert calls == ["read_one"], calls
    calls.clear()
    assert client.get(f"{BASE}/task_20000101_000000").status_code == 404
    assert calls == ["read_one"], calls


def _read_events(resp, limit: int = 10, after_first=None) -> list[tuple[str, dict, str]]:
    """Parse SSE frames from a streamed test-client response until `end` (or `limit` events); `after_first()` runs
    once the first event has arrived (the stream is then past its first read of the task)."""
    found, buffer = [], ""
    for chunk in resp.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line and
                          not line.startswith(":"))
            if "event" in fields:
                found.append((fields["event"], json.loads(fields["data"]), fields.get("id", "")))
                if len(found) == 1 and after_first:
                    after_first()
                if fields["event"] == "end" or len(found) >= limit:
                    return found
    return found


@pytest.fixture()
def free_stream_slots():
    """Stream slots are per process; a test elsewhere that reads a stream without closing its response keeps
    one for the rest of the session. Start these tests with the slots free."""
    from data_pipeline.api import logs
    logs._stream_slots.clear()
    yield


def test_events_push_changes_then_end(client, app_ctx, free_stream_slots):
    task_id = create(client)
    resp = client.get(f"{BASE}/{task_id}/events?interval=0.2&linger=1.5", buffered=False)
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"

    def change():  # after the first event: the stream has read the task once, the change is news to it
        app_ctx.db.execute("UPDATE data_pipeline_tasks SET progress = 40, updated_at = now() WHERE id = %s",
                           (task_id,))
    events = _read_events(resp, after_first=change)
    resp.close()
    kinds = [e[0] for e in events]
    assert kinds[0] == "status" and kinds[-1] == "end", kinds
    statuses = [e[1] for e in events if e[0] == "status"]
    assert [s["progress"] for s in statuses] == [0, 40], statuses  # one event per change, none while unchanged
    assert "parameters" not in statuses[0] and statuses[0]["task_id"] == task_id
    # the event id is the status ETag: a reconnect that has it is not sent the same state again
    last_id = events[-2][2]
    assert last_id == client.get(f"{BASE}/{task_id}").headers["ETag"]
    again = client.get(f"{BASE}/{task_id}/events?interval=0.2&linger=0", headers={"Last-Event-ID": last_id},
                       buffered=False)
    assert [e[0] for e in _read_events(again)] == ["end"]
    again.close()


def test_events_unknown_task_is_an_envelope(client):
    resp = client.get(f"{BASE}/task_20000101_000000/events")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "TASK_NOT_FOUND"
    resp = client.get(f"{BASE}/nope/events")
    assert resp.status_code == 400 and resp.get_json()["error"]["invalid_params"] == ["task_id"]
