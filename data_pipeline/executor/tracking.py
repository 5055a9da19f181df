"""Where an execution's state goes.

`TaskState` is the runner's in-memory copy of the task row's state columns. While an execution runs, only its
executor writes them (claiming guarantees one running execution per task), so the runner owns the state and a
tracker persists it: `DbTracker` into the task/execution rows (gated on the execution still running),
`NullTracker` nowhere (CLI with --no-db-tracking). `TerminalProgress` is an observer printing progress lines.
`abort()` is the one way *another* process (API cancel, dead-executor monitor) ends an execution.
"""
from __future__ import annotations

import copy
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Optional, TextIO

from core.db import Database
from core.secrets import scrub_text
from data_pipeline.executor.plan import failure_message, final_task_status
from data_pipeline.steps import ALL_STEPS, initial_step_status
from data_pipeline.store import executions as execution_store


def now_iso() -> str:
    return datetime.now().isoformat(timespec="milliseconds")


@dataclass
class TaskState:
    status: str = "in_progress"
    step_status: dict = field(default_factory=initial_step_status)
    step_details: dict = field(default_factory=dict)
    progress: int = 0
    result: Optional[dict] = None
    error_message: Optional[str] = None

    @classmethod
    def from_row(cls, row: dict) -> "TaskState":
        return cls(status=row.get("status") or "in_progress",
                   step_status={**initial_step_status(), **(row.get("step_status") or {})},
                   step_details=copy.deepcopy(row.get("step_details") or {}), progress=row.get("progress") or 0,
                   result=copy.deepcopy(row.get("result")), error_message=row.get("error_message"))

    def columns(self) -> dict:
        return asdict(self)


class NullTracker:
    """Keeps nothing (CLI --no-db-tracking)."""

    def save(self, state: TaskState, *, finish: Optional[dict] = None) -> bool:
        return True


class DbTracker:
    """Persists the state into the task row and closes the execution row; every write is gated on the
    execution still being `running` (False once the API or the monitor has ended it)."""

    def __init__(self, db: Database, task_id: str, execution_id: str):
        self.db, self.task_id, self.execution_id = db, task_id, execution_id

    def save(self, state: TaskState, *, finish: Optional[dict] = None) -> bool:
        columns = state.columns()
        if finish is not None:
            columns["completed_at_now"] = True
        return execution_store.update_task_state(self.db, self.task_id, self.execution_id, lambda _: columns,
                                                 finish=finish)


def abort(db: Database, task_id: str, execution_id: str, outcome: str, reason: str) -> bool:
    """End a running execution from outside its executor: the execution, its running step(s) and the task
    become `outcome` (failed / cancelled) with `reason`. False when it was no longer running."""
    reason = scrub_text(reason)

    def change(row: dict) -> dict:
        state = TaskState.from_row(row)
        stamp = now_iso()
        for step in ALL_STEPS:
            if state.step_status.get(step) == "running":
                state.step_status[step] = outcome
                details = state.step_details.setdefault(step, {})
                details.update(completed_at=stamp, error_message=reason)
                if details.get("started_at"):
                    started = datetime.fromisoformat(details["started_at"])
                    details["duration"] = round((datetime.now() - started).total_seconds(), 3)
        state.status = final_task_status(outcome, state.step_status)
        state.error_message = failure_message(state.step_status, reason) if outcome == "failed" else reason
        return {**state.columns(), "completed_at_now": True}

    return execution_store.update_task_state(db, task_id, execution_id, change,
                                             finish={"status": outcome, "error_message": reason})


class TerminalProgress:
    """Observer printing one line per step event and per new progress message (CLI). Repeats of the same
    message are printed at most every `min_interval` seconds."""

    def __init__(self, stream: TextIO = sys.stdout, min_interval: float = 2.0):
        self.stream, self.min_interval = stream, min_interval
        self._last, self._last_message = 0.0, None

    def note(self, text: str) -> None:
        print(f"{datetime.now():%H:%M:%S} {text}", file=self.stream, flush=True)

    def step_started(self, step: str, index: int, total: int) -> None:
        self.note(f"[{step}] ({index}/{total}) started")

    def step_progress(self, step: str, overall: int, fraction: float, message: str) -> None:
        now = time.monotonic()
        if message == self._last_message and now - self._last < self.min_interval:
            return
        self._last, self._last_message = now, message
        self.note(f"[{step}] {overall:3d}%  {fraction * 100:5.1f}% of step  {message}".rstrip())

    def step_finished(self, step: str, status: str, duration: float, error: Optional[str]) -> None:
        tail = f": {error}" if error else ""
        self.note(f"[{step}] {status} in {duration:.1f} s{tail}")

    def run_finished(self, outcome: str, state: TaskState, duration: float) -> None:
        self.note(f"run {outcome} in {duration:.1f} s; task status {state.status}, progress {state.progress}%")
