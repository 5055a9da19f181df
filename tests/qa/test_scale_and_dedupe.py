"""Coverage at scale (issue 12): identifier-aware template dedupe, a top-up that is never removed, output that
grows with the schema (per-table budget), and a short-coverage StepWarning instead of a giant log line.

One moderately sized end-to-end run (80 look-alike tables, 72 FK edges, through a SELECT-only role); the
300-table run with validation and training load is bench/bench_questions.py.
"""
from __future__ import annotations

import logging

import pytest

from app_config import load_settings
from data_pipeline.qa.pair_quality import Coverage, dedupe_pairs
from data_pipeline.qa.pairs import Pair, latest_pairs_file, read_pairs
from data_pipeline.qa import rule_plan
from data_pipeline.qa.rule_plan import plan_theme_work, theme_pairs
from data_pipeline.qa.themes import rule_based_themes
from data_pipeline.schema.model import SNAPSHOT_FILE, Column, ForeignKey, Table, load_snapshot
from data_pipeline.steps import ddl_generation, qa_generation
from data_pipeline.steps.base import StepContext
from data_pipeline.taskfiles.table_list import parse_names
from tests.ddl_fixture_db import admin_url
from tests.qa.fixture_schemas import create_business_db, lookalike_sql, lookalike_tables

FAMILIES, PER_FAMILY = 8, 10


@pytest.fixture(scope="module")
def lookalike_run(app_ctx, tmp_path_factory):
    url = create_business_db(admin_url(app_ctx), "qa_lookalike_fixture", lookalike_sql(FAMILIES, PER_FAMILY, 60),
                             "qa_lookalike_reader")
    task_dir = tmp_path_factory.mktemp("lookalike")
    ctx = StepContext(task_id="task_20250101_000000", task_dir=task_dir, params={"db_name": "lookalike"},
                      options={}, settings=app_ctx.settings, business_url=url, meta_db=app_ctx.db,
                      tables=parse_names(lookalike_tables(FAMILIES, PER_FAMILY)),
                      logger=logging.getLogger("test.qa.scale"))
    ddl_generation.run(ctx)
    result = qa_generation.run(ctx)
    tables, _ = load_snapshot(task_dir / SNAPSHOT_FILE)
    return result, read_pairs(latest_pairs_file(task_dir)), tables


def test_lookalike_families_are_covered_table_by_table(lookalike_run):
    result, pairs, tables = lookalike_run
    s = result.summary
    assert s["tables_total"] == FAMILIES * PER_FAMILY and s["fk_edges_total"] == FAMILIES * (PER_FAMILY - 1)
    assert s["tables_covered"] == s["tables_total"] and s["fk_edges_covered"] == s["fk_edges_total"]
    assert s["duplicates_removed"] == {"exact": 0, "template": 0}
    assert s["coverage_top_up"] == 0 and result.warnings == []
    # every table is asked about on its own; output grows with the schema, within the per-table budget
    # (QA_PAIRS_PER_TABLE for an entity or lookup, three times that for a fact: its measures carry the questions)
    own = {p.meta["tables"][0] for p in pairs if len(p.meta["tables"]) == 1}
    assert own == {t.qualified for t in tables}
    assert len(pairs) >= 3 * len(tables)
    per_table = {}
    for p in pairs:
        if len(p.meta["tables"]) == 1 and p.meta["template"] != "self_join":
            per_table[p.meta["tables"][0]] = per_table.get(p.meta["tables"][0], 0) + 1
    assert max(per_table.values()) <= 3 * load_settings({}, environ={}).qa_pairs_per_table


def _pair(question: str, sql: str, **meta) -> Pair:
    return Pair(question, sql, {"difficulty": "aggregate", **meta})


def test_template_dedupe_knows_identifiers():
    same_shape = [_pair("“d00_t1”共有多少条记录？", "SELECT COUNT(*) AS record_count\nFROM d00_t1"),
                  _pair("“d07_t1”共有多少条记录？", "SELECT COUNT(*) AS record_count\nFROM d07_t1"),
                  _pair("“d07_t1”中“kind”为“a”的记录有多少？", "SELECT COUNT(*) FROM d07_t1 WHERE kind = 'a'"),
                  _pair("“d07_t1”中“kind”为“b”的记录有多少？", "SELECT COUNT(*) FROM d07_t1 WHERE kind = 'b'"),
                  _pair("“d07_t1”中“state”为“b”的记录有多少？", "SELECT COUNT(*) FROM d07_t1 WHERE state = 'b'")]
    result = dedupe_pairs(same_shape)
    # different tables or columns: kept; the same question on the same columns with another value: a duplicate
    assert [p.question for p in result.kept] == [same_shape[i].question for i in (0, 1, 2, 4)]
    assert result.counts == {"exact": 0, "template": 1}


