"""Vector tables resource: standalone backup, listing of backup sets, restore from a set.

Backups live in `{task_dir}/vector_bak/` (task given) or `{training_data root}/vector_bak/` (no task). Answers carry
file names and relative directories only. Restore runs in one transaction and answers 409 while a training load
or another restore is writing the tables.
"""
from __future__ import annotations

from typing import Optional

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from data_pipeline.vectors import backup as vector_backup
from data_pipeline.api import ctx
from data_pipeline.api.envelope import json_body, ok, parse, query_args
from data_pipeline.ids import require_task_id

bp = Blueprint("vector", __name__, url_prefix="/api/v0/data_pipeline/vector")


class BackupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_id: Optional[StrictStr] = None


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_id: Optional[str] = None


class RestoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_id: Optional[StrictStr] = None
    timestamp: Optional[StrictStr] = Field(None, max_length=40)
    files: Optional[list[StrictStr]] = Field(None, min_length=1, max_length=2)
    truncate_before_restore: StrictBool = True


def _task_id(value: Optional[str]) -> Optional[str]:
    return require_task_id(value) if value is not None else None


@bp.post("/backup")
def backup():
    req = parse(BackupRequest, json_body())
    c = ctx()
    directory = vector_backup.backup_directory(c, _task_id(req.task_id))
    result = vector_backup.backup(c.db, directory)
    return ok({"task_id": req.task_id, "directory": c.display_path(directory), **result.summary()},
              message="向量表备份成功")


@bp.get("/restore/list")
def restore_list():
    q = query_args(ListQuery)
    sets = vector_backup.list_all_sets(ctx(), _task_id(q.task_id))
    return ok({"backup_sets": sets, "total": len(sets)}, message="获取备份列表成功")


@bp.post("/restore")
def restore():
    req = parse(RestoreRequest, json_body(required=True))
    c = ctx()
    directory = vector_backup.backup_directory(c, _task_id(req.task_id))
    files = vector_backup.resolve_files(directory, timestamp=req.timestamp, file_names=req.files)
    result = vector_backup.restore(c.db, files, truncate_before_restore=req.truncate_before_restore, wait=False)
    return ok({"task_id": req.task_id, "directory": c.display_path(directory), **result},
              message="向量表恢复成功")
