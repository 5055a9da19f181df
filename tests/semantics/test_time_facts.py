"""Value facts of the semantic model (issue 22) on the real embedded PostgreSQL: each event time's real first and
last date, read from the business database (a partitioned parent, through a SELECT-only role), not the few pages
the samples saw; the sampled range kept and marked approximate when the read times out or fails; distinct counts
and null shares per column; a personal date never shown as a range.

`visit` is partitioned by year and filled newest-first, so the 20 sampled rows all lie in December 2021 while
the data runs 2021-01-01 … 2024-12-31. `slow_visit` is a view that sleeps per row: its 20 samples come back,
its min/max cannot within the (lowered) per-table timeout. `archived_visit` is a view whose date column refuses
rows before March 2021 (a row-level rule raising insufficient_privilege, as a security barrier would): the sampled
newest rows read, its min/max does not. Both fall back to samples, and ddl_generation says so
(TIME_RANGE_APPROXIMATE, the run partial_completed).
"""
from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from data_pipeline.executor import plan
from data_pipeline.schema import time_range
from data_pipeline.schema.model import SNAPSHOT_FILE, load_snapshot
from data_pipeline.semantics import MODEL_FILE, build_semantic_model, read_model
from data_pipeline.semantics.build import event_time_columns
from data_pipeline.steps import ddl_generation, qa_generation
from data_pipeline.steps.base import StepContext
from data_pipeline.taskfiles.table_list import parse_names
from tests.ddl_fixture_db import admin_url
from tests.qa.fixture_schemas import create_business_db

TABLES = ["clinic", "patient", "visit", "slow_visit", "archived_visit"]
SQL = """
CREATE TABLE clinic (clinic_id integer PRIMARY KEY, clinic_name varchar(40) NOT NULL);
INSERT INTO clinic SELECT g, 'Clinic ' || g FROM generate_series(1, 5) g;
CREATE TABLE patient (patient_id integer PRIMARY KEY, first_name varchar(40) NOT NULL, last_name varchar(40) NOT NULL,
    birth_date date, nickname varchar(20), clinic_id integer REFERENCES clinic(clinic_id));
INSERT INTO patient SELECT g, (ARRAY['Ann','Bob','Cem','Dana','Eli'])[1 + g % 5],
    (ARRAY['Smith','Jones','Brown','Lee'])[1 + g % 4], date '1950-01-01' + g * 97,
    CASE WHEN g % 4 = 0 THEN 'n' || g END, 1 + g % 5
FROM generate_series(1, 120) g;
CREATE TABLE visit (visit_id integer NOT NULL, clinic_id integer NOT NULL REFERENCES clinic(clinic_id),
    patient_id integer REFERENCES patient(patient_id), visit_date date NOT NULL, fee numeric(8,2) NOT NULL,
    PRIMARY KEY (visit_id, visit_date)) PARTITION BY RANGE (visit_date);
CREATE TABLE visit_2021 PARTITION OF visit FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
CREATE TABLE visit_2022 PARTITION OF visit FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');
CREATE TABLE visit_2023 PARTITION OF visit FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE visit_2024 PARTITION OF visit FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO visit SELECT g, 1 + g % 5, 1 + g % 120, date '2021-01-01' + g, 20 + g % 70
FROM generate_series(1460, 0, -1) g;
CREATE FUNCTION nap() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.005); RETURN true; END $$;
CREATE VIEW slow_visit AS SELECT visit_id, clinic_id, visit_date, fee FROM visit
    WHERE visit_date >= date '2024-06-01' AND nap();
CREATE FUNCTION readable_date(d date) RETURNS date LANGUAGE plpgsql AS $$ BEGIN
    IF d < date '2021-03-01' THEN RAISE EXCEPTION 'permission denied for archived visits'
        USING ERRCODE = 'insufficient_privilege'; END IF;
    RETURN d; END $$;
CREATE VIEW archived_visit AS SELECT visit_id, clinic_id, readable_date(visit_date) AS visit_date, fee FROM visit;
ANALYZE;
"""
TIMEOUT_MS = 250          # slow_visit's min/max takes ~1.1 s (214 rows x 5 ms); visit's a few ms


@pytest.fixture(scope="module")
def clinic_url(app_ctx):
    return create_business_db(admin_url(app_ctx), "facts_clinic", SQL, "facts_reader")


