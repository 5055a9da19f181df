"""API side of execution: validate, claim in PostgreSQL, spawn `task_executor.py`, cancel. Never runs a step.

The executor is started with `subprocess.Popen` in a new session (so an API restart or a Ctrl-C in the API's
terminal never reaches it), stdin from /dev/null and stdout+stderr appended to the task's data_pipeline.log
(never a pipe nobody reads: the seed system hung exactly there). A daemon thread reaps it when it exits, so a
finished executor never lingers as a zombie that would look alive to the dead-executor check.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

from app_config import PROJECT_ROOT, Settings, settings_env
from core.errors import AppError, TableListMissing, TaskNotCancellable
from core.task_logging import LOG_FILE_NAME
from data_pipeline import ids
from data_pipeline.taskfiles import table_list
from data_pipeline import tasks as task_service
from data_pipeline.context import AppContext
from data_pipeline.executor import bytecode, plan, standby, tracking
from data_pipeline.executor.process import signal_executor, this_host
from data_pipeline.store import executions as execution_store
from data_pipeline.store import tasks as task_store

log = logging.getLogger("data_pipeline.executor.launcher")
EXECUTOR_SCRIPT = Path(__file__).resolve().parent.parent / "task_executor.py"
STARTED_MESSAGE = "任务正在后台执行，请通过状态接口查询进度"


def start_execution(ctx: AppContext, task_id: str, *, execution_mode: Optional[str] = "complete",
                    step_name: Optional[str] = None, force_execute: bool = False, clean_previous: bool = True,
                    backup_vector_tables: Optional[bool] = None,
                    truncate_vector_tables: Optional[bool] = None,
                    allow_unreadable_tables: Optional[bool] = None, demo_delay_s: float = 0) -> dict:
    """Validate, claim and spawn; returns the 202 data of the contract. Raises the contract's errors."""
    row = task_service.get_task_or_404(ctx, task_id)
    mode, step = plan.resolve(execution_mode, step_name)
    params = row["parameters"] or {}
    task_dir = ctx.task_dir(task_id)
    if params.get("file_upload_mode") or not (task_dir / table_list.TABLE_LIST_FILE).is_file():
        raise TableListMissing("the task has no table list yet: upload one (upload-table-list or table-list) "
                               "before executing")
    table_check = None
    if mode == "complete" or step == "ddl_generation":   # the runs that read the listed tables
        allow = bool(force_execute or (params.get("allow_unreadable_tables", False)
                                       if allow_unreadable_tables is None else allow_unreadable_tables))
        table_check = task_service.check_tables_before_run(ctx, params, _listed_tables(ctx, task_dir),
                                                           allow_unreadable=allow)
    if step == "evaluation":   # nothing loaded or too few held-out pairs: a clear 400 now, not a failed run
        from data_pipeline.evaluation.holdout import precheck
        precheck(task_dir, row)
    truncate = params.get("truncate_vector_tables", False) if truncate_vector_tables is None else truncate_vector_tables
    backup = params.get("backup_vector_tables", False) if backup_vector_tables is None else backup_vector_tables
    options = {"clean_previous": bool(clean_previous), "force_execute": bool(force_execute),
               "backup_vector_tables": bool(backup or truncate), "truncate_vector_tables": bool(truncate)}
    if demo_delay_s:
        options["demo_delay_s"] = float(demo_delay_s)
    check = (lambda step_status: plan.dependency_problem(step, step_status)) \
        if mode == "step" and not force_execute else None
    execution = execution_store.claim_execution(
        ctx.db, task_id=task_id, execution_id=ids.new_execution_id(task_id, step or "complete"),
        execution_step=step or "complete", execution_mode=mode, options=options, force=bool(force_execute),
        max_running=ctx.settings.max_concurrent_tasks, dependency_problem=check)
    execution_id = execution["execution_id"]
    try:
        proc = spawn_executor(ctx.settings, task_dir, task_id=task_id, execution_id=execution_id, mode=mode,
                              step=step)
    except OSError as exc:
        reason = f"the executor process could not be started: {exc.strerror or type(exc).__name__}"
        tracking.abort(ctx.db, task_id, execution_id, "failed", reason)
        log.error("task %s: %s", task_id, reason)
        raise AppError(reason, message="任务启动失败") from None
    execution_store.record_process(ctx.db, execution_id, pid=proc.pid, host=this_host())
    log.info("task %s: execution %s started as pid %d", task_id, execution_id, proc.pid)
    data = {"task_id": task_id, "execution_id": execution_id, "execution_mode": mode, "step_name": step,
            "step": step or "complete", "status": "running", "started_at": execution["started_at"],
            "options": options, "message": STARTED_MESSAGE, "response": "任务执行已启动"}
    if table_check is not None:
        data["table_check"] = table_check
    return data


def _listed_tables(ctx: AppContext, task_dir: Path) -> list:
    """The task's table_list.txt, parsed; [] when unreadable (the executor then reports the problem itself)."""
    try:
        text = (task_dir / table_list.TABLE_LIST_FILE).read_text(encoding="utf-8-sig")
        return table_list.parse_text(text, max_lines=ctx.settings.table_list_max_lines)
    except (OSError, UnicodeDecodeError, AppError):
        return []


