"""Execution over real HTTP against real API server processes (gunicorn, `python citu_app.py`): atomic claiming
under 100 concurrent requests spread over two API instances, the global cap, and a complete run."""
from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from data_pipeline.store import executions as execution_store
from data_pipeline.store import outputs as output_store
from tests.executor_support import BASE, HttpClient, comments_responder, llm_overrides, stop_executors, wait_final
from tests.openai_stub import OpenAIStub
from tests.server_process import ServerProcess

STEP_BODY = {"execution_mode": "step", "step_name": "ddl_generation"}


@pytest.fixture(scope="module")
def slow_servers(settings, app_ctx):
    """Two API instances on one database, MAX_CONCURRENT_TASKS=2, executors whose every LLM call waits at the
    stub's barrier (so every accepted run is still running while the burst arrives and while the test looks,
    however slow the machine; the barrier opens when the module ends)."""
    stub = OpenAIStub().start()
    stub.responder = comments_responder
    stub.hold()
    overrides = llm_overrides(stub, max_concurrent_tasks=2, cancel_grace_s=0.5)
    servers = [ServerProcess(settings.data_home, f"api{i}", **overrides) for i in (1, 2)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()
        stub.release()
        stub.stop()


def burst(servers, requests_by_task: list[str], body: dict) -> list[tuple[str, int, str]]:
    """Fire all requests at once (a barrier releases 100 threads together), alternating API instances."""
    barrier = threading.Barrier(len(requests_by_task))

    def one(i: int):
        task_id = requests_by_task[i]
        url = f"{servers[i % len(servers)].base_url}{BASE}/{task_id}/execute"
        barrier.wait()
        resp = requests.post(url, json=body, timeout=60)
        payload = resp.json()
        code = payload["error"]["code"] if not payload["success"] else "ACCEPTED"
        return task_id, resp.status_code, code

    with ThreadPoolExecutor(max_workers=len(requests_by_task)) as pool:
        return list(pool.map(one, range(len(requests_by_task))))


def create(http, tables=("bss_company", "bss_service_area")) -> str:
    resp = http.post(BASE, json={"table_names": list(tables)})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["task_id"]


def cancel_all(http, task_ids) -> None:
    for task_id in task_ids:
        http.post(f"{BASE}/{task_id}/cancel")


def test_100_parallel_executes_of_one_task_start_exactly_one_run(slow_servers, clean_db, app_ctx):
    http = HttpClient(slow_servers[0].base_url)
    task_id = create(http)
    try:
        results = burst(slow_servers, [task_id] * 100, STEP_BODY)
        counts = Counter((status, code) for _, status, code in results)
        assert counts == {(202, "ACCEPTED"): 1, (409, "TASK_ALREADY_RUNNING"): 99}, counts
        executions = http.get(f"{BASE}/{task_id}/executions").get_json()["data"]["executions"]
        assert len(executions) == 1 and executions[0]["status"] == "running"
    finally:
        cancel_all(http, [task_id])
        stop_executors(app_ctx.db)


def test_global_cap_across_tasks_and_instances(slow_servers, clean_db, app_ctx):
    http = HttpClient(slow_servers[1].base_url)
    task_ids = [create(http) for _ in range(5)]
    try:
        results = burst(slow_servers, [task_ids[i % 5] for i in range(100)], STEP_BODY)
        accepted = [task_id for task_id, status, _ in results if status == 202]
        assert len(accepted) == 2 and len(set(accepted)) == 2, Counter(r[1:] for r in results)
        refused = Counter(code for _, status, code in results if status != 202)
        assert set(refused) <= {"TASK_ALREADY_RUNNING", "CONCURRENCY_LIMIT_REACHED"} and sum(refused.values()) == 98
        assert refused["CONCURRENCY_LIMIT_REACHED"] > 0
        running = execution_store.running_executions(app_ctx.db)
        assert sorted(e["task_id"] for e in running) == sorted(accepted)
    finally:
        cancel_all(http, task_ids)
        stop_executors(app_ctx.db)
    # once they are cancelled, another task may start
    resp = http.post(f"{BASE}/{task_ids[0]}/cancel")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "TASK_NOT_CANCELLABLE"


def test_complete_run_over_http_produces_every_file(settings, clean_db, app_ctx):
    """execute-complete on the gunicorn-served app (rule-based generator) -> completed, all files present."""
    server = ServerProcess(settings.data_home, "complete_run").start()
    try:
        http = HttpClient(server.base_url)
        resp = http.post(f"{BASE}/execute-complete",
                         json={"task_type": "complete_workflow",
                               "parameters": {"table_names": ["bss_company", "bss_service_area", "bss_car_day_count"],
                                              "business_context": "高速公路服务区管理系统"}})
        body = resp.get_json()
        assert resp.status_code == 202, body
        data = body["data"]
        assert data["execution_mode"] == "complete" and data["status"] == "running"
        assert data["execution_id"].startswith(f"{data['task_id']}_step_complete_exec_")
        status = wait_final(http, data["task_id"], timeout=120)
    finally:
        server.stop()
    assert status["status"] == "completed", (status["error_message"], status["step_status"])
    assert status["step_status"] == dict.fromkeys(status["step_status"], "completed")
    assert status["progress"] == 100 and status["completed_at"]
    task_dir = app_ctx.task_dir(data["task_id"])
    names = {p.name for p in task_dir.iterdir()}
    for table in ("bss_company", "bss_service_area", "bss_car_day_count"):
        assert {f"{table}.ddl", f"{table}_detail.md"} <= names
    assert {"metadata.txt", "metadata_detail.md", "task_result.json", "data_pipeline.log"} <= names
    assert any(n.startswith("qs_") and n.endswith("_pair.json") for n in names)
    assert any(n.startswith("sql_validation_") for n in names)
    result = json.loads((task_dir / "task_result.json").read_text(encoding="utf-8"))
    assert result["status"] == "completed" and set(result["result"]["steps"]) == set(status["step_status"])
    assert "quality" in status["result"] and "quality" in result["result"]
    steps_with_outputs = {r["step_name"] for r in output_store.list_outputs(app_ctx.db, data["task_id"])}
    assert {"ddl_generation", "qa_generation", "sql_validation"} <= steps_with_outputs
