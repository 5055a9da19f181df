"""The executor through the API (Flask test client in this process, real executor subprocesses, real PostgreSQL,
demo database, rule-based generator unless a test points the LLM at the local stub)."""
from __future__ import annotations

import json
import os
import re
import signal
import time

import pytest

from core.task_logging import parse_line
from data_pipeline.executor.process import pid_alive
from data_pipeline.store import executions as execution_store
from data_pipeline.store import logs as log_store
from data_pipeline.store import outputs as output_store
from tests.executor_support import (BASE, slow_client, stop_executors, task_status, wait_executor_exit,  # noqa: F401
                                    wait_final, wait_for, wait_step_running)

TABLES = ["bss_company", "bss_service_area"]


@pytest.fixture()
def run_client(client, app_ctx):
    yield client
    stop_executors(app_ctx.db)


def create(client, **body) -> str:
    resp = client.post(BASE, json={"table_names": TABLES, **body})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["task_id"]


def execute(client, task_id, **body):
    return client.post(f"{BASE}/{task_id}/execute", json=body)


def error_code(resp, status):
    body = resp.get_json()
    assert resp.status_code == status, body
    assert "Traceback" not in json.dumps(body)
    return body["error"]["code"]


def test_execute_rejects_bad_requests(run_client):
    task_id = create(run_client)
    assert error_code(execute(run_client, task_id, execution_mode="fast"), 400) == "INVALID_EXECUTION_MODE"
    assert error_code(execute(run_client, task_id, execution_mode="step"), 400) == "MISSING_STEP_NAME"
    bad_step = execute(run_client, task_id, execution_mode="step", step_name="ddl")
    assert error_code(bad_step, 400) == "INVALID_STEP_NAME"
    assert error_code(execute(run_client, task_id, step="nope"), 400) == "INVALID_STEP_NAME"
    assert error_code(execute(run_client, task_id, force_execute="yes"), 400) == "VALIDATION_ERROR"
    assert error_code(execute(run_client, task_id, unknown=1), 400) == "VALIDATION_ERROR"
    for bad_delay in (-1, 121, "5", True):
        assert error_code(execute(run_client, task_id, demo_delay_s=bad_delay), 400) == "VALIDATION_ERROR"
    assert error_code(execute(run_client, "task_20990101_000000"), 404) == "TASK_NOT_FOUND"
    assert error_code(execute(run_client, "../etc"), 404) in ("NOT_FOUND", "VALIDATION_ERROR")
    assert error_code(execute(run_client, "task_bad"), 400) == "VALIDATION_ERROR"
    assert error_code(run_client.post(f"{BASE}/{task_id}/cancel"), 409) == "TASK_NOT_CANCELLABLE"
    upload_mode = run_client.post(BASE, json={"task_name": "no list"}).get_json()["data"]["task_id"]
    assert error_code(execute(run_client, upload_mode), 400) == "TABLE_LIST_MISSING"
    # nothing was claimed by any of these
    assert task_status(run_client, task_id)["status"] == "pending"


