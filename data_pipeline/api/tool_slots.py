"""The concurrency cap of the endpoints that connect to a server a client names (database tools, vector store):
at most DATABASE_TOOLS_CONCURRENCY such requests run at once per API process (each may wait a connect timeout),
shared by both resources; more answer 429 TOO_MANY_REQUESTS with `Retry-After`, so they cannot tie up every
request thread."""
from __future__ import annotations

import threading

from flask import Blueprint, g, request

from core.errors import AppError
from data_pipeline.api import ctx
from data_pipeline.api.envelope import error_response

RETRY_AFTER_S = 2
_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


class ToolsBusy(AppError):
    """Too many database-tool or vector-store requests at once; retry shortly."""
    status, code, message, error_type = 429, "TOO_MANY_REQUESTS", "请求过多，请稍后重试", "RateLimitError"


def _semaphore() -> threading.BoundedSemaphore:
    limit = ctx().settings.database_tools_concurrency
    with _slots_lock:
        return _slots.setdefault(id(ctx()), threading.BoundedSemaphore(limit))


def cap(bp: Blueprint, methods: tuple[str, ...] = ("POST",)) -> None:
    """Requests of `bp` with one of `methods` take a slot for their whole duration (429 when none is free)."""

    @bp.before_request
    def _take_slot():
        if request.method not in methods:
            return None
        if not _semaphore().acquire(blocking=False):
            resp = error_response(ToolsBusy(
                f"at most {ctx().settings.database_tools_concurrency} database or vector-store requests run at "
                f"once; retry in {RETRY_AFTER_S} s"))
            resp.headers["Retry-After"] = str(RETRY_AFTER_S)
            return resp
        g.tool_slot = _semaphore()
        return None

    @bp.teardown_request
    def _give_slot(_exc):
        slot = g.pop("tool_slot", None)
        if slot is not None:
            slot.release()
