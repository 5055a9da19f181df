"""The guess of which SQL will fail its check (ordering only; validation/likely_failing.py)."""
from __future__ import annotations

import pytest

from data_pipeline.validation.likely_failing import FailureGuess
from tests.validation.test_sql_validation import _tables


@pytest.mark.parametrize("sql, fails", [
    ("SELECT count(*) FROM bss_company", False),
    ("SELECT c.company_name FROM public.bss_company c JOIN bss_service_area a ON a.company_id = c.id", False),
    ("WITH t AS (SELECT company_id AS cid FROM bss_service_area) SELECT cid FROM t", False),
    ("SELECT service_area_nam FROM bss_service_area", True),          # a column of no table of the statement
    ("SELECT company_name FROM bss_service_area", True),              # a column of another table
    ("SELECT id FROM no_such_table", True),
    ("SELECT id FROM other_schema.bss_company", True),
    ("DROP TABLE bss_company", True),                                 # the guard refuses it
    ("SELECT count(*) AS n FROM bss_company ORDER BY n", False),      # a select-list alias
    ('SELECT count(*) AS "N ""x""" FROM bss_company ORDER BY "N ""x"""', False),
    ("SELECT count(*) AS n FROM bss_company ORDER BY m", True),
])
def test_guess(sql, fails):
    assert FailureGuess(_tables())(sql) is fails