def test_step_by_step_with_dependencies_outputs_logs_and_rerun(run_client, app_ctx):
    task_id = create(run_client)
    assert error_code(execute(run_client, task_id, execution_mode="step", step_name="qa_generation"),
                      409) == "STEP_DEPENDENCY_NOT_MET"

    resp = execute(run_client, task_id, execution_mode="step", step_name="ddl_generation")
    body = resp.get_json()
    assert resp.status_code == 202 and body["success"] is True and body["code"] == 202, body
    data = body["data"]
    assert data["task_id"] == task_id and data["execution_mode"] == "step" and data["step_name"] == "ddl_generation"
    assert data["status"] == "running" and data["started_at"]
    assert data["message"] == "任务正在后台执行，请通过状态接口查询进度" and data["response"] == "任务执行已启动"
    assert re.fullmatch(rf"{task_id}_step_ddl_generation_exec_\d{{8}}_\d{{6}}(_\d+)?", data["execution_id"])
    # the API never runs a step: the execution has a separate process
    execution = execution_store.get_execution(app_ctx.db, data["execution_id"])
    assert execution["pid"] and execution["pid"] != os.getpid()

    status = wait_final(run_client, task_id)
    wait_executor_exit(app_ctx.db, data["execution_id"])  # its last DB log batch is written on the way out
    assert status["step_status"] == {"ddl_generation": "completed", "qa_generation": "pending",
                                     "sql_validation": "pending", "training_load": "pending"}, status
    assert status["status"] == "partial_completed" and status["progress"] == 40
    ddl = status["steps"][0]
    assert ddl["started_at"] and ddl["completed_at"] and ddl["duration"] > 0 and ddl["error_message"] is None
    assert status["result"]["steps"]["ddl_generation"]

    task_dir = app_ctx.task_dir(task_id)
    for name in ("bss_company.ddl", "bss_company_detail.md", "bss_service_area.ddl", "metadata.txt",
                 "task_result.json"):
        assert (task_dir / name).is_file(), name
    result_file = json.loads((task_dir / "task_result.json").read_text())
    assert result_file["step_status"]["ddl_generation"] == "completed"
    rows = {r["file_name"]: r for r in output_store.list_outputs(app_ctx.db, task_id)}
    assert {"bss_company.ddl", "bss_service_area_detail.md", "metadata.txt"} <= set(rows)
    import hashlib
    ddl_row = rows["bss_company.ddl"]
    assert ddl_row["step_name"] == "ddl_generation" and ddl_row["file_type"] == "ddl"
    assert ddl_row["content_hash"] == hashlib.sha256((task_dir / "bss_company.ddl").read_bytes()).hexdigest()
    assert ddl_row["file_size"] == (task_dir / "bss_company.ddl").stat().st_size
    assert ddl_row["execution_id"] == data["execution_id"]

    # every line of the task log carries its step; step start/finish with duration are there
    lines = (task_dir / "data_pipeline.log").read_text(encoding="utf-8").splitlines()
    parsed = [parse_line(line) for line in lines]
    entries = [p for p in parsed if p]
    assert entries and all(p["step"] for p in entries)
    assert any(p["step"] == "ddl_generation" and re.search(r"completed in [\d.]+ s", p["message"]) for p in entries)
    # key events are in the DB log, batched
    db_logs = log_store.list_logs(app_ctx.db, task_id)
    assert any(r["step_name"] == "ddl_generation" and "completed" in r["message"] for r in db_logs), db_logs

    # qa may now run; afterwards re-running ddl resets the later steps
    assert execute(run_client, task_id, execution_mode="step", step_name="qa_generation").status_code == 202
    status = wait_final(run_client, task_id)
    assert status["step_status"]["qa_generation"] == "completed", status["error_message"]
    assert list(task_dir.glob("qs_*_pair.json"))
    old_ddl_mtime = (task_dir / "bss_company.ddl").stat().st_mtime
    (task_dir / "stale_table.ddl").write_text("-- left over from an earlier run\n")

    resp = execute(run_client, task_id, step="ddl_generation")  # seed 000's form: {"step": ...}
    assert resp.status_code == 202 and resp.get_json()["data"]["execution_mode"] == "step"
    status = wait_final(run_client, task_id)
    assert status["step_status"]["ddl_generation"] == "completed"
    assert status["step_status"]["qa_generation"] == "pending"
    assert "qa_generation" not in status["result"]["steps"]
    assert not (task_dir / "stale_table.ddl").exists()  # clean_previous removed the step's earlier outputs
    assert (task_dir / "bss_company.ddl").stat().st_mtime >= old_ddl_mtime
    executions = run_client.get(f"{BASE}/{task_id}/executions").get_json()["data"]["executions"]
    assert [e["status"] for e in executions] == ["completed"] * 3
    assert executions[0]["files_cleaned"] is True


