"""Task endpoints through the Flask test client, on the real embedded PostgreSQL."""
from __future__ import annotations

import json
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from data_pipeline.ids import TASK_ID_RE

BASE = "/api/v0/data_pipeline/tasks"
PLANTED = "PlantedPw_7731"


def create(client, **body):
    return client.post(BASE, json=body or {"table_names": ["bss_company"]})


def assert_error(resp, status, code):
    body = resp.get_json()
    assert resp.status_code == status, body
    assert body["success"] is False and body["code"] == status
    assert body["error"]["code"] == code
    assert "Traceback" not in json.dumps(body)
    return body


def test_create_flat_returns_contract_data_and_writes_directory(client, app_ctx):
    resp = create(client, table_names=["bss_company", "public.bss_service_area", "bss_company"],
                  task_name="高速公路数据处理", business_context="高速公路服务区管理系统", created_by="alice")
    body = resp.get_json()
    assert resp.status_code == 201 and body["success"] is True and body["code"] == 201
    data = body["data"]
    assert TASK_ID_RE.match(data["task_id"])
    for key in ("task_id", "task_name", "status", "step_status", "output_directory", "created_at", "steps"):
        assert key in data
    assert data["status"] == "pending" and data["progress"] == 0
    assert [s["step_name"] for s in data["steps"]] == ["ddl_generation", "qa_generation", "sql_validation",
                                                       "training_load"]
    assert set(data["step_status"].values()) == {"pending"}
    task_dir = app_ctx.task_dir(data["task_id"])
    assert task_dir.is_dir() and (task_dir.stat().st_mode & 0o777) == 0o755
    assert (task_dir / "table_list.txt").read_text().splitlines() == ["bss_company", "bss_service_area"]
    config = json.loads((task_dir / "task_config.json").read_text())
    assert config["task_id"] == data["task_id"]
    assert config["parameters"]["table_list"] == ["bss_company", "bss_service_area"]
    assert data["parameters"]["file_upload_mode"] is False
    assert not data["output_directory"].startswith("/")


def test_create_nested_form_and_defaults(client):
    resp = client.post(BASE, json={"task_type": "complete_workflow",
                                   "parameters": {"table_names": ["bss_company"], "task_name": "nested",
                                                  "truncate_vector_tables": True}})
    data = resp.get_json()["data"]
    assert resp.status_code == 201
    assert data["task_type"] == "complete_workflow" and data["task_name"] == "nested"
    params = data["parameters"]
    assert params["truncate_vector_tables"] is True and params["backup_vector_tables"] is True
    assert params["enable_sql_validation"] is True and params["enable_training_data_load"] is True


def test_create_without_table_list_is_upload_mode(client):
    data = client.post(BASE, json={"task_name": "later"}).get_json()["data"]
    assert data["parameters"]["file_upload_mode"] is True
    assert data["parameters"]["table_list_file"] is None


