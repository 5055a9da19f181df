"""Helpers for the executor tests: waiting on task states, slow-but-real LLM runs, HTTP to served processes
(tests/server_process.py starts them)."""
from __future__ import annotations

import json
import signal
import time
from typing import Callable

import pytest
import requests

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
