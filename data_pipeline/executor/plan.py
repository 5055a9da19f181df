"""Pure execution rules (no I/O): modes, the steps an execution runs, dependencies and the final task status."""
from __future__ import annotations

from typing import Optional, Sequence

from core.errors import InvalidExecutionMode, InvalidStepName, MissingStepName
from data_pipeline.steps import ALL_STEPS, DEPENDENCIES, STEPS, evaluation_on

EXECUTION_MODES = ("complete", "step")
# a disabled step is `skipped` in complete mode: parameter that enables it -> step
STEP_SWITCHES = {"sql_validation": "enable_sql_validation", "training_load": "enable_training_data_load"}
FINISHED_OK = ("completed", "skipped")


def resolve(mode: Optional[str], step_name: Optional[str]) -> tuple[str, Optional[str]]:
    """Validated (mode, step). Raises the contract's 400 errors. Complete mode ignores a step name."""
    mode = mode.strip() if isinstance(mode, str) else mode
    mode = mode or "complete"
    if mode not in EXECUTION_MODES:
        raise InvalidExecutionMode(f"execution_mode must be one of {', '.join(EXECUTION_MODES)}",
                                   invalid_params=["execution_mode"])
    if mode == "complete":
        return mode, None
    if not step_name:
        raise MissingStepName("step_name is required when execution_mode is 'step'", invalid_params=["step_name"])
    if step_name not in ALL_STEPS:
        raise InvalidStepName(f"step_name must be one of {', '.join(ALL_STEPS)}", invalid_params=["step_name"])
    return mode, step_name


def planned_steps(mode: str, step: Optional[str], params: dict) -> list[tuple[str, bool]]:
    """[(step, run?)] in order. Complete mode: all four, disabled ones not run (-> skipped), then `evaluation`
    only when the task has `enable_evaluation: true` (otherwise it is not part of the run at all). Step mode: the
    one step asked for, even when disabled in the task parameters (an explicit request wins)."""
    if mode == "step":
        return [(step, True)]
    planned = [(s, params.get(STEP_SWITCHES[s], True) is not False if s in STEP_SWITCHES else True) for s in STEPS]
    return planned + ([("evaluation", True)] if evaluation_on(params) else [])


def dependency_problem(step: str, step_status: dict) -> Optional[str]:
    """Why `step` may not run yet given the task's step_status, or None."""
    for needed, accepted in DEPENDENCIES[step]:
        state = step_status.get(needed, "pending")
        if state not in accepted:
            return f"{step} needs {needed} to be {' or '.join(accepted)} (it is {state})"
    return None


def final_task_status(outcome: str, step_status: dict, warnings: Sequence[dict] = ()) -> str:
    """Task status after an execution ended with `outcome` (completed / failed / cancelled).

    Truthful, not optimistic (issue 13): `completed` only when every step is completed or skipped and no step
    reported a warning (something skipped, dropped or unreadable); a finished run with warnings, or a step-mode run
    that left later steps pending, is `partial_completed`. A failure after earlier steps produced their outputs
    is `partial_completed` too (those outputs stay); `failed` only when no step has anything to show."""
    if outcome == "cancelled":
        return outcome
    if outcome == "failed":
        return "partial_completed" if any(step_status.get(s) == "completed" for s in STEPS) else "failed"
    if warnings:
        return "partial_completed"
    shown = STEPS + tuple(s for s in ALL_STEPS[len(STEPS):] if s in step_status)
    return "completed" if all(step_status.get(s) in FINISHED_OK for s in shown) else "partial_completed"


def task_warnings(result: Optional[dict], step_status: dict) -> list[dict]:
    """Every warning of the task's current step results (steps in order, each tagged with its step): a step
    re-run replaces its own, an earlier step's warnings stand until that step runs again."""
    steps = (result.get("steps") or {}) if isinstance(result, dict) else {}
    found = []
    for step in ALL_STEPS:
        if step_status.get(step) != "completed":
            continue
        for w in (steps.get(step) or {}).get("warnings") or []:
            if isinstance(w, dict):   # `count`: the contract's name for object_count (every affected object)
                found.append({"step": step, **w, "count": w.get("object_count", len(w.get("objects") or []))})
    return found


# one Chinese phrase per warning code, {n} = the number of objects it names
WARNING_PHRASES = {
    "TABLES_UNREADABLE": "{n} 张表当前数据库账号无读取权限，已跳过",
    "TABLES_MISSING": "{n} 张表在业务数据库中不存在",
    "TABLES_SKIPPED": "{n} 张表处理失败，已跳过",
    "MATVIEW_UNPOPULATED": "{n} 个物化视图从未刷新（无数据），已跳过",
    "COVERAGE_SHORT": "{n} 个表或关联未被问答对覆盖",
    "PAIRS_DROPPED": "{n} 个问答对验证失败，已删除",
    "PAIRS_INVALID": "{n} 个问答对无法执行（仍保留在文件中）",
    "PAIRS_NOT_LOADED": "没有加载任何问答对",
    "LLM_CALLS_FAILED": "{n} 次大模型调用重试后仍失败",
    "TIME_RANGE_APPROXIMATE": "{n} 张表的业务时间范围未能精确读取，仅为抽样估计",
}
MESSAGE_LIMIT = 1000


def warnings_message(warnings: list[dict]) -> Optional[str]:
    """One Chinese sentence summarising the warnings, then the English details (code, step, message)."""
    if not warnings:
        return None
    phrases = []
    for w in warnings:
        phrase = WARNING_PHRASES.get(w.get("code"), "{step} 有警告").format(n=w.get("object_count") or 0,
                                                                          step=w.get("step"))
        if phrase not in phrases:
            phrases.append(phrase)
    details = "; ".join(f"{w.get('step')} {w.get('code')}: {w.get('message')}" for w in warnings)
    return f"任务部分完成：{'；'.join(phrases)}。Details: {details}"[:MESSAGE_LIMIT]


def failure_message(step_status: dict, error: Optional[str]) -> Optional[str]:
    """The task's error_message after a failed execution: the failing step's error, prefixed (Chinese) with what
    is kept when earlier steps had completed."""
    kept = [s for s in ALL_STEPS if step_status.get(s) == "completed"]
    failed = next((s for s in ALL_STEPS if step_status.get(s) == "failed"), None)
    if not kept:
        return error
    head = f"任务部分完成：{failed or '执行'} 失败，已完成步骤（{'、'.join(kept)}）的输出保留。"
    return f"{head}Details: {error or 'unknown error'}"[:MESSAGE_LIMIT]


def overall_progress(step: str, fraction: float, bands: Optional[dict] = None) -> int:
    """Task progress (0..100) at `fraction` (0..1) of `step`, from the step's band (`bands`: the run's, see
    data_pipeline.steps.progress_bands; default the four-step bands)."""
    from data_pipeline.steps import PROGRESS_BANDS
    lo, hi = (bands or PROGRESS_BANDS)[step]
    return int(round(lo + (hi - lo) * min(max(fraction, 0.0), 1.0)))
