"""Execution resource: start a task (complete or one step), create-and-start, cancel. Answers 202 at once;
the work runs in a separate executor process (data_pipeline.executor.launcher)."""
from __future__ import annotations

from typing import Optional

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from core.errors import AppError
from data_pipeline import tasks as task_service
from data_pipeline.api import ctx
from data_pipeline.api.envelope import json_body, ok, parse
from data_pipeline.api.tasks import create_from_request
from data_pipeline.executor import launcher
from data_pipeline.ids import require_task_id

bp = Blueprint("execution", __name__, url_prefix="/api/v0/data_pipeline/tasks")


class ExecuteBody(BaseModel):
    """Execute body (contract "Tasks"): `step` is seed 000's alias of `step_name`."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    execution_mode: Optional[str] = Field(None, max_length=20)
    step_name: Optional[str] = Field(None, max_length=50)
    step: Optional[str] = Field(None, max_length=50)
    force_execute: StrictBool = False
    clean_previous: StrictBool = True
    backup_vector_tables: Optional[StrictBool] = None
    truncate_vector_tables: Optional[StrictBool] = None
    allow_unreadable_tables: Optional[StrictBool] = None

    @model_validator(mode="after")
    def _alias(self) -> "ExecuteBody":
        self.step_name = self.step_name or self.step
        if self.execution_mode is None:  # seed 000 sends only {"step": ...}: that means step mode
            self.execution_mode = "step" if self.step_name else "complete"
        return self


@bp.post("/<task_id>/execute")
def execute(task_id: str):
    require_task_id(task_id)
    body = parse(ExecuteBody, json_body())
    data = launcher.start_execution(
        ctx(), task_id, execution_mode=body.execution_mode, step_name=body.step_name,
        force_execute=body.force_execute, clean_previous=body.clean_previous,
        backup_vector_tables=body.backup_vector_tables, truncate_vector_tables=body.truncate_vector_tables,
        allow_unreadable_tables=body.allow_unreadable_tables)
    return ok(data, message="任务执行已启动", code=202, response="任务执行已启动")


@bp.post("/execute-complete")
def execute_complete():
    row = create_from_request()
    try:
        data = launcher.start_execution(ctx(), row["task_id"], execution_mode="complete")
    except AppError:
        # the run could not start (e.g. the concurrency cap): leave no half-made task behind
        try:
            task_service.delete_task(ctx(), row["task_id"])
        except AppError:
            pass
        raise
    return ok(data, message="完整工作流执行已启动", code=202, response="任务执行已启动")


@bp.post("/<task_id>/cancel")
def cancel(task_id: str):
    require_task_id(task_id)
    return ok(launcher.cancel_execution(ctx(), task_id), message="任务已取消", response="任务执行已取消")
