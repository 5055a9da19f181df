"""Processes: this host's name, liveness of a pid, and signalling an executor (its whole process group)."""
from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

from core.processes import pid_alive  # noqa: F401 - re-exported: recovery and tests use it from here


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
    killing a pid recorded earlier, which the system may since have given to an unrelated process."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return execution_id.encode() in args
