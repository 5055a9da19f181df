"""Task events: GET /tasks/{id}/events, Server-Sent Events of the (lean) status whenever it changes.

A page that follows a task stops polling: the stream reads the task the way the status GET does (one statement,
a version per read) every `interval` seconds and sends `event: status` only when the version moved, with the
version as the event id (a reconnect with Last-Event-ID does not resend what the page has). It ends with
`event: end` once the task has no running execution and nothing changed for `linger` seconds (the console then
polls slowly with If-None-Match), or after `max_seconds` (the browser reconnects). Streams share the log
follower's slots: at most half a worker's threads stream, the other half keep answering requests.
"""
from __future__ import annotations

import json
import time

from flask import Blueprint, Response, request, stream_with_context
from pydantic import BaseModel, ConfigDict, Field

from core.errors import ConcurrencyLimitReached, TaskNotFound
from data_pipeline import tasks as task_service
from data_pipeline.api import ctx
from data_pipeline.api.envelope import etag_for, query_args
from data_pipeline.api.logs import _stream_slot as stream_slot
from data_pipeline.ids import require_task_id
from data_pipeline.store import tasks as task_store

bp = Blueprint("events", __name__, url_prefix="/api/v0/data_pipeline/tasks")


class EventArgs(BaseModel):
    model_config = ConfigDict(extra="ignore")
    interval: float = Field(1.0, ge=0.2, le=10)
    linger: float = Field(10, ge=0, le=600)
    max_seconds: float = Field(600, gt=0, le=3600)
    heartbeat: float = Field(15, ge=1, le=60)


def _sse(event: str, data: dict, event_id: str = "") -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@bp.get("/<task_id>/events")
def task_events(task_id: str):
    require_task_id(task_id)
    args = query_args(EventArgs)
    app_ctx = ctx()
    if task_store.task_with_running(app_ctx.db, task_id) is None:
        raise TaskNotFound(f"task {task_id} does not exist")
    slot = stream_slot(app_ctx.settings.threads)
    if not slot.acquire(blocking=False):
        raise ConcurrencyLimitReached("too many event streams are open on this worker; poll the status instead")
    last_seen = request.headers.get("Last-Event-ID", "")

    def events():
        last, last_sent, last_change = last_seen, time.monotonic(), time.monotonic()
        started = time.monotonic()
        yield "retry: 3000\n\n"
        while True:
            found = task_store.task_with_running(app_ctx.db, task_id)
            now = time.monotonic()
            if found is None:
                yield _sse("end", {"task_id": task_id, "reason": "deleted"})
                return
            row, running, version = found
            etag = etag_for("status", version, app_ctx.task_dir(task_id).is_dir())
            if etag != last:
                yield _sse("status", task_service.lean_status_view(app_ctx, row, running), etag)
                last, last_sent, last_change = etag, now, now
            elif now - last_sent >= args.heartbeat:
                yield ": keepalive\n\n"
                last_sent = now
            idle = running is None and row["status"] != "in_progress"
            if idle and now - last_change >= args.linger:
                yield _sse("end", {"task_id": task_id, "reason": "idle", "status": row["status"]})
                return
            if now - started >= args.max_seconds:
                yield _sse("end", {"task_id": task_id, "reason": "max_seconds"})
                return
            time.sleep(args.interval)

    resp = Response(stream_with_context(events()), content_type="text/event-stream; charset=utf-8")
    resp.call_on_close(slot.release)  # runs when the server closes the response, even if never iterated
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp
