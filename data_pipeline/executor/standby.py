"""One executor process started ahead of its execution, per API process (issue 26; EXECUTOR_STANDBY).

Starting `task_executor.py` costs ~0.3 s before the first LLM call (interpreter, imports, attaching to the
embedded PostgreSQL), on every execution. So after each spawn the launcher starts the next execution's process
right away, `task_executor.py --standby`: it imports the executor and the first step, resolves the databases,
then blocks reading one line from its stdin, a pipe only this API process holds. `hand_over` writes that line
(the execution's arguments and its log file) and closes the pipe: the process points its stdout/stderr at the
task's data_pipeline.log and runs exactly as a freshly spawned executor would, then exits. Still one process
per execution, and the execution itself is claimed and tracked in PostgreSQL as before; the pipe only carries
the command line the process would otherwise have been started with.

A waiting process is used only for the same interpreter, script and environment (the settings); otherwise, or
when it died, it is dropped and the executor is spawned as before. When the API process ends, the pipe closes
and the waiting process exits (detaching from the embedded PostgreSQL).
"""
from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Mapping, Optional, Sequence

STANDBY_FLAG = "--standby"
# the next process starts a little after the one just handed over or spawned: its imports would otherwise take
# CPU from that execution's own start (reading the catalog, the first LLM calls) on a machine with few cores
START_DELAY_S = 1.0
_lock = threading.Lock()
_waiting: Optional[tuple[tuple, subprocess.Popen]] = None     # (key, process)


# where bytecode is cached (bytecode.py) changes once, when the service's first warming ends; a process started
# before that has imported its modules already: it may run the next execution all the same
_NOT_SETTINGS = ("PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE")


def _key(head: Sequence[str], env: Mapping[str, str]) -> tuple:
    return tuple(head), tuple(sorted((k, v) for k, v in env.items() if k not in _NOT_SETTINGS))


def take(argv: Sequence[str], env: Mapping[str, str]) -> Optional[subprocess.Popen]:
    """The waiting process when it would run `argv` (interpreter and script) in `env` and is alive; else None
    (a mismatching one is dropped)."""
    global _waiting
    with _lock:
        waiting, _waiting = _waiting, None
    if waiting is None:
        return None
    key, proc = waiting
    if key != _key(argv[:2], env) or proc.poll() is not None:
        _drop(proc)
        return None
    return proc


def hand_over(proc: subprocess.Popen, argv: Sequence[str], log_path: Path) -> bool:
    """Give `proc` its execution: the arguments after the script, and the log file for its output. False when
    the process is gone (the caller spawns one instead)."""
    line = json.dumps({"args": list(argv[2:]), "log": str(log_path)}) + "\n"
    try:
        proc.stdin.write(line.encode("utf-8"))
        proc.stdin.close()
        return True
    except (OSError, ValueError):
        _drop(proc)
        return False


def replenish(head: Sequence[str], env: Mapping[str, str], cwd: str, delay_s: Optional[float] = None) -> None:
    """Start the next execution's process in the background, `delay_s` (START_DELAY_S) from now (the request
    does not wait for it)."""
    def start() -> None:
        global _waiting
        try:
            proc = subprocess.Popen([*head, STANDBY_FLAG], cwd=cwd, env=dict(env), stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                    close_fds=True)
        except OSError:
            return      # the next execution is spawned as before
        threading.Thread(target=proc.wait, name=f"reap-executor-{proc.pid}", daemon=True).start()
        with _lock:
            old, _waiting = _waiting, (_key(head, env), proc)
        if old is not None:
            _drop(old[1])
    timer = threading.Timer(START_DELAY_S if delay_s is None else delay_s, start)
    timer.name, timer.daemon = "executor-standby", True
    timer.start()


def discard() -> None:
    """Drop the waiting process, if any (it exits)."""
    global _waiting
    with _lock:
        waiting, _waiting = _waiting, None
    if waiting is not None:
        _drop(waiting[1])


def _drop(proc: subprocess.Popen) -> None:
    """End a waiting process: closing its pipe makes it exit normally (it detaches from PostgreSQL)."""
    try:
        proc.stdin.close()
    except (OSError, ValueError):
        pass


def receive(stream) -> Optional[tuple[list[str], str]]:
    """In the waiting process: (arguments, log path) of its execution, or None when the pipe closed."""
    line = stream.readline()
    if not line:
        return None
    order = json.loads(line)
    return [str(a) for a in order["args"]], str(order["log"])
