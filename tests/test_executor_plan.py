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
    assert plan.final_task_status("cancelled", DONE) == "cancelled"


PENDING = dict.fromkeys(DONE, "pending")
UNREADABLE = {"code": "TABLES_UNREADABLE", "message": "6 of 11 tables cannot be read", "objects": ["public.t1"],
              "object_count": 6}


def test_a_failure_after_earlier_successes_is_partial():
    ddl_then_qa_failed = {**PENDING, "ddl_generation": "completed", "qa_generation": "failed"}
    assert plan.final_task_status("failed", ddl_then_qa_failed) == "partial_completed"
    assert plan.final_task_status("failed", {**PENDING, "ddl_generation": "failed"}) == "failed"
    message = plan.failure_message(ddl_then_qa_failed, "qa boom")
    assert message.startswith("任务部分完成：qa_generation 失败，已完成步骤（ddl_generation）的输出保留。")
    assert message.endswith("Details: qa boom")
    assert plan.failure_message({**PENDING, "ddl_generation": "failed"}, "ddl boom") == "ddl boom"


def test_any_step_warning_makes_the_task_partial():
    result = {"steps": {"ddl_generation": {"warnings": [UNREADABLE]}, "qa_generation": {"tables": 5}}}
    warnings = plan.task_warnings(result, DONE)
    assert warnings == [{"step": "ddl_generation", **UNREADABLE, "count": 6}]
    assert plan.final_task_status("completed", DONE, warnings) == "partial_completed"
    assert plan.final_task_status("completed", DONE, []) == "completed"
    # a step that is pending again (re-run of an earlier step) no longer speaks for the task
    assert plan.task_warnings(result, {**DONE, "ddl_generation": "pending"}) == []
    assert plan.task_warnings(None, DONE) == []


def test_warnings_of_odd_results_are_counted_not_crashed_on():
    """A result written by an older version (no `steps`, a warning without `object_count` or `objects`) still
    tells the truth: the count falls back to the objects named, and nothing raises."""
    assert plan.task_warnings({"steps": None}, DONE) == []
    bare = {"code": "TABLES_SKIPPED", "message": "2 tables failed", "objects": ["public.a", "public.b"]}
    nothing = {"code": "PAIRS_NOT_LOADED", "message": "no pairs", "objects": None}
    result = {"steps": {"ddl_generation": {"warnings": [bare]}, "training_load": {"warnings": [nothing]}}}
    assert plan.task_warnings(result, DONE) == [{"step": "ddl_generation", **bare, "count": 2},
                                                {"step": "training_load", **nothing, "count": 0}]


def test_warnings_message_is_one_chinese_sentence_with_english_details():
    dropped = {"step": "sql_validation", "code": "PAIRS_DROPPED", "message": "4 of 20 pairs (20%) were removed",
               "objects": ["p1"], "object_count": 4}
    odd = {"step": "qa_generation", "code": "SOMETHING_NEW", "message": "free text", "objects": [], "object_count": 0}
    message = plan.warnings_message([{"step": "ddl_generation", **UNREADABLE}, dropped, odd])
    head, details = message.split("Details: ")
    assert head == "任务部分完成：6 张表当前数据库账号无读取权限，已跳过；4 个问答对验证失败，已删除；qa_generation 有警告。"
    assert details == ("ddl_generation TABLES_UNREADABLE: 6 of 11 tables cannot be read; "
                       "sql_validation PAIRS_DROPPED: 4 of 20 pairs (20%) were removed; "
                       "qa_generation SOMETHING_NEW: free text")
    assert plan.warnings_message([]) is None
    assert len(plan.warnings_message([dropped] * 100)) == plan.MESSAGE_LIMIT


def test_progress_bands():
    assert plan.overall_progress("ddl_generation", 0) == 0
    assert plan.overall_progress("ddl_generation", 0.5) == 20
    assert plan.overall_progress("qa_generation", 1) == 70
    assert plan.overall_progress("training_load", 2) == 100
