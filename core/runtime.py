"""Where the databases are, for this process: configured URLs, or the embedded server (attached on demand).

`prepare(settings, bootstrap=True)` is what the API and the CLI run at start: attach/start the embedded server,
create our database, apply migrations, create the demo business database once. Executors call it with
`bootstrap=False`: they only attach (0.01 s), which also keeps the embedded server up while they run.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import psycopg2

from app_config import Settings
from core import business_db, embedded_pg
from core.db import Database, first_line, with_database
from core.errors import DatabaseConnectionError
from core.migrate import migrate

log = logging.getLogger(__name__)
META_DB = "data_pipeline"
DEMO_DB = "highway_db"
DEMO_READER = "highway_reader"  # SELECT-only role: the demo business DB is read through it
DEMO_SQL = Path(__file__).resolve().parent.parent / "sql" / "demo" / "highway_db.sql"
DEMO_MARK = "data_pipeline demo v1"


@dataclass(frozen=True)
class Runtime:
    meta_url: str
    business_url: str  # default business database ("" when none)
    embedded: bool


_cached: Optional[Runtime] = None


def _admin_exec(url: str, statement: str, params=None) -> list:
    try:
        conn = psycopg2.connect(url, connect_timeout=10)
    except psycopg2.Error as exc:
        raise DatabaseConnectionError(f"cannot connect to PostgreSQL: {first_line(exc)}") from None
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def _ensure_database(server_url: str, name: str) -> bool:
    if _admin_exec(server_url, "SELECT 1 FROM pg_database WHERE datname = %s", (name,)):
        return False
    try:
        _admin_exec(server_url, f'CREATE DATABASE "{name}"')
    except psycopg2.errors.DuplicateDatabase:
        return False
    return True


def ensure_demo_database(server_url: str) -> str:
    """Create and fill highway_db once (marked by a database comment); return its read-only URL."""
    _ensure_database(server_url, DEMO_DB)
    demo_url = with_database(server_url, DEMO_DB)
    mark = _admin_exec(server_url, "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                                   "WHERE datname = %s", (DEMO_DB,))
    if not (mark and mark[0][0] == DEMO_MARK):
        started = time.monotonic()
        conn = psycopg2.connect(demo_url)
        try:
            with conn, conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(720084002)")
                cur.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                            (DEMO_DB,))
                if cur.fetchone()[0] != DEMO_MARK:  # another process may have just built it
                    cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
                    cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                    cur.execute(DEMO_SQL.read_text(encoding="utf-8"))
                    cur.execute(f"COMMENT ON DATABASE \"{DEMO_DB}\" IS %s", (DEMO_MARK,))
                    cur.execute(f"""
                        DO $$ BEGIN
                          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{DEMO_READER}') THEN
                            CREATE ROLE {DEMO_READER} LOGIN;
                          END IF;
                        END $$;
                        GRANT CONNECT ON DATABASE "{DEMO_DB}" TO {DEMO_READER};
                        GRANT USAGE ON SCHEMA public TO {DEMO_READER};
                        GRANT SELECT ON ALL TABLES IN SCHEMA public TO {DEMO_READER};
                        ALTER ROLE {DEMO_READER} SET default_transaction_read_only = on;
                    """)
                    log.info("demo database %s created in %.1f s", DEMO_DB, time.monotonic() - started)
        finally:
            conn.close()
    return _reader_url(demo_url)


def _reader_url(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{DEMO_READER}@{host}", parts.path, parts.query, parts.fragment))


def prepare(settings: Settings, *, bootstrap: bool = True) -> Runtime:
    """Resolve (and on bootstrap, create/migrate) the databases for this process. Cached per process."""
    global _cached
    if _cached is not None:
        return _cached
    if settings.database_url:
        server_url, embedded = settings.database_url, False
        meta_url = settings.database_url
    else:
        server_url, embedded = embedded_pg.attach(settings.pgdata), True
        meta_url = embedded_pg.uri_for(server_url, META_DB)
    business_url = settings.business_db_url
    if bootstrap:
        if embedded:
            _ensure_database(server_url, META_DB)
        migrate(Database(meta_url, maxconn=2))
        if not business_url:
            business_url = ensure_demo_database(server_url)
    elif not business_url:
        business_url = _reader_url(with_database(server_url, DEMO_DB))
    business_db.protect(meta_url)   # never a business database, whatever a client's URL spells
    business_db.trust(business_url)
    _cached = Runtime(meta_url=meta_url, business_url=business_url, embedded=embedded)
    return _cached


def reset_cache() -> None:
    global _cached
    _cached = None