def test_complete_mode_skips_disabled_steps(run_client, app_ctx):
    task_id = create(run_client, enable_sql_validation=False, enable_training_data_load=False)
    assert execute(run_client, task_id).status_code == 202  # empty body -> complete mode
    status = wait_final(run_client, task_id)
    assert status["step_status"] == {"ddl_generation": "completed", "qa_generation": "completed",
                                     "sql_validation": "skipped", "training_load": "skipped"}, status
    assert status["status"] == "completed" and status["progress"] == 100
    assert status["completed_at"] and status["duration"] > 0


def test_demo_delay_holds_the_step_running_until_cancelled(run_client, app_ctx):
    """The README's cancel example: `demo_delay_s` keeps the first step running (and cancellable) on the demo DB."""
    task_id = create(run_client)
    resp = execute(run_client, task_id, demo_delay_s=60)
    assert resp.status_code == 202 and resp.get_json()["data"]["options"]["demo_delay_s"] == 60
    data = wait_step_running(run_client, task_id, "ddl_generation")
    assert data["status"] == "in_progress"
    body = run_client.post(f"{BASE}/{task_id}/cancel").get_json()
    assert body["success"] and body["data"]["status"] == "cancelled", body
    status = wait_final(run_client, task_id)
    assert status["status"] == "cancelled" and status["step_status"]["ddl_generation"] == "cancelled"
    assert not list(app_ctx.task_dir(task_id).glob("*.ddl"))  # the delay came before any work


def test_force_execute_skips_the_dependency_check(run_client):
    task_id = create(run_client)
    resp = execute(run_client, task_id, execution_mode="step", step_name="qa_generation", force_execute=True)
    assert resp.status_code == 202
    status = wait_final(run_client, task_id)
    # forced without DDL outputs: the step itself reports what is missing, in words, not a traceback
    assert status["step_status"]["qa_generation"] == "failed"
    assert status["status"] == "failed" and status["error_message"]
    assert "Traceback" not in status["error_message"]


def test_cancel_mid_step_is_cooperative(client, slow_client, openai_stub, app_ctx, settings):
    """Cancel while the executor is blocked in an LLM call (the stub's barrier): SIGTERM, the executor logs it,
    the call returns, the step stops and records `cancelled` itself (not forced), partial outputs are removed.
    Order and outcome only; the "within 2 s" figure is measured in bench/bench_cancel.py."""
    import threading
    from citu_app import create_app
    from tests.executor_support import llm_overrides
    # a grace long enough that only a broken executor would be forced, however loaded the machine
    patient = create_app(settings=settings.model_copy(update=llm_overrides(openai_stub, cancel_grace_s=120)))
    task_id = create(client, table_names=TABLES + ["bss_car_day_count", "bss_section_route", "bss_business_day_data"])
    resp = execute(slow_client, task_id, execution_mode="step", step_name="ddl_generation")
    assert resp.status_code == 202
    execution_id = resp.get_json()["data"]["execution_id"]
    openai_stub.wait_held(1)  # table 1 done, table 2's call is waiting at the barrier
    # (not min_progress: progress writes are throttled, the last one before a long call can wait for the next)
    wait_step_running(client, task_id, "ddl_generation")
    execution = execution_store.get_execution(app_ctx.db, execution_id)
    pid = execution["pid"]
    assert pid_alive(pid) and execution["host"]
    # the heartbeat goes on while the step waits (a newer one arrives: order, not a bound on its age)
    assert execution["heartbeat_at"]
    first_beat = execution["heartbeat_at"]
    wait_for(lambda: execution_store.get_execution(app_ctx.db, execution_id)["heartbeat_at"] > first_beat, 60, 0.1,
             "a newer heartbeat while the step waits")

    answer: dict = {}
    canceller = threading.Thread(target=lambda: answer.update(resp=patient.test_client().post(
        f"{BASE}/{task_id}/cancel")))
    canceller.start()
    log_file = app_ctx.task_dir(task_id) / "data_pipeline.log"
    wait_for(lambda: "received SIGTERM: cancelling" in log_file.read_text(encoding="utf-8"), 60, 0.05,
             "the executor to log the SIGTERM")
    assert canceller.is_alive()  # the API waits for the executor's own verdict
    openai_stub.release()
    canceller.join(150)
    assert not canceller.is_alive()
    body = answer["resp"].get_json()
    assert answer["resp"].status_code == 200 and body["data"]["status"] == "cancelled", body
    assert body["data"]["forced"] is False  # the executor stopped itself
    status = task_status(client, task_id)
    assert status["status"] == "cancelled" and status["step_status"]["ddl_generation"] == "cancelled"
    assert status["current_step"] is None
    execution = execution_store.get_execution(app_ctx.db, execution_id)
    assert execution["status"] == "cancelled" and execution["completed_at"]
    # the executor is gone soon after (its exit may wait for pgserver's machine-wide lock to detach)
    wait_for(lambda: not pid_alive(pid), 60, 0.1, "the executor to exit")
    # partial outputs of the cancelled step are removed and none is registered
    task_dir = app_ctx.task_dir(task_id)
    assert not list(task_dir.glob("*.ddl")) and not list(task_dir.glob("*_detail.md"))
    assert not [r for r in output_store.list_outputs(app_ctx.db, task_id) if r["step_name"] == "ddl_generation"]
    assert error_code(client.post(f"{BASE}/{task_id}/cancel"), 409) == "TASK_NOT_CANCELLABLE"
    # the step can run again afterwards (rule-based, fast)
    assert execute(client, task_id, execution_mode="step", step_name="ddl_generation").status_code == 202
    assert wait_final(client, task_id)["step_status"]["ddl_generation"] == "completed"


