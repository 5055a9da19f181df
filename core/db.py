"""Connections: a pool for our own database, URL helpers. Business databases: core/business_db.py."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator, Optional
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg2
import psycopg2.extras
import psycopg2.pool

from core.errors import DatabaseConnectionError

psycopg2.extras.register_uuid()


class Database:
    """A lazily created, thread-safe pool on one URL. Fork-safe: a child process builds its own pool.

    psycopg2's pool raises when exhausted; callers here wait for a free connection instead (bounded by
    `acquire_timeout_s`), so a burst of requests queues rather than failing.
    """

    def __init__(self, url: str, minconn: int = 1, maxconn: int = 20, application_name: str = "data_pipeline",
                 acquire_timeout_s: float = 30.0, connect_params: Optional[dict] = None):
        """`connect_params`: libpq parameters to connect with instead of `url` (a client-named store, vetted and
        isolated by core/client_db.py); `url` then only names the pool."""
        self.url = url
        self._connect_params = connect_params
        self._minconn, self._maxconn = minconn, maxconn
        self._app = application_name
        self._pool: Optional[psycopg2.pool.ThreadedConnectionPool] = None
        self._pid = None
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(maxconn)
        self._acquire_timeout_s = acquire_timeout_s

    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        import os
        if self._pool is None or self._pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pid != os.getpid():
                    try:
                        if self._connect_params is not None:
                            self._pool = psycopg2.pool.ThreadedConnectionPool(self._minconn, self._maxconn,
                                                                              **self._connect_params)
                        else:
                            self._pool = psycopg2.pool.ThreadedConnectionPool(
                                self._minconn, self._maxconn, self.url, application_name=self._app,
                                connect_timeout=10)
                    except psycopg2.OperationalError as exc:
                        raise DatabaseConnectionError(
                            f"cannot connect to the metadata database: {first_line(exc)}") from None
                    self._pid = os.getpid()
                    self._slots = threading.BoundedSemaphore(self._maxconn)
        return self._pool

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A pooled connection inside one transaction: committed on success, rolled back on error."""
        pool = self._get_pool()
        if not self._slots.acquire(timeout=self._acquire_timeout_s):
            raise DatabaseConnectionError("no free database connection (pool busy)")
        try:
            conn = pool.getconn()
        except BaseException:
            self._slots.release()
            raise
        broken = False
        try:
            yield conn
            conn.commit()
        except BaseException:
            try:
                conn.rollback()
            except psycopg2.Error:
                broken = True
            raise
        finally:
            if conn.closed:
                broken = True
            pool.putconn(conn, close=broken)
            self._slots.release()

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        with self.connection() as conn:
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                yield cur

    def execute(self, query: str, params: Any = None) -> int:
        with self.cursor() as cur:
            cur.execute(query, params)
            return cur.rowcount

    def fetchone(self, query: str, params: Any = None) -> Optional[dict]:
        with self.cursor() as cur:
            cur.execute(query, params)
            row = cur.fetchone()
            return dict(row) if row is not None else None

    def fetchall(self, query: str, params: Any = None) -> list[dict]:
        with self.cursor() as cur:
            cur.execute(query, params)
            return [dict(r) for r in cur.fetchall()]

    def read_one(self, query: str, params: Any = None) -> Optional[dict]:
        """One read statement in autocommit: a single round trip (no BEGIN/COMMIT around it). For the hot,
        polled reads; anything that writes, or reads twice and needs one snapshot, uses `cursor()`."""
        with self.connection() as conn:
            conn.autocommit = True  # client-side switch (the pooled connection is idle here): no query sent
            try:
                with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                    cur.execute(query, params)
                    row = cur.fetchone()
                    return dict(row) if row is not None else None
            finally:
                if not conn.closed:
                    conn.autocommit = False

    def close(self) -> None:
        if self._pool is not None and self._pid is not None:
            import os
            if self._pid == os.getpid():
                self._pool.closeall()
        self._pool = None


def first_line(exc: BaseException) -> str:
    """A database error's first line, with any URL or password scrubbed (libpq echoes them sometimes)."""
    from core.secrets import scrub_text
    text = str(exc).strip().splitlines()
    return scrub_text(text[0]) if text else exc.__class__.__name__


def connect_business(url: str, **kwargs):
    """Kept where callers knew it: the vetted business connection is core/business_db.py (this delegates)."""
    from core.business_db import connect_business as vetted_connect
    return vetted_connect(url, **kwargs)


def business_readonly(url: str, **kwargs):
    """Kept where callers knew it: a context manager from core/business_db.py (vetted, read-only, rolled back)."""
    from core.business_db import business_readonly as vetted_readonly
    return vetted_readonly(url, **kwargs)


def database_name(url: str) -> str:
    """The database name in a postgres URL (or key=value DSN)."""
    if "://" in url:
        return unquote(urlsplit(url).path.lstrip("/")) or ""
    for part in url.split():
        if part.startswith("dbname="):
            return part.split("=", 1)[1]
    return ""


def is_postgres_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("postgresql", "postgres") and bool(parts.path.strip("/"))


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))
