"""Execution check of generated SQL on a business database: guard, EXPLAIN, capped execution, rollback.

Lines of defence, in order (ARCHITECTURE.md "The business database is read-only, provably"):
1. `sql_guard.check_sql`: exactly one SELECT, no denied functions — rejected SQL never reaches the server;
2. every connection comes from `core.business_db.connect_business` (vetted URL and role):
   `default_transaction_read_only=on` for the session, `BEGIN READ ONLY` on every transaction (psycopg2
   readonly), `statement_timeout` and `lock_timeout`;
3. in one transaction that is always rolled back: the catalog check (catalog_check.py: every function,
   operator, type, cast and `x.f` the statement names resolves into pg_catalog — before anything is planned),
   `EXPLAIN (FORMAT JSON) <sql>`, then the rows through a server-side cursor, fetched in batches: only each
   row's size (`pg_column_size` of the row) crosses the wire, summed while fetching, and the cursor is
   closed as soon as the sum passes `byte_cap` (VALIDATION_BYTE_CAP) — the SQL is then rejected as too large,
   and neither the executor nor the server goes on building rows nobody reads.

Statuses: valid (rows), empty (ran, 0 rows — executable, not an error), error (the database's message, first
line, scrubbed), timeout (statement or lock timeout), rejected (static or catalog check, byte cap, or an
unexpected failure of the check itself: one pair never fails the step). `SqlChecker` keeps a small pool
of connections (one per worker thread, reused across checks, reopened when broken) and checks many SQL texts
in parallel.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Optional

import psycopg2
import psycopg2.errors

from core.business_db import connect_business, rollback_unless_closed
from core.errors import DatabaseConnectionError
from core.db import first_line
from data_pipeline.validation.catalog_check import catalog_problem
from data_pipeline.validation.guard import GuardResult, check_sql

VALID, EMPTY, ERROR, TIMEOUT, REJECTED = "valid", "empty", "error", "timeout", "rejected"
STATUSES = (VALID, EMPTY, ERROR, TIMEOUT, REJECTED)
EXECUTABLE = (VALID, EMPTY)
FAILED = (ERROR, TIMEOUT, REJECTED)
FETCH_BATCH = 200       # row sizes per FETCH from the server-side cursor


@dataclass
class CheckResult:
    status: str
    error: str = ""
    execution_time: float = 0.0            # seconds, EXPLAIN + execution (0 when rejected)
    row_count: Optional[int] = None        # rows fetched, at most the row cap
    row_cap_reached: bool = False
    estimated_cost: Optional[float] = None  # planner's total cost from EXPLAIN

    @property
    def executable(self) -> bool:
        return self.status in EXECUTABLE

    def to_dict(self) -> dict:
        return asdict(self)


def capped_query(body: str, row_cap: int) -> str:
    """The statement wrapped so the server stops after `row_cap` rows and sends each row's size in bytes (the
    row as PostgreSQL holds it, `pg_column_size`) instead of the row. Newlines keep a trailing `--` comment of `body` from swallowing the closing
    parenthesis; `_dp_q.*` (qualified) cannot be shadowed by an output column named `_dp_q`, nor the function
    by a business database's own `pg_column_size` (schema-qualified)."""
    return f"SELECT pg_catalog.pg_column_size(ROW(_dp_q.*)) FROM (\n{body}\n) AS _dp_q LIMIT {int(row_cap)}"


