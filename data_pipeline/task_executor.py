"""The executor subprocess: `python data_pipeline/task_executor.py --task-id … --execution-mode complete|step
[--step-name …] --execution-id …`.

Spawned by the API (data_pipeline.executor.launcher) after it claimed the execution in PostgreSQL, in its own
session, stdout/stderr appended to the task's data_pipeline.log. It reads the same settings from the
environment, attaches to the same (embedded) PostgreSQL without bootstrapping, records pid/host/heartbeat,
runs the step(s) and records the outcome. SIGTERM cancels cleanly. Exit code: 0 completed, 1 failed,
3 cancelled, 2 bad arguments/configuration.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

# A cancel may arrive while the imports below still run (a loaded machine, a cancel right after the start):
# from here on SIGTERM/SIGINT only set this event, which the runner checks before every step, instead of
# killing the process before it could record `cancelled` (the monitor would then call it a crash: `failed`).
CANCEL_EVENT = threading.Event()
if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda _signum, _frame: CANCEL_EVENT.set())
    signal.signal(signal.SIGINT, lambda _signum, _frame: CANCEL_EVENT.set())

# runnable as a script path: the project root must be importable, and this file's own directory must not
# shadow anything (Python puts it first on sys.path)
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
if PROJECT_ROOT not in sys.path:
    sys.path.insert(0, PROJECT_ROOT)

from app_config import ConfigError, get_settings  # noqa: E402
from data_pipeline.executor.plan import EXECUTION_MODES  # noqa: E402
from data_pipeline.ids import is_valid_task_id  # noqa: E402
from data_pipeline.steps import ALL_STEPS, STEPS, step_module  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run one claimed execution of a data pipeline task")
    parser.add_argument("--task-id", required=True)
    parser.add_argument("--execution-mode", choices=EXECUTION_MODES, default="complete")
    parser.add_argument("--step-name", choices=ALL_STEPS)
    parser.add_argument("--execution-id", required=True, help="the execution row claimed by the API")
    args = parser.parse_args(argv)
    if not is_valid_task_id(args.task_id):
        parser.error("--task-id is not a valid task id")
    if args.execution_mode == "step" and not args.step_name:
        parser.error("--step-name is required with --execution-mode step")
    if not args.execution_id.startswith(args.task_id + "_step_"):
        parser.error("--execution-id does not belong to --task-id")
    return args


BEFORE_EXIT: list = []  # last acts of the process (see session.exit_process)
# The executor's threads mostly wait on the network (LLM calls, the business database); when several LLM answers
# arrive together, their analysis holds the interpreter lock, and a check thread whose database answer is in waits
# for the holder's switch interval (5 ms by default) at each of its round trips. 1 ms lets those threads go on at
# once; measured with bench/bench_complete.py (20 tables, C = 8, idle, 8 runs each): last pair answer -> first
# repair call 0.19 -> 0.14 s, the ratio to the LLM bound 1.111 -> 1.098 (issue 26).
GIL_SWITCH_INTERVAL_S = 0.001


def preload_first_step(mode: str, step) -> threading.Thread:
    """Import the first step's code in a daemon thread while the main thread attaches to PostgreSQL and claims
    its rows (mostly waiting): the step then starts without an import pause (issue 26). An import error is left
    to the runner, which reports it as that step's failure."""
    def load() -> None:
        try:
            step_module(step or STEPS[0])
        except Exception:  # noqa: BLE001 - reported when the step starts
            pass
    thread = threading.Thread(target=load, name="preload-step", daemon=True)
    thread.start()
    return thread


def attach_in_background(settings) -> threading.Thread:
    """Resolve the databases (attach to the embedded PostgreSQL: pgserver takes a machine-wide lock for it) in a
    thread while the main thread imports the executor's code; `build_context` then finds the result cached. A
    failure here is left to `build_context`, which tries again and reports it."""
    def attach() -> None:
        try:
            from core.runtime import prepare
            prepare(settings, bootstrap=False)
        except Exception:  # noqa: BLE001 - raised again, with its message, by build_context
            pass
    thread = threading.Thread(target=attach, name="attach-db", daemon=True)
    thread.start()
    return thread


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    preload_first_step(args.execution_mode, args.step_name if args.execution_mode == "step" else None)
    cancel_event = CANCEL_EVENT
    for signum in (signal.SIGTERM, signal.SIGINT):   # before attaching: a SIGTERM from now on ends the run cleanly
        signal.signal(signum, lambda _signum, _frame: cancel_event.set())
    try:
        settings = get_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    attaching = attach_in_background(settings)
    from data_pipeline.executor.session import EXIT_CODES, install_cancel_signals, run_claimed_execution
    install_cancel_signals(cancel_event)  # the same, and it logs the signal
    attaching.join()
    from data_pipeline.context import build_context
    ctx = build_context(settings, bootstrap=False, maxconn=4)   # the runtime the thread resolved (or an error)
    try:
        outcome = run_claimed_execution(ctx, task_id=args.task_id, execution_id=args.execution_id,
                                        mode=args.execution_mode,
                                        step=args.step_name if args.execution_mode == "step" else None,
                                        cancel_event=cancel_event, before_exit=BEFORE_EXIT)
    finally:
        ctx.db.close()
    return EXIT_CODES.get(outcome, 1)


def standby_main() -> int:
    """`--standby` (data_pipeline/executor/standby.py): get ready for an execution not known yet (the executor's
    and the first step's code imported, the databases resolved), wait for it on stdin, then run it exactly as
    `main` runs a command line, output into the task's log. The pipe closing first (the API process ended, or
    it dropped this process) or a SIGTERM while waiting ends it quietly."""
    import os
    from data_pipeline.executor.standby import receive
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    signal.signal(signal.SIGINT, lambda _signum, _frame: sys.exit(0))
    try:
        settings = get_settings()
    except ConfigError:
        settings = None          # main reports it, into the task's log
    loading = preload_first_step("complete", None)
    if settings is not None:
        attach_in_background(settings).join()
    import data_pipeline.context  # noqa: F401 - imported now, not when the execution starts
    import data_pipeline.executor.session  # noqa: F401
    loading.join()
    order = receive(sys.stdin)
    if order is None:
        return 0
    for signum in (signal.SIGTERM, signal.SIGINT):   # from here on a SIGTERM cancels the execution
        signal.signal(signum, lambda _signum, _frame: CANCEL_EVENT.set())
    args, log_path = order
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    return main(args)


if __name__ == "__main__":
    from data_pipeline.executor.session import exit_process
    from data_pipeline.executor.standby import STANDBY_FLAG
    exit_process(standby_main() if sys.argv[1:] == [STANDBY_FLAG] else main(), BEFORE_EXIT)
