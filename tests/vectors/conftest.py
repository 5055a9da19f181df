"""Fixtures shared by the vector tests: a test client on empty vector tables."""
from __future__ import annotations

import pytest

from tests.vector_fixtures import empty_vector_tables


@pytest.fixture()
def vclient(client, app_ctx):
    empty_vector_tables(app_ctx.db)
    yield client
    empty_vector_tables(app_ctx.db)