@pytest.fixture(scope="module")
def clinic_steps(app_ctx, clinic_url, tmp_path_factory):
    """(task directory, ddl_generation's StepResult)."""
    task_dir = tmp_path_factory.mktemp("facts_clinic")
    ctx = StepContext(task_id="task_20250101_000000", task_dir=task_dir,
                      params={"question_language": "en", "business_context": "", "db_name": "clinic"}, options={},
                      settings=app_ctx.settings, business_url=clinic_url, meta_db=app_ctx.db,
                      tables=parse_names(TABLES), logger=logging.getLogger("test.semantics.facts"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(time_range, "TIMEOUT_MS", TIMEOUT_MS)
        ddl_result = ddl_generation.run(ctx)
    qa_generation.run(ctx)
    return task_dir, ddl_result


@pytest.fixture(scope="module")
def clinic_run(clinic_steps):
    return clinic_steps[0]


def test_event_time_range_is_read_from_the_database_not_the_samples(clinic_run):
    task_dir = clinic_run
    snapshot, _ = load_snapshot(task_dir / SNAPSHOT_FILE)
    visit = next(t for t in snapshot if t.name == "visit")
    sampled = sorted(visit.column("visit_date").samples)
    assert sampled and sampled[0] > "2021-01-01" and sampled[-1] < "2022-01-01"   # what the old range showed
    facts = json.loads((task_dir / MODEL_FILE).read_text("utf-8"))["tables"]["public.visit"]["facts"]
    assert facts == {"min_time": "2021-01-01", "max_time": "2024-12-31"}           # exact: no "approximate"
    detail = (task_dir / "metadata_detail.md").read_text("utf-8").split("\n## Semantic model\n")[1]
    assert "- Event time: visit_date (2021-01-01 to 2024-12-31)" in detail
    assert "- Event time: visit_date (2021-01-01 to 2024-12-31)" in (task_dir / "visit_detail.md").read_text("utf-8")


def test_a_range_that_times_out_keeps_the_sample_marked_approximate(clinic_run):
    task_dir = clinic_run
    model = read_model(task_dir)
    slow = model.tables["public.slow_visit"]
    assert slow.kind == "view" and slow.event_time == "visit_date"
    assert slow.facts["approximate"] is True
    lo, hi = slow.facts["min_time"], slow.facts["max_time"]
    assert "2024-06-01" <= lo <= hi <= "2024-12-31" and (lo, hi) != ("2024-06-01", "2024-12-31")
    detail = (task_dir / "metadata_detail.md").read_text("utf-8")
    assert f"- Event time: visit_date (about {lo} to {hi}, from a sample only)" in detail
    assert f"visit_date (about {lo} to {hi}, from a sample only)" in (task_dir / "slow_visit_detail.md").read_text(
        "utf-8")


def test_a_range_the_reader_may_not_read_keeps_the_sample_marked_approximate(clinic_run):
    archived = read_model(clinic_run).tables["public.archived_visit"]
    assert archived.event_time == "visit_date" and archived.facts["approximate"] is True
    assert archived.facts["min_time"] >= "2021-03-01"          # only rows the view lets through were sampled


def test_approximate_ranges_are_a_warning_and_the_run_is_partial(clinic_steps):
    _, result = clinic_steps
    found = [w for w in result.warnings if getattr(w, "code", None) == "TIME_RANGE_APPROXIMATE"]
    assert len(found) == 1, result.warnings
    warning = found[0]
    assert sorted(warning.objects) == ["public.archived_visit", "public.slow_visit"]   # not visit: read exactly
    assert "2 table(s)" in warning.message and "approximate" in warning.message
    assert "statement timeout" in warning.message or "permission denied" in warning.message   # the first's reason
    dicts = [{"step": "ddl_generation", **w.to_dict()} for w in result.warnings if not isinstance(w, str)]
    done = {s: "completed" for s in plan.STEPS}
    assert plan.final_task_status("completed", done, dicts) == "partial_completed"
    assert "2 张表的业务时间范围未能精确读取" in plan.warnings_message(dicts)


def test_no_warning_when_every_range_is_exact(clinic_run):
    from data_pipeline.steps.ddl_generation import approximate_range_warnings
    model = read_model(clinic_run)
    assert approximate_range_warnings(model, {}) != []
    for q in ("public.slow_visit", "public.archived_visit"):
        model.tables[q].facts = {"min_time": "2024-06-01", "max_time": "2024-12-31"}
    assert approximate_range_warnings(model, {}) == []


def test_reader_reports_what_it_could_not_read(app_ctx, clinic_url):
    snapshot = {t.name: t for t in _tables(app_ctx, clinic_url)}
    gone = replace(snapshot["visit"], name="visit_dropped_meanwhile")
    remote = replace(snapshot["clinic"], name="clinic_remote", kind="foreign_table")
    out = time_range.read_time_ranges(clinic_url, [(snapshot["visit"], "visit_date"), (gone, "visit_date"),
                                                   (remote, "clinic_name")], app_ctx.settings)
    assert out.ranges == {"public.visit": {"column": "visit_date", "min_time": "2021-01-01",
                                           "max_time": "2024-12-31"}}
    assert set(out.failed) == {"public.visit_dropped_meanwhile", "public.clinic_remote"}
    assert "does not exist" in out.failed["public.visit_dropped_meanwhile"]
    # the sleeping view under a short timeout: reported, not raised
    slow = time_range.read_time_ranges(clinic_url, [(snapshot["slow_visit"], "visit_date")], app_ctx.settings,
                                       timeout_ms=100)
    assert not slow.ranges and "statement timeout" in slow.failed["public.slow_visit"]


def _tables(app_ctx, url):
    from data_pipeline.schema import introspect
    tables, missing = introspect.introspect(url, parse_names(TABLES), app_ctx.settings)
    assert not missing
    return tables


def test_distinct_counts_and_null_shares_are_value_facts(clinic_run):
    data = json.loads((clinic_run / MODEL_FILE).read_text("utf-8"))["tables"]
    patient = data["public.patient"]["columns"]
    assert patient["nickname"]["null_share"] == pytest.approx(0.75, abs=0.01)   # set on every 4th row
    assert patient["clinic_id"]["cardinality"] == 5 and patient["clinic_id"]["null_share"] == 0.0   # 0 is a fact
    assert data["public.clinic"]["columns"]["clinic_name"]["cardinality"] == 5


def test_a_personal_date_never_gets_a_range(clinic_run):
    tables, _ = load_snapshot(clinic_run / SNAPSHOT_FILE)
    over = {"tables": {"public.patient": {"event_time": "birth_date"}}}
    assert "public.patient" not in event_time_columns(tables, over)     # never read from the database
    model = build_semantic_model(tables, "en", over)
    assert model.tables["public.patient"].event_time == "birth_date"    # the user's word stands ...
    assert model.tables["public.patient"].facts == {}                   # ... but no birth dates are shown
    built = read_model(clinic_run)
    assert built.tables["public.patient"].columns["birth_date"].role == "personal_date"
    assert "birth_date (" not in (clinic_run / "metadata_detail.md").read_text("utf-8")


def test_ranges_read_ahead_are_used_and_a_changed_column_is_read_again(app_ctx, clinic_url, tmp_path, monkeypatch):
    """ddl_generation reads the ranges while the LLM writes the comments (issue 26); once the comments are in, a
    table whose event-time column is still the one read ahead keeps that read, any other is read then."""
    monkeypatch.setattr(time_range, "TIMEOUT_MS", TIMEOUT_MS)
    tables = _tables(app_ctx, clinic_url)
    ctx = StepContext(task_id="task_20250101_000000", task_dir=tmp_path, params={}, options={},
                      settings=app_ctx.settings, business_url=clinic_url, meta_db=app_ctx.db,
                      tables=parse_names(TABLES), logger=logging.getLogger("test.semantics.facts"))
    ahead = ddl_generation.TimeRangesAhead(ctx, tables)
    assert ahead.columns["public.visit"] == "visit_date"
    planted = {"column": "visit_date", "min_time": "1999-01-01", "max_time": "1999-12-31"}
    ahead.result().ranges["public.visit"] = planted          # marks what comes from the read ahead
    ranges, unread = ddl_generation._event_time_ranges(ctx, tables, {}, ahead)
    assert ranges["public.visit"] == planted
    assert "statement timeout" in unread["public.slow_visit"]          # a failure read ahead is kept too
    ahead.columns["public.visit"] = "another_column"         # as if the comments had changed the choice
    ranges, _ = ddl_generation._event_time_ranges(ctx, tables, {}, ahead)
    assert ranges["public.visit"] == {"column": "visit_date", "min_time": "2021-01-01", "max_time": "2024-12-31"}
