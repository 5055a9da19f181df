"""GET /health: process up, metadata database reachable, version, generator modes."""
from __future__ import annotations

import time

from flask import Blueprint

from app_config import VERSION
from core.errors import DatabaseConnectionError
from data_pipeline.api import ctx
from data_pipeline.api.envelope import ok

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    c = ctx()
    started = time.perf_counter()
    try:
        c.db.fetchone("SELECT 1 AS ok")
    except Exception:  # noqa: BLE001 - any failure means "not reachable"; details stay in the log
        raise DatabaseConnectionError("the metadata database is not reachable") from None
    return ok({
        "status": "ok", "version": VERSION, "database": "reachable",
        "database_latency_ms": round((time.perf_counter() - started) * 1000, 2),
        "embedded_database": c.runtime.embedded,
        "llm": c.settings.llm_model if c.settings.llm_enabled else "rule_based",
        "embedding": c.settings.embedding_model if c.settings.embedding_remote else "builtin_hashing",
    }, message="服务正常")
