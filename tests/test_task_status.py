"""Truthful task status (issue 13) on a real PostgreSQL: a fresh 11-table database, a role created here that may
read 5 of them, missing tables, an unpopulated materialized view, a later step failing after earlier successes,
and the status fields clients poll on (`finished`, `warnings`, `duration`, `total_duration`)."""
from __future__ import annotations

import json

import pytest

from citu_app import create_app
from data_pipeline.steps import sql_validation
from tests.ddl_fixture_db import run_sql
from tests.executor_support import BASE, stop_executors, task_status, wait_final
from tests.openai_stub import Reply
from tests.status_fixture_db import ALL_TABLES, READABLE, ROLE, UNREADABLE, status_fixture


@pytest.fixture(scope="module")
def fixture_urls(app_ctx):
    return status_fixture(app_ctx)


@pytest.fixture()
def api(client, app_ctx):
    yield client
    stop_executors(app_ctx.db)


def error_of(resp, status: int) -> dict:
    body = resp.get_json()
    assert resp.status_code == status, body
    assert body["success"] is False and "Traceback" not in json.dumps(body)
    return {**body["error"], "message": body["message"]}


def create(api, **body) -> dict:
    resp = api.post(BASE, json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]


def execute(api, task_id: str, **body):
    return api.post(f"{BASE}/{task_id}/execute", json=body)


def warning_codes(status: dict) -> list[str]:
    return [w["code"] for w in status["warnings"]]


def test_unreadable_tables_are_refused_then_reported_when_accepted(api, app_ctx, fixture_urls):
    _, reader = fixture_urls
    base = {"table_names": ALL_TABLES, "db_connection": reader, "enable_training_data_load": False}

    # before any run: 400 naming the 6 tables the role cannot read; no task is left behind
    error = error_of(api.post(BASE, json=base), 400)
    assert error["code"] == "VALIDATION_ERROR" and error["invalid_params"] == UNREADABLE
    assert "allow_unreadable_tables" in error["details"] and error["message"] == "部分表无读取权限"
    assert api.get(BASE).get_json()["data"]["total"] == 0

    # accepted explicitly: created, the check's findings in the answer, and the run skips those tables
    task = create(api, **base, allow_unreadable_tables=True)
    assert task["table_check"] == {"checked": True, "unreadable_tables": UNREADABLE, "unpopulated_views": []}
    assert task["finished"] is False and task["warnings"] == [] and task["duration"] is None
    resp = execute(api, task["task_id"])
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["data"]["table_check"]["unreadable_tables"] == UNREADABLE

    status = wait_final(api, task["task_id"], timeout=120)
    assert status["status"] == "partial_completed" and status["finished"] is True, status["error_message"]
    assert status["step_status"] == {"ddl_generation": "completed", "qa_generation": "completed",
                                     "sql_validation": "completed", "training_load": "skipped"}
    unreadable = next(w for w in status["warnings"] if w["code"] == "TABLES_UNREADABLE")
    assert unreadable["step"] == "ddl_generation" and unreadable["count"] == unreadable["object_count"] == 6
    assert unreadable["objects"] == [f"public.{t}" for t in UNREADABLE]
    assert unreadable["message"] == ("6 of 11 tables cannot be read by the connecting role (no SELECT privilege) "
                                     "and were skipped")
    assert status["error_message"].startswith("任务部分完成：6 张表当前数据库账号无读取权限，已跳过")
    assert "Details: ddl_generation TABLES_UNREADABLE: 6 of 11 tables" in status["error_message"]
    task_dir = app_ctx.task_dir(task["task_id"])
    assert sorted(p.stem for p in task_dir.glob("*.ddl")) == sorted(READABLE)
    # the pairs only use what the role can read, so validation has nothing to drop
    assert "PAIRS_DROPPED" not in warning_codes(status)
    assert status["result"]["steps"]["sql_validation"]["final_success_rate"] == 1.0
    # the same warnings in the downloadable result file, and one log line per warning
    result_file = json.loads((task_dir / "task_result.json").read_text(encoding="utf-8"))
    assert result_file["status"] == "partial_completed" and result_file["warnings"] == status["warnings"]
    log = (task_dir / "data_pipeline.log").read_text(encoding="utf-8")
    assert "TABLES_UNREADABLE: 6 of 11 tables" in log and "public.suppliers" in log

    # durations: one run so far; a re-run of one step gives `duration` that run's wall time, the total both
    first = status["duration"]
    assert first > 0 and status["total_duration"] == first
    assert execute(api, task["task_id"], execution_mode="step", step_name="sql_validation").status_code == 202
    status = wait_final(api, task["task_id"], timeout=120)
    executions = api.get(f"{BASE}/{task['task_id']}/executions").get_json()["data"]["executions"]
    assert len(executions) == 2
    assert status["duration"] == pytest.approx(executions[0]["duration"], abs=0.01)
    assert status["total_duration"] == pytest.approx(sum(e["duration"] for e in executions), abs=0.02)
    assert status["duration"] < status["total_duration"]
    # the DDL step's warning still speaks for the task: its data still lacks those 6 tables
    assert status["status"] == "partial_completed" and "TABLES_UNREADABLE" in warning_codes(status)


