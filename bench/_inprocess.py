"""What the benchmarks that run the steps in this process share (bench/_served.py is the served-app
equivalent): a throw-away data home with its embedded PostgreSQL, the application context, and one call that
runs a task's steps with the embedded defaults and no LLM, as `task_executor.py` would.

    from _inprocess import bench_home, run_steps
    with bench_home("dp_bench_questions_") as bench:
        url = fx.create_business_db(bench.admin, ...)
        run = run_steps(bench, bench.home / "task_20250101_000000", tables, params)
"""
from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass
class Bench:
    home: Path          # the temporary data home; task directories go below it
    settings: Any       # app_config.Settings for that home, nothing read from the environment
    ctx: Any            # data_pipeline.context.AppContext (pool of at most 4 connections)
    admin: str          # superuser URL of the embedded server's `postgres` database (to create fixtures)


class StepRun(NamedTuple):
    outcome: str                # the runner's final status
    wall: float                 # seconds for the whole run
    steps: dict[str, float]     # seconds per step that ran, in order


@contextmanager
def bench_home(prefix: str, log_level: int = logging.WARNING) -> Iterator[Bench]:
    """A fresh data home (embedded PostgreSQL + demo database, bootstrapped), removed with its server after."""
    from app_config import load_settings
    from core import embedded_pg
    from core.db import with_database

    logging.basicConfig(level=log_level)
    logging.getLogger("data_pipeline").setLevel(log_level)
    home = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        # environ={}: a developer's own settings would point the benchmark at their databases or LLM
        settings = load_settings({"data_home": home, "log_level": "WARNING"}, environ={})
        from data_pipeline.context import build_context

        ctx = build_context(settings, bootstrap=True, maxconn=4)
        try:
            yield Bench(home, settings, ctx, with_database(ctx.runtime.meta_url, "postgres"))
        finally:
            ctx.db.close()
    finally:
        # this process keeps the embedded server attached: stop it before its files go
        embedded_pg.detach()
        shutil.rmtree(home, ignore_errors=True)


class _StepTimer:
    """Runner observer that records each step's wall seconds; the other hooks do nothing."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._started: dict[str, float] = {}

    def step_started(self, step, *a):
        self._started[step] = time.perf_counter()

    def step_finished(self, step, *a):
        self.seconds[step] = time.perf_counter() - self._started.get(step, time.perf_counter())

    def __getattr__(self, name):          # observer hooks a benchmark does not need
        return lambda *a, **k: None


def run_steps(bench: Bench, task_dir: Path, tables: list[str], params: dict) -> StepRun:
    """Create `task_dir` with its table_list.txt and run every step `params` enables (mode complete)."""
    from data_pipeline.executor.session import run_untracked
    from data_pipeline.taskfiles.table_list import parse_names

    task_dir.mkdir(parents=True)
    (task_dir / "table_list.txt").write_text("\n".join(tables) + "\n", encoding="utf-8")
    timer = _StepTimer()
    t0 = time.perf_counter()
    outcome = run_untracked(bench.settings, bench.ctx, task_id=task_dir.name, task_dir=task_dir, params=params,
                            tables=parse_names(tables), mode="complete", step=None, options={},
                            cancel_event=threading.Event(), observers=(timer,))
    return StepRun(outcome, time.perf_counter() - t0, timer.seconds)
