"""Start `python citu_app.py` (gunicorn) as a real process on a free port (used by tests and benchmarks)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import requests

from app_config import PROJECT_ROOT, load_settings, settings_env

# one worker with many threads: what most served tests need (one process's state, room for held requests)
TEST_SETTINGS = {"workers": 1, "threads": 16}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """The service on a free port with the given data home and settings, in its own process group: `stop()`
    sends SIGTERM to the group, like a service manager (the embedded PostgreSQL is detached by pg_ctl).

    `overrides` are settings (`workers=2`, `server_model="gevent"`) over TEST_SETTINGS, or over the settings'
    own defaults with `as_shipped=True` (the service as users start it). The log goes to `log_path`, else to
    server_logs/{name}_{port}.log in the data home (pytest's tmp dirs rotate when several sessions run at once).
    """

    def __init__(self, data_home: Path, name: str = "server", log_path: Optional[Path] = None,
                 as_shipped: bool = False, **overrides):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        settings = load_settings({"data_home": data_home, "port": self.port,
                                  "log_level": os.environ.get("DP_TEST_SERVER_LOG_LEVEL", "WARNING"),
                                  **({} if as_shipped else TEST_SETTINGS), **overrides})
        self.env = {**os.environ, **settings_env(settings)}
        self.log_path = Path(log_path) if log_path else Path(data_home) / "server_logs" / f"{name}_{self.port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc: Optional[subprocess.Popen] = None
        self.ready_after_s: Optional[float] = None

    def start(self, timeout: float = 120) -> "ServerProcess":
        """Start and wait for /health. Generous timeout: the first start of a session creates the demo database,
        and pgserver serialises attaches machine-wide with one lock file (other sessions can delay ours)."""
        started = time.monotonic()
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-X", "faulthandler", str(PROJECT_ROOT / "citu_app.py")],
                                         cwd=str(PROJECT_ROOT),
                                         env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}; log {self.log_path}:\n"
                                     f"{self.log_tail()}")
            try:
                if requests.get(self.base_url + "/health", timeout=1).status_code == 200:
                    self.ready_after_s = time.monotonic() - started
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        os.kill(self.proc.pid, signal.SIGABRT)   # stuck: faulthandler dumps every thread's stack into the log
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)   # and no worker outlives the failed start
        except ProcessLookupError:
            pass
        self.proc.wait()
        raise AssertionError(f"server not ready after {timeout} s; log {self.log_path}:\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> Optional[int]:
        """Signal the process group and wait; SIGKILL after `timeout`. Returns the server's exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        os.killpg(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