def test_top_up_is_never_removed_and_keeps_questions_unique():
    kept = [_pair("各名称对应的金额合计是多少？", "SELECT p.name, SUM(c.amount) FROM d00_t1 c JOIN d00_t0 p ON c.t0_id = p.id GROUP BY 1")]
    top_up = [_pair("各名称对应的金额合计是多少？", "SELECT p.name, SUM(c.amount) FROM d00_t2 c JOIN d00_t0 p ON c.t0_id = p.id GROUP BY 1",
                    tables=["public.d00_t0", "public.d00_t2"], coverage_top_up=True),
              _pair("“d00_t3”共有多少条记录？", "SELECT COUNT(*) FROM d00_t3", coverage_top_up=True),
              _pair("“d00_t4”共有多少条记录？", "SELECT COUNT(*) FROM d00_t4", coverage_top_up=True)]
    assert rule_plan.add_top_up(kept, top_up) == 3
    questions = [p.question for p in kept]
    assert len(set(questions)) == 4 and "“d00_t2”" in questions[1]
    assert [p.sql for p in kept[1:]] == [p.sql for p in top_up]


def _family(n: int) -> list[Table]:
    """Look-alike tables without profiles: t0 (id, name) and facts with an FK to it and a measure."""
    out = []
    for f in range(n):
        dim = Table("public", f"d{f:02d}_t0", columns=[Column("id", "integer", is_primary_key=True),
                                                       Column("name", "character varying(40)")],
                    primary_key=["id"], row_estimate=50)
        out.append(dim)
        for t in range(1, 6):
            out.append(Table("public", f"d{f:02d}_t{t}", columns=[
                Column("id", "integer", is_primary_key=True), Column("t0_id", "integer"),
                Column("amount", "numeric(10,2)")], primary_key=["id"], row_estimate=200,
                foreign_keys=[ForeignKey("fk", ["t0_id"], "public", dim.name, ["id"])]))
    return out


def test_per_table_budget_bounds_single_table_pairs_but_keeps_every_join():
    tables = _family(3)
    themes = rule_based_themes(tables)
    work = plan_theme_work(themes, tables)
    for budget in (1, 2):
        pairs = [p for th in themes for p in theme_pairs(th.topic_name, *work[th.topic_name], tables, budget)]
        singles: dict[str, int] = {}
        for p in pairs:
            if p.meta["template"] != "fk_join":
                singles[p.meta["tables"][0]] = singles.get(p.meta["tables"][0], 0) + 1
        assert set(singles) == {t.qualified for t in tables} and max(singles.values()) == budget
        assert sum(p.meta["template"] == "fk_join" for p in pairs) == 15
    many = [_pair(f"q{i}", f"SELECT {i}", difficulty=d) for i, d in enumerate(["aggregate"] * 5 + ["group_by"] * 3)]
    chosen = rule_plan.within_budget(many, 4)
    assert [p.meta["difficulty"] for p in chosen] == ["aggregate", "aggregate", "group_by", "group_by"]


def test_short_coverage_is_one_warning_with_twenty_names_and_a_count(caplog):
    coverage = Coverage(tables_total=300, tables_covered=260, fk_edges_total=270, fk_edges_covered=250,
                        missing_tables=[f"public.d{i:02d}_t1" for i in range(40)],
                        missing_fk_edges=[f"public.d{i:02d}_t2(t0_id)->public.d{i:02d}_t0(id)" for i in range(20)])
    ctx = StepContext(task_id="t", task_dir=None, params={}, options={}, settings=None, business_url="",
                      meta_db=None, tables=[], logger=logging.getLogger("test.qa.cov"))
    with caplog.at_level(logging.WARNING, logger="test.qa.cov"):
        warnings = qa_generation.step_warnings(ctx, coverage, [], [], 0)
    assert [w.code for w in warnings] == ["COVERAGE_SHORT"]
    as_dict = warnings[0].to_dict()
    assert as_dict["object_count"] == 60 and len(as_dict["objects"]) == 20
    assert "40 of 300 tables and 20 of 270 FK edges" in as_dict["message"]
    line = "\n".join(r.getMessage() for r in caplog.records)
    assert "(+40 more)" in line and len(line) < 2000 and "public.d39_t1" not in line