def _plan_cost(explain_rows: list) -> Optional[float]:
    try:
        plan = explain_rows[0][0]
        return float(plan[0]["Plan"]["Total Cost"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None


class SqlChecker:
    """Checks SQL texts on one business database over `concurrency` reused read-only connections.

    Use as a context manager (or call `close()`): connections are closed at the end. `check` runs on the
    calling thread's connection; `check_many` runs in the pool's threads. A failure to connect raises
    `core.errors.DatabaseConnectionError`.
    """

    def __init__(self, business_url: str, *, statement_timeout_ms: int, lock_timeout_ms: int, row_cap: int,
                 concurrency: int = 4, settings=None, byte_cap: Optional[int] = None):
        self.business_url = business_url
        self.settings = settings   # the business-connection policy (core.business_db); None: the strict default
        self.statement_timeout_ms = statement_timeout_ms
        self.lock_timeout_ms = lock_timeout_ms
        self.row_cap = max(1, int(row_cap))
        cap = byte_cap if byte_cap is not None else getattr(settings, "validation_byte_cap", None)
        self.byte_cap = int(cap) if cap else 16_000_000
        self.concurrency = max(1, int(concurrency))
        self._local = threading.local()
        self._connections: list = []
        self._lock = threading.Lock()
        self._pool: Optional[ThreadPoolExecutor] = None
        self.reconnects = 0

    @classmethod
    def from_settings(cls, business_url: str, settings) -> "SqlChecker":
        return cls(business_url, statement_timeout_ms=settings.statement_timeout_ms,
                   lock_timeout_ms=settings.lock_timeout_ms, row_cap=settings.validation_row_cap,
                   concurrency=settings.validation_concurrency, settings=settings)

    # --- connections ------------------------------------------------------------------------------------------
    def _connection(self, fresh: bool = False):
        conn = getattr(self._local, "conn", None)
        if conn is not None and (fresh or conn.closed):
            self._discard(conn)
            conn = None
            self.reconnects += 1
        if conn is None:
            conn = connect_business(self.business_url, statement_timeout_ms=self.statement_timeout_ms,
                                    lock_timeout_ms=self.lock_timeout_ms,
                                    application_name="data_pipeline_sql_check", settings=self.settings)
            with self._lock:
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    def warm(self) -> None:
        """Open the pool's connections now, on its threads (a connection belongs to the thread that opened it),
        so the first checks do not wait for the connection setup and vetting; a failure here is left for those
        checks to meet and report."""
        pool = self._ensure_pool()
        for _ in range(self.concurrency):
            pool.submit(self._warm_one)

    def _warm_one(self) -> None:
        try:
            self._connection()
        except Exception:  # noqa: BLE001 - the checks that need this connection report why it cannot be had
            pass

    def _discard(self, conn) -> None:
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
        try:
            conn.close()
        except psycopg2.Error:
            pass
        self._local.conn = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._lock:
            conns, self._connections = self._connections, []
        for conn in conns:
            try:
                conn.rollback()
                conn.close()
            except psycopg2.Error:
                pass

    def __enter__(self) -> "SqlChecker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- checks -----------------------------------------------------------------------------------------------
    def check(self, sql: str) -> CheckResult:
        """Guard, then catalog check, EXPLAIN and capped execution in one rolled-back READ ONLY transaction.
        Any failure of the check itself rejects this SQL with a reason (DatabaseConnectionError aside)."""
        try:
            return self._check(sql)
        except (DatabaseConnectionError, psycopg2.Error):
            raise
        except Exception as exc:   # noqa: BLE001 - e.g. RecursionError on absurd nesting: this pair only
            return CheckResult(status=REJECTED, error=f"the check failed on this SQL ({exc.__class__.__name__}); "
                                                      f"refused")

    def _check(self, sql: str) -> CheckResult:
        verdict = check_sql(sql)
        if not verdict.ok:
            return CheckResult(status=REJECTED, error=verdict.reason)
        try:
            return self._execute(self._connection(), verdict)
        except psycopg2.Error:
            # the server closed this connection (restart, idle timeout, admin kill): reopen once and retry;
            # a failure to reconnect raises DatabaseConnectionError (the step fails with a clear message)
            pass
        try:
            return self._execute(self._connection(fresh=True), verdict)
        except psycopg2.Error as exc:
            # the connection died again on this very statement: report it on the pair, keep going
            self._connection(fresh=True)
            return CheckResult(status=ERROR, error=f"connection lost during the check: {first_line(exc)}")

    def _execute(self, conn, verdict: GuardResult) -> CheckResult:
        """Raises psycopg2.Error only when the connection is gone; every other failure is a CheckResult."""
        started = time.perf_counter()
        try:
            with conn.cursor() as cur:
                problem = catalog_problem(cur, verdict.names)
                if problem:
                    return CheckResult(status=REJECTED, error=problem)
                cur.execute("EXPLAIN (FORMAT JSON) " + verdict.body)
                cost = _plan_cost(cur.fetchall())
            rows, size = self._fetch_sizes(conn, verdict.body)
            elapsed = time.perf_counter() - started
            if size > self.byte_cap:
                return CheckResult(status=REJECTED, execution_time=round(elapsed, 4), row_count=rows,
                                   error=f"result too large: more than {self.byte_cap} bytes in the first {rows} "
                                         f"row(s) (VALIDATION_BYTE_CAP); refused")
            status = VALID if rows else EMPTY
            return CheckResult(status=status, execution_time=round(elapsed, 4), row_count=rows,
                               row_cap_reached=rows >= self.row_cap, estimated_cost=cost)
        except (psycopg2.errors.QueryCanceled, psycopg2.errors.LockNotAvailable) as exc:
            return CheckResult(status=TIMEOUT, error=first_line(exc),
                               execution_time=round(time.perf_counter() - started, 4))
        except psycopg2.Error as exc:
            if conn.closed:
                raise
            return CheckResult(status=ERROR, error=first_line(exc),
                               execution_time=round(time.perf_counter() - started, 4))
        finally:
            rollback_unless_closed(conn)

    def _fetch_sizes(self, conn, body: str) -> tuple[int, int]:
        """(rows, bytes) of the capped statement, through a server-side cursor; stops once past the byte cap.
        The first FETCH asks for one row (one huge row is refused before the server builds the next ones) and
        travels with the DECLARE; the cursor ends with the transaction's rollback."""
        rows = size = 0
        with conn.cursor() as cur:
            cur.execute(f"DECLARE _dp_check NO SCROLL CURSOR FOR {capped_query(body, self.row_cap)};\n"
                        f"FETCH 1 FROM _dp_check")
            wanted = 1
            while True:
                batch = cur.fetchall()
                rows += len(batch)
                size += sum(int(n or 0) for (n,) in batch)
                if size > self.byte_cap or len(batch) < wanted:
                    break
                wanted = FETCH_BATCH
                cur.execute(f"FETCH {FETCH_BATCH} FROM _dp_check")
        return rows, size

    def check_many(self, sqls: Iterable[str], *, on_result: Optional[Callable[[int, CheckResult], None]] = None,
                   should_stop: Callable[[], bool] = lambda: False) -> list[Optional[CheckResult]]:
        """Check every SQL in parallel; results in input order. `on_result(index, result)` is called as each
        finishes (from worker threads). When `should_stop()` turns true, checks not yet started return None."""
        sqls = list(sqls)
        pool = self._ensure_pool()

        def run(index: int) -> Optional[CheckResult]:
            if should_stop():
                return None
            result = self.check(sqls[index])
            if on_result is not None:
                on_result(index, result)
            return result

        return list(pool.map(run, range(len(sqls))))

    def check_pooled(self, sql: str) -> CheckResult:
        """`check` on one of the pool's connections (for callers on other threads, e.g. repair workers: the
        number of connections stays `concurrency`)."""
        return self.submit(sql).result()

    def submit(self, sql: str) -> Future:
        """`check(sql)` queued on the pool; the future raises what `check` raises."""
        return self._ensure_pool().submit(self.check, sql)

    def _ensure_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="sql_check")
            return self._pool
