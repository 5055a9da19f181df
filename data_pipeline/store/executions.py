"""SQL on data_pipeline_task_executions (and the task row state the executor owns while it runs).

Claiming is one transaction under a global advisory lock, so concurrent requests to any number of API processes
see each other: at most one running execution per task (also a database fact: the partial unique index
`uq_executions_one_running_per_task`) and at most `max_running` tasks with a running execution overall.

Every later write of an executor is *gated*: it happens only while its execution row is still `running`, under
row locks (execution row first, then the task row: one lock order everywhere). An executor that the API has
cancelled, or that the monitor has declared dead, therefore cannot overwrite the verdict afterwards.
"""
from __future__ import annotations

from typing import Callable, Optional

import psycopg2
import psycopg2.extras

from core.db import Database
from core.errors import ConcurrencyLimitReached, StepDependencyNotMet, TaskAlreadyRunning, TaskNotFound
from data_pipeline.store import jsonable

CLAIM_LOCK_KEY = 720_084_005  # arbitrary constant: the project's execution-claim lock
TASK_STATE_COLUMNS = ("status", "step_status", "step_details", "progress", "result", "error_message")
_JSON_COLUMNS = {"step_status", "step_details", "result"}
EXECUTION_COLUMNS = """execution_id, task_id, execution_step, execution_mode, status, started_at, completed_at,
    duration, error_message, execution_result, options, force_executed, files_cleaned, pid, host, heartbeat_at,
    EXTRACT(EPOCH FROM (now() - COALESCE(heartbeat_at, started_at)))::float AS heartbeat_age_s"""


def claim_execution(db: Database, *, task_id: str, execution_id: str, execution_step: str, execution_mode: str,
                    options: dict, force: bool, max_running: int,
                    dependency_problem: Optional[Callable[[dict], Optional[str]]] = None) -> dict:
    """Insert a `running` execution for `task_id`, or raise the contract's 404/409 error.

    Order of checks (all inside the lock): task exists -> no running execution of this task -> dependencies
    (`dependency_problem(step_status)` returns a reason or None) -> global cap. The task becomes `in_progress`.
    `execution_id` gets a `_2`, `_3` ... suffix when the same id was used earlier in the same second.
    """
    with db.connection() as conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (CLAIM_LOCK_KEY,))
        cur.execute("SELECT step_status FROM data_pipeline_tasks WHERE id = %s FOR UPDATE", (task_id,))
        task = cur.fetchone()
        if task is None:
            raise TaskNotFound(f"task {task_id} does not exist")
        cur.execute("SELECT execution_id FROM data_pipeline_task_executions "
                    "WHERE task_id = %s AND status = 'running'", (task_id,))
        running = cur.fetchone()
        if running:
            raise TaskAlreadyRunning(f"execution {running['execution_id']} of task {task_id} is still running")
        problem = dependency_problem(task["step_status"] or {}) if dependency_problem else None
        if problem:
            raise StepDependencyNotMet(problem + " (send force_execute=true to run it anyway)")
        cur.execute("SELECT count(DISTINCT task_id) AS n FROM data_pipeline_task_executions "
                    "WHERE status = 'running'")
        if cur.fetchone()["n"] >= max_running:
            raise ConcurrencyLimitReached(f"{max_running} task(s) are already running (MAX_CONCURRENT_TASKS)")
        cur.execute("SELECT execution_id FROM data_pipeline_task_executions WHERE execution_id LIKE %s",
                    (execution_id.replace("_", r"\_") + "%",))
        taken = {r["execution_id"] for r in cur.fetchall()}
        final_id, n = execution_id, 1
        while final_id in taken:
            n += 1
            final_id = f"{execution_id}_{n}"
        try:
            cur.execute(
                f"""INSERT INTO data_pipeline_task_executions
                        (task_id, execution_id, execution_step, execution_mode, status, options, force_executed)
                    VALUES (%s, %s, %s, %s, 'running', %s, %s)
                    RETURNING {EXECUTION_COLUMNS}""",
                (task_id, final_id, execution_step, execution_mode, psycopg2.extras.Json(options), force))
        except psycopg2.errors.UniqueViolation:  # the partial unique index: belt and braces under the lock
            raise TaskAlreadyRunning(f"task {task_id} already has a running execution") from None
        row = cur.fetchone()
        cur.execute("""UPDATE data_pipeline_tasks SET status = 'in_progress', error_message = NULL,
                           started_at = COALESCE(started_at, now()), completed_at = NULL, updated_at = now()
                       WHERE id = %s""", (task_id,))
        return jsonable(dict(row))


