"""Task resource: create, list, query, active, status, executions, delete."""
from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Literal, Optional

from flask import Blueprint, request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from core.errors import TaskNotFound, ValidationFailed
from data_pipeline import tasks as task_service
from data_pipeline.api import ctx
from data_pipeline.api.envelope import etag_for, json_body, not_modified, ok, parse, query_args, with_etag
from data_pipeline.ids import require_task_id
from data_pipeline.steps import TASK_STATUSES
from data_pipeline.store import tasks as task_store

bp = Blueprint("tasks", __name__, url_prefix="/api/v0/data_pipeline/tasks")
TaskStatus = Literal["pending", "in_progress", "partial_completed", "completed", "failed", "cancelled"]


class CreateTask(BaseModel):
    """Flat create body (seed 002); the nested form is flattened into this first."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    table_list_file: Optional[str] = Field(None, max_length=1024)
    table_names: Optional[list[str]] = Field(None, max_length=5000)
    business_context: Optional[str] = Field(None, max_length=4000)
    question_language: Optional[Literal["zh", "en", "auto"]] = None    # questions and generated comments
    db_name: Optional[str] = Field(None, max_length=100)
    db_connection: Optional[str] = Field(None, max_length=2048)
    vector_db_connection: Optional[str] = Field(None, max_length=2048)
    task_name: Optional[str] = Field(None, max_length=255)
    created_by: Optional[str] = Field(None, max_length=100)
    enable_sql_validation: Optional[StrictBool] = None
    enable_llm_repair: Optional[StrictBool] = None
    modify_original_file: Optional[StrictBool] = None
    enable_training_data_load: Optional[StrictBool] = None
    backup_vector_tables: Optional[StrictBool] = None
    truncate_vector_tables: Optional[StrictBool] = None
    allow_unreadable_tables: Optional[StrictBool] = None
    # the optional evaluation step (issue 24): hold-out share of the pairs, LLM questions at most
    enable_evaluation: Optional[StrictBool] = None
    eval_holdout_ratio: Optional[float] = Field(None, gt=0, le=0.5, allow_inf_nan=False)
    eval_max_questions: Optional[int] = Field(None, ge=1, le=500)


def flatten_create_body(body: dict) -> tuple[dict, str]:
    """Accept `{"task_type", "parameters": {...}}` (seed 000/001) as well as the flat form."""
    task_type = "data_workflow"
    if "parameters" in body or "task_type" in body:
        nested = body.get("parameters") or {}
        if not isinstance(nested, dict):
            from core.errors import ValidationFailed
            raise ValidationFailed("parameters must be an object", invalid_params=["parameters"])
        task_type = str(body.get("task_type") or task_type)[:50]
        rest = {k: v for k, v in body.items() if k not in ("parameters", "task_type")}
        body = {**nested, **rest}
    return body, task_type


def create_from_request() -> dict:
    body, task_type = flatten_create_body(json_body(required=True))
    req = parse(CreateTask, body)
    return task_service.create_task(ctx(), req, task_type=task_type)


@bp.post("")
def create_task():
    row = create_from_request()
    view = task_service.status_view(ctx(), row)
    if row.get("table_check") is not None:
        view["table_check"] = row["table_check"]   # what the pre-run table check found (issue 13)
    return ok(view, message="任务创建成功", code=201)


class TaskFilters(BaseModel):
    """The filters GET /tasks (query string) and POST /tasks/query (JSON body) share."""
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    status: Optional[TaskStatus] = None
    task_name: Optional[str] = Field(None, max_length=255)
    created_by: Optional[str] = Field(None, max_length=100)
    db_name: Optional[str] = Field(None, max_length=100)
    created_time_start: Optional[datetime] = None
    created_time_end: Optional[datetime] = None

    @field_validator("created_time_start", "created_time_end")
    @classmethod
    def _local(cls, v: Optional[datetime]) -> Optional[datetime]:
        # naive times are local time, like every time this API shows
        return v.astimezone() if v is not None else None

    def filters(self) -> dict:
        return self.model_dump(include=set(TaskFilters.model_fields))


class ListArgs(TaskFilters):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


@bp.get("")
def list_tasks():
    args = query_args(ListArgs)
    filters = args.filters()
    rows, total = task_store.list_tasks(ctx().db, limit=args.limit, offset=args.offset, filters=filters)
    # the list changes when a listed row changes or the total does; running durations are "as of" that change
    etag = etag_for("list", args.limit, args.offset, sorted(filters.items(), key=lambda kv: kv[0]), total,
                    *[(r["task_id"], r["updated_at"], r["status"]) for r in rows])
    cached = not_modified(etag)
    if cached is not None:
        return cached
    return with_etag(ok({"tasks": [task_service.summary_view(ctx(), r) for r in rows], "total": total,
                         "limit": args.limit, "offset": args.offset}, message="获取任务列表成功"), etag)


class QueryBody(TaskFilters):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    page: int = Field(1, ge=1)
    page_size: int = Field(20, ge=1, le=100)
    sort_by: Literal["created_at", "started_at", "completed_at", "updated_at", "status", "task_name",
                     "progress", "id"] = "created_at"
    sort_order: Literal["asc", "desc", "ASC", "DESC"] = "desc"


@bp.post("/query")
def query_tasks():
    started = time.perf_counter()
    q = parse(QueryBody, json_body())
    filters = q.filters()
    rows, total = task_store.query_tasks(ctx().db, filters=filters, page=q.page, page_size=q.page_size,
                                         sort_by=q.sort_by, sort_order=q.sort_order)
    pages = math.ceil(total / q.page_size) if total else 0
    return ok({
        "tasks": [task_service.summary_view(ctx(), r) for r in rows],
        "pagination": {"page": q.page, "page_size": q.page_size, "total": total, "total_pages": pages,
                       "has_next": q.page < pages, "has_prev": q.page > 1},
        "filters_applied": {k: v for k, v in q.model_dump(mode="json").items()
                            if k in filters and v is not None},
        "query_time": f"{time.perf_counter() - started:.3f}s",
    }, message="查询任务列表成功")


class StatusArgs(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include: Optional[str] = Field(None, max_length=100)

    def fields(self) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(n.strip() for n in (self.include or "").split(",") if n.strip()))
        unknown = [n for n in names if n not in task_service.STATUS_INCLUDES]
        if unknown:
            raise ValidationFailed(f"include: unknown field(s) {', '.join(unknown)}; one or more of "
                                   f"{', '.join(task_service.STATUS_INCLUDES)}", invalid_params=["include"])
        return names


@bp.get("/active")
def active_task():
    include = query_args(StatusArgs).fields()
    row = task_store.active_task(ctx().db)
    if row is None:
        return ok(None, message="暂无任务")
    running = task_store.running_execution(ctx().db, row["task_id"])
    return ok(task_service.lean_status_view(ctx(), row, running, include), message="获取活跃任务成功")


@bp.get("/<task_id>")
def get_task(task_id: str):
    """The polled path: one statement (row + running execution + version), 304 when the version is the one
    the client has, and the lean view unless `include` asks for parameters / result."""
    require_task_id(task_id)
    include = query_args(StatusArgs).fields() if request.args else ()
    found = task_store.task_with_running(ctx().db, task_id, include)
    if found is None:
        raise TaskNotFound(f"task {task_id} does not exist")
    row, running, version = found
    directory_exists = ctx().task_dir(task_id).is_dir()
    etag = etag_for("status", version, directory_exists, *include)
    cached = not_modified(etag)
    if cached is not None:
        return cached
    view = task_service.lean_status_view(ctx(), row, running, include)
    return with_etag(ok(view, message="获取任务状态成功"), etag,
                     modified=(row["updated_at"], running and running["started_at"]))


@bp.get("/<task_id>/executions")
def list_executions(task_id: str):
    task_service.get_task_or_404(ctx(), task_id)
    executions = task_store.list_executions(ctx().db, task_id)
    # what changes while an execution runs (its live duration, heartbeat) does not make the list new
    etag = etag_for("executions", *[(e["execution_id"], e["status"], e["completed_at"], e["files_cleaned"],
                                     e["error_message"]) for e in executions])
    cached = not_modified(etag)
    if cached is not None:
        return cached
    for e in executions:
        e["duration"] = round(e["duration"], 3) if e["duration"] is not None else None
        e["step_name"] = e["execution_step"]
    return with_etag(ok({"task_id": task_id, "executions": executions, "total": len(executions)},
                        message="获取执行历史成功"), etag,
                     modified=tuple(e[k] for e in executions for k in ("started_at", "completed_at")))


class DeleteArgs(BaseModel):
    model_config = ConfigDict(extra="ignore")
    delete_vectors: Literal["true", "false", "1", "0"] = "false"   # also remove the vector rows only it owns


@bp.delete("/<task_id>")
def delete_task(task_id: str):
    require_task_id(task_id)
    args = query_args(DeleteArgs)
    return ok(task_service.delete_task(ctx(), task_id, delete_vectors=args.delete_vectors in ("true", "1")),
              message="任务删除成功")


assert set(TASK_STATUSES) == set(TaskStatus.__args__)  # one list of states, checked at import
