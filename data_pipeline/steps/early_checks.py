"""Checks of generated SQL started before `sql_validation` runs, while qa_generation still waits for the LLM.

In a complete run both steps run in one executor process, and the pairs of a theme are final the moment its
LLM answer arrives. So qa_generation hands each theme's SQL over (`submit`) and the checks run on the business
database on background threads while the remaining LLM calls are out; sql_validation then takes the checker
with the finished results (`take`) and checks only the SQL it was not handed. It is the same SqlChecker with the
same settings on the same read-only database, so a result is exactly what the step would have found itself; a
check that failed or did not run (cancel) is simply done again by the step.

Only when sql_validation is planned after qa_generation in this process (the runner lists the steps still to
come in `ctx.options["next_steps"]`); a step-mode qa run starts nothing here.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future, InvalidStateError
from typing import Iterable, Optional

from data_pipeline.steps.base import StepContext
from data_pipeline.validation.check import CheckResult, SqlChecker

NEXT_STEPS_OPTION = "next_steps"     # set by the runner: the steps that run after the current one, in order
_lock = threading.Lock()
_open: dict[tuple, "EarlyChecks"] = {}


class EarlyChecks:
    """One execution's early checks: a SqlChecker (its pool of `validation_concurrency` connections is the one
    sql_validation goes on using), results by SQL text."""

    def __init__(self, ctx: StepContext):
        self.checker = SqlChecker.from_settings(ctx.business_url, ctx.settings)
        self._cancel = ctx.cancel_event
        self._futures: dict[str, Future] = {}
        self._lock = threading.Lock()

    def submit(self, sqls: Iterable[str]) -> None:
        with self._lock:
            batch = list(dict.fromkeys(s for s in sqls if isinstance(s, str) and s not in self._futures))
            for sql in batch:
                self._futures[sql] = Future()
        if batch:
            threading.Thread(target=self._run, args=(batch,), name="sql_early", daemon=True).start()

    def _run(self, batch: list[str]) -> None:
        futures = [self._futures[sql] for sql in batch]

        def done(index: int, result: CheckResult) -> None:
            try:
                futures[index].set_result(result)
            except InvalidStateError:   # set to None already, after a failure of another check of the batch
                pass
        try:
            self.checker.check_many(batch, on_result=done, should_stop=self._cancel.is_set)
        except Exception:  # noqa: BLE001 - e.g. the database unreachable: the step's own check reports it
            pass
        for future in futures:
            if not future.done():      # not checked (cancel, failure): the step checks it itself
                try:
                    future.set_result(None)
                except InvalidStateError:
                    pass

    def result(self, sql: str) -> Optional[CheckResult]:
        """The finished check of `sql` (waits for a running one); None when it was not submitted or not checked:
        the caller checks it itself."""
        with self._lock:
            future = self._futures.get(sql)
        return None if future is None else future.result()


def _key(ctx: StepContext) -> tuple:
    return ctx.task_id, ctx.execution_id, ctx.business_url


def submit(ctx: StepContext, sqls: Iterable[str]) -> None:
    """Start checking `sqls` now when sql_validation runs later in this process; else do nothing. Never raises:
    a problem here only means the step checks everything itself."""
    if "sql_validation" not in (ctx.options.get(NEXT_STEPS_OPTION) or ()):
        return
    try:
        with _lock:
            early = _open.get(_key(ctx))
            if early is None:
                early = _open[_key(ctx)] = EarlyChecks(ctx)
        early.submit(sqls)
    except Exception as exc:  # noqa: BLE001 - an optimisation must not fail qa_generation
        ctx.logger.warning("early SQL checks not started: %s", type(exc).__name__)


def take(ctx: StepContext) -> Optional[EarlyChecks]:
    """The early checks started for this execution, or None. The caller owns `.checker` from then on (and
    closes it: the close waits for checks still running)."""
    with _lock:
        return _open.pop(_key(ctx), None)
