"""Pure execution rules (no I/O): modes, the steps an execution runs, dependencies and the final task status."""
from __future__ import annotations

from typing import Optional

from core.errors import InvalidExecutionMode, InvalidStepName, MissingStepName
from data_pipeline.steps import DEPENDENCIES, STEPS

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
    if step_name not in STEPS:
        raise InvalidStepName(f"step_name must be one of {', '.join(STEPS)}", invalid_params=["step_name"])
    return mode, step_name


def planned_steps(mode: str, step: Optional[str], params: dict) -> list[tuple[str, bool]]:
    """[(step, run?)] in order. Complete mode: all four, disabled ones not run (-> skipped). Step mode: the one
    step asked for, even when disabled in the task parameters (an explicit request wins)."""
    if mode == "step":
        return [(step, True)]
    return [(s, params.get(STEP_SWITCHES[s], True) is not False if s in STEP_SWITCHES else True) for s in STEPS]


def dependency_problem(step: str, step_status: dict) -> Optional[str]:
    """Why `step` may not run yet given the task's step_status, or None."""
    for needed, accepted in DEPENDENCIES[step]:
        state = step_status.get(needed, "pending")
        if state not in accepted:
            return f"{step} needs {needed} to be {' or '.join(accepted)} (it is {state})"
    return None


def final_task_status(outcome: str, step_status: dict) -> str:
    """Task status after an execution ended with `outcome` (completed / failed / cancelled).

    failed and cancelled executions make the task failed / cancelled (seed 004's example: ddl completed, qa
    failed -> task failed); a successful execution makes it completed when every step is completed or skipped,
    else partial_completed (e.g. after a single step in step mode)."""
    if outcome in ("failed", "cancelled"):
        return outcome
    return "completed" if all(step_status.get(s) in FINISHED_OK for s in STEPS) else "partial_completed"


def overall_progress(step: str, fraction: float) -> int:
    """Task progress (0..100) at `fraction` (0..1) of `step`, from the step's band."""
    from data_pipeline.steps import PROGRESS_BANDS
    lo, hi = PROGRESS_BANDS[step]
    return int(round(lo + (hi - lo) * min(max(fraction, 0.0), 1.0)))