def test_missing_tables_are_a_400_at_create_and_at_execute(api, fixture_urls):
    owner, _ = fixture_urls
    error = error_of(api.post(BASE, json={"table_names": ["customers", "no_such_table", "nope.orders"],
                                          "db_connection": owner}), 400)
    assert error["code"] == "VALIDATION_ERROR" and error["invalid_params"] == ["no_such_table", "nope.orders"]
    assert "2 listed table(s) do not exist in database status_fixture" in error["details"]
    error = error_of(api.post(f"{BASE}/execute-complete", json={"table_names": ["no_such_table"],
                                                                 "db_connection": owner}), 400)
    assert error["invalid_params"] == ["no_such_table"]
    assert api.get(BASE).get_json()["data"]["total"] == 0

    # a list saved with allow_missing (upload mode) is checked again when the run starts: 400, nothing claimed
    task = create(api, db_connection=owner, task_name="upload later")
    saved = api.post(f"{BASE}/{task['task_id']}/table-list",
                     json={"table_names": ["customers", "no_such_table"], "allow_missing": True})
    assert saved.status_code == 200, saved.get_json()
    error = error_of(execute(api, task["task_id"]), 400)
    assert error["code"] == "VALIDATION_ERROR" and error["invalid_params"] == ["no_such_table"]
    error = error_of(execute(api, task["task_id"], force_execute=True), 400)   # force does not invent a table
    status = task_status(api, task["task_id"])
    assert status["status"] == "pending" and status["finished"] is False
    assert api.get(f"{BASE}/{task['task_id']}/executions").get_json()["data"]["total"] == 0


def test_execute_rechecks_privileges_and_force_runs_without_them(api, fixture_urls):
    owner, reader = fixture_urls
    task = create(api, table_names=READABLE, db_connection=reader, enable_sql_validation=False,
                  enable_training_data_load=False)
    assert task["table_check"]["unreadable_tables"] == []
    run_sql(owner, f"REVOKE SELECT ON products FROM {ROLE}")
    try:
        error = error_of(execute(api, task["task_id"]), 400)
        assert error["invalid_params"] == ["products"] and "force_execute" in error["details"]
        assert task_status(api, task["task_id"])["status"] == "pending"
        assert execute(api, task["task_id"], force_execute=True).status_code == 202
        status = wait_final(api, task["task_id"], timeout=120)
    finally:
        run_sql(owner, f"GRANT SELECT ON products TO {ROLE}")
    assert status["status"] == "partial_completed" and status["finished"] is True
    (warning,) = [w for w in status["warnings"] if w["code"] == "TABLES_UNREADABLE"]
    assert warning["objects"] == ["public.products"] and warning["count"] == 1
    assert status["error_message"].startswith("任务部分完成：1 张表当前数据库账号无读取权限，已跳过")


def test_unpopulated_materialized_view_is_skipped_and_reported(api, app_ctx, fixture_urls):
    owner, _ = fixture_urls
    task = create(api, table_names=["customers", "orders", "sales_summary"], db_connection=owner,
                  enable_sql_validation=False, enable_training_data_load=False)
    assert task["table_check"] == {"checked": True, "unreadable_tables": [], "unpopulated_views": ["sales_summary"]}
    assert execute(api, task["task_id"]).status_code == 202
    status = wait_final(api, task["task_id"], timeout=120)
    assert status["status"] == "partial_completed", status["error_message"]
    (warning,) = [w for w in status["warnings"] if w["code"] == "MATVIEW_UNPOPULATED"]
    assert warning["objects"] == ["public.sales_summary"] and "REFRESH MATERIALIZED VIEW" in warning["message"]
    assert "1 个物化视图从未刷新（无数据），已跳过" in status["error_message"]
    assert not (app_ctx.task_dir(task["task_id"]) / "sales_summary.ddl").exists()


