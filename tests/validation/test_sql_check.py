"""SqlChecker's verdicts on the demo database, one field at a time: each status with what it must carry, the row
and byte caps at their exact edges, connection reuse and the failure that must not become a pair's verdict."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pytest

from core.errors import DatabaseConnectionError
from data_pipeline.validation.check import SqlChecker

ROW_CAP = 5


def _checker(business_url, settings, **kw) -> SqlChecker:
    options = {"statement_timeout_ms": 400, "lock_timeout_ms": 200, "row_cap": ROW_CAP, "concurrency": 1,
               "settings": settings, **kw}
    return SqlChecker(business_url, **options)


def _rounded(seconds: float) -> bool:
    """Reports show seconds to 0.1 ms (several results are checked: a value that happens to end in 0 passes)."""
    return seconds == round(seconds, 4)


def test_each_status_carries_its_fields(settings, business_url):
    with _checker(business_url, settings) as checker:
        valid = checker.check("SELECT id FROM bss_company")                  # 8 rows, capped at 5
        empty = checker.check("SELECT id FROM bss_company WHERE id = 'none'")
        error = checker.check("SELECT 1/0 FROM bss_company")
        timeout = checker.check("SELECT count(*) FROM bss_business_day_data a, bss_business_day_data b")
        guard = checker.check("DELETE FROM bss_company")
        catalog = checker.check("SELECT relname FROM pg_class")
    assert (valid.status, valid.error, valid.row_count, valid.row_cap_reached) == ("valid", "", ROW_CAP, True)
    assert valid.estimated_cost > 0 and 0 < valid.execution_time and _rounded(valid.execution_time)
    assert (empty.status, empty.error, empty.row_count, empty.row_cap_reached) == ("empty", "", 0, False)
    assert (error.status, error.error, error.row_count) == ("error", "division by zero", None)
    assert 0 < error.execution_time and _rounded(error.execution_time)
    assert timeout.status == "timeout" and "statement timeout" in timeout.error
    assert 0.3 < timeout.execution_time and _rounded(timeout.execution_time)
    assert (guard.status, guard.execution_time) == ("rejected", 0.0)
    assert guard.error == "not a SELECT statement (DELETE FROM); only SELECT / WITH ... SELECT is allowed"
    assert catalog.status == "rejected" and catalog.error.startswith("relation pg_class is a system catalog")


def test_the_row_cap_is_reached_at_exactly_row_cap_rows(settings, business_url):
    with _checker(business_url, settings) as checker:
        at = checker.check(f"SELECT id FROM bss_company LIMIT {ROW_CAP}")
        below = checker.check(f"SELECT id FROM bss_company LIMIT {ROW_CAP - 1}")
    assert (at.row_count, at.row_cap_reached) == (ROW_CAP, True)
    assert _rounded(at.execution_time) and _rounded(below.execution_time)
    assert (below.row_count, below.row_cap_reached) == (ROW_CAP - 1, False)


def test_the_byte_cap_refuses_only_past_it(settings, business_url):
    """A result of exactly byte_cap bytes passes; one byte less of cap refuses it, with the numbers."""
    sql = "SELECT repeat('x', 1000) FROM bss_company LIMIT 2"
    with _checker(business_url, settings) as probe, probe._connection().cursor() as cur:
        cur.execute(f"SELECT sum(pg_catalog.pg_column_size(ROW(q.*))) FROM ({sql}) AS q")
        size = int(cur.fetchone()[0])
    with _checker(business_url, settings, byte_cap=size) as checker:
        exact = checker.check(sql)
    with _checker(business_url, settings, byte_cap=size - 1) as checker:
        over = checker.check(sql)
    assert (exact.status, exact.row_count) == ("valid", 2) and _rounded(exact.execution_time)
    assert (over.status, over.row_count) == ("rejected", 2)
    assert over.error == (f"result too large: more than {size - 1} bytes in the first 2 row(s) "
                          f"(VALIDATION_BYTE_CAP); refused")
    assert 0 < over.execution_time and _rounded(over.execution_time)


def test_one_connection_is_reused_and_a_closed_one_is_replaced_once(settings, business_url):
    with _checker(business_url, settings) as checker:
        for _ in range(3):
            assert checker.check("SELECT count(*) FROM bss_company").status == "valid"
        first = checker._local.conn
        assert checker.reconnects == 0 and checker._connections == [first]
        with first.cursor() as cur:                  # the checking session is the one named for operators
            cur.execute("SELECT current_setting('application_name'), current_setting('transaction_read_only')")
            assert cur.fetchone() == ("data_pipeline_sql_check", "on")
        first.rollback()
        first.close()                                # e.g. closed by an idle timeout
        assert checker.check("SELECT count(*) FROM bss_company").status == "valid"
        assert checker.reconnects == 1 and checker._connections == [checker._local.conn] != [first]


def test_an_unreachable_database_raises_instead_of_judging_the_pair(settings, business_url):
    """No connection is a failure of the step (DatabaseConnectionError), never a verdict on one pair."""
    parts = urlsplit(business_url)
    closed_port = urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0] + ":1"))
    with _checker(closed_port, settings) as checker, pytest.raises(DatabaseConnectionError):
        checker.check("SELECT 1")


def test_a_failure_of_the_check_itself_rejects_that_sql_with_its_reason(monkeypatch, settings, business_url):
    """Anything but a database failure (here the guard raising RecursionError) is a verdict on this SQL only."""
    from data_pipeline.validation import check as check_module

    def fragile(sql):
        raise RecursionError("maximum recursion depth exceeded")

    with _checker(business_url, settings) as checker:
        monkeypatch.setattr(check_module, "check_sql", fragile)
        result = checker.check("SELECT 1")
    assert (result.status, result.error) == ("rejected", "the check failed on this SQL (RecursionError); refused")
