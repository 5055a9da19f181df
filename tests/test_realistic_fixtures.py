"""The three real-world-shaped fixtures (tests/realistic_fixtures.py) build on the embedded server, are read
through a SELECT-only role, hold enough rows over two years, and keep their bridges, partitions, views,
comments and measures."""
from __future__ import annotations

import psycopg2
import pytest

from tests.ddl_fixture_db import admin_url, fetchall
from tests.realistic_fixtures import FIXTURES, HOSPITAL, RENTAL, SALES, create

# fact table, its event time: at least this many rows spread over >= 2 years
EVENTS = {"rw_rental": ("payment", "payment_date", 5000), "rw_sales": ("sales_order", "order_date", 3000),
          "rw_hospital": ("visit", "visit_time", 5000)}


@pytest.fixture(scope="module")
def urls(app_ctx):
    return {name: create(admin_url(app_ctx), fx) for name, fx in FIXTURES.items()}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_is_read_only_with_rows_over_two_years(urls, name):
    fx, url = FIXTURES[name], urls[name]
    table, time_col, least = EVENTS[name]
    n, first, last = fetchall(url, f"SELECT count(*), min({time_col}), max({time_col}) FROM {table}")[0]
    assert n >= least and (last - first).days >= 700
    for t in fx.tables:                                      # every listed table/view readable, none empty
        assert fetchall(url, f"SELECT count(*) FROM {t}")[0][0] > 0, t
    for t, cols in fx.measures.items():                      # the measures exist and are numeric
        types = dict(fetchall(url, "SELECT column_name, data_type FROM information_schema.columns "
                                   "WHERE table_name = %s", (t,)))
        assert all(types[c] in ("numeric", "integer", "smallint") for c in cols), (t, types)
    conn = psycopg2.connect(url)
    try:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
            cur.execute(f"DELETE FROM {table}")
    finally:
        conn.close()


def test_rental_has_bridges_partitions_and_views(urls):
    url = urls[RENTAL.name]
    kinds = dict(fetchall(url, "SELECT relname, relkind::text FROM pg_class WHERE relname = ANY(%s)",
                          (["payment", "film_list", "sales_by_store", "payment_p2024_h2"],)))
    assert kinds == {"payment": "p", "film_list": "v", "sales_by_store": "v", "payment_p2024_h2": "r"}
    pk = fetchall(url, "SELECT array_length(conkey, 1) FROM pg_constraint WHERE conrelid = 'film_actor'::regclass "
                       "AND contype = 'p'")
    assert pk == [(2,)]
    # a film has several actors: the bridge has far more rows than films
    assert fetchall(url, "SELECT count(*) > 2 * count(DISTINCT film_id) FROM film_actor")[0][0]


def test_sales_hierarchy_lines_and_never_ordered(urls):
    url = urls[SALES.name]
    assert fetchall(url, "SELECT count(*) FROM employee e JOIN employee m ON m.employee_id = e.reports_to")[0][0] == 24
    assert fetchall(url, "SELECT count(*) FROM product p WHERE NOT EXISTS "
                         "(SELECT 1 FROM order_line l WHERE l.product_id = p.product_id)")[0][0] == 10
    assert fetchall(url, "SELECT count(*) FROM order_line")[0][0] >= 8000


def test_hospital_comments_are_chinese_and_some_multiline(urls):
    url = urls[HOSPITAL.name]
    rows = fetchall(url, "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c "
                         "WHERE c.relname = ANY(%s)", (HOSPITAL.tables,))
    assert all(comment and any("\u4e00" <= ch <= "\u9fff" for ch in comment) for _, comment in rows)
    assert "\n" in dict(rows)["prescription_item"]
    assert fetchall(url, "SELECT col_description('visit'::regclass, 6)")[0][0].count("\n") == 1
    assert fetchall(url, "SELECT count(DISTINCT is_otc) FROM drug")[0][0] == 2
