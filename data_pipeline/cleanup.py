"""Retention: completed, partial_completed and failed tasks older than RETENTION_DAYS are removed with their rows
and directories.

Runs on a schedule inside the API (data_pipeline.monitor, every CLEANUP_INTERVAL_S) and as a command:

    python -m data_pipeline.cleanup [--days N] [--dry-run]

partial_completed counts as finished: since warnings make it the usual outcome of a run that skipped something,
keeping those forever would fill the disk. Pending, in-progress and cancelled tasks are never removed
automatically (someone may still continue them); neither is a task with a running execution.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Optional

from core.errors import AppError
from data_pipeline import tasks as task_service
from data_pipeline.context import AppContext
from data_pipeline.store import retention

log = logging.getLogger("data_pipeline.cleanup")


def cleanup_expired(ctx: AppContext, retention_days: Optional[float] = None, *, dry_run: bool = False) -> dict:
    """Remove expired tasks; returns {retention_days, removed: [task_id], skipped: [task_id], dry_run}."""
    days = ctx.settings.retention_days if retention_days is None else retention_days
    days = int(days) if float(days).is_integer() else float(days)   # `--days 7` reports 7, like the setting
    if days <= 0:
        return {"retention_days": days, "removed": [], "skipped": [], "dry_run": dry_run, "disabled": True}
    removed, skipped = [], []
    for task_id in retention.expired_task_ids(ctx.db, days):
        if dry_run:
            removed.append(task_id)
            continue
        try:
            task_service.delete_task(ctx, task_id)
            removed.append(task_id)
        except AppError as exc:  # started again meanwhile, or already gone
            skipped.append(task_id)
            log.info("retention: %s kept: %s", task_id, exc.details)
    if removed and not dry_run:
        log.info("retention: removed %d task(s) older than %s day(s)", len(removed), days)
    return {"retention_days": days, "removed": removed, "skipped": skipped, "dry_run": dry_run}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data_pipeline.cleanup",
                                     description="Remove completed, partial_completed and failed tasks older "
                                                 "than the retention period; prints a JSON report")
    parser.add_argument("--days", type=float, help="retention in days (default: RETENTION_DAYS)")
    parser.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    parser.add_argument("--verbose", action="store_true", help="also log INFO lines (embedded PostgreSQL start ...)")
    args = parser.parse_args(argv)
    from app_config import ConfigError, get_settings
    from data_pipeline.context import build_context
    try:
        settings = get_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    # the JSON report is the output; INFO lines (the embedded PostgreSQL's start-up) only with --verbose
    logging.basicConfig(level=settings.log_level if args.verbose else logging.WARNING,
                        format="%(asctime)s [%(levelname)s] %(name)s: %(message)s")
    ctx = build_context(settings, maxconn=2)
    report = cleanup_expired(ctx, args.days, dry_run=args.dry_run)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
