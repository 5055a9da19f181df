"""The sampling and profiling heuristics of introspection, observed directly (issue 27).

`_sample` is called on real tables of a scratch database with the row estimate chosen by the test (a table of
3 rows stands for one of 50,000: only the estimate decides), through a connection that records the statements
it runs; `_profile` is given the real pg_stats rows of an analysed table. Each test names the decision it pins.
"""
from __future__ import annotations

import psycopg2
import psycopg2.extensions
import pytest

from data_pipeline.schema.introspect import _profile, _read_stats, _sample
from data_pipeline.schema.model import Column, Table
from tests.ddl_fixture_db import admin_url, run_sql, scratch_db


class RecordingCursor(psycopg2.extensions.cursor):
    def execute(self, query, vars=None):
        self.connection.statements.append(query.as_string(self) if hasattr(query, "as_string") else query)
        return super().execute(query, vars)


class RecordingConnection(psycopg2.extensions.connection):
    """A real connection that keeps the text of every statement run through its cursors."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.statements: list[str] = []

    def cursor(self, *args, **kwargs):
        kwargs.setdefault("cursor_factory", RecordingCursor)
        return super().cursor(*args, **kwargs)


@pytest.fixture(scope="module")
def db_url(app_ctx):
    with scratch_db(admin_url(app_ctx), "sampling_decisions") as url:
        run_sql(url, """
            CREATE TABLE public.three (id int, v text);
            INSERT INTO public.three VALUES (1, 'a'), (2, 'b'), (3, 'c');
            CREATE TABLE public.two (id int, v text);
            INSERT INTO public.two VALUES (1, 'a'), (2, 'b');
            CREATE TABLE public.nothing (id int, v text);
            CREATE VIEW public.three_view AS SELECT id, v FROM public.three;
            CREATE MATERIALIZED VIEW public.three_mv AS SELECT id, v FROM public.three;
            CREATE TABLE public.parts (id int, v text) PARTITION BY RANGE (id);
            CREATE TABLE public.parts_low PARTITION OF public.parts FOR VALUES FROM (0) TO (100);
            INSERT INTO public.parts SELECT id, v FROM public.three;
            CREATE TABLE public.repeats (v text);
            INSERT INTO public.repeats VALUES ('a'), ('a'), (NULL), ('b'), ('a'), (NULL);
            CREATE TABLE public.stats (id int, status text, maybe text, tuned int);
            INSERT INTO public.stats SELECT i, (ARRAY['active', 'frozen', 'closed'])[1 + i % 3],
                                            CASE WHEN i % 4 = 0 THEN 'x' || i END, i % 5
                                     FROM generate_series(1, 40) i;
            ALTER TABLE public.stats ALTER COLUMN tuned SET (n_distinct = 0.5);   -- stored as given
            ANALYZE public.stats;""")
        yield url


@pytest.fixture()
def conn(db_url):
    conn = psycopg2.connect(db_url, connection_factory=RecordingConnection)
    try:
        yield conn
    finally:
        conn.close()


def table(name: str, row_estimate, kind: str = "table", columns=("id", "v")) -> Table:
    return Table("public", name, kind=kind, row_estimate=row_estimate,
                 columns=[Column(c, "integer" if c == "id" else "text") for c in columns])


def sampled(conn, t: Table, limit: int) -> list[str]:
    """The statements `_sample` ran (without anything the connection ran before)."""
    conn.statements.clear()
    _sample(conn, t, limit)
    return list(conn.statements)


@pytest.mark.parametrize("estimate", [None, 0, 40, 10_000])
def test_small_or_unknown_tables_are_read_with_a_plain_limit(conn, estimate):
    """Up to TABLESAMPLE_FROM (10,000) rows, or with no estimate at all, one plain LIMIT read and no page sample."""
    statements = sampled(conn, table("three", estimate), 5)
    assert statements == ['SELECT CASE WHEN "id" IS NULL THEN NULL ELSE pg_catalog.left(pg_catalog.format(\'%s\', '
                          '"id"), 120) END, CASE WHEN "v" IS NULL THEN NULL ELSE pg_catalog.left(pg_catalog.format('
                          '\'%s\', "v"), 120) END FROM "public"."three" LIMIT 5']


@pytest.mark.parametrize("name, kind", [("three", "table"), ("three_mv", "materialized_view"),
                                        ("parts", "partitioned_table")])
def test_big_tables_sample_pages_first(conn, name, kind):
    """Above 10,000 rows the first read is TABLESAMPLE SYSTEM at ~100 rows per wanted sample: 5 of 50,000 rows ->
    1 % of the pages."""
    statements = sampled(conn, table(name, 50_000, kind), 5)
    assert f'FROM "public"."{name}" TABLESAMPLE SYSTEM (1.0) ORDER BY random() LIMIT 5' in statements[0]
    assert 1 <= len(statements) <= 2 and all("TABLESAMPLE" not in s for s in statements[1:])


def test_a_big_view_is_never_page_sampled(conn):
    """TABLESAMPLE applies to tables and materialized views only: a view of any size gets the plain read."""
    statements = sampled(conn, table("three_view", 50_000, "view"), 5)
    assert len(statements) == 1 and "TABLESAMPLE" not in statements[0]
    assert statements[0].endswith('FROM "public"."three_view" LIMIT 5')


@pytest.mark.parametrize("limit, estimate, percent", [
    (200, 15_000, "100.0"),          # 133 % wanted: capped (SYSTEM refuses more than 100)
    (5, 10 ** 12, "0.001"),          # 5e-6 % wanted: floored, so a few pages are still read
    (10, 20_000, "5.0"),             # in between: 100 rows read per sample wanted
])
def test_sample_percent_is_bounded(conn, limit, estimate, percent):
    statements = sampled(conn, table("three", estimate), limit)
    assert f"TABLESAMPLE SYSTEM ({percent}) ORDER BY random() LIMIT {limit}" in statements[0]


def test_enough_rows_from_the_pages_stop_the_reads(conn):
    """At 100 % (200 wanted of an estimated 15,000) SYSTEM reads every page: the 3 rows of `three` are enough
    (3 is the most asked of the pages), so no second, plain read follows."""
    t = table("three", 15_000)
    statements = sampled(conn, t, 200)
    assert len(statements) == 1 and "TABLESAMPLE SYSTEM (100.0)" in statements[0]
    assert t.column("v").samples and sorted(t.column("v").samples) == ["a", "b", "c"]


@pytest.mark.parametrize("name, samples", [("two", ["a", "b"]), ("nothing", [])])
def test_too_few_rows_from_the_pages_fall_back_to_a_plain_read(conn, name, samples):
    """Pages that gave fewer than 3 rows (here all the table has) are not trusted: the plain LIMIT read follows."""
    t = table(name, 15_000)
    statements = sampled(conn, t, 200)
    assert len(statements) == 2 and "TABLESAMPLE" in statements[0] and "TABLESAMPLE" not in statements[1]
    assert sorted(t.column("v").samples) == samples


def test_samples_are_distinct_and_skip_nulls(conn):
    t = table("repeats", 6, columns=("v",))
    sampled(conn, t, 5)
    assert t.column("v").samples == ["a", "b"]


def test_a_failed_read_leaves_no_samples(conn, caplog):
    """A table dropped since the catalog was read: the read fails (logged), the columns get no samples."""
    t = table("dropped_meanwhile", 40)
    sampled(conn, t, 5)
    assert t.column("v").samples == [] and "sampling public.dropped_meanwhile skipped" in caplog.text


# ------------------------------------------------------------------------------------------------- _profile
def stats_table(row_estimate) -> Table:
    return Table("public", "stats", row_estimate=row_estimate,
                 columns=[Column("id", "integer"), Column("status", "text"), Column("maybe", "text"),
                          Column("tuned", "integer")])


@pytest.fixture()
def real_stats(conn):
    """pg_stats of the analysed `stats` table (40 rows: unique id, 3 statuses, 10 non-null `maybe` values)."""
    return _read_stats(conn, [stats_table(40)], {})[("public", "stats")]


def test_profile_from_pg_stats(conn, real_stats):
    t = stats_table(40)
    _profile(conn, t, real_stats)
    status, ident, maybe = t.column("status"), t.column("id"), t.column("maybe")
    assert status.distinct_count == 3 and status.is_enum_like and status.null_fraction == 0
    assert sorted((v.value, v.count) for v in status.top_values) == [("active", 13), ("closed", 13), ("frozen", 14)]
    assert ident.distinct_count == 40 and ident.top_values == []   # n_distinct -1: a fraction of the rows
    assert maybe.null_fraction == 0.75 and maybe.distinct_count == 10


def test_a_positive_n_distinct_is_a_count_however_small(conn, real_stats):
    """A DBA's `SET (n_distinct = 0.5)` reaches pg_stats as 0.5: positive is a count (here under one), never a
    fraction of the rows (which would give -20 of 40 rows)."""
    assert real_stats["tuned"]["n_distinct"] == 0.5
    t = stats_table(40)
    _profile(conn, t, real_stats)
    assert t.column("tuned").distinct_count == 0 and not t.column("tuned").is_enum_like


def test_stale_stats_of_an_emptied_table_give_no_counts(conn, real_stats):
    """The exact count says 0 rows while pg_stats still describe 40 (ANALYZE has not run since a DELETE or
    TRUNCATE): fractions of no rows, no top values."""
    t = stats_table(0)
    _profile(conn, t, real_stats)
    assert t.column("id").distinct_count == 0
    assert all(c.top_values == [] for c in t.columns)


def test_stats_without_a_row_count_give_no_top_values(conn, real_stats):
    """No row estimate at all (a failed count on a table with reltuples -1, e.g. truncated): the frequencies cannot
    be scaled to counts; profiling still completes."""
    t = stats_table(None)
    _profile(conn, t, real_stats)
    assert t.column("status").distinct_count == 3 and t.column("status").top_values == []