def executor_command(*, task_id: str, execution_id: str, mode: str, step: Optional[str]) -> list[str]:
    argv = [sys.executable, str(EXECUTOR_SCRIPT), "--task-id", task_id, "--execution-mode", mode,
            "--execution-id", execution_id]
    return argv + (["--step-name", step] if step else [])


def _executor_env(settings: Settings) -> dict:
    return bytecode.executor_env(settings, {**os.environ, **settings_env(settings), "PYTHONUNBUFFERED": "1"})


def prime_standby(settings: Settings) -> None:
    """At an API worker's start, with EXECUTOR_STANDBY: the process for its first execution starts ahead too,
    not only those for the executions after it; at once (no execution's start to leave the CPU to yet)."""
    if settings.executor_standby:
        head = executor_command(task_id="", execution_id="", mode="complete", step=None)[:2]
        standby.replenish(head, _executor_env(settings), str(PROJECT_ROOT), delay_s=0)


def spawn_executor(settings: Settings, task_dir: Path, *, task_id: str, execution_id: str, mode: str,
                   step: Optional[str]) -> subprocess.Popen:
    """Start the executor detached from this process; its environment carries these exact settings. With
    EXECUTOR_STANDBY the process started ahead for it runs it (executor/standby.py), and the next one starts."""
    env = _executor_env(settings)
    task_dir.mkdir(parents=True, exist_ok=True)
    argv = executor_command(task_id=task_id, execution_id=execution_id, mode=mode, step=step)
    proc = standby.take(argv, env) if settings.executor_standby else None
    if proc is not None and standby.hand_over(proc, argv, task_dir / LOG_FILE_NAME):
        log.info("execution %s handed to the executor process started ahead (pid %d)", execution_id, proc.pid)
    else:
        with open(task_dir / LOG_FILE_NAME, "ab") as log_file:
            proc = subprocess.Popen(argv, cwd=str(PROJECT_ROOT), env=env, stdin=subprocess.DEVNULL, stdout=log_file,
                                    stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        threading.Thread(target=proc.wait, name=f"reap-executor-{proc.pid}", daemon=True).start()
    if settings.executor_standby:
        standby.replenish(argv[:2], env, str(PROJECT_ROOT))
    return proc


def cancel_execution(ctx: AppContext, task_id: str) -> dict:
    """Stop the task's running execution: SIGTERM to the executor's process group, wait up to cancel_grace_s
    for it to record `cancelled` itself, else SIGKILL and record it here. Raises TASK_NOT_CANCELLABLE when
    nothing runs."""
    task_service.get_task_or_404(ctx, task_id)
    execution = task_store.running_execution(ctx.db, task_id)
    if execution is None:
        raise TaskNotCancellable(f"task {task_id} has no running execution")
    execution_id, pid = execution["execution_id"], execution.get("pid")
    local = execution.get("host") in (None, this_host())
    started = time.monotonic()
    signalled = bool(pid) and local and signal_executor(pid, signal.SIGTERM)
    current = execution
    while time.monotonic() - started < ctx.settings.cancel_grace_s:
        current = execution_store.get_execution(ctx.db, execution_id)
        if current is None or current["status"] != "running":
            break
        time.sleep(0.05)
    else:
        current = execution_store.get_execution(ctx.db, execution_id)
    forced = False
    if current is not None and current["status"] == "running":
        if pid and local:
            forced = signal_executor(pid, signal.SIGKILL)
        running_step = _running_step(ctx, task_id)
        if tracking.abort(ctx.db, task_id, execution_id, "cancelled",
                          "cancelled by request (the executor was stopped forcibly)"):
            _remove_partial_outputs(ctx, task_id, running_step)
        current = execution_store.get_execution(ctx.db, execution_id)
    log.info("task %s: execution %s cancel requested (signalled=%s, forced=%s) -> %s in %.2f s", task_id,
             execution_id, signalled, forced, current and current["status"], time.monotonic() - started)
    return {"task_id": task_id, "execution_id": execution_id, "status": current["status"] if current else "cancelled",
            "cancelled_at": (current or {}).get("completed_at"), "forced": forced,
            "message": "任务已取消" if (current or {}).get("status") == "cancelled" else "任务已结束"}


def _running_step(ctx: AppContext, task_id: str) -> Optional[tuple[str, Optional[str]]]:
    row = task_store.get_task(ctx.db, task_id) or {}
    for step, status in (row.get("step_status") or {}).items():
        if status == "running":
            return step, ((row.get("step_details") or {}).get(step) or {}).get("started_at")
    return None


def _remove_partial_outputs(ctx: AppContext, task_id: str, running: Optional[tuple[str, Optional[str]]]) -> None:
    """The forced path: the executor could not clean up, so remove what its step wrote in this run."""
    if not running:
        return
    from datetime import datetime
    from data_pipeline.executor.outputs import remove_partial_outputs
    from data_pipeline.steps import STEP_OUTPUTS  # the declaration, not step code: the API never imports steps
    step, started_at = running
    patterns = STEP_OUTPUTS.get(step, ())
    since = datetime.fromisoformat(started_at).timestamp() if started_at else time.time()
    remove_partial_outputs(ctx.db, task_id, ctx.task_dir(task_id), step, patterns, since)
