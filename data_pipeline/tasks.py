"""Task lifecycle outside execution: create (row + directory + task_config.json), status view, delete."""
from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Optional

from core import business_db
from core.db import database_name, is_postgres_url
from core.errors import AppError, TaskAlreadyRunning, TaskNotFound, ValidationFailed
from core.secrets import mask_secrets
from data_pipeline import ids
from data_pipeline.taskfiles import table_list
from data_pipeline.taskfiles.table_list_server import read_server_table_list
from data_pipeline.context import AppContext
from data_pipeline.executor.plan import task_warnings
from data_pipeline.schema import access as table_access
from data_pipeline.steps import task_steps
from data_pipeline.store import tasks as task_store
from data_pipeline.vectors import ownership as vector_ownership
from data_pipeline.vectors import target as vector_target

log = logging.getLogger(__name__)
TASK_CONFIG_FILE = "task_config.json"
# a client polls until `finished` (true in each of these); `status` then says how it ended
FINISHED_STATUSES = ("completed", "partial_completed", "failed", "cancelled")
BOOLEAN_DEFAULTS = {
    "enable_sql_validation": True, "enable_llm_repair": True, "modify_original_file": True,
    "enable_training_data_load": True, "backup_vector_tables": False, "truncate_vector_tables": False,
    "allow_unreadable_tables": False,   # run without the tables the role cannot SELECT (else 400 before the run)
    "enable_evaluation": False,         # the optional fifth step `evaluation` in complete runs (issue 24)
}
EVAL_DEFAULTS = {"eval_holdout_ratio": 0.1, "eval_max_questions": 50}


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def normalise_parameters(ctx: AppContext, req) -> tuple[dict, Optional[list[table_list.TableRef]]]:
    """Request model -> stored parameters (defaults applied) and the parsed table list, if any."""
    if req.table_names is not None and req.table_list_file:
        raise ValidationFailed("give either table_names or table_list_file, not both",
                               invalid_params=["table_names", "table_list_file"])
    refs = None
    if req.table_names is not None:
        refs = table_list.parse_names(req.table_names)
        if not refs:
            raise ValidationFailed("table_names is empty", invalid_params=["table_names"])
    elif req.table_list_file:
        refs = read_server_table_list(ctx.settings, req.table_list_file)   # {DATA_HOME}/table_lists or a task
        if not refs:
            raise ValidationFailed("table_list_file lists no tables", invalid_params=["table_list_file"])
    if req.db_connection is not None and not is_postgres_url(req.db_connection):
        raise ValidationFailed("db_connection must be a URL like postgresql://user:password@host:5432/dbname",
                               invalid_params=["db_connection"])
    if req.db_connection is not None:
        business_db.vet_url(req.db_connection, ctx.settings)   # our own database, file parameters, hosts: 400 now
    vector_url = getattr(req, "vector_db_connection", None)
    if vector_url is not None:   # a business database as the store is refused by identity when the load connects
        vector_target.check_url(vector_url, settings=ctx.settings)
    params = {k: (getattr(req, k, None) if getattr(req, k, None) is not None else default)
              for k, default in BOOLEAN_DEFAULTS.items()}
    if params["truncate_vector_tables"]:
        params["backup_vector_tables"] = True  # truncation always backs up first
    params.update({k: (getattr(req, k, None) if getattr(req, k, None) is not None else default)
                   for k, default in EVAL_DEFAULTS.items()})
    params.update(
        business_context=req.business_context,
        question_language=getattr(req, "question_language", None) or "zh",
        db_connection=req.db_connection,  # None -> the configured default at execution time
        vector_db_connection=vector_url,  # None -> VECTOR_DB_URL, else the metadata database
        db_name=req.db_name or database_name(req.db_connection or ctx.runtime.business_url) or None,
        task_name=req.task_name,
        file_upload_mode=refs is None,
        table_list_file=f"{{task_directory}}/{table_list.TABLE_LIST_FILE}" if refs is not None else None,
    )
    return params, refs


def check_tables_before_run(ctx: AppContext, params: dict, refs, *, allow_unreadable: bool) -> Optional[dict]:
    """Fail early (400) on listed tables that do not exist or that the role cannot read, when the business
    database answers (data_pipeline.schema.access.require_usable). None when there is no list to check."""
    if not refs:
        return None
    url = params.get("db_connection") or ctx.runtime.business_url
    return table_access.require_usable(url, list(refs), ctx.settings, allow_unreadable=allow_unreadable)


