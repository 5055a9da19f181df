"""Task logs: tail (GET /logs), filtered query (POST /logs/query), Server-Sent Events follow (GET /logs/stream).

The source is the task's `data_pipeline.log` (lines are scrubbed of secrets when written; the answers pass
through `scrub_text` once more). Paths shown to clients are relative (`AppContext.display_path`).
"""
from __future__ import annotations

import json
import math
import os
import threading
import time
from datetime import datetime
from typing import Literal, Optional

from flask import Blueprint, Response, stream_with_context
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import FileNotFound, InvalidFileName
from core.secrets import scrub_text
from core.task_logging import LOG_FILE_NAME
from data_pipeline.taskfiles import safety as file_safety
from data_pipeline.taskfiles import log_query
from data_pipeline.taskfiles import log_reader
from data_pipeline import tasks as task_service
from data_pipeline.api import ctx
from data_pipeline.api.envelope import json_body, ok, parse, query_args
from data_pipeline.steps import ALL_STEPS
from data_pipeline.store import tasks as task_store

bp = Blueprint("logs", __name__, url_prefix="/api/v0/data_pipeline/tasks")
Level = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
STEP_TAGS = (*ALL_STEPS, "executor", "api")


def _levels(value: Optional[str]) -> Optional[set[str]]:
    """`level` may be one level or a comma list (case-insensitive)."""
    if not value:
        return None
    levels = {v.strip().upper() for v in value.split(",") if v.strip()}
    if levels == {"WARN"} or "WARN" in levels:
        levels = (levels - {"WARN"}) | {"WARNING"}
    bad = levels - set(log_reader.LEVELS)
    if bad:
        from core.errors import ValidationFailed
        raise ValidationFailed(f"level must be one of {', '.join(log_reader.LEVELS)}", invalid_params=["level"])
    return levels or None


def _log_path(task_id: str):
    """(validated path or None when the log does not exist yet, display path)."""
    task_service.get_task_or_404(ctx(), task_id)
    task_dir = file_safety.task_dir_path(ctx().tasks_root, task_id)
    display = ctx().display_path(task_dir / LOG_FILE_NAME)
    try:
        return file_safety.resolve_file(task_dir, LOG_FILE_NAME), display
    except FileNotFound:
        return None, display


def _clean(entries: list[dict]) -> list[dict]:
    for e in entries:
        e["message"] = scrub_text(e["message"])
    return entries


class TailArgs(BaseModel):
    model_config = ConfigDict(extra="ignore")
    limit: int = Field(100, ge=1, le=1000)
    level: Optional[str] = Field(None, max_length=60)


@bp.get("/<task_id>/logs")
def get_logs(task_id: str):
    args = query_args(TailArgs)
    levels = _levels(args.level)
    path, display = _log_path(task_id)
    entries = []
    if path is not None:
        with file_safety.open_nofollow(path) as fh:
            entries = log_reader.tail(fh, args.limit, levels)
    return ok({"task_id": task_id, "logs": _clean(entries), "total": len(entries), "limit": args.limit,
               "source": "file", "log_file": display, "log_file_exists": path is not None},
              message="获取任务日志成功")


def _timestamp(value: Optional[str]) -> Optional[str]:
    """ISO or 'YYYY-mm-dd HH:MM:SS' (naive = local time, like the log) -> the log's timestamp form."""
    if value is None or value == "":
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("use YYYY-mm-ddTHH:MM:SS") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone().replace(tzinfo=None)
    return dt.strftime("%Y-%m-%d %H:%M:%S")


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(50, ge=1, le=500)
    level: Optional[str] = Field(None, max_length=60)
    start_time: Optional[str] = Field(None, max_length=40)
    end_time: Optional[str] = Field(None, max_length=40)
    keyword: Optional[str] = Field(None, max_length=200)
    logger_name: Optional[str] = Field(None, max_length=200)
    step_name: Optional[Literal[STEP_TAGS]] = None  # type: ignore[valid-type]
    sort_by: Literal["timestamp", "line_number", "level"] = "timestamp"
    sort_order: Literal["asc", "desc", "ASC", "DESC"] = "desc"

    @field_validator("start_time", "end_time")
    @classmethod
    def _ts(cls, v: Optional[str]) -> Optional[str]:
        return _timestamp(v)


