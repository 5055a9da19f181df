"""Background duties of an API instance (a daemon thread in the master process):

- the dead-executor check (executor.recovery) at start and every MONITOR_INTERVAL_S;
- the retention cleanup (data_pipeline.cleanup) every CLEANUP_INTERVAL_S.

Several API instances may share one database: each cycle runs under a PostgreSQL advisory lock, so one instance
does the work and the others skip that cycle. Running executors are never touched by an API (re)start: only
executions that are provably dead (pid gone on this host) or silent (stale heartbeat) are failed.

The thread lives in the gunicorn master, which forks workers while it runs. A fork copies whatever locks the
thread holds at that instant, so everything the thread uses is imported here at module level (a child that
inherits a half-done import of the same module would deadlock on its import lock), and the first cycle runs
synchronously in `start_background`, before any worker exists.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Optional

from app_config import Settings
from data_pipeline.cleanup import cleanup_expired
from data_pipeline.context import AppContext, build_context
from data_pipeline.executor.recovery import fail_dead_executions
from data_pipeline.store.retention import monitor_lock

log = logging.getLogger("data_pipeline.monitor")
_thread: Optional[threading.Thread] = None


def run_once(ctx: AppContext, *, cleanup: bool = False) -> Optional[dict]:
    """One cycle; None when another instance holds the monitor lock."""
    with monitor_lock(ctx.db) as got:
        if not got:
            return None
        report = {"failed": fail_dead_executions(ctx.db, ctx.settings, ctx.tasks_root)}
        if cleanup:
            report["cleanup"] = cleanup_expired(ctx)
        return report


def _cycle(ctx: AppContext, last_cleanup: float) -> float:
    """Run one guarded cycle; returns the new time of the last cleanup."""
    due = time.monotonic() - last_cleanup >= ctx.settings.cleanup_interval_s
    try:
        report = run_once(ctx, cleanup=due)
    except Exception as exc:  # noqa: BLE001 - the monitor must outlive a database hiccup
        log.warning("monitor cycle failed: %s: %s", type(exc).__name__, str(exc)[:200])
        return last_cleanup
    return time.monotonic() if report is not None and due else last_cleanup


def _loop(ctx: AppContext, last_cleanup: float) -> None:
    while True:
        time.sleep(ctx.settings.monitor_interval_s)
        last_cleanup = _cycle(ctx, last_cleanup)


def start_background(settings: Settings) -> Optional[threading.Thread]:
    """Check once now, then start the monitor thread (once per process)."""
    global _thread
    if _thread is not None and _thread.is_alive():
        return _thread
    try:
        ctx = build_context(settings, maxconn=3)
    except Exception as exc:  # noqa: BLE001 - the API can serve without its monitor; say so
        log.error("monitor not started: %s: %s", type(exc).__name__, str(exc)[:200])
        return None
    last_cleanup = _cycle(ctx, float("-inf"))
    _thread = threading.Thread(target=_loop, args=(ctx, last_cleanup), name="dp-monitor", daemon=True)
    _thread.start()
    log.info("monitor started: dead-executor check every %.0f s, retention cleanup every %.0f s",
             settings.monitor_interval_s, settings.cleanup_interval_s)
    return _thread
