"""Processes: this host's name, liveness of a pid, and signalling an executor (its whole process group)."""
from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

from core.processes import pid_alive  # noqa: F401 - re-exported: recovery and tests use it from here
from core.task_logging import LOG_FILE_NAME


def this_host() -> str:
    return socket.gethostname()


def signal_executor(pid: int, sig: int = signal.SIGTERM) -> bool:
    """Send `sig` to the executor: its whole process group when it leads one (API-spawned executors run in
    their own session, so children such as helper processes stop too), else the process alone (a CLI run in
    a terminal shares the shell's group, which must not be signalled). False when the process is gone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def runs_execution(pid: int, execution_id: str) -> bool:
    """True when `pid` is the executor of `execution_id` (its command line names it): the proof needed before
    killing a pid recorded earlier, which the system may since have given to an unrelated process. A process
    started ahead (`--standby`, executor/standby.py) got its arguments through a pipe: its output going to the
    log of the execution's task proves it instead (one execution of a task runs at a time)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if execution_id.encode() in args:
        return True
    if b"--standby" not in args or not any(a.endswith(b"task_executor.py") for a in args):
        return False
    task_id = execution_id.split("_step_", 1)[0]
    try:
        output = os.readlink(f"/proc/{pid}/fd/1")
    except OSError:
        return False
    return output.endswith(f"/{task_id}/{LOG_FILE_NAME}")
