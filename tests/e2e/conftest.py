"""Browser tests: Debian's Chromium (headless, driven by Playwright's Python API) against a real server process.

`console_server` starts `python citu_app.py` on a free port with the pytest session's DP_DATA_HOME, so the
server, its executor subprocesses and this test process share one embedded PostgreSQL. Without a browser the
tests skip locally and FAIL under CI=true (a CI run must never pass without exercising the console).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENS = ROOT / "tests" / "artifacts" / "screens"
DOWNLOADS = ROOT / "tests" / "artifacts" / "downloads"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _unavailable(reason: str):
    if in_ci():
        pytest.fail(f"browser tests cannot run under CI: {reason} (scripts/test.sh installs chromium and playwright)",
                    pytrace=False)
    pytest.skip(reason)


def import_expect():
    """Playwright's `expect`, or a module-level skip (locally) / failure (CI) saying how to get it."""
    try:
        from playwright.sync_api import expect
    except ImportError:
        reason = "the 'playwright' Python package is not installed (pip install -r requirements-dev.txt)"
        if in_ci():
            pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
        pytest.skip(reason, allow_module_level=True)
    return expect


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the 'playwright' Python package is not installed (pip install -r requirements-dev.txt)")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _unavailable(f"{CHROMIUM} not found (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser):
    """A fresh browser context per test; JS errors on the page fail the test."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True, locale="zh-CN")
    context.set_default_timeout(15000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python citu_app.py` in its own process group; stopped with SIGTERM (a normal exit) at teardown."""

    def __init__(self, name: str, extra_env: dict):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = ROOT / "tests" / "artifacts" / f"server_{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PORT": str(self.port), "HOST": "127.0.0.1",
               "DP_DATA_HOME": os.environ["DP_DATA_HOME"], "WORKERS": "1", "THREADS": "8", "LOG_LEVEL": "INFO",
               **extra_env}
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "citu_app.py"], cwd=ROOT, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if requests.get(self.base_url + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"server not ready after {timeout}s: {self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def api(self, method: str, path: str, **kwargs) -> dict:
        resp = requests.request(method, f"{self.base_url}/api/v0/{path}", timeout=30, **kwargs)
        return resp.json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the server's own pid: gunicorn master exits normally
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


def _serve(name: str, extra_env: dict):
    server = ServerProcess(name, extra_env)
    try:
        server.wait_ready()
    except Exception:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def console_server(app_ctx):
    """The service with its default generators (rule-based LLM, built-in embedder)."""
    server = _serve("default", {})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def slow_llm_server(app_ctx):
    """The service pointed at the OpenAI-compatible stub with latency, so a run lasts long enough to cancel."""
    from tests.openai_stub import OpenAIStub
    with OpenAIStub(latency=4.0) as stub:
        server = _serve("slow_llm", {"LLM_BASE_URL": stub.base_url, "LLM_API_KEY": "stub-key",
                                     "LLM_MODEL": "stub-model", "LLM_MAX_RETRIES": "0"})
        server.stub = stub
        yield server
        server.stop()


@pytest.fixture()
def shot():
    """shot(page, "name") saves tests/artifacts/screens/name.png (full page)."""
    SCREENS.mkdir(parents=True, exist_ok=True)

    def take(pg, name: str) -> Path:
        path = SCREENS / f"{name}.png"
        pg.screenshot(path=str(path), full_page=True)
        return path
    return take


@pytest.fixture(scope="module")
def token_server(app_ctx):
    """The service with API_TOKEN set: every /api/ call needs the bearer token."""
    server = _serve("token", {"API_TOKEN": "console-e2e-token"})
    server.token = "console-e2e-token"
    yield server
    server.stop()
