"""One execution end to end inside the executing process: logging, signals, heartbeat, the runner.

`run_claimed_execution` is the body of `data_pipeline/task_executor.py` (spawned by the API after claiming) and
of the CLI's tracked runs; `run_untracked` is the CLI's `--no-db-tracking` path. Both use the same Runner, so
there is exactly one state machine.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import Optional

from app_config import Settings
from core.llm import make_llm
from core.secrets import scrub_text
from core.task_logging import StepFilter, task_log_handler
from data_pipeline.taskfiles import table_list
from data_pipeline.context import AppContext
from data_pipeline.executor import tracking
from data_pipeline.executor.dblog import DbLogHandler
from data_pipeline.executor.heartbeat import Heartbeat
from data_pipeline.executor.process import this_host
from data_pipeline.executor.runner import Runner, RunSpec
from data_pipeline.executor.tracking import DbTracker, NullTracker, TaskState
from data_pipeline.store import executions as execution_store
from data_pipeline.store import tasks as task_store

log = logging.getLogger("data_pipeline.executor")
EXIT_CODES = {"completed": 0, "failed": 1, "cancelled": 3}
QUIET_LOGGERS = ("urllib3", "pgserver", "requests", "filelock")


def install_cancel_signals(cancel_event: threading.Event) -> None:
    """SIGTERM (API cancel) and SIGINT (Ctrl-C) only set the cancel event; the runner then ends the run
    cleanly and the process exits normally (so the embedded PostgreSQL sees it detach)."""
    def handler(signum, _frame):
        if not cancel_event.is_set():
            logging.getLogger("data_pipeline.executor").warning(
                "received %s: cancelling", signal.Signals(signum).name)
        cancel_event.set()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def setup_task_logging(settings: Settings, task_dir: Path, *, db=None, task_id: Optional[str] = None,
                       execution_id: Optional[str] = None) -> tuple[StepFilter, list[logging.Handler]]:
    """Root logging -> the task's data_pipeline.log (step on every line) and, with `db`, key events -> the DB."""
    task_dir.mkdir(parents=True, exist_ok=True)
    step_filter = StepFilter("executor")
    handlers: list[logging.Handler] = [task_log_handler(task_dir, step_filter)]
    if db is not None and task_id:
        db_handler = DbLogHandler(db, task_id, execution_id)
        db_handler.addFilter(step_filter)
        handlers.append(db_handler)
    root = logging.getLogger()
    for handler in handlers:
        root.addHandler(handler)
    # the task log always carries INFO (step start/finish, table progress) whatever the service level is
    root.setLevel(min(logging.INFO, logging.getLevelName(settings.log_level)))
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return step_filter, handlers


def close_handlers(handlers: list[logging.Handler]) -> None:
    root = logging.getLogger()
    for handler in handlers:
        root.removeHandler(handler)
        handler.close()


def read_tables(task_dir: Path, settings: Settings) -> Optional[list[table_list.TableRef]]:
    path = task_dir / table_list.TABLE_LIST_FILE
    if not path.is_file():
        return None
    return table_list.parse_text(path.read_text(encoding="utf-8"), max_lines=settings.table_list_max_lines)


def run_claimed_execution(ctx: AppContext, *, task_id: str, execution_id: str, mode: str, step: Optional[str],
                          cancel_event: threading.Event, observers: tuple = (),
                          before_exit: Optional[list] = None) -> str:
    """Run an execution that was claimed in the task store. Returns completed / failed / cancelled.
    `before_exit` (optional list) receives callables the process should run as its very last act."""
    settings, db = ctx.settings, ctx.db
    task_dir = ctx.task_dir(task_id)
    step_filter, handlers = setup_task_logging(settings, task_dir, db=db, task_id=task_id,
                                               execution_id=execution_id)
    heartbeat = None
    try:
        execution = execution_store.record_process(db, execution_id, pid=os.getpid(), host=this_host())
        if execution is None:
            log.warning("execution %s is not running (cancelled before it started?); nothing to do", execution_id)
            return "cancelled"
        heartbeat = Heartbeat(db, execution_id, settings.heartbeat_interval_s, cancel_event)
        heartbeat.start()
        row = task_store.get_task(db, task_id)
        params = row["parameters"] if row else {}
        try:
            tables = read_tables(task_dir, settings)
        except Exception as exc:  # noqa: BLE001 - a broken list is reported like any failed precondition
            tables, problem = None, f"the task's table list cannot be read: {scrub_text(str(exc))[:300]}"
        else:
            problem = None if tables else "the task has no table list (upload one, then execute again)"
        if row is None or problem:
            reason = problem or f"task {task_id} no longer exists"
            log.error("execution %s cannot start: %s", execution_id, reason)
            tracking.abort(db, task_id, execution_id, "failed", reason)
            return "failed"
        spec = RunSpec(task_id=task_id, task_dir=task_dir, params=params, options=execution.get("options") or {},
                       mode=mode, step=step, settings=settings,
                       business_url=params.get("db_connection") or ctx.runtime.business_url, meta_db=db,
                       tables=tables, execution_id=execution_id, llm=make_llm(settings, cancel_event=cancel_event),
                       observers=list(observers))
        runner = Runner(spec, TaskState.from_row(row), tracker=DbTracker(db, task_id, execution_id),
                        cancel_event=cancel_event, step_filter=step_filter,
                        stop_wait=min(0.5, max(settings.cancel_grace_s / 2, 0.05)))
        if before_exit is not None:
            before_exit.append(runner.sweep_cancelled_outputs)
        outcome = runner.run()
        if heartbeat.lost.is_set() or runner.lost:
            log.warning("execution %s had been ended by another process; its final state was kept", execution_id)
        return outcome
    except Exception:
        log.exception("executor crashed")
        tracking.abort(db, task_id, execution_id, "failed", "executor crashed (see data_pipeline.log)")
        return "failed"
    finally:
        if heartbeat is not None:
            heartbeat.stop()
        close_handlers(handlers)


def run_untracked(settings: Settings, ctx: AppContext, *, task_id: str, task_dir: Path, params: dict,
                  tables: list, mode: str, step: Optional[str], options: dict, cancel_event: threading.Event,
                  observers: tuple = ()) -> str:
    """CLI --no-db-tracking: the same runner, no task row, no execution row, no DB log."""
    step_filter, handlers = setup_task_logging(settings, task_dir)
    try:
        spec = RunSpec(task_id=task_id, task_dir=task_dir, params=params, options=options, mode=mode, step=step,
                       settings=settings, business_url=params.get("db_connection") or ctx.runtime.business_url,
                       meta_db=ctx.db, tables=tables, execution_id=None, llm=make_llm(settings, cancel_event=cancel_event),
                       track_outputs=False, observers=list(observers))
        return Runner(spec, TaskState(), tracker=NullTracker(), cancel_event=cancel_event,
                      step_filter=step_filter).run()
    finally:
        close_handlers(handlers)


def exit_process(code: int, last_acts: list) -> None:
    """End the process without waiting for a cancelled step's threads (e.g. a thread pool blocked in an LLM
    call, which the interpreter would join, and which could still write files after the cancel cleaned up).
    The atexit handlers still run first (the embedded PostgreSQL must see this process detach), then
    `last_acts` (e.g. Runner.sweep_cancelled_outputs)."""
    import atexit
    import sys
    logging.shutdown()
    atexit._run_exitfuncs()
    for act in last_acts:
        try:
            act()
        except Exception:  # noqa: BLE001 - nothing left to report to
            pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
