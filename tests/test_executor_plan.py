"""Pure execution rules (data_pipeline.executor.plan)."""
from __future__ import annotations

import pytest

from core.errors import InvalidExecutionMode, InvalidStepName, MissingStepName
from data_pipeline.executor import plan

DONE = {"ddl_generation": "completed", "qa_generation": "completed", "sql_validation": "completed",
        "training_load": "completed"}


def test_resolve_modes_and_steps():
    assert plan.resolve(None, None) == ("complete", None)
    assert plan.resolve("complete", "qa_generation") == ("complete", None)
    assert plan.resolve("step", "qa_generation") == ("step", "qa_generation")
    with pytest.raises(InvalidExecutionMode):
        plan.resolve("single", "qa_generation")
    with pytest.raises(MissingStepName):
        plan.resolve("step", None)
    with pytest.raises(InvalidStepName):
        plan.resolve("step", "load")


def test_planned_steps_skip_disabled_steps_in_complete_mode_only():
    params = {"enable_sql_validation": False, "enable_training_data_load": False}
    assert plan.planned_steps("complete", None, params) == [
        ("ddl_generation", True), ("qa_generation", True), ("sql_validation", False), ("training_load", False)]
    assert plan.planned_steps("complete", None, {}) == [(s, True) for s in DONE]
    assert plan.planned_steps("step", "sql_validation", params) == [("sql_validation", True)]


def test_dependencies():
    pending = dict.fromkeys(DONE, "pending")
    assert plan.dependency_problem("ddl_generation", pending) is None
    assert "ddl_generation" in plan.dependency_problem("qa_generation", pending)
    assert plan.dependency_problem("training_load", {**pending, "sql_validation": "skipped"}) is None
    assert plan.dependency_problem("training_load", {**pending, "sql_validation": "failed"})


def test_final_task_status():
    assert plan.final_task_status("completed", DONE) == "completed"
    assert plan.final_task_status("completed", {**DONE, "sql_validation": "skipped", "training_load": "skipped"}) \
        == "completed"
    assert plan.final_task_status("completed", {**DONE, "qa_generation": "pending"}) == "partial_completed"
    assert plan.final_task_status("failed", {**DONE, "qa_generation": "failed"}) == "failed"
    assert plan.final_task_status("cancelled", DONE) == "cancelled"


def test_progress_bands():
    assert plan.overall_progress("ddl_generation", 0) == 0
    assert plan.overall_progress("ddl_generation", 0.5) == 20
    assert plan.overall_progress("qa_generation", 1) == 70
    assert plan.overall_progress("training_load", 2) == 100
