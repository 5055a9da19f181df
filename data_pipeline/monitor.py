"""Background duties of an API instance (a daemon thread in the master process):

- the dead-executor check (executor.recovery) at start and every MONITOR_INTERVAL_S;
- the retention cleanup (data_pipeline.cleanup) every CLEANUP_INTERVAL_S.

Several API instances may share one database: each cycle runs under a PostgreSQL advisory lock, so one instance
does the work and the others skip that cycle. Running executors are never touched by an API (re)start: only
executions that are provably dead (pid gone on this host) or silent (stale heartbeat) are failed.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Optional

from app_config import Settings
from data_pipeline.context import AppContext

log = logging.getLogger("data_pipeline.monitor")
_thread: Optional[threading.Thread] = None


def run_once(ctx: AppContext, *, cleanup: bool = False) -> Optional[dict]:
    """One cycle; None when another instance holds the monitor lock."""
    from data_pipeline.cleanup import cleanup_expired
    from data_pipeline.executor.recovery import fail_dead_executions
    from data_pipeline.store.retention import monitor_lock
    with monitor_lock(ctx.db) as got:
        if not got:
            return None
        report = {"failed": fail_dead_executions(ctx.db, ctx.settings, ctx.tasks_root)}
        if cleanup:
            report["cleanup"] = cleanup_expired(ctx)
        return report


def _loop(settings: Settings) -> None:
    from data_pipeline.context import build_context
    ctx = None
    last_cleanup = float("-inf")
    while True:
        try:
            ctx = ctx or build_context(settings, maxconn=3)
            due = time.monotonic() - last_cleanup >= settings.cleanup_interval_s
            report = run_once(ctx, cleanup=due)
            if report is not None and due:
                last_cleanup = time.monotonic()
        except Exception as exc:  # noqa: BLE001 - the monitor must outlive a database hiccup
            log.warning("monitor cycle failed: %s: %s", type(exc).__name__, str(exc)[:200])
        time.sleep(settings.monitor_interval_s)


def start_background(settings: Settings) -> threading.Thread:
    """Start the monitor thread once per process (idempotent)."""
    global _thread
    if _thread is None or not _thread.is_alive():
        _thread = threading.Thread(target=_loop, args=(settings,), name="dp-monitor", daemon=True)
        _thread.start()
        log.info("monitor started: dead-executor check every %.0f s, retention cleanup every %.0f s",
                 settings.monitor_interval_s, settings.cleanup_interval_s)
    return _thread