@bp.post("/<task_id>/logs/query")
def query_logs(task_id: str):
    started = time.perf_counter()
    q = parse(QueryBody, json_body())
    flt = log_query.LogFilter(levels=_levels(q.level), start_time=q.start_time, end_time=q.end_time,
                               keyword=q.keyword or None, logger_name=q.logger_name or None, step_name=q.step_name)
    path, display = _log_path(task_id)
    entries, total, info = [], 0, {"exists": False, "file_path": display, "file_size": 0, "last_modified": None}
    if path is not None:
        with file_safety.open_nofollow(path) as fh:
            st = os.fstat(fh.fileno())
            result = log_query.query(fh, flt)
            entries = log_query.page(fh, result, page_no=q.page, page_size=q.page_size, sort_by=q.sort_by,
                                      sort_order=q.sort_order)
            total = result.total
        info.update(exists=True, file_size=st.st_size,
                    last_modified=datetime.fromtimestamp(st.st_mtime).replace(microsecond=0).isoformat())
    pages = math.ceil(total / q.page_size) if total else 0
    return ok({
        "task_id": task_id,
        "logs": _clean(entries),
        "pagination": {"page": q.page, "page_size": q.page_size, "total": total, "total_pages": pages,
                       "has_next": q.page < pages, "has_prev": q.page > 1},
        "log_file_info": info,
        "filters_applied": {k: v for k, v in q.model_dump().items()
                            if v is not None and k not in ("page", "page_size", "sort_by", "sort_order")},
        "query_time": f"{time.perf_counter() - started:.3f}s",
    }, message="高级日志查询成功")


class StreamArgs(BaseModel):
    model_config = ConfigDict(extra="ignore")
    # `from` is a Python keyword: read it under an alias
    start: Literal["end", "start"] = Field("end", alias="from")
    level: Optional[str] = Field(None, max_length=60)
    max_seconds: float = Field(3600, gt=0, le=3600)
    heartbeat: float = Field(15, ge=1, le=60)


_stream_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def _stream_slot(threads: int) -> threading.BoundedSemaphore:
    """At most half of a worker's threads follow logs at once: the other half keeps answering requests."""
    with _slots_lock:
        if os.getpid() not in _stream_slots:
            _stream_slots.clear()  # a forked worker starts with its own counter
            _stream_slots[os.getpid()] = threading.BoundedSemaphore(max(1, threads // 2))
        return _stream_slots[os.getpid()]


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@bp.get("/<task_id>/logs/stream")
def stream_logs(task_id: str):
    args = query_args(StreamArgs)
    levels = _levels(args.level)
    task_service.get_task_or_404(ctx(), task_id)
    task_dir = file_safety.task_dir_path(ctx().tasks_root, task_id)
    db = ctx().db

    def open_file():
        return file_safety.open_nofollow(file_safety.resolve_file(task_dir, LOG_FILE_NAME))

    def still_running() -> bool:
        return task_store.running_execution(db, task_id) is not None

    try:  # opened now: "from=end" starts at this request, not at the first read of the response
        first_fh = open_file()
        if args.start == "end":
            first_fh.seek(0, os.SEEK_END)
    except (FileNotFound, InvalidFileName):
        first_fh = None  # not written yet (or unusable): follow() keeps trying to open it

    slot = _stream_slot(ctx().settings.threads)
    if not slot.acquire(blocking=False):
        if first_fh is not None:
            first_fh.close()
        from core.errors import ConcurrencyLimitReached
        raise ConcurrencyLimitReached("too many log streams are open on this worker; poll GET /logs or retry")

    def events():
        yield "retry: 3000\n\n"
        yield _sse("open", {"task_id": task_id, "from": args.start})
        count = 0
        for entry in log_reader.follow(open_file, from_start=args.start == "start", still_running=still_running,
                                       max_seconds=args.max_seconds, heartbeat=args.heartbeat, fh=first_fh):
            if entry is None:
                yield ": keepalive\n\n"
                continue
            if levels and entry["level"] not in levels:
                continue
            entry["message"] = scrub_text(entry["message"])
            count += 1
            yield _sse("log", entry)
        yield _sse("end", {"task_id": task_id, "entries": count})

    resp = Response(stream_with_context(events()), content_type="text/event-stream; charset=utf-8")
    resp.call_on_close(slot.release)  # runs when the server closes the response, even if never iterated
    if first_fh is not None:
        resp.call_on_close(first_fh.close)  # follow() closes it too; closing twice is harmless
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"  # no proxy buffering
    return resp
