"""Crash recovery and retention: kill -9 of an executor, stale heartbeats, API restart mid-step, cleanup."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

from app_config import PROJECT_ROOT
from data_pipeline import ids, monitor
from data_pipeline.cleanup import cleanup_expired
from data_pipeline.executor import recovery
from data_pipeline.executor.process import pid_alive
from data_pipeline.store import executions as execution_store
from data_pipeline.store import logs as log_store
from tests.executor_support import (BASE, HttpClient, comments_responder, llm_overrides,  # noqa: F401
                                    slow_client, stop_executors, task_status, wait_final, wait_for,
                                    wait_step_running)
from tests.server_process import ServerProcess

FIVE_TABLES = ["bss_company", "bss_service_area", "bss_car_day_count", "bss_section_route", "bss_business_day_data"]


def create(client, tables=FIVE_TABLES) -> str:
    resp = client.post(BASE, json={"table_names": tables})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["task_id"]


def test_kill_9_mid_step_is_failed_with_a_reason_then_the_step_reruns(client, slow_client, openai_stub, app_ctx,
                                                                     settings):
    task_id = create(client)
    resp = slow_client.post(f"{BASE}/{task_id}/execute", json={"execution_mode": "step", "step_name": "ddl_generation"})
    execution_id = resp.get_json()["data"]["execution_id"]
    openai_stub.wait_held(1)  # mid-step: blocked in an LLM call at the stub's barrier
    wait_step_running(client, task_id, "ddl_generation")
    pid = execution_store.get_execution(app_ctx.db, execution_id)["pid"]
    # a live executor is never touched by the check
    assert recovery.fail_dead_executions(app_ctx.db, settings) == []

    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), 30, what="the killed executor to be reaped")
    report = monitor.run_once(app_ctx)  # what the API's monitor thread does every MONITOR_INTERVAL_S
    assert [f["execution_id"] for f in report["failed"]] == [execution_id]
    status = task_status(client, task_id)
    assert status["status"] == "failed" and status["current_step"] is None
    assert status["step_status"]["ddl_generation"] == "failed"
    assert "executor exited unexpectedly" in status["steps"][0]["error_message"]
    assert "executor exited unexpectedly" in status["error_message"]
    execution = execution_store.get_execution(app_ctx.db, execution_id)
    assert execution["status"] == "failed" and "exited unexpectedly" in execution["error_message"]
    log_text = (app_ctx.task_dir(task_id) / "data_pipeline.log").read_text(encoding="utf-8")
    assert f"execution {execution_id} marked failed: executor exited unexpectedly" in log_text
    assert any("marked failed" in r["message"] for r in log_store.list_logs(app_ctx.db, task_id))
    assert monitor.run_once(app_ctx)["failed"] == []  # idempotent

    # the step can be re-run (rule-based generator: fast)
    assert client.post(f"{BASE}/{task_id}/execute", json={"step": "ddl_generation"}).status_code == 202
    status = wait_final(client, task_id)
    assert status["step_status"]["ddl_generation"] == "completed" and status["status"] == "partial_completed"


def test_stale_heartbeat_fails_an_execution_on_another_host(client, app_ctx, settings):
    task_id = create(client, ["bss_company"])
    claimed = execution_store.claim_execution(
        app_ctx.db, task_id=task_id, execution_id=ids.new_execution_id(task_id, "ddl_generation"),
        execution_step="ddl_generation", execution_mode="step", options={}, force=False, max_running=5)
    # an executor elsewhere: its pid cannot be checked from here, only its heartbeat
    execution_store.record_process(app_ctx.db, claimed["execution_id"], pid=4_000_000, host="other-host.example")
    stale_after = settings.model_copy(update={"heartbeat_stale_s": 60.0})
    assert recovery.fail_dead_executions(app_ctx.db, stale_after) == []  # a fresh beat: alive
    # its last beat, as a silent host leaves it: 90 s ago (the state itself, not a sleep past a threshold)
    app_ctx.db.execute("UPDATE data_pipeline_task_executions SET heartbeat_at = now() - interval '90 seconds' "
                       "WHERE execution_id = %s", (claimed["execution_id"],))
    failed = recovery.fail_dead_executions(app_ctx.db, stale_after, app_ctx.tasks_root)
    assert len(failed) == 1 and re.match(r"no heartbeat for 9\d s", failed[0]["reason"]), failed
    execution = execution_store.get_execution(app_ctx.db, claimed["execution_id"])
    assert execution["status"] == "failed" and execution["error_message"].startswith("no heartbeat for")
    assert task_status(client, task_id)["status"] == "failed"


def test_api_restart_mid_step_leaves_the_executor_running(client, app_ctx, settings, openai_stub):
    openai_stub.responder = comments_responder
    openai_stub.hold(after=1)  # the executor stays mid-step, blocked in its 2nd LLM call, until released below
    overrides = llm_overrides(openai_stub)
    server = ServerProcess(settings.data_home, "restart_before", **overrides).start()
    try:
        http = HttpClient(server.base_url)
        task_id = create(http)
        resp = http.post(f"{BASE}/{task_id}/execute", json={"execution_mode": "step", "step_name": "ddl_generation"})
        assert resp.status_code == 202, resp.get_json()
        execution_id = resp.get_json()["data"]["execution_id"]
        openai_stub.wait_held(1)
        wait_step_running(http, task_id, "ddl_generation")
        pid = execution_store.get_execution(app_ctx.db, execution_id)["pid"]
    finally:
        server.stop(signal.SIGTERM)
    assert pid_alive(pid), "stopping the API must not stop a running executor"
    server = ServerProcess(settings.data_home, "restart_after", **overrides).start()
    try:
        http = HttpClient(server.base_url)
        during = task_status(http, task_id)  # still running: it cannot pass the barrier yet
        assert during["current_step"] is not None and openai_stub.held == 1, during
        assert during["current_step"]["execution_id"] == execution_id and during["status"] == "in_progress"
        openai_stub.release()
        status = wait_final(http, task_id, timeout=120)
        assert status["step_status"]["ddl_generation"] == "completed", status
        assert status["status"] == "partial_completed" and status["progress"] == 40
        files = list(app_ctx.task_dir(task_id).glob("*.ddl"))
        assert len(files) == len(FIVE_TABLES)
    finally:
        server.stop()
        stop_executors(app_ctx.db)


def test_retention_cleanup_removes_only_old_finished_tasks(client, app_ctx):
    old_done, old_failed, recent, old_pending, old_partial, recent_partial, old_cancelled = (
        create(client, ["bss_company"]) for _ in range(7))
    db = app_ctx.db
    for task_id, status, age in ((old_done, "completed", 40), (old_failed, "failed", 31), (recent, "completed", 1),
                                 (old_pending, "pending", 90), (old_partial, "partial_completed", 35),
                                 (recent_partial, "partial_completed", 2), (old_cancelled, "cancelled", 60)):
        db.execute("UPDATE data_pipeline_tasks SET status = %s, created_at = now() - make_interval(days => %s), "
                   "completed_at = CASE WHEN %s <> 'pending' THEN now() - make_interval(days => %s) END "
                   "WHERE id = %s", (status, age, status, age, task_id))
    dry = subprocess.run([sys.executable, "-m", "data_pipeline.cleanup", "--days", "30", "--dry-run"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    dry_report = json.loads(dry.stdout)
    # partial_completed is finished too (issue 25): removed after RETENTION_DAYS like completed and failed
    assert sorted(dry_report["removed"]) == sorted([old_done, old_failed, old_partial])
    assert dry_report["retention_days"] == 30 and isinstance(dry_report["retention_days"], int)  # not 30.0
    assert " [INFO] " not in dry.stderr, dry.stderr   # the embedded PostgreSQL's start-up lines: --verbose only
    assert app_ctx.task_dir(old_done).is_dir()

    report = cleanup_expired(app_ctx, 30)
    assert sorted(report["removed"]) == sorted([old_done, old_failed, old_partial])
    for task_id in (old_done, old_failed, old_partial):
        assert client.get(f"{BASE}/{task_id}").status_code == 404
        assert not app_ctx.task_dir(task_id).exists()
    for task_id in (recent, old_pending, recent_partial, old_cancelled):
        assert client.get(f"{BASE}/{task_id}").status_code == 200 and app_ctx.task_dir(task_id).is_dir()
    assert cleanup_expired(app_ctx, 0)["removed"] == []  # 0 disables retention


def test_an_executor_declared_dead_stops_without_overwriting_the_verdict(client, slow_client, openai_stub, app_ctx,
                                                                         settings):
    task_id = create(client, ["bss_company", "bss_service_area", "bss_car_day_count"])
    execution_id = slow_client.post(f"{BASE}/{task_id}/execute", json={"step": "ddl_generation"}).get_json()[
        "data"]["execution_id"]
    openai_stub.wait_held(1)  # mid-step: blocked in an LLM call at the stub's barrier
    wait_step_running(client, task_id, "ddl_generation")
    pid = execution_store.get_execution(app_ctx.db, execution_id)["pid"]
    os.kill(pid, signal.SIGSTOP)  # frozen: no heartbeat any more
    # seen as running on another host, so the monitor cannot kill it: it must stop by itself when it wakes
    app_ctx.db.execute("UPDATE data_pipeline_task_executions SET host = 'other-host.example' "
                       "WHERE execution_id = %s", (execution_id,))
    try:
        short = settings.model_copy(update={"heartbeat_stale_s": 1.0})
        wait_for(lambda: recovery.fail_dead_executions(app_ctx.db, short), 60, 0.2, "the stale heartbeat verdict")
    finally:
        os.kill(pid, signal.SIGCONT)
    # the executor wakes up, finds its execution no longer running at the next heartbeat, and leaves
    wait_for(lambda: not pid_alive(pid), 60, 0.1, "the executor to stop")
    status = task_status(client, task_id)
    assert status["status"] == "failed" and status["step_status"]["ddl_generation"] == "failed"
    assert status["error_message"].startswith("no heartbeat for")
    assert execution_store.get_execution(app_ctx.db, execution_id)["status"] == "failed"


def test_api_start_fails_executions_whose_executor_is_gone(client, app_ctx, settings):
    """The monitor thread of a starting API instance checks running executions at once."""
    task_id = create(client, ["bss_company"])
    claimed = execution_store.claim_execution(
        app_ctx.db, task_id=task_id, execution_id=ids.new_execution_id(task_id, "complete"),
        execution_step="complete", execution_mode="complete", options={}, force=False, max_running=5)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a real pid of this host that no longer exists
    from data_pipeline.executor.process import this_host
    execution_store.record_process(app_ctx.db, claimed["execution_id"], pid=gone.pid, host=this_host())
    server = ServerProcess(settings.data_home, "monitor_at_start").start()
    try:
        execution = wait_for(lambda: (e := execution_store.get_execution(app_ctx.db, claimed["execution_id"]))
                             ["status"] != "running" and e, 20, 0.1, "the monitor's verdict")
    finally:
        server.stop()
    assert execution["status"] == "failed" and "executor exited unexpectedly" in execution["error_message"]
    assert task_status(client, task_id)["status"] == "failed"


def test_a_hung_local_executor_is_killed_with_the_verdict(client, slow_client, openai_stub, app_ctx, settings):
    task_id = create(client, ["bss_company", "bss_service_area", "bss_car_day_count"])
    execution_id = slow_client.post(f"{BASE}/{task_id}/execute", json={"step": "ddl_generation"}).get_json()[
        "data"]["execution_id"]
    openai_stub.wait_held(1)  # mid-step: blocked in an LLM call at the stub's barrier
    wait_step_running(client, task_id, "ddl_generation")
    pid = execution_store.get_execution(app_ctx.db, execution_id)["pid"]
    os.kill(pid, signal.SIGSTOP)  # hung: alive, silent
    short = settings.model_copy(update={"heartbeat_stale_s": 1.0})
    (failed,) = wait_for(lambda: recovery.fail_dead_executions(app_ctx.db, short), 60, 0.2, "the verdict")
    assert failed["execution_id"] == execution_id and failed["reason"].startswith("no heartbeat for")
    wait_for(lambda: not pid_alive(pid), 30, 0.1, "the hung executor to be killed")
    assert task_status(client, task_id)["step_status"]["ddl_generation"] == "failed"
