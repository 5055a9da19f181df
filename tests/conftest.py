"""Shared fixtures: one embedded PostgreSQL (real, pgserver) per test session in a temporary data home.

Tests talk to the real server; nothing of our own database is mocked. Between tests, `clean_db` empties our
task tables (the demo business database is never written).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from app_config import load_settings
from citu_app import create_app

TEST_HOME = Path(tempfile.mkdtemp(prefix="dp_test_"))
# children (executors started by tests) inherit this: they attach to the same embedded server
os.environ["DP_DATA_HOME"] = str(TEST_HOME)
for var in ("DATABASE_URL", "BUSINESS_DB_URL", "VECTOR_DB_URL", "LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL", "EMBEDDING_BASE_URL",
            "EMBEDDING_MODEL", "API_TOKEN", "TRAINING_DATA_DIR"):
    os.environ.pop(var, None)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def pytest_sessionfinish(session, exitstatus):
    """Stop our embedded server (if no executor still uses it) and remove the data home after a green run."""
    from core import embedded_pg
    embedded_pg.detach()
    if exitstatus == 0:
        shutil.rmtree(TEST_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def settings():
    return load_settings({"data_home": TEST_HOME, "log_level": "WARNING"})


@pytest.fixture(scope="session")
def app(settings):
    app = create_app(settings=settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture(scope="session")
def app_ctx(app):
    """The AppContext: settings, runtime (database URLs) and the pool on our database."""
    return app.extensions["data_pipeline"]


@pytest.fixture()
def clean_db(app_ctx):
    app_ctx.db.execute("TRUNCATE data_pipeline_tasks CASCADE")
    shutil.rmtree(app_ctx.tasks_root, ignore_errors=True)
    yield app_ctx


@pytest.fixture()
def client(app, clean_db):
    return app.test_client()


@pytest.fixture(scope="session")
def business_url(app_ctx):
    return app_ctx.runtime.business_url


@pytest.fixture()
def openai_stub():
    """A local OpenAI-compatible HTTP server (tests/openai_stub.py): script answers, inspect `stub.requests`."""
    from tests.openai_stub import OpenAIStub

    with OpenAIStub() as stub:
        yield stub