def test_table_list_file_on_server_is_copied_and_confined(client, app_ctx, settings):
    settings.table_lists_dir.mkdir(parents=True, exist_ok=True)
    src = settings.table_lists_dir / "tables_for_test.txt"
    src.write_text("\ufeff# 表清单\nbss_company, bss_service_area\n-- comment\n\nbss_company\n", encoding="utf-8")
    try:
        data = create(client, table_list_file="tables_for_test.txt").get_json()["data"]
        copied = app_ctx.task_dir(data["task_id"]) / "table_list.txt"
        assert copied.read_text().splitlines() == ["bss_company", "bss_service_area"]
    finally:
        src.unlink()
    body = assert_error(create(client, table_list_file="/etc/passwd"), 400, "VALIDATION_ERROR")
    assert "root:" not in json.dumps(body)
    assert_error(create(client, table_list_file="../../../../etc/hostname"), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("body, field", [
    ({"table_names": ["bss_company"], "unknown_key": 1}, "unknown_key"),
    ({"table_names": ["bad name; drop"]}, "table_names"),
    ({"table_names": "bss_company"}, "table_names"),
    ({"table_names": ["bss_company"], "enable_sql_validation": "yes"}, "enable_sql_validation"),
    ({"table_names": ["bss_company"], "db_connection": "mysql://x@y/z"}, "db_connection"),
    ({"table_names": ["a"], "table_list_file": "t.txt"}, "table_names"),
    ({"table_names": []}, "table_names"),
])
def test_create_rejects_bad_input_with_invalid_params(client, body, field):
    err = assert_error(client.post(BASE, json=body), 400, "VALIDATION_ERROR")
    assert field in err["error"]["invalid_params"]


def test_malformed_and_non_object_json(client):
    assert_error(client.post(BASE, data="{not json", content_type="application/json"), 400, "VALIDATION_ERROR")
    assert_error(client.post(BASE, json=[1, 2]), 400, "VALIDATION_ERROR")
    assert_error(client.post(BASE, data=""), 400, "VALIDATION_ERROR")


def test_unknown_route_method_and_bad_task_ids(client):
    assert_error(client.get("/api/v0/nothing"), 404, "NOT_FOUND")
    assert_error(client.put(BASE), 405, "METHOD_NOT_ALLOWED")
    for bad in ("task_1", "..", "task_20250101_120000_x", "../etc", "task_20250101_1200001"):
        resp = client.get(f"{BASE}/{bad}")
        assert resp.status_code in (400, 404)
        assert resp.get_json()["success"] is False
    assert_error(client.get(f"{BASE}/task_20990101_000000"), 404, "TASK_NOT_FOUND")
    assert_error(client.get(f"{BASE}/task_2025"), 400, "VALIDATION_ERROR")
    assert_error(client.delete(f"{BASE}/task_20990101_000000"), 404, "TASK_NOT_FOUND")


def test_get_list_query_active_executions_delete(client, app_ctx):
    ids = [create(client, task_name=f"任务 {i}", db_name="highway_db").get_json()["data"]["task_id"]
           for i in range(3)]
    got = client.get(f"{BASE}/{ids[0]}").get_json()["data"]
    assert got["task_id"] == ids[0] and got["total_steps"] == 4 and got["current_step"] is None
    assert got["directory_exists"] is True

    listed = client.get(f"{BASE}?limit=2").get_json()["data"]
    assert listed["total"] == 3 and len(listed["tasks"]) == 2
    assert client.get(f"{BASE}?status=completed").get_json()["data"]["total"] == 0
    assert_error(client.get(f"{BASE}?limit=501"), 400, "VALIDATION_ERROR")
    assert_error(client.get(f"{BASE}?status=bogus"), 400, "VALIDATION_ERROR")
    # GET takes the query's filters too (the console's list page polls it with If-None-Match)
    named = client.get(f"{BASE}?task_name=%E4%BB%BB%E5%8A%A1%201")  # 任务 1
    assert [t["task_id"] for t in named.get_json()["data"]["tasks"]] == [ids[1]]
    assert client.get(f"{BASE}?task_name=%25").get_json()["data"]["total"] == 0  # % is literal
    both = client.get(f"{BASE}?db_name=highway_db&status=pending&created_time_start=2000-01-01T00:00:00&limit=2"
                      "&offset=2").get_json()["data"]
    assert both["total"] == 3 and [t["task_id"] for t in both["tasks"]] == [ids[0]]  # newest first
    assert client.get(f"{BASE}?created_time_start=2099-01-01T00:00:00").get_json()["data"]["total"] == 0
    assert client.get(f"{BASE}?db_name=other_db").get_json()["data"]["total"] == 0
    unfiltered_etag = client.get(f"{BASE}?limit=2").headers["ETag"]
    assert client.get(f"{BASE}?limit=2&db_name=highway_db").headers["ETag"] != unfiltered_etag
    assert_error(client.get(f"{BASE}?created_time_start=yesterday"), 400, "VALIDATION_ERROR")

    q = client.post(f"{BASE}/query", json={"task_name": "任务 1", "page": 1, "page_size": 10}).get_json()["data"]
    assert [t["task_id"] for t in q["tasks"]] == [ids[1]]
    q = client.post(f"{BASE}/query", json={"page_size": 2, "sort_by": "created_at", "sort_order": "asc"})
    q = q.get_json()["data"]
    assert q["pagination"] == {"page": 1, "page_size": 2, "total": 3, "total_pages": 2, "has_next": True,
                               "has_prev": False}
    assert [t["task_id"] for t in q["tasks"]] == ids[:2]
    q = client.post(f"{BASE}/query", json={"task_name": "%"}).get_json()["data"]
    assert q["pagination"]["total"] == 0  # % is literal, not a wildcard
    q = client.post(f"{BASE}/query", json={"db_name": "highway_db", "status": "pending",
                                           "created_time_start": "2000-01-01T00:00:00"}).get_json()["data"]
    assert q["pagination"]["total"] == 3
    assert_error(client.post(f"{BASE}/query", json={"sort_by": "password"}), 400, "VALIDATION_ERROR")

    active = client.get(f"{BASE}/active").get_json()
    assert active["success"] is True

    ex = client.get(f"{BASE}/{ids[0]}/executions").get_json()["data"]
    assert ex == {**ex, "executions": [], "total": 0}

    deleted = client.delete(f"{BASE}/{ids[2]}").get_json()["data"]
    assert deleted["deleted"] is True and not app_ctx.task_dir(ids[2]).exists()
    assert_error(client.get(f"{BASE}/{ids[2]}"), 404, "TASK_NOT_FOUND")


def test_delete_refused_while_running(client, app_ctx):
    task_id = create(client).get_json()["data"]["task_id"]
    app_ctx.db.execute("""INSERT INTO data_pipeline_task_executions (task_id, execution_id, execution_step, status)
                          VALUES (%s, %s, 'ddl_generation', 'running')""", (task_id, task_id + "_x"))
    assert_error(client.delete(f"{BASE}/{task_id}"), 409, "TASK_ALREADY_RUNNING")
    assert app_ctx.task_dir(task_id).is_dir()
    assert client.get(f"{BASE}/{task_id}").status_code == 200


def test_parallel_creates_get_distinct_ids(client, app):
    barrier = threading.Barrier(30)

    def one(_):
        c = app.test_client()
        barrier.wait()
        return c.post(BASE, json={"table_names": ["bss_company"]})

    with ThreadPoolExecutor(30) as pool:
        responses = list(pool.map(one, range(30)))
    assert all(r.status_code == 201 for r in responses)
    ids = {r.get_json()["data"]["task_id"] for r in responses}
    assert len(ids) == 30
    # same-second ids are suffixed, never colliding
    assert all(re.match(r"^task_\d{8}_\d{6}(_\d+)?$", i) for i in ids)


def test_password_never_leaves_the_service(client, app_ctx):
    conn = f"postgresql://highway_reader:{PLANTED}@localhost:5432/highway_db"
    resp = create(client, db_connection=conn, table_names=["bss_company"])
    task_id = resp.get_json()["data"]["task_id"]
    bodies = [resp.get_data(as_text=True),
              client.get(f"{BASE}/{task_id}?include=parameters").get_data(as_text=True),
              client.get(BASE).get_data(as_text=True),
              client.post(f"{BASE}/query", json={}).get_data(as_text=True),
              client.get(f"{BASE}/active").get_data(as_text=True)]
    for body in bodies:
        assert PLANTED not in body
    assert "highway_reader:******@" in bodies[1]
    for root, _dirs, files in os.walk(app_ctx.task_dir(task_id)):
        for name in files:
            assert PLANTED not in open(os.path.join(root, name), encoding="utf-8", errors="replace").read()


def test_directory_failure_means_no_task(client, app_ctx, monkeypatch):
    from data_pipeline import tasks as task_service

    def boom(*_a, **_k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(task_service, "_prepare_directory", boom)
    resp = create(client)
    body = assert_error(resp, 500, "INTERNAL_ERROR")
    assert "Permission denied" in body["error"]["details"]
    assert client.get(BASE).get_json()["data"]["total"] == 0


def test_bearer_token_required_when_configured(settings):
    from citu_app import create_app
    app = create_app(settings=settings.model_copy(update={"api_token": "s3cret-token"}))
    c = app.test_client()
    assert_error(c.get(BASE), 401, "UNAUTHORIZED")
    assert_error(c.get(BASE, headers={"Authorization": "Bearer wrong"}), 401, "UNAUTHORIZED")
    assert c.get(BASE, headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    assert c.get("/health").status_code == 200  # health stays open for probes


def test_health(client):
    data = client.get("/health").get_json()["data"]
    assert data["status"] == "ok" and data["database"] == "reachable" and data["llm"] == "rule_based"
