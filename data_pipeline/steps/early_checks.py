"""Checks of generated SQL started before `sql_validation` runs, while qa_generation still waits for the LLM.

In a complete run both steps run in one executor process, and the pairs of a theme are final the moment its
LLM answer arrives. So qa_generation hands each theme's SQL over (`submit`) and the checks run on the business
database on background threads while the remaining LLM calls are out; sql_validation then takes the checker
with the finished results (`take`) and checks only the SQL it was not handed. It is the same SqlChecker with the
same settings on the same read-only database, so a result is exactly what the step would have found itself; a
check that failed or did not run (cancel) is simply done again by the step.

The repair calls of the failures found this way leave from here too (`send_repairs_ahead`): qa_generation calls
it the moment its LLM pairs are final, before its coverage top-up, its files and the step switch; sql_validation
takes the RepairAhead over with the checks (validation/repair_ahead.py).

Only when sql_validation is planned after qa_generation in this process (the runner lists the steps still to
come in `ctx.options["next_steps"]`); a step-mode qa run starts nothing here.
"""
from __future__ import annotations

import heapq
import itertools
import threading
from concurrent.futures import Future, InvalidStateError
from typing import Callable, Iterable, Optional, Sequence

from data_pipeline.qa.pairs import Pair
from data_pipeline.steps.base import NEXT_STEPS_OPTION, StepContext  # noqa: F401 - NEXT_STEPS_OPTION: tests
from data_pipeline.validation.check import FAILED, CheckResult, SqlChecker
from data_pipeline.validation.repair import RepairCandidate
from data_pipeline.validation.repair_ahead import RepairAhead

_lock = threading.Lock()
_open: dict[tuple, "EarlyChecks"] = {}


class EarlyChecks:
    """One execution's checks: a SqlChecker (its pool of `validation_concurrency` connections is the one
    sql_validation goes on using), results by SQL text.

    The SQL guessed to fail (validation/likely_failing.py) is checked first, the rest in the order it came:
    at most `concurrency` checks are handed to the pool at a time, so its queue never holds the order. A
    failure found early lets the repair of it leave before the other pairs are executed (repair_ahead.py)."""

    def __init__(self, ctx: StepContext, guess: Optional[Callable[[str], bool]] = None):
        self.checker = SqlChecker.from_settings(ctx.business_url, ctx.settings)
        self._cancel = ctx.cancel_event
        self._guess = guess if guess is not None else _snapshot_guess(ctx)
        self._futures: dict[str, Future] = {}
        self._queue: list[tuple[int, int, str]] = []     # heap of (0 guessed failing | 1, arrival, sql)
        self._ranks: dict[str, int] = {}
        self._order = itertools.count()
        self._running = 0
        self.guessed_failing: set[str] = set()
        self._closed = False
        self._lock = threading.Lock()
        self.ahead: Optional[RepairAhead] = None    # repair calls sent ahead; sql_validation goes on with them

    def submit(self, sqls: Iterable[str], guessed_only: bool = False) -> None:
        """Queue the checks of `sqls` (each text once). `guessed_only`: only those guessed to fail, the others
        are left for a later `submit` (a theme's answer, before its pairs are final: the check of a failure can
        then run while the pairs are analysed, and its repair leave as soon as they are)."""
        with self._lock:
            batch = list(dict.fromkeys(s for s in sqls if isinstance(s, str) and s not in self._futures))
        ranks = [self._rank(sql) for sql in batch]    # parsing, outside the lock
        with self._lock:
            for sql, rank in zip(batch, ranks):
                if sql in self._futures or (guessed_only and rank == 1):
                    continue
                self._futures[sql] = Future()
                if rank == 0:
                    self.guessed_failing.add(sql)
                heapq.heappush(self._queue, (rank, next(self._order), sql))
        self._pump()

    def _rank(self, sql: str) -> int:
        """0 when `sql` is guessed to fail, else 1 (remembered: a theme's SQL is offered twice)."""
        rank = self._ranks.get(sql)
        if rank is None:
            rank = self._ranks[sql] = 0 if self._guess(sql) else 1
        return rank

    def _pump(self) -> None:
        """Hand the next checks to the pool while fewer than its size run."""
        while True:
            with self._lock:
                if self._running >= self.checker.concurrency or not self._queue:
                    return
                _, _, sql = heapq.heappop(self._queue)
                self._running += 1
            if self._cancel.is_set() or self._closed:
                self._finished(sql, None)
                continue
            try:
                future = self.checker.submit(sql)
            except Exception:  # noqa: BLE001 - e.g. the checker closed: the step checks it itself
                self._finished(sql, None)
                continue
            future.add_done_callback(lambda f, sql=sql: self._done(sql, f))

    def _done(self, sql: str, future: Future) -> None:
        try:
            result = future.result()
        except Exception:  # noqa: BLE001 - e.g. the database unreachable: the step's own check reports it
            result = None
        self._finished(sql, result)
        self._pump()

    def _finished(self, sql: str, result: Optional[CheckResult]) -> None:
        with self._lock:
            self._running -= 1
            future = self._futures[sql]
        try:
            future.set_result(result)
        except InvalidStateError:
            pass

    def close(self) -> None:
        """No more checks: those still queued end unchecked (None), the checker closes (waits for running ones)."""
        self._closed = True
        self._pump()
        self.checker.close()

    def result(self, sql: str) -> Optional[CheckResult]:
        """The finished check of `sql` (waits for a running one); None when it was not submitted or not checked:
        the caller checks it itself."""
        with self._lock:
            future = self._futures.get(sql)
        return None if future is None else future.result()

    def known(self, sql: str) -> Optional[CheckResult]:
        """The check of `sql` if it has finished, without waiting; else None."""
        with self._lock:
            future = self._futures.get(sql)
        return future.result() if future is not None and future.done() else None

    def send_ahead(self, ctx: StepContext, pairs: Sequence[Pair], ahead: RepairAhead) -> threading.Thread:
        """Once the checks of the pairs guessed to fail are done (they run first), send the repair of those that
        failed among `pairs` (file order: round 1's first batches), in a thread, while the others are checked."""
        def send() -> None:
            try:
                guessed = [p for p in pairs if p.sql in self.guessed_failing]
                checks = [self.result(p.sql) for p in guessed]
                if ctx.cancel_event.is_set():
                    return
                ahead.send([candidate(p, c) for p, c in zip(guessed, checks) if c is not None and c.status in FAILED])
            except Exception as exc:  # noqa: BLE001 - an optimisation: the round then makes its own calls
                ctx.logger.warning("repair calls not sent ahead: %s", type(exc).__name__)
        thread = threading.Thread(target=send, name="repair_ahead_send", daemon=True)
        thread.start()
        return thread