def create_task(ctx: AppContext, req, *, task_type: str = "data_workflow", id_prefix: str = "task") -> dict:
    params, refs = normalise_parameters(ctx, req)
    table_check = check_tables_before_run(ctx, params, refs, allow_unreadable=params["allow_unreadable_tables"])
    now = datetime.now()
    row = None
    for attempt in range(1, 1000):
        task_id = ids.new_task_id(id_prefix, now, attempt)
        task_dir = ctx.task_dir(task_id)
        row = task_store.insert_task(
            ctx.db, task_id=task_id, task_type=task_type, task_name=req.task_name, parameters=params,
            output_directory=ctx.display_path(task_dir), created_by=req.created_by, db_name=params["db_name"],
            business_context=req.business_context)
        if row is not None:
            break
    if row is None:
        raise AppError("could not allocate a task id")
    if params.get("enable_evaluation") is True:   # the optional fifth step shows from the start (status, list)
        task_store.show_step(ctx.db, row["task_id"], "evaluation")
        row["step_status"] = {**(row.get("step_status") or {}), "evaluation": "pending"}
    try:
        _prepare_directory(ctx, row, params, refs, now)
    except OSError as exc:
        task_store.delete_task(ctx.db, row["task_id"])
        shutil.rmtree(ctx.task_dir(row["task_id"]), ignore_errors=True)
        log.error("task directory for %s could not be created: %s", row["task_id"], exc.strerror)
        raise AppError(f"the task directory could not be created ({exc.strerror}); the task was not created",
                       message="任务目录创建失败") from None
    if table_check is not None:
        row["table_check"] = table_check
    return row


def _prepare_directory(ctx: AppContext, row: dict, params: dict, refs, now: datetime) -> None:
    task_dir = ctx.task_dir(row["task_id"])
    task_dir.mkdir(mode=0o755, parents=True, exist_ok=False)
    os.chmod(task_dir, 0o755)
    if refs is not None:
        (task_dir / table_list.TABLE_LIST_FILE).write_text(table_list.render(refs), encoding="utf-8")
    write_task_config(ctx, row["task_id"], row["task_type"], params, refs, now)


def write_task_config(ctx: AppContext, task_id: str, task_type: str, params: dict, refs, created: datetime) -> None:
    """task_config.json in seed 000's shape; secrets masked (this file is downloadable)."""
    config = {
        "task_id": task_id,
        "task_type": task_type,
        "created_at": created.replace(microsecond=0).isoformat(),
        "parameters": mask_secrets({
            **params,
            "db_connection": params.get("db_connection") or ctx.runtime.business_url,
            "table_list": [r.short for r in refs] if refs is not None else None,
            "output_dir": ctx.display_path(ctx.task_dir(task_id)),
            "llm_config": ({"mode": "llm", "model": ctx.settings.llm_model,
                            "temperature": ctx.settings.llm_temperature}
                           if ctx.settings.llm_enabled else {"mode": "rule_based"}),
        }),
    }
    write_json_atomic(ctx.task_dir(task_id) / TASK_CONFIG_FILE, config)


def get_task_or_404(ctx: AppContext, task_id: str) -> dict:
    ids.require_task_id(task_id)
    row = task_store.get_task(ctx.db, task_id)
    if row is None:
        raise TaskNotFound(f"task {task_id} does not exist")
    return row


def _seconds_between(start: Optional[str], end: Optional[str]) -> Optional[float]:
    if not start:
        return None
    finish = datetime.fromisoformat(end) if end else datetime.now()
    return round((finish - datetime.fromisoformat(start)).total_seconds(), 3)


# What a status answer carries by default (the console polls it): an explicit whitelist, so a new field is a
# decision. `parameters` and `result` grow with the task (the result of a 300-table run is tens of KB): they
# come with `?include=parameters,result`.
LEAN_STATUS_FIELDS = (
    "task_id", "task_name", "task_type", "status", "progress", "step_status", "current_step", "steps",
    "total_steps", "error_message", "created_at", "started_at", "completed_at", "duration", "created_by",
    "db_name", "business_context", "output_directory", "directory_exists", "updated_at",
    "finished", "warnings", "total_duration",
)
STATUS_INCLUDES = ("parameters", "result")
# A list entry is a summary: id, name, status, progress, step states, times, database, counts.
LIST_FIELDS = (
    "task_id", "task_name", "task_type", "status", "progress", "step_status", "error_message", "created_at",
    "started_at", "completed_at", "updated_at", "duration", "created_by", "db_name", "output_directory",
    "finished", "total_duration", "warning_count",
)