def test_cancel_of_an_unresponsive_executor_is_forced(client, slow_client, openai_stub, app_ctx):
    """An executor that cannot handle SIGTERM (here: stopped with SIGSTOP while blocked in an LLM call) is
    killed once CANCEL_GRACE_S has passed and the API records the cancellation itself."""
    task_id = create(client, table_names=TABLES + ["bss_car_day_count"])
    execution_id = execute(slow_client, task_id, step="ddl_generation").get_json()["data"]["execution_id"]
    openai_stub.wait_held(1)
    wait_step_running(client, task_id, "ddl_generation")
    pid = execution_store.get_execution(app_ctx.db, execution_id)["pid"]
    os.kill(pid, signal.SIGSTOP)
    t0 = time.monotonic()
    body = slow_client.post(f"{BASE}/{task_id}/cancel").get_json()
    elapsed = time.monotonic() - t0
    assert body["data"]["status"] == "cancelled" and body["data"]["forced"] is True, body
    # a lower bound only (load can make it longer, never shorter): the grace period was granted first
    assert elapsed >= 1.0, elapsed
    status = task_status(client, task_id)
    assert status["status"] == "cancelled" and status["step_status"]["ddl_generation"] == "cancelled"
    assert "stopped forcibly" in status["steps"][0]["error_message"]
    wait_for(lambda: not pid_alive(pid), 30, 0.1, "the killed executor to be reaped")


def test_spawn_failure_marks_the_execution_failed(run_client, app_ctx, monkeypatch):
    from data_pipeline.executor import launcher
    task_id = create(run_client)
    # fault injection at the process boundary: the interpreter to start does not exist
    monkeypatch.setattr(launcher, "executor_command", lambda **kw: ["/nonexistent/python3", "x.py"])
    resp = execute(run_client, task_id, step="ddl_generation")
    body = resp.get_json()
    assert resp.status_code == 500 and "could not be started" in body["error"]["details"]
    (execution,) = run_client.get(f"{BASE}/{task_id}/executions").get_json()["data"]["executions"]
    assert execution["status"] == "failed" and "could not be started" in execution["error_message"]
    assert task_status(run_client, task_id)["status"] == "failed"


def test_execute_complete_that_cannot_start_leaves_no_task(run_client):
    resp = run_client.post(f"{BASE}/execute-complete", json={"task_name": "no tables"})
    assert error_code(resp, 400) == "TABLE_LIST_MISSING"
    assert run_client.get(BASE).get_json()["data"]["total"] == 0
