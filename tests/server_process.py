"""Start `python citu_app.py` as a real process on a free port (used by tests and benchmarks)."""
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

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """The service as users run it. `stop()` sends SIGTERM, like Ctrl-C / a service manager."""

    def __init__(self, data_home: Path, port: Optional[int] = None, env: Optional[dict] = None,
                 log_path: Optional[Path] = None):
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DP_DATA_HOME": str(data_home), "PORT": str(self.port), "WORKERS": "2",
                    "LOG_LEVEL": "WARNING", **(env or {})}
        self.log_path = log_path or Path(data_home) / f"server_{self.port}.log"
        self.proc: Optional[subprocess.Popen] = None
        self.ready_after_s: Optional[float] = None

    def start(self, timeout: float = 120.0) -> "ServerProcess":
        """Start and wait for /health. Generous, like tests/executor_support.py: the first start of a session
        creates the demo database, and on a loaded shared machine that alone took over 60 s."""
        Path(self.log_path).parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "citu_app.py")], cwd=PROJECT_ROOT,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if requests.get(self.base_url + "/health", timeout=1).status_code == 200:
                    self.ready_after_s = time.monotonic() - started
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout} s: {self.log_tail()}")

    def log_tail(self, n: int = 2000) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> Optional[int]:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
