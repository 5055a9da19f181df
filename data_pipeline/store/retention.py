"""SQL for the background monitor: its cross-instance lock and the retention query."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from core.db import Database

MONITOR_LOCK_KEY = 720_084_006  # arbitrary constant: one monitor cycle at a time across API instances


@contextmanager
def monitor_lock(db: Database) -> Iterator[bool]:
    """Try the monitor's session advisory lock on a pooled connection held for the block; yields whether it
    was obtained (another API instance doing the same work right now -> False, skip this cycle)."""
    with db.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", (MONITOR_LOCK_KEY,))
        got = bool(cur.fetchone()[0])
        conn.commit()
        try:
            yield got
        finally:
            if got:
                cur.execute("SELECT pg_advisory_unlock(%s)", (MONITOR_LOCK_KEY,))


def expired_task_ids(db: Database, older_than_days: float, limit: int = 500) -> list[str]:
    """Completed/partial_completed/failed tasks finished (or, never started, created) more than `older_than_days` ago, with no
    running execution, oldest first."""
    rows = db.fetchall(
        """SELECT t.id FROM data_pipeline_tasks t
           WHERE t.status IN ('completed', 'partial_completed', 'failed')
             AND COALESCE(t.completed_at, t.created_at) < now() - make_interval(secs => %(secs)s)
             AND NOT EXISTS (SELECT 1 FROM data_pipeline_task_executions e
                             WHERE e.task_id = t.id AND e.status = 'running')
           ORDER BY COALESCE(t.completed_at, t.created_at) LIMIT %(limit)s""",
        {"secs": float(older_than_days) * 86400, "limit": limit})
    return [r["id"] for r in rows]