def test_unreachable_database_is_not_checked_and_does_not_block_creation(api):
    task = create(api, table_names=["customers"], db_connection="postgresql://nobody@127.0.0.1:1/nowhere")
    assert task["table_check"]["checked"] is False and "127.0.0.1" in task["table_check"]["reason"]
    assert task["status"] == "pending" and task["finished"] is False


def test_a_later_step_failing_keeps_the_earlier_outputs_as_partial(app, app_ctx, settings, clean_db, openai_stub):
    """The embedding service answers 500: ddl, qa and validation completed, training_load failed."""
    openai_stub.embedding_responder = lambda request: Reply(status=500)
    broken = create_app(settings=settings.model_copy(update={
        "embedding_base_url": openai_stub.base_url, "embedding_model": "stub-embed", "embedding_api_key": "sk-x",
        "llm_max_retries": 0}))
    api = broken.test_client()
    try:
        task = create(api, table_names=["bss_company", "bss_service_area"])
        assert execute(api, task["task_id"]).status_code == 202
        status = wait_final(api, task["task_id"], timeout=120)
    finally:
        stop_executors(app_ctx.db)
    assert status["step_status"] == {"ddl_generation": "completed", "qa_generation": "completed",
                                     "sql_validation": "completed", "training_load": "failed"}
    assert status["status"] == "partial_completed" and status["finished"] is True
    load_error = status["steps"][3]["error_message"]
    assert load_error and "500" in load_error
    assert status["error_message"] == ("任务部分完成：training_load 失败，已完成步骤（ddl_generation、qa_generation、"
                                       f"sql_validation）的输出保留。Details: {load_error}")
    (execution,) = api.get(f"{BASE}/{task['task_id']}/executions").get_json()["data"]["executions"]
    assert execution["status"] == "failed"   # the execution failed; the task kept useful work
    task_dir = app_ctx.task_dir(task["task_id"])
    assert (task_dir / "bss_company.ddl").is_file() and list(task_dir.glob("qs_*_pair.json"))
    assert openai_stub.embedding_requests


def test_failure_with_nothing_produced_is_failed(api):
    task = create(api, table_names=["bss_company"])
    assert execute(api, task["task_id"], execution_mode="step", step_name="qa_generation",
                   force_execute=True).status_code == 202
    status = wait_final(api, task["task_id"])
    assert status["status"] == "failed" and status["finished"] is True
    assert status["error_message"] == status["steps"][1]["error_message"]   # the step's own words, no prefix


def test_pairs_dropped_above_the_threshold_is_a_warning(tmp_path, caplog):
    import logging
    from data_pipeline.steps.base import StepContext
    ctx = StepContext(task_id="t", task_dir=tmp_path, params={}, options={}, settings=None, business_url="",
                      meta_db=None, tables=[], logger=logging.getLogger("test.sql_validation"))
    rows = [{"pair_id": f"p{i}", "final_valid": i >= 3} for i in range(20)]   # 3 of 20 = 15 % not executable
    (dropped,) = sql_validation._invalid_pairs_warnings(ctx, rows, modified=True)
    assert dropped.code == "PAIRS_DROPPED" and dropped.objects == ["p0", "p1", "p2"]
    assert dropped.message.startswith("3 of 20 pairs (15%)")
    (kept,) = sql_validation._invalid_pairs_warnings(ctx, rows, modified=False)
    assert kept.code == "PAIRS_INVALID"
    few = [{"pair_id": f"p{i}", "final_valid": i >= 2} for i in range(20)]    # 10 %: at the threshold, only logged
    with caplog.at_level(logging.INFO, logger="test.sql_validation"):
        assert sql_validation._invalid_pairs_warnings(ctx, few, modified=True) == []
    assert "2 of 20 pairs not executable" in caplog.text