def status_view(ctx: AppContext, row: dict, running: Optional[dict] = None) -> dict:
    """The contract's full status shape (seed 002 §3.3 / seed 004), steps array present from the start."""
    details = row.get("step_details") or {}
    shown = task_steps(row.get("step_status") or {}, row.get("parameters") or {})   # 4, or 5 with evaluation
    step_status = {s: (row.get("step_status") or {}).get(s, "pending") for s in shown}
    steps = []
    for s in shown:
        d = details.get(s) or {}
        duration = d.get("duration")
        if duration is None and step_status[s] == "running":
            duration = _seconds_between(d.get("started_at"), None)
        steps.append({"step_name": s, "step_status": step_status[s], "started_at": d.get("started_at"),
                      "completed_at": d.get("completed_at"), "duration": duration,
                      "error_message": d.get("error_message"), "progress": d.get("progress")})
    current = None
    if running:
        step = next((s for s in shown if step_status[s] == "running"), running["execution_step"])
        current = {"execution_id": running["execution_id"], "step": step, "status": running["status"],
                   "started_at": running["started_at"], "execution_mode": running["execution_mode"]}
    task_dir = ctx.task_dir(row["task_id"])
    return {
        "task_id": row["task_id"], "task_name": row["task_name"], "task_type": row["task_type"],
        "status": row["status"], "progress": row["progress"], "step_status": step_status,
        "current_step": current, "steps": steps, "total_steps": len(shown),
        "parameters": public_parameters(row.get("parameters")), "result": row.get("result"),
        "error_message": row["error_message"], "created_at": row["created_at"], "started_at": row["started_at"],
        "completed_at": row["completed_at"], **durations(row),
        "finished": row["status"] in FINISHED_STATUSES,
        "warnings": task_warnings(row.get("result"), step_status),
        "created_by": row["created_by"], "db_name": row["db_name"], "business_context": row.get("business_context"),
        "output_directory": row["output_directory"], "directory_exists": task_dir.is_dir(),
        "updated_at": row["updated_at"],
    }


def lean_status_view(ctx: AppContext, row: dict, running: Optional[dict] = None,
                     include: tuple[str, ...] = ()) -> dict:
    """The status the API answers: LEAN_STATUS_FIELDS plus the asked-for `include` fields."""
    full = status_view(ctx, row, running)
    keep = LEAN_STATUS_FIELDS + tuple(f for f in STATUS_INCLUDES if f in include)
    return {k: full[k] for k in keep if k in full}


def durations(row: dict) -> dict:
    """`duration`: the latest execution's wall time in seconds (live while it runs); `total_duration`: the sum
    over the task's executions. A task run only by the CLI without execution rows falls back to its own start and
    end times for both."""
    latest, total = row.get("last_execution_duration"), row.get("total_execution_duration")
    if latest is None and row.get("started_at"):
        latest = total = _seconds_between(row["started_at"], row["completed_at"])
    return {"duration": round(latest, 3) if latest is not None else None,
            "total_duration": round(total, 3) if total is not None else None}


def public_parameters(params: Optional[dict]) -> dict:
    return mask_secrets(params or {})


def summary_view(ctx: AppContext, row: dict) -> dict:
    """List item: LIST_FIELDS of the status shape (the list queries do not read the heavy columns)."""
    full = status_view(ctx, row)
    full["warning_count"] = len(full.get("warnings") or [])
    return {k: full[k] for k in LIST_FIELDS if k in full}


def delete_task(ctx: AppContext, task_id: str, *, delete_vectors: bool = False) -> dict:
    row = get_task_or_404(ctx, task_id)
    vectors = None
    if delete_vectors:
        # vectors first: if the store is busy or unreachable the task stays and the delete can be retried
        if task_store.running_execution(ctx.db, task_id):
            raise TaskAlreadyRunning("the task has a running execution; cancel it first",
                                     message="任务正在执行中，无法删除")
        vectors = vector_ownership.delete_task_rows(ctx.settings, ctx.db, task_id, row["parameters"],
                                                    ctx.runtime.business_url)
    if not task_store.delete_task(ctx.db, task_id):
        raise TaskAlreadyRunning("the task has a running execution; cancel it first", message="任务正在执行中，无法删除")
    task_dir = ctx.task_dir(task_id)
    existed = task_dir.is_dir()
    if existed:
        shutil.rmtree(task_dir, ignore_errors=True)
    answer = {"task_id": task_id, "deleted": True, "directory_removed": existed and not task_dir.exists()}
    if vectors is not None:
        answer["vectors"] = vectors
    return answer
