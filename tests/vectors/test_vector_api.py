"""Vector API: standalone backup, listing, restore, and every client mistake as a contract envelope."""
from __future__ import annotations

import pytest

from data_pipeline.steps import training_load
from tests.vector_fixtures import all_rows, empty_vector_tables, step_context, write_task_files

BASE = "/api/v0/data_pipeline/vector"


def _new_task(client) -> str:
    resp = client.post("/api/v0/data_pipeline/tasks", json={"task_name": "向量测试"})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["task_id"]


def _load(app_ctx, task_id):
    # keep the task's files created by the API (task_config etc.); add the synthetic sources next to them
    task_dir = app_ctx.task_dir(task_id)
    keep = {p.name: p.read_bytes() for p in task_dir.iterdir() if p.is_file()}
    write_task_files(task_dir)
    for name, data in keep.items():
        (task_dir / name).write_bytes(data)
    return training_load.run(step_context(app_ctx, task_id))


def _error(resp, status, code):
    body = resp.get_json()
    assert resp.status_code == status, body
    assert body["success"] is False and body["code"] == status and body["error"]["code"] == code, body
    assert "Traceback" not in resp.get_data(as_text=True)
    return body


def test_backup_list_restore_for_a_task(vclient, app_ctx):
    task_id = _new_task(vclient)
    _load(app_ctx, task_id)
    rows = all_rows(app_ctx.db)

    resp = vclient.post(f"{BASE}/backup", json={"task_id": task_id})
    body = resp.get_json()
    assert resp.status_code == 200 and body["success"], body
    data = body["data"]
    assert data["directory"].endswith(f"{task_id}/vector_bak") and not data["directory"].startswith("/")
    assert {f["table"]: f["rows"] for f in data["files"]}["langchain_pg_embedding"] == len(rows)

    listed = vclient.get(f"{BASE}/restore/list", query_string={"task_id": task_id}).get_json()["data"]
    assert listed["total"] == 1
    (entry,) = listed["backup_sets"]
    assert entry["timestamp"] == data["timestamp"] and entry["task_id"] == task_id and entry["complete"]
    assert all("/" not in f["file_name"] and f["file_size"] > 0 for f in entry["files"])
    assert str(app_ctx.settings.data_home) not in str(listed)

    empty_vector_tables(app_ctx.db)
    resp = vclient.post(f"{BASE}/restore", json={"task_id": task_id, "timestamp": data["timestamp"]})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["data"]["embeddings_restored"] == len(rows)
    assert all_rows(app_ctx.db) == rows

    by_files = vclient.post(f"{BASE}/restore", json={"task_id": task_id, "truncate_before_restore": False,
                                                     "files": [f["file_name"] for f in data["files"]]})
    assert by_files.status_code == 200 and all_rows(app_ctx.db) == rows


def test_backup_and_restore_with_a_wait_callback_set(vclient, app_ctx):
    """The API's gevent workers set psycogreen's wait callback, under which psycopg2 refuses COPY: backup and
    restore lift it for their COPY and put it back (the README tour failed with VECTOR_BACKUP_FAILED)."""
    import psycopg2.extensions
    import psycopg2.extras

    task_id = _new_task(vclient)
    _load(app_ctx, task_id)
    rows = all_rows(app_ctx.db)
    psycopg2.extensions.set_wait_callback(psycopg2.extras.wait_select)
    try:
        resp = vclient.post(f"{BASE}/backup", json={"task_id": task_id})
        assert resp.status_code == 200, resp.get_json()
        stamp = resp.get_json()["data"]["timestamp"]
        assert psycopg2.extensions.get_wait_callback() is psycopg2.extras.wait_select
        empty_vector_tables(app_ctx.db)
        resp = vclient.post(f"{BASE}/restore", json={"task_id": task_id, "timestamp": stamp})
        assert resp.status_code == 200, resp.get_json()
        assert psycopg2.extensions.get_wait_callback() is psycopg2.extras.wait_select
    finally:
        psycopg2.extensions.set_wait_callback(None)
    assert all_rows(app_ctx.db) == rows


def test_standalone_backup_and_global_listing(vclient, app_ctx):
    resp = vclient.post(f"{BASE}/backup")
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()["data"]
    assert data["task_id"] is None and data["directory"].endswith("training_data/vector_bak")
    assert (app_ctx.tasks_root / "vector_bak" / data["log_file"]).is_file()
    listed = vclient.get(f"{BASE}/restore/list").get_json()["data"]
    assert any(s["task_id"] is None and s["timestamp"] == data["timestamp"] for s in listed["backup_sets"])
    # restore without a task uses the same standalone directory
    assert vclient.post(f"{BASE}/restore", json={"timestamp": data["timestamp"]}).status_code == 200


@pytest.mark.parametrize("body, status, code", [
    ({"timestamp": "../../../etc/passwd"}, 400, "INVALID_FILE_NAME"),
    ({"files": ["../../langchain_pg_embedding_20250101_000000.csv"]}, 400, "INVALID_FILE_NAME"),
    ({"files": ["/etc/passwd"]}, 400, "INVALID_FILE_NAME"),
    ({"timestamp": "20200101_000000"}, 404, "FILE_NOT_FOUND"),
    ({"files": ["langchain_pg_embedding_20200101_000000.csv"]}, 404, "FILE_NOT_FOUND"),
    ({}, 400, "VALIDATION_ERROR"),
    ({"timestamp": "20200101_000000", "unknown": 1}, 400, "VALIDATION_ERROR"),
    ({"timestamp": "20200101_000000", "truncate_before_restore": "yes"}, 400, "VALIDATION_ERROR"),
    ({"task_id": "../etc", "timestamp": "20200101_000000"}, 400, "VALIDATION_ERROR"),
    ({"task_id": "task_20000101_000000", "timestamp": "20200101_000000"}, 404, "TASK_NOT_FOUND"),
])
def test_restore_client_mistakes_are_envelopes(vclient, body, status, code):
    _error(vclient.post(f"{BASE}/restore", json=body), status, code)


def test_other_client_mistakes(vclient):
    _error(vclient.post(f"{BASE}/backup", json={"task_id": "task_20000101_000000"}), 404, "TASK_NOT_FOUND")
    _error(vclient.post(f"{BASE}/backup", json={"task_id": "nope"}), 400, "VALIDATION_ERROR")
    _error(vclient.post(f"{BASE}/backup", data="not json", content_type="application/json"), 400,
           "VALIDATION_ERROR")
    _error(vclient.get(f"{BASE}/restore/list", query_string={"task_id": "x/../y"}), 400, "VALIDATION_ERROR")
    _error(vclient.post(f"{BASE}/restore", data="[1]", content_type="application/json"), 400, "VALIDATION_ERROR")


def test_restore_answers_409_while_a_load_holds_the_vector_lock(vclient, app_ctx):
    from data_pipeline.store import vector as vector_sql
    backup = vclient.post(f"{BASE}/backup").get_json()["data"]
    with app_ctx.db.connection() as conn, conn.cursor() as cur:
        vector_sql.lock_writers(cur)            # what a running training_load holds for its transaction
        resp = vclient.post(f"{BASE}/restore", json={"timestamp": backup["timestamp"]})
        _error(resp, 409, "TASK_ALREADY_RUNNING")
    assert vclient.post(f"{BASE}/restore", json={"timestamp": backup["timestamp"]}).status_code == 200
