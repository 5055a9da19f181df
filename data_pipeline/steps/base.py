"""The contract between the executor and a step module.

A step module (`data_pipeline/steps/<step>.py`) exposes:
    OUTPUT_PATTERNS: tuple[str, ...]   globs (relative to the task directory) of the files it owns; the executor
                                       removes them before a re-run when `clean_previous` is true
    def run(ctx: StepContext) -> StepResult
It raises `core.errors.AppError` (or a subclass) when the step fails; the message reaches the task row as is,
so it must say what failed in words an operator understands, with no secret in it.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from app_config import Settings
from core.db import Database
from data_pipeline.taskfiles.table_list import TableRef


@dataclass
class OutputFile:
    file_name: str                    # relative to the task directory
    file_type: str                    # ddl, md, json, txt, log, report, csv, sql
    description: str = ""
    is_primary: bool = False


MAX_WARNING_OBJECTS = 20           # a warning names at most this many objects, plus their count


@dataclass
class StepWarning:
    """Something a step skipped, dropped or could not read: the run is not plain `completed` when it has one.

    `code` is stable (UPPER_SNAKE, e.g. TABLES_UNREADABLE, TABLES_MISSING, COVERAGE_SHORT, PAIRS_DROPPED,
    MATVIEW_UNPOPULATED, LLM_CALLS_FAILED, TIME_RANGE_APPROXIMATE); `message` is one English sentence without
    secrets; `objects` the affected names (tables, edges, pairs), of which only the first MAX_WARNING_OBJECTS are
    kept with a count.
    """
    code: str
    message: str
    objects: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "objects": list(self.objects[:MAX_WARNING_OBJECTS]),
                "object_count": len(self.objects)}


@dataclass
class StepResult:
    summary: dict[str, Any]           # JSON-ready; stored as the step's result and merged into the task result
    outputs: list[OutputFile] = field(default_factory=list)
    warnings: list[StepWarning | str] = field(default_factory=list)   # str: legacy free text (being replaced)


NEXT_STEPS_OPTION = "next_steps"     # set by the runner: the steps that run after the current one, in order


@dataclass
class StepContext:
    task_id: str
    task_dir: Path
    params: dict[str, Any]            # the task's parameters (unmasked; never write them out unmasked)
    options: dict[str, Any]           # this execution's options: backup_vector_tables, truncate_vector_tables, ...
    settings: Settings
    business_url: str                 # resolved business database URL (task's db_connection or the default)
    meta_db: Database                 # our own database (task store + vector tables)
    tables: list[TableRef]            # from the task's table_list.txt
    logger: logging.Logger | logging.LoggerAdapter
    execution_id: Optional[str] = None
    progress: Callable[[float, str], None] = lambda fraction, message="": None   # fraction of this step, 0..1
    cancel_event: threading.Event = field(default_factory=threading.Event)
    llm: Any = None                   # core.llm.LLMClient when an LLM is configured, else None (rule-based)

    @property
    def business_context(self) -> str:
        return self.params.get("business_context") or ""

    def runs_later_here(self, step: str) -> bool:
        """True when `step` runs after this one in this executor process (the runner lists the steps still to
        come in `options[NEXT_STEPS_OPTION]`): this step may start work for it (early_checks, themes_ahead,
        embeddings_ahead)."""
        return step in (self.options.get(NEXT_STEPS_OPTION) or ())

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            from data_pipeline.steps.base import StepCancelled
            raise StepCancelled("cancelled")


class StepCancelled(Exception):
    """Raised inside a step when its execution is being cancelled."""
