"""The rule-based pipeline on a database with the quirks of public sample databases (tests/quirks_fixture.py:
pgvector in public, Pagila's domain/enum/text[]/tsvector/user functions and aggregate, Northwind's bpchar keys and
real prices, mixed-case quoted tables, a non-public schema, keyword-named columns): no generated pair is refused
by the SQL guard, every one executes, the questions quote no raw code; and what those quirks make reachable is
still refused (pgvector's operators and aggregates on a vector, Pagila's functions by column notation)."""
from __future__ import annotations

import json
import logging
import re
import threading

import pytest

from data_pipeline.validation.check import SqlChecker
from tests.ddl_fixture_db import admin_url
from tests.quirks_fixture import NAME, TABLES, create


@pytest.fixture(scope="module")
def quirks_url(app_ctx):
    return create(admin_url(app_ctx))


def _run(settings, app_ctx, tmp_path, url: str, lang: str):
    from data_pipeline.executor.session import run_untracked
    from data_pipeline.taskfiles.table_list import parse_names

    task_dir = tmp_path / lang / "task_20250101_000000"
    task_dir.mkdir(parents=True)
    (task_dir / "table_list.txt").write_text("\n".join(TABLES) + "\n", encoding="utf-8")
    params = {"db_connection": url, "db_name": NAME, "question_language": lang, "business_context": "",
              "enable_sql_validation": True, "enable_training_data_load": False}
    outcome = run_untracked(settings, app_ctx, task_id=task_dir.name, task_dir=task_dir, params=params,
                            tables=parse_names(TABLES), mode="complete", step=None, options={},
                            cancel_event=threading.Event())
    return task_dir, outcome


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_generated_pair_passes_the_guard_and_reads_right(app_ctx, settings, tmp_path, quirks_url, lang):
    logging.getLogger("data_pipeline").setLevel(logging.WARNING)
    task_dir, outcome = _run(settings, app_ctx, tmp_path, quirks_url, lang)
    assert outcome == "completed", outcome
    report = json.loads(sorted(task_dir.glob("sql_validation_*_report.json"))[-1].read_text(encoding="utf-8"))
    results = report["detailed_results"]
    assert len(results) >= 80
    bad = [(r["status"], r["error_message"], r["sql"][:120]) for r in results if r["status"] not in ("valid", "empty")]
    assert bad == []
    pairs = json.loads(sorted(task_dir.glob("qs_*_pair.json"))[-1].read_text(encoding="utf-8"))
    assert len(pairs) == len(results)
    sqls = "\n".join(p["sql"] for p in pairs)
    # the quirky tables are asked about: the non-public schema, the quoted mixed-case ones, the enum, the partitions
    for needle in ("hr.event", '"Track"', "f.rating", "FROM payment", 'FROM "order"', '"group"'):
        assert needle in sqls, needle
    questions = [p["question"] for p in pairs]
    quoted = [v for q in questions for v in re.findall(r"[“\"']([^”\"']*)[”\"']", q)]
    assert not [v for v in quoted if v != v.strip()], "a blank-padded character(n) value is quoted as stored"
    assert not [v for v in quoted if v.lower() in ("t", "f", "true", "false", "0", "1")]
    assert not [q for q in questions if re.search(r"\b([a-z]{3,})\s+\1\b", q, re.I) or
                re.search(r"([\u4e00-\u9fff]{2,3})\1", q)]
    assert not [q for q in questions if re.search(r"\bactivebool\b", q)], "a run-together flag name is quoted raw"
    assert 'SUM(o."limit")' not in sqls, "a credit limit is no additive measure"
    if lang == "en":
        assert "How many inventory items are there?" in questions and "How many inventory are there?" not in questions


REFUSED = [
    # pgvector's aggregates and operators are reached once the statement reads a vector
    ("SELECT avg(embedding) FROM film", "function avg is defined in schema public"),
    ("SELECT film_id FROM film WHERE embedding = embedding", "is defined in schema public"),
    ("SELECT film_id FROM film ORDER BY embedding LIMIT 3", "is defined in schema public"),
    ("SELECT film_id FROM film f, LATERAL (SELECT f.*) x ORDER BY 1", "is defined in schema public"),
    ("SELECT max(embedding) FROM film", "is defined in schema public"),
    # Pagila's own functions and aggregate, by column notation (not in the allowlist by name either)
    ("SELECT f.group_concat FROM film f", "group_concat"),
    ("SELECT r.last_day FROM rental r", "last_day"),
    ("SELECT group_concat(title) FROM film", "group_concat"),
    # a domain in a cast runs its CHECK
    ("SELECT 2005::year", "year"),
]
ACCEPTED = [
    "SELECT avg(amount), sum(amount), max(payment_date) FROM payment",
    "SELECT f.rating, avg(f.rental_rate) FROM film f WHERE f.rating = 'PG' GROUP BY 1 ORDER BY 2 DESC",
    "SELECT f.title FROM film f WHERE 'Trailers' = ANY (f.special_features) ORDER BY f.title LIMIT 3",
    "SELECT count(*) FROM film f WHERE f.fulltext @@ to_tsquery('english', 'film') AND f.release_year > 2010",
    "SELECT s.name, s.n FROM (SELECT e.name, count(*) AS n FROM hr.event e GROUP BY e.name) s ORDER BY s.n DESC",
    "WITH d AS (SELECT name, department_id FROM hr.department) SELECT d.name FROM d ORDER BY d.name",
    "SELECT e.date, e.position, e.year, e.first, e.range, e.value FROM hr.event e ORDER BY e.value LIMIT 5",
    "SELECT sum(floor_rent), avg(floor_rent::numeric) FROM store",
    "SELECT c.customer_id, sum(d.unit_price * d.quantity * (1 - d.discount)) FROM nw_orders c "
    "JOIN nw_order_details d USING (order_id) GROUP BY 1 ORDER BY 2 DESC LIMIT 3",
    'SELECT g."Name", avg(t."UnitPrice") FROM "Track" t JOIN "Genre" g ON g."GenreId" = t."GenreId" GROUP BY 1',
    "SELECT * FROM film_list ORDER BY fid LIMIT 2",
    "SELECT l.name, count(*) FROM film f JOIN language l USING (language_id) GROUP BY 1",
]


def test_quirks_are_accepted_and_what_they_make_reachable_is_refused(settings, quirks_url):
    with SqlChecker(quirks_url, statement_timeout_ms=5000, lock_timeout_ms=1000, row_cap=100, concurrency=1,
                    settings=settings) as checker:
        for sql in ACCEPTED:
            result = checker.check(sql)
            assert result.status in ("valid", "empty"), (sql, result.status, result.error)
        for sql, named in REFUSED:
            result = checker.check(sql)
            assert result.status == "rejected" and named in result.error, (sql, result.status, result.error)
