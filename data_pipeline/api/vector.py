"""Vector tables resource: standalone backup, listing of backup sets, restore from a set, search preview.

Every endpoint acts on one vector store: the task's (`task_id`: its `vector_db_connection`, else `VECTOR_DB_URL`,
else our metadata database), or the one named by `vector_db_connection`, or the default store. Backups live in
`{task_dir}/vector_bak/` (task given) or `{training_data root}/vector_bak/` (no task). Answers carry file names,
relative directories and the store's name without credentials. Restore runs in one transaction, answers 409
while a training load or another restore is writing the store, and re-aligns the ownership records.
"""
from __future__ import annotations

from typing import Literal, Optional

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

from core.errors import ValidationFailed
from data_pipeline.api import ctx, tool_slots
from data_pipeline.api.envelope import json_body, ok, parse, query_args
from data_pipeline.ids import require_task_id
from data_pipeline.vectors import backup as vector_backup
from data_pipeline.vectors import ownership
from data_pipeline.vectors import search as vector_search
from data_pipeline.vectors import target as vector_target

bp = Blueprint("vector", __name__, url_prefix="/api/v0/data_pipeline/vector")
Collection = Literal["sql", "ddl", "documentation"]
tool_slots.cap(bp)   # each may wait on a client-named store's connect timeout: the database tools' cap


class StoreChoice(BaseModel):
    """`task_id` or `vector_db_connection` (not both); neither: the default store."""
    model_config = ConfigDict(extra="forbid")
    task_id: Optional[StrictStr] = None
    vector_db_connection: Optional[StrictStr] = Field(None, max_length=2048)

    @field_validator("vector_db_connection")
    @classmethod
    def _url(cls, v: Optional[str]) -> Optional[str]:
        return vector_target.check_url(v)


class BackupRequest(StoreChoice):
    pass


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_id: Optional[str] = None


class RestoreRequest(StoreChoice):
    timestamp: Optional[StrictStr] = Field(None, max_length=40)
    files: Optional[list[StrictStr]] = Field(None, min_length=1, max_length=2)
    truncate_before_restore: StrictBool = True


class SearchRequest(StoreChoice):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    question: StrictStr = Field(..., min_length=1, max_length=2000)
    top_k: StrictInt = Field(5, ge=1, le=50)
    collections: Optional[list[Collection]] = Field(None, min_length=1, max_length=3)


def _task_id(value: Optional[str]) -> Optional[str]:
    return require_task_id(value) if value is not None else None


def _store(req: StoreChoice) -> tuple[Optional[dict], vector_target.VectorTarget]:
    """(task row or None, target store) of a request."""
    from data_pipeline.tasks import get_task_or_404
    c = ctx()
    if req.task_id is not None and req.vector_db_connection is not None:
        raise ValidationFailed("give either task_id or vector_db_connection, not both",
                               invalid_params=["task_id", "vector_db_connection"])
    if req.task_id is not None:
        row = get_task_or_404(c, req.task_id)
        return row, vector_target.for_task(c.settings, c.runtime.meta_url, row["parameters"], c.runtime.business_url)
    vector_target.check_url(req.vector_db_connection, settings=c.settings)   # the allowed hosts
    return None, vector_target.resolve(c.settings, c.runtime.meta_url, req.vector_db_connection,
                                       (c.runtime.business_url,))


@bp.post("/backup")
def backup():
    req = parse(BackupRequest, json_body())
    c = ctx()
    _, target = _store(req)
    directory = vector_backup.backup_directory(c, _task_id(req.task_id))
    with vector_target.open_store(target, c.db) as store_db:
        vector_target.ensure_tables(store_db, target)
        result = vector_backup.backup(store_db, directory)
    return ok({"task_id": req.task_id, "vector_store": target.label, "directory": c.display_path(directory),
               **result.summary()}, message="向量表备份成功")


@bp.get("/restore/list")
def restore_list():
    q = query_args(ListQuery)
    sets = vector_backup.list_all_sets(ctx(), _task_id(q.task_id))
    return ok({"backup_sets": sets, "total": len(sets)}, message="获取备份列表成功")


@bp.post("/restore")
def restore():
    req = parse(RestoreRequest, json_body(required=True))
    c = ctx()
    _, target = _store(req)
    directory = vector_backup.backup_directory(c, _task_id(req.task_id))
    files = vector_backup.resolve_files(directory, timestamp=req.timestamp, file_names=req.files)
    with vector_target.open_store(target, c.db) as store_db:
        vector_target.ensure_tables(store_db, target)
        result = vector_backup.restore(store_db, files, truncate_before_restore=req.truncate_before_restore,
                                       wait=False)
        result["ownership"] = ownership.reconcile_after_restore(c.db, store_db, target)
    return ok({"task_id": req.task_id, "vector_store": target.label, "directory": c.display_path(directory),
               **result}, message="向量表恢复成功")


@bp.post("/search")
def search():
    req = parse(SearchRequest, json_body(required=True))
    c = ctx()
    row, target = _store(req)
    expected = vector_search.loaded_embedding(row) if row is not None else None
    if row is not None and expected is None:
        expected = {}          # a task without a load yet: still search its store, checked by dimension only
    result = vector_search.search(c.settings, c.db, target, req.question, top_k=req.top_k,
                                  collections=list(dict.fromkeys(req.collections or vector_search.COLLECTIONS)),
                                  expected=expected)
    return ok({"task_id": req.task_id, **result}, message="向量检索成功")
