"""Each READ ONLY layer of a business connection holds on its own (issue 27: only the pair was caught).

`core.business_db.connect_business` makes a session read-only twice: `default_transaction_read_only=on` in the
startup options (every transaction, whoever opens it) and psycopg2's `readonly=True` (every transaction it opens
is `BEGIN READ ONLY`, whatever the session default has become). Each test disables the OTHER layer on a real
connection and shows that a write still fails, so removing either layer alone fails one of them. The database
is a scratch one read by a plain SELECT-only role: the demo's reader role carries its own
`default_transaction_read_only` (a third layer) and would hide the first.
"""
from __future__ import annotations

import psycopg2
import pytest

from core.business_db import connect_business
from tests.business_roles import reader_url
from tests.ddl_fixture_db import admin_url, scratch_db


@pytest.fixture(scope="module")
def plain_reader_url(app_ctx):
    with scratch_db(admin_url(app_ctx), "readonly_layers") as url:
        yield reader_url(url)


@pytest.fixture()
def conn(plain_reader_url, settings):
    connection = connect_business(plain_reader_url, statement_timeout_ms=5000, lock_timeout_ms=1000,
                                  settings=settings)
    yield connection
    connection.close()


def test_session_default_alone_keeps_transactions_read_only(conn):
    """Without psycopg2's BEGIN READ ONLY (autocommit: no BEGIN at all) the session default still refuses."""
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SHOW transaction_read_only")
        assert cur.fetchone()[0] == "on"
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
            cur.execute("CREATE TEMP TABLE readonly_probe (a int)")


def test_begin_read_only_alone_keeps_transactions_read_only(conn):
    """With the session default switched off (a SET the SQL guard never lets through, done here on purpose),
    every transaction psycopg2 opens is still BEGIN READ ONLY."""
    with conn.cursor() as cur:
        cur.execute("SELECT set_config('default_transaction_read_only', 'off', false)")
    conn.commit()
    with conn.cursor() as cur:
        cur.execute("SHOW default_transaction_read_only")
        assert cur.fetchone()[0] == "off"          # the session layer is really gone
        cur.execute("SHOW transaction_read_only")
        assert cur.fetchone()[0] == "on"
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
            cur.execute("CREATE TEMP TABLE readonly_probe (a int)")
    conn.rollback()
