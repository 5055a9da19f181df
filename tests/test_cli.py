"""`python -m data_pipeline.schema_workflow`: manual runs, tracked like API runs unless --no-db-tracking."""
from __future__ import annotations

import json
import re
import subprocess
import sys

from app_config import PROJECT_ROOT
from data_pipeline.store import executions as execution_store
from data_pipeline.store import tasks as task_store


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "data_pipeline.schema_workflow", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_tracked_manual_run_step_by_step(clean_db, app_ctx):
    run = cli("--table-names", "bss_company,bss_service_area", "--business-context", "高速公路服务区",
              "--execution-mode", "step", "--step", "ddl_generation")
    assert run.returncode == 0, run.stdout + run.stderr
    task_id = re.search(r"task (manual_\d{8}_\d{6}(?:_\d+)?)", run.stdout).group(1)
    # terminal progress: step, percent and table counts
    assert re.search(r"\[ddl_generation\]\s+\d+%.*table \d+/2", run.stdout), run.stdout
    assert "[ddl_generation] completed in" in run.stdout
    task = task_store.get_task(app_ctx.db, task_id)
    assert task["created_by"] == "manual" and task["status"] == "partial_completed" and task["progress"] == 40
    assert task["step_status"]["ddl_generation"] == "completed"
    execution = task_store.list_executions(app_ctx.db, task_id)[0]
    assert execution["status"] == "completed" and execution["pid"] and execution["host"]
    assert (app_ctx.task_dir(task_id) / "bss_company.ddl").is_file()

    # dependencies hold for manual runs too; seed 001's numbered steps and --task-id continue the task
    refused = cli("--task-id", task_id, "--step", "3")
    assert refused.returncode == 1 and "STEP_DEPENDENCY_NOT_MET" in refused.stderr
    run = cli("--task-id", task_id, "--execution-mode", "single", "--single-step", "2")
    assert run.returncode == 0, run.stdout + run.stderr
    task = task_store.get_task(app_ctx.db, task_id)
    assert task["step_status"]["qa_generation"] == "completed"
    assert not execution_store.running_executions(app_ctx.db)


def test_untracked_complete_run_into_an_output_dir(clean_db, app_ctx, tmp_path):
    tables = tmp_path / "tables.txt"
    tables.write_text("# demo\nbss_company\nbss_service_area, bss_section_route\n", encoding="utf-8")
    out = tmp_path / "out"
    run = cli("--table-list", str(tables), "--output-dir", str(out), "--no-db-tracking", "--skip-validation",
              "--disable-training-data-load")
    assert run.returncode == 0, run.stdout + run.stderr
    (task_dir,) = list(out.iterdir())
    assert re.fullmatch(r"manual_\d{8}_\d{6}(_\d+)?", task_dir.name)
    names = {p.name for p in task_dir.iterdir()}
    assert {"bss_company.ddl", "bss_section_route_detail.md", "metadata.txt", "data_pipeline.log",
            "task_result.json"} <= names
    assert any(n.startswith("qs_") and n.endswith("_pair.json") for n in names)
    result = json.loads((task_dir / "task_result.json").read_text(encoding="utf-8"))
    assert result["step_status"]["sql_validation"] == result["step_status"]["training_load"] == "skipped"
    assert result["steps"]["sql_validation"]["skipped_reason"] == "disabled in the task parameters"
    assert not any(n.startswith("sql_validation_") or n.startswith("training_load_") for n in names)
    assert task_store.get_task(app_ctx.db, task_dir.name) is None  # nothing recorded


def test_usage_errors(clean_db):
    assert cli("--execution-mode", "step").returncode == 2
    assert cli("--step", "9").returncode == 2
    missing = cli("--task-id", "manual_20990101_000000", "--step", "1")
    assert missing.returncode == 1 and "TASK_NOT_FOUND" in missing.stderr


def test_ctrl_c_cancels_a_tracked_run(clean_db, app_ctx, openai_stub):
    import os
    import signal
    from tests.executor_support import comments_responder, wait_for
    openai_stub.responder = comments_responder
    openai_stub.hold(after=1)  # table 1 is answered, table 2's call waits at the barrier: the run is mid-step
    env = {**os.environ, "LLM_BASE_URL": openai_stub.base_url, "LLM_MODEL": "stub-model", "LLM_MAX_CONCURRENCY": "1",
           "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "data_pipeline.schema_workflow", "--table-names",
                             "bss_company,bss_service_area,bss_car_day_count,bss_section_route", "--step", "1"],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while not any(re.search(r"\[ddl_generation\]\s+\d+%.*table 1/4", line) for line in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        task_id = re.search(r"task (manual_\S+):", "".join(lines)).group(1)
        openai_stub.wait_held(1)
        proc.send_signal(signal.SIGINT)
        log_file = app_ctx.task_dir(task_id) / "data_pipeline.log"
        wait_for(lambda: "received SIGINT: cancelling" in log_file.read_text(encoding="utf-8"), 60,
                 what="the run to log the Ctrl-C")  # seen while the LLM call is still held
        openai_stub.release()
        rest, _ = proc.communicate(timeout=120)
    finally:
        openai_stub.release()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, "".join(lines) + rest
    task = wait_for(lambda: (t := task_store.get_task(app_ctx.db, task_id))["status"] == "cancelled" and t, 30)
    assert task["step_status"]["ddl_generation"] == "cancelled"
    assert not list(app_ctx.task_dir(task_id).glob("*.ddl"))
