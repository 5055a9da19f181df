"""The evaluation step through the API and the real executor: off by default (the four-step flow, status and
progress bands exactly as before), on with `enable_evaluation` (a fifth step, a report the quality report links
to), step mode, and the 400s for bad input."""
from __future__ import annotations

import pytest

from data_pipeline.executor.plan import final_task_status, overall_progress, planned_steps
from data_pipeline.steps import PROGRESS_BANDS, STEPS, progress_bands
from tests.executor_support import stop_executors, task_status, wait_final
from tests.vector_fixtures import empty_vector_tables

BASE = "/api/v0/data_pipeline/tasks"
TABLES = ["bss_company", "bss_service_area", "bss_car_day_count", "bss_business_day_data"]


@pytest.fixture()
def run_client(client, app_ctx):
    empty_vector_tables(app_ctx.db)
    yield client
    stop_executors(app_ctx.db)
    empty_vector_tables(app_ctx.db)


def _create(client, **body) -> dict:
    resp = client.post(BASE, json={"table_names": TABLES, **body})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]


def test_off_by_default_nothing_changes_in_the_plan_or_the_status(run_client):
    assert planned_steps("complete", None, {}) == [(s, True) for s in STEPS]
    assert planned_steps("complete", None, {"enable_evaluation": False}) == [(s, True) for s in STEPS]
    assert [s for s, _ in planned_steps("complete", None, {"enable_evaluation": True})] == [*STEPS, "evaluation"]
    assert progress_bands(False) is PROGRESS_BANDS and "evaluation" not in PROGRESS_BANDS
    assert [overall_progress("training_load", f) for f in (0, 1)] == [90, 100]
    assert overall_progress("training_load", 1, progress_bands(True)) == 90
    data = _create(run_client)
    assert list(data["step_status"]) == list(STEPS) and data["total_steps"] == 4
    assert [s["step_name"] for s in data["steps"]] == list(STEPS)
    assert data["parameters"]["enable_evaluation"] is False
    # a finished four-step run is completed; a pending evaluation of a task that shows it is not
    done = {s: "completed" for s in STEPS}
    assert final_task_status("completed", done) == "completed"
    assert final_task_status("completed", {**done, "evaluation": "pending"}) == "partial_completed"


def test_bad_evaluation_parameters_are_400(run_client):
    for body in ({"eval_holdout_ratio": 0.9}, {"eval_holdout_ratio": 0}, {"eval_max_questions": 0},
                 {"enable_evaluation": "yes"}):
        resp = run_client.post(BASE, json={"table_names": TABLES, **body})
        assert resp.status_code == 400, body
        assert resp.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_step_mode_on_a_task_with_nothing_loaded_is_a_clear_400(run_client):
    task_id = _create(run_client, enable_evaluation=True)["task_id"]
    for force in (False, True):
        resp = run_client.post(f"{BASE}/{task_id}/execute",
                               json={"execution_mode": "step", "step_name": "evaluation", "force_execute": force})
        assert resp.status_code == 400, resp.get_json()
        error = resp.get_json()["error"]
        assert error["code"] == "VALIDATION_ERROR" and "nothing is loaded" in error["details"]
    resp = run_client.post(f"{BASE}/{task_id}/execute", json={"execution_mode": "step", "step_name": "evaluate"})
    assert resp.status_code == 400 and "evaluation" in resp.get_json()["error"]["details"]


def test_complete_run_with_evaluation_then_step_mode(run_client, app_ctx):
    data = _create(run_client, enable_evaluation=True, eval_holdout_ratio=0.3)
    task_id = data["task_id"]
    assert list(data["step_status"]) == [*STEPS, "evaluation"] and data["total_steps"] == 5
    lean = run_client.get(f"{BASE}/{task_id}").get_json()["data"]           # the poll without parameters
    listed = next(t for t in run_client.get(BASE).get_json()["data"]["tasks"] if t["task_id"] == task_id)
    assert lean["total_steps"] == 5 and list(listed["step_status"]) == [*STEPS, "evaluation"]
    resp = run_client.post(f"{BASE}/{task_id}/execute", json={})
    assert resp.status_code == 202
    final = wait_final(run_client, task_id, timeout=180)
    assert final["status"] == "completed", final["error_message"]
    assert final["step_status"]["evaluation"] == "completed" and final["progress"] == 100
    summary = final["result"]["steps"]["evaluation"]
    assert summary["execution"] == "not_run" and summary["report_file"] == "evaluation_report.json"
    assert final["result"]["quality"]["evaluation"]["pair_hit@5"] == summary["pair_hit@5"]
    files = {f["file_name"]: f for f in run_client.get(f"{BASE}/{task_id}/files").get_json()["data"]["files"]}
    assert files["evaluation_report.json"]["step"] == "evaluation"
    assert files["eval_holdout.json"]["step"] == "training_load"
    # step mode again: a new report, the same hold-out
    resp = run_client.post(f"{BASE}/{task_id}/execute", json={"execution_mode": "step", "step_name": "evaluation"})
    assert resp.status_code == 202, resp.get_json()
    again = wait_final(run_client, task_id, timeout=120)
    assert again["status"] == "completed" and again["step_status"]["evaluation"] == "completed"
    # re-running training_load makes the evaluation pending again (it measured the old load)
    resp = run_client.post(f"{BASE}/{task_id}/execute",
                           json={"execution_mode": "step", "step_name": "training_load"})
    assert resp.status_code == 202
    after = wait_final(run_client, task_id, timeout=120)
    assert after["step_status"]["evaluation"] == "pending" and after["status"] == "partial_completed"
    assert "evaluation" not in (task_status(run_client, task_id)["result"].get("quality") or {})


def test_a_complete_run_whose_holdout_is_too_small_ends_partial_with_the_reason(run_client):
    task_id = _create(run_client, table_names=["bss_company"], enable_evaluation=True)["task_id"]
    assert run_client.post(f"{BASE}/{task_id}/execute", json={}).status_code == 202
    final = wait_final(run_client, task_id, timeout=120)
    assert final["step_status"]["training_load"] == "completed"
    assert final["step_status"]["evaluation"] == "failed"
    assert final["status"] == "partial_completed"
    assert "evaluation" in final["error_message"] and "held-out pair" in final["error_message"]
