"""Embedded PostgreSQL 16 + pgvector (the `pgserver` package) for the zero-setup default.

Every process that needs it (API master, executor, CLI) *attaches*: pgserver keeps the attached PIDs in
`<pgdata>/.handle_pids.json` and stops the server when the last attached process exits normally. Two facts make
that safe here (see ARCHITECTURE.md "Embedded defaults"):
- a process killed with -9 never removes its PID, so dead PIDs are pruned before attaching;
- SIGTERM would skip atexit, so it is turned into a normal `sys.exit`.
The URI is read from pgserver (postmaster.pid), never derived: the socket may live under $XDG_RUNTIME_DIR.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Optional

from core.processes import pid_alive

log = logging.getLogger(__name__)
_server = None


def prune_dead_pids(pgdata: Path) -> list[int]:
    """Drop PIDs of processes that died without detaching; returns the pruned ones."""
    handle_file = pgdata / ".handle_pids.json"
    if not handle_file.exists():
        return []
    try:
        pids = json.loads(handle_file.read_text() or "[]")
    except (ValueError, OSError):
        pids = []
    alive = [p for p in pids if isinstance(p, int) and p != os.getpid() and pid_alive(p)]
    dead = [p for p in pids if p not in alive]
    if dead:
        handle_file.write_text(json.dumps(alive))
    return dead


def _exit_on_sigterm() -> None:
    """Make SIGTERM run atexit handlers (pgserver detaches there). Only where nobody else handles it."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def attach(pgdata: Path) -> str:
    """Start (or join) the embedded server in `pgdata` and return its base URI (database `postgres`)."""
    global _server
    if _server is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import pgserver
            from pgserver.postgres_server import PostgresServer
        pgdata = Path(pgdata).resolve()
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with PostgresServer._lock:
            pruned = prune_dead_pids(pgdata) if pgdata.exists() else []
        if pruned:
            log.info("embedded postgres: pruned dead attached pids %s", pruned)
        _exit_on_sigterm()
        _server = pgserver.get_server(pgdata, cleanup_mode="stop")
    return _server.get_uri()


def uri_for(base_uri: str, database: str) -> str:
    """Same server, other database: pgserver URIs look like postgresql://postgres:@/postgres?host=/sock."""
    head, _, query = base_uri.partition("?")
    prefix = head.rsplit("/", 1)[0]
    return f"{prefix}/{database}" + (f"?{query}" if query else "")


def attached_server() -> Optional[object]:
    return _server


def detach() -> None:
    """Leave the server now (it stops if this was the last attached process) instead of at exit."""
    global _server
    if _server is not None:
        _server._cleanup()
        _server = None