def candidate(pair: Pair, check: CheckResult) -> RepairCandidate:
    return RepairCandidate(pair.id, pair.question, pair.sql, check, list(pair.meta.get("tables") or []))


def _snapshot_guess(ctx: StepContext) -> Callable[[str], bool]:
    """The failure guess from the task's schema snapshot; without a readable snapshot, no guess (arrival order)."""
    from data_pipeline.schema.model import SNAPSHOT_FILE, load_snapshot
    from data_pipeline.validation.likely_failing import FailureGuess
    try:
        return FailureGuess(load_snapshot(ctx.task_dir / SNAPSHOT_FILE)[0])
    except Exception:  # noqa: BLE001 - an ordering aid only
        return lambda _sql: False


def _key(ctx: StepContext) -> tuple:
    return ctx.task_id, ctx.execution_id, ctx.business_url


def _early_for(ctx: StepContext) -> Optional[EarlyChecks]:
    """This execution's checks (made on first use) when sql_validation runs later in this process, else None."""
    if not ctx.runs_later_here("sql_validation"):
        return None
    with _lock:
        early = _open.get(_key(ctx))
        if early is None:
            early = _open[_key(ctx)] = EarlyChecks(ctx)
        return early


def start(ctx: StepContext) -> Optional[threading.Thread]:
    """qa_generation's first move: on a thread (returned), make the checks (the failure guess reads the snapshot)
    and open their connections while the theme call is out, so the first theme's SQL is checked at once (issue
    26). Never raises."""
    if not ctx.runs_later_here("sql_validation"):
        return None

    def prepare() -> None:
        try:
            early = _early_for(ctx)
            if early is not None:
                early.checker.warm()
        except Exception as exc:  # noqa: BLE001 - an optimisation must not fail qa_generation
            ctx.logger.warning("early SQL checks not started: %s", type(exc).__name__)
    thread = threading.Thread(target=prepare, name="early_checks_start", daemon=True)
    thread.start()
    return thread


def submit(ctx: StepContext, sqls: Iterable[str], guessed_only: bool = False) -> None:
    """Start checking `sqls` (`guessed_only`: those guessed to fail) now when sql_validation runs later in this
    process; else do nothing. Never raises: a problem here only means the step checks everything itself."""
    try:
        early = _early_for(ctx)
        if early is not None:
            early.submit(sqls, guessed_only)
    except Exception as exc:  # noqa: BLE001 - an optimisation must not fail qa_generation
        ctx.logger.warning("early SQL checks not started: %s", type(exc).__name__)


def send_repairs_ahead(ctx: StepContext, pairs: Sequence[Pair], make_ahead: Callable[[], RepairAhead]
                       ) -> Optional[threading.Thread]:
    """qa_generation: `pairs` are final, in the order of the pair file: once the SQL guessed to fail is checked,
    send the repair calls of its failures, on a thread (returned), with the RepairAhead `make_ahead` builds (kept
    for sql_validation). Only when the checks were started (`submit`); never raises."""
    try:
        with _lock:
            early = _open.get(_key(ctx))
        if early is None:
            return None
        early.ahead = make_ahead()
        return early.send_ahead(ctx, pairs, early.ahead)
    except Exception as exc:  # noqa: BLE001 - an optimisation must not fail qa_generation
        ctx.logger.warning("repair calls not sent ahead: %s", type(exc).__name__)
        return None


def take(ctx: StepContext) -> Optional[EarlyChecks]:
    """The early checks started for this execution, or None. The caller owns them from then on (and closes
    them: the close waits for checks still running)."""
    with _lock:
        return _open.pop(_key(ctx), None)
