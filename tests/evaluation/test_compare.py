"""Execution-accuracy comparison (BIRD EX, defog subset) on results the real embedded PostgreSQL returns: real
types (numeric as Decimal, float8, NULL), real duplicates and orders. Each case states the verdict it expects."""
from __future__ import annotations

import pytest

from data_pipeline.evaluation.accuracy import ResultReader
from data_pipeline.evaluation.compare import compare, order_spec

SCORES = "(VALUES ('a', 10), ('b', 9), ('c', 9), ('d', 7)) AS s(name, score)"


@pytest.fixture(scope="module")
def reader(business_url, settings):
    r = ResultReader(business_url, settings)
    yield r
    r.close()


def verdict(reader, gold_sql, generated_sql):
    gold, pred = reader.run_gold(gold_sql), reader.run(generated_sql)
    assert gold.ok and pred.ok, (gold.error, pred.error)
    return compare(gold_sql, gold.columns, gold.rows, pred.columns, pred.rows, gold.next_row)


def test_duplicate_rows_count_as_a_multiset(reader):
    gold = "SELECT x FROM (VALUES (1), (1), (2)) AS v(x)"
    assert verdict(reader, gold, "SELECT x FROM (VALUES (2), (1), (1)) AS v(x)").ex            # order free
    v = verdict(reader, gold, "SELECT x FROM (VALUES (1), (2), (2)) AS v(x)")                  # same set, not multiset
    assert not v.ex and not v.subset
    v = verdict(reader, gold, "SELECT DISTINCT x FROM (VALUES (1), (1), (2)) AS v(x)")
    assert not v.ex and "2 rows" in v.reason


def test_null_equals_only_null(reader):
    gold = "SELECT NULL::int AS x, 1 AS y"
    assert verdict(reader, gold, "SELECT NULL::numeric AS x, 1 AS y").ex
    assert not verdict(reader, gold, "SELECT 0 AS x, 1 AS y").ex
    assert not verdict(reader, gold, "SELECT ''::text AS x, 1 AS y").ex
    assert not verdict(reader, "SELECT 0 AS x", "SELECT NULL::int AS x").ex


def test_numbers_within_tolerance_but_not_rounded_away(reader):
    values = "(VALUES (1), (2), (2)) AS v(x)"
    gold = f"SELECT AVG(x) AS a FROM {values}"                       # numeric 1.6666666666666667
    assert verdict(reader, gold, f"SELECT AVG(x::float8) AS a FROM {values}").ex
    assert verdict(reader, gold, f"SELECT SUM(x)::float8 / COUNT(*) AS a FROM {values}").ex
    assert not verdict(reader, gold, f"SELECT ROUND(AVG(x), 2) AS a FROM {values}").ex
    assert verdict(reader, "SELECT 5::bigint AS n", "SELECT 5.0::numeric AS n").ex     # int vs numeric


def test_order_counts_only_with_order_by_and_limit(reader):
    ordered = f"SELECT name, score FROM {SCORES} ORDER BY score DESC, name LIMIT 3"
    assert order_spec(ordered) is not None
    assert verdict(reader, ordered, f"SELECT name, score FROM {SCORES} ORDER BY score DESC, name LIMIT 3").ex
    v = verdict(reader, ordered, "SELECT name, score FROM (VALUES ('b', 9), ('a', 10), ('c', 9)) AS s(name, score)")
    assert not v.ex and "another order" in v.reason
    unlimited = f"SELECT name, score FROM {SCORES} ORDER BY score DESC"
    assert order_spec(unlimited) is None
    assert verdict(reader, unlimited, f"SELECT name, score FROM {SCORES} ORDER BY name").ex


def test_ties_may_come_in_any_order_and_a_tie_cut_by_limit_may_show_the_other_row(reader):
    top2 = f"SELECT name, score FROM {SCORES} ORDER BY score DESC LIMIT 2"          # a, then b or c (tie at 9)
    assert verdict(reader, top2, "SELECT name, score FROM (VALUES ('a', 10), ('c', 9)) AS s(name, score)").ex
    assert verdict(reader, top2, "SELECT name, score FROM (VALUES ('a', 10), ('b', 9)) AS s(name, score)").ex
    assert not verdict(reader, top2, "SELECT name, score FROM (VALUES ('a', 10), ('d', 7)) AS s(name, score)").ex
    assert not verdict(reader, top2, "SELECT name, score FROM (VALUES ('b', 9), ('a', 10)) AS s(name, score)").ex
    top3 = f"SELECT name, score FROM {SCORES} ORDER BY score DESC LIMIT 3"          # the whole tie is inside
    assert verdict(reader, top3, "SELECT name, score FROM (VALUES ('a', 10), ('c', 9), ('b', 9)) AS s(name, score)").ex
    assert not verdict(reader, top3,
                       "SELECT name, score FROM (VALUES ('a', 10), ('c', 9), ('c', 9)) AS s(name, score)").ex


def test_a_wider_result_is_a_subset_match_not_ex(reader):
    gold = f"SELECT name, score FROM {SCORES} WHERE score > 8"
    wider = verdict(reader, gold, f"SELECT score * 0 AS zero, score, name FROM {SCORES} WHERE score > 8")
    assert not wider.ex and wider.subset and "3 columns" in wider.reason
    swapped = verdict(reader, gold, f"SELECT score, name FROM {SCORES} WHERE score > 8")
    assert not swapped.ex and swapped.subset and "column order" in swapped.reason
    # the gold's columns are there, but the rows pair them differently: no subset match
    shuffled = verdict(reader, gold, "SELECT name, score FROM (VALUES ('a', 9), ('b', 10), ('c', 9)) AS s(name, score)")
    assert not shuffled.ex and not shuffled.subset
    narrower = verdict(reader, gold, f"SELECT name FROM {SCORES} WHERE score > 8")
    assert not narrower.ex and not narrower.subset


def test_an_empty_gold_result_matches_only_an_empty_result(reader):
    gold = f"SELECT name FROM {SCORES} WHERE score > 100"
    assert verdict(reader, gold, f"SELECT name, score FROM {SCORES} WHERE false").ex
    v = verdict(reader, gold, f"SELECT name FROM {SCORES} WHERE score > 9")
    assert not v.ex and not v.subset
    assert not verdict(reader, f"SELECT name FROM {SCORES}", f"SELECT name FROM {SCORES} WHERE false").ex


def test_on_demo_tables_a_rewritten_query_is_still_right(reader):
    gold = ("SELECT company_name, COUNT(*) AS n FROM bss_service_area a JOIN bss_company c ON c.id = a.company_id "
            "WHERE a.delete_ts IS NULL GROUP BY company_name")
    same = ("SELECT c.company_name, (SELECT COUNT(*) FROM bss_service_area a WHERE a.company_id = c.id AND "
            "a.delete_ts IS NULL) AS cnt FROM bss_company c WHERE EXISTS (SELECT 1 FROM bss_service_area a "
            "WHERE a.company_id = c.id AND a.delete_ts IS NULL)")
    assert verdict(reader, gold, same).ex


def test_the_guard_and_the_database_turn_failures_into_reasons(reader):
    assert "rejected" in reader.run("DELETE FROM bss_company").error
    assert "rejected" in reader.run("SELECT 1; DROP TABLE bss_company").error
    assert reader.run("SELECT no_such_column FROM bss_company").error.startswith("database error")
