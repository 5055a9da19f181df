"""Helpers for the executor tests: waiting on task states, slow-but-real LLM runs, real API server processes."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import pytest
import requests

from app_config import PROJECT_ROOT, load_settings, settings_env
from citu_app import create_app
from data_pipeline.executor.process import signal_executor
from data_pipeline.store import executions as execution_store

BASE = "/api/v0/data_pipeline/tasks"
FINAL = ("completed", "partial_completed", "failed", "cancelled")


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def task_status(client, task_id: str) -> dict:
    # the whole status (parameters and result come only when asked for)
    resp = client.get(f"{BASE}/{task_id}?include=parameters,result")
    body = resp.get_json() if hasattr(resp, "get_json") else resp.json()
    return body["data"]


def wait_final(client, task_id: str, timeout: float = 60) -> dict:
    """Wait until the task has no running execution and a final status."""
    def done():
        data = task_status(client, task_id)
        return data if data["current_step"] is None and data["status"] in FINAL else None
    return wait_for(done, timeout, 0.1, f"task {task_id} to finish")


def wait_executor_exit(db, execution_id: str, timeout: float = 60) -> None:
    """Wait until the execution's process has exited: the task's final status is written before the executor
    flushes its last DB log batch and detaches, so read logs only after this."""
    from data_pipeline.executor.process import pid_alive
    pid = execution_store.get_execution(db, execution_id)["pid"]
    assert pid, f"execution {execution_id} has no pid"
    wait_for(lambda: not pid_alive(pid), timeout, 0.05, f"executor {pid} to exit")


def wait_step_running(client, task_id: str, step: str, timeout: float = 60, min_progress: float = 0.0) -> dict:
    def running():
        data = task_status(client, task_id)
        s = next(x for x in data["steps"] if x["step_name"] == step)
        if data["status"] in FINAL and data["current_step"] is None:
            raise AssertionError(f"task ended before {step} ran: {data['status']} {data['error_message']}")
        return data if s["step_status"] == "running" and (s.get("progress") or 0) >= min_progress else None
    return wait_for(running, timeout, 0.05, f"{step} running")


def stop_executors(db) -> None:
    """Kill whatever executor a test left running (before the next test truncates the tables)."""
    for execution in execution_store.running_executions(db):
        if execution.get("pid"):
            signal_executor(execution["pid"], signal.SIGKILL)


def comments_responder(request_json: dict):
    """A well-formed TableComments answer for any ddl_comments request (the stub adds the latency)."""
    return json.dumps({"table_comment": "测试表", "table_description": "由测试桩生成的说明", "columns": {}},
                      ensure_ascii=False)


def llm_overrides(stub, **extra) -> dict:
    return {"llm_base_url": stub.base_url, "llm_model": "stub-model", "llm_api_key": "sk-test-key",
            "llm_max_concurrency": 1, "llm_max_retries": 0, **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def slow_client(app, app_ctx, openai_stub, settings):
    """An API whose executors use the LLM stub, one call at a time, behind the stub's barrier: the first
    ddl_comments call is answered, every later one waits until the test calls `openai_stub.release()` (or the
    test ends). A run started here is therefore mid-step (progress > 0, blocked in an LLM call) for as long
    as the test needs, however slow the machine - `openai_stub.wait_held()` says when it got there."""
    openai_stub.responder = comments_responder
    openai_stub.hold(after=1)
    slow_app = create_app(settings=settings.model_copy(update=llm_overrides(openai_stub, cancel_grace_s=1.0)))
    yield slow_app.test_client()
    openai_stub.release()
    stop_executors(app_ctx.db)


class ServerProcess:
    """`python citu_app.py` (gunicorn) on a free port, with the test session's data home and given settings."""

    def __init__(self, data_home: Path, name: str, **overrides):
        self.port = free_port()
        settings = load_settings({"data_home": data_home, "port": self.port, "workers": 1, "threads": 16,
                                  "log_level": os.environ.get("DP_TEST_SERVER_LOG_LEVEL", "WARNING"), **overrides})
        self.env = {**os.environ, **settings_env(settings)}
        # next to the session's data (pytest's tmp dirs rotate when several sessions run at once)
        self.log_path = Path(data_home) / "server_logs" / f"{name}_{self.port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> "ServerProcess":
        """Start and wait for /health. Generous timeout: pgserver serialises attaches machine-wide with one lock
        file, so other sessions starting their own embedded servers can delay ours."""
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-X", "faulthandler", str(PROJECT_ROOT / "citu_app.py")],
                                         cwd=str(PROJECT_ROOT),
                                         env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

        def healthy():
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                return requests.get(self.url + "/health", timeout=1).status_code == 200
            except requests.RequestException:
                return False
        try:
            wait_for(healthy, timeout, 0.1, "the API server to answer /health")
        except AssertionError:
            if self.proc.poll() is None:  # stuck: dump every thread's stack into the log, then fail
                os.kill(self.proc.pid, signal.SIGABRT)
                time.sleep(1)
            raise AssertionError(f"server did not start; log {self.log_path}:\n"
                                 f"{self.log_path.read_text(errors='replace')[-4000:]}") from None
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


class HttpClient:
    """requests against a ServerProcess, answering like the Flask test client's `get_json` users expect."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()

    def get(self, path: str):
        return _Resp(self.session.get(self.base_url + path, timeout=30))

    def post(self, path: str, json=None):
        return _Resp(requests.post(self.base_url + path, json=json, timeout=60))


class _Resp:
    def __init__(self, resp: requests.Response):
        self.status_code = resp.status_code
        self._resp = resp

    def get_json(self):
        return self._resp.json()
