"""Dead or silent executors -> failed with a reason, so the task can be re-run.

Run at API start and every `monitor_interval_s` by data_pipeline.monitor, and callable directly (tests, CLI).
An execution is declared dead when
  - it runs on this host and its pid no longer exists (or is a zombie): "executor exited unexpectedly", or
  - its heartbeat (or its start, before the first beat) is older than `heartbeat_stale_s`: "no heartbeat for
    N s" (this also covers executors on other hosts, whose pids cannot be checked from here).
A silent executor that still runs on this host (hung) is killed after the verdict. The verdict goes through
tracking.abort, which is gated on the execution still running, so a race with an
executor finishing at the same moment keeps whichever was recorded first.
"""
from __future__ import annotations

import logging
import signal
from datetime import datetime
from pathlib import Path
from typing import Optional

from app_config import Settings
from core.db import Database
from core.task_logging import LOG_FILE_NAME
from data_pipeline.executor import tracking
from data_pipeline.executor.process import pid_alive, runs_execution, signal_executor, this_host
from data_pipeline.store import executions as execution_store
from data_pipeline.store import logs as log_store

log = logging.getLogger("data_pipeline.executor.recovery")


def verdict(execution: dict, settings: Settings, host: str) -> Optional[str]:
    """Why `execution` (a running row) must be failed, or None when it looks alive."""
    pid, age = execution.get("pid"), execution.get("heartbeat_age_s") or 0.0
    if pid and execution.get("host") == host and not pid_alive(pid):
        return f"executor exited unexpectedly (pid {pid} is gone)"
    if age > settings.heartbeat_stale_s:
        return f"no heartbeat for {int(age)} s (executor presumed dead)"
    return None


def fail_dead_executions(db: Database, settings: Settings, tasks_root: Optional[Path] = None) -> list[dict]:
    """Check every running execution once; returns [{task_id, execution_id, reason}] of those failed now."""
    host, failed = this_host(), []
    for execution in execution_store.running_executions(db):
        reason = verdict(execution, settings, host)
        if reason is None:
            continue
        task_id, execution_id = execution["task_id"], execution["execution_id"]
        # kill a hung local executor first: stopped inside a transaction it holds the row locks that the
        # verdict below waits for (a SIGSTOPped heartbeat would otherwise block the monitor forever)
        _stop_if_hung(execution, host)
        if not tracking.abort(db, task_id, execution_id, "failed", reason):
            continue  # it finished (or was cancelled) meanwhile
        log.warning("task %s: execution %s marked failed: %s", task_id, execution_id, reason)
        _record(db, task_id, execution_id, reason, tasks_root)
        failed.append({"task_id": task_id, "execution_id": execution_id, "reason": reason})
    return failed


def _stop_if_hung(execution: dict, host: str) -> None:
    """A silent executor that still exists here is hung: kill it, so it cannot wake up later and write files
    into a task whose step has been re-run meanwhile (its database writes are gated anyway)."""
    pid = execution.get("pid")
    if pid and execution.get("host") == host and pid_alive(pid) and runs_execution(pid, execution["execution_id"]):
        signal_executor(pid, signal.SIGKILL)
        log.warning("killed the unresponsive executor pid %d of %s", pid, execution["execution_id"])


def _record(db: Database, task_id: str, execution_id: str, reason: str, tasks_root: Optional[Path]) -> None:
    """Leave the verdict where operators look: the DB log and the task's log file."""
    stamp = datetime.now()
    try:
        log_store.insert_logs(db, [{"task_id": task_id, "execution_id": execution_id, "log_level": "ERROR",
                                    "message": f"execution marked failed: {reason}", "step_name": None,
                                    "module_name": "data_pipeline.monitor", "function_name": "fail_dead_executions",
                                    "timestamp": stamp.astimezone()}])
    except Exception as exc:  # noqa: BLE001 - the verdict itself is already recorded
        log.warning("could not write the DB log row: %s", type(exc).__name__)
    if tasks_root is not None:
        path = tasks_root / task_id / LOG_FILE_NAME
        if path.parent.is_dir():
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(f"{stamp:%Y-%m-%d %H:%M:%S} [ERROR] data_pipeline.monitor: [executor] execution "
                         f"{execution_id} marked failed: {reason}\n")
