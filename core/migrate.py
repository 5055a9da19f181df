"""Versioned, idempotent migrations: `sql/migrations/NNN_name.sql`, each applied once, in order, in a transaction.

Several processes may start at once (gunicorn workers, executors): an advisory lock serialises them, and a
second start applies nothing.
"""
from __future__ import annotations

import logging
from pathlib import Path

from core.db import Database

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "sql" / "migrations"
_LOCK_KEY = 720_084_001  # arbitrary constant, unique to this project's migration lock


def pending_files(applied: set[str]) -> list[Path]:
    return [p for p in sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9]_*.sql")) if p.stem not in applied]


def migrate(db: Database) -> list[str]:
    """Apply every migration not yet recorded; return the versions applied now."""
    done: list[str] = []
    with db.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        cur.execute("CREATE TABLE IF NOT EXISTS data_pipeline_schema_migrations ("
                    " version VARCHAR(100) PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        cur.execute("SELECT version FROM data_pipeline_schema_migrations")
        applied = {r[0] for r in cur.fetchall()}
        for path in pending_files(applied):
            cur.execute(path.read_text(encoding="utf-8"))
            cur.execute("INSERT INTO data_pipeline_schema_migrations(version) VALUES (%s)", (path.stem,))
            done.append(path.stem)
    if done:
        log.info("applied migrations: %s", ", ".join(done))
    return done
