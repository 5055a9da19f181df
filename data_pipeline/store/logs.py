"""SQL on data_pipeline_task_logs: key executor events, inserted in batches (the full log is the task's file)."""
from __future__ import annotations

from typing import Iterable, Optional

import psycopg2.extras

from core.db import Database
from data_pipeline.store import jsonable

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def insert_logs(db: Database, entries: Iterable[dict]) -> int:
    """Insert log rows in one statement. Each entry: task_id, execution_id?, log_level, message, step_name?,
    module_name?, function_name?, timestamp (datetime), extra_data? (dict). Returns the number inserted."""
    rows = [(e["task_id"], e.get("execution_id"), e["log_level"] if e["log_level"] in LOG_LEVELS else "INFO",
             e["message"], e.get("step_name"), (e.get("module_name") or "")[:100] or None,
             (e.get("function_name") or "")[:100] or None, e["timestamp"],
             psycopg2.extras.Json(e.get("extra_data") or {})) for e in entries]
    if not rows:
        return 0
    with db.cursor() as cur:
        psycopg2.extras.execute_values(
            cur, """INSERT INTO data_pipeline_task_logs (task_id, execution_id, log_level, message, step_name,
                        module_name, function_name, timestamp, extra_data) VALUES %s""", rows, page_size=500)
    return len(rows)


def list_logs(db: Database, task_id: str, *, execution_id: Optional[str] = None, limit: int = 1000) -> list[dict]:
    """The task's log rows in time order (optionally of one execution)."""
    where = "task_id = %(task)s" + (" AND execution_id = %(exec)s" if execution_id else "")
    return [jsonable(r) for r in db.fetchall(
        f"""SELECT task_id, execution_id, log_level, message, step_name, module_name, function_name, timestamp,
                   extra_data FROM data_pipeline_task_logs WHERE {where} ORDER BY timestamp, id LIMIT %(limit)s""",
        {"task": task_id, "exec": execution_id, "limit": limit})]