def get_execution(db: Database, execution_id: str) -> Optional[dict]:
    return jsonable(db.fetchone(f"SELECT {EXECUTION_COLUMNS} FROM data_pipeline_task_executions "
                                "WHERE execution_id = %s", (execution_id,)))


def record_process(db: Database, execution_id: str, *, pid: int, host: str) -> Optional[dict]:
    """Record the executor's pid/host and a first heartbeat; None when the execution is no longer running."""
    return jsonable(db.fetchone(
        f"""UPDATE data_pipeline_task_executions SET pid = %s, host = %s, heartbeat_at = now()
            WHERE execution_id = %s AND status = 'running' RETURNING {EXECUTION_COLUMNS}""",
        (pid, host, execution_id)))


def heartbeat(db: Database, execution_id: str) -> bool:
    """Refresh the heartbeat; False means the execution is no longer running (cancelled or declared dead)."""
    return db.execute("UPDATE data_pipeline_task_executions SET heartbeat_at = now() "
                      "WHERE execution_id = %s AND status = 'running'", (execution_id,)) == 1


def mark_files_cleaned(db: Database, execution_id: str) -> None:
    db.execute("UPDATE data_pipeline_task_executions SET files_cleaned = TRUE WHERE execution_id = %s",
               (execution_id,))


def running_executions(db: Database) -> list[dict]:
    """Every running execution with its pid, host and heartbeat age (for the dead-executor check)."""
    return [jsonable(r) for r in db.fetchall(
        f"SELECT {EXECUTION_COLUMNS} FROM data_pipeline_task_executions WHERE status = 'running' "
        "ORDER BY started_at")]


def update_task_state(db: Database, task_id: str, execution_id: Optional[str],
                      change: Callable[[dict], dict], *, finish: Optional[dict] = None) -> bool:
    """Read-modify-write the task's state columns while `execution_id` is running (None: ungated, CLI without
    an execution row). `change(task_state) -> {column: value}` with columns from TASK_STATE_COLUMNS, plus
    `completed_at_now: True` to stamp completed_at. `finish` (status, error_message, execution_result) also
    closes the execution row in the same transaction. Returns False (and writes nothing) when gated out.
    """
    with db.connection() as conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        if execution_id is not None:
            cur.execute("SELECT status FROM data_pipeline_task_executions WHERE execution_id = %s FOR UPDATE",
                        (execution_id,))
            row = cur.fetchone()
            if row is None or row["status"] != "running":
                return False
        cur.execute(f"SELECT {', '.join(TASK_STATE_COLUMNS)} FROM data_pipeline_tasks WHERE id = %s FOR UPDATE",
                    (task_id,))
        state = cur.fetchone()
        if state is None:
            return False
        changes = dict(change(dict(state)) or {})
        stamp_completed = changes.pop("completed_at_now", False)
        sets, params = ["updated_at = now()"], []
        for column, value in changes.items():
            if column not in TASK_STATE_COLUMNS:
                raise ValueError(f"not a task state column: {column}")
            sets.append(f"{column} = %s")
            params.append(psycopg2.extras.Json(value) if column in _JSON_COLUMNS and value is not None else value)
        if stamp_completed:
            sets.append("completed_at = now()")
        cur.execute(f"UPDATE data_pipeline_tasks SET {', '.join(sets)} WHERE id = %s", (*params, task_id))
        if finish is not None and execution_id is not None:
            result = finish.get("execution_result")
            cur.execute(
                """UPDATE data_pipeline_task_executions SET status = %s, error_message = %s,
                       execution_result = %s, completed_at = now(),
                       duration = EXTRACT(EPOCH FROM (now() - started_at))
                   WHERE execution_id = %s""",
                (finish["status"], finish.get("error_message"),
                 psycopg2.extras.Json(result) if result is not None else None, execution_id))
        return True
