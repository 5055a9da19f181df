"""A step's files in the task directory: clean before a re-run, register after success, remove after cancel.

Which files belong to a step is declared by the step module's OUTPUT_PATTERNS (globs relative to the task
directory). Files the task itself owns are never touched, whatever a pattern says.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path
from typing import Iterable, Optional

from core.db import Database
from core.task_logging import LOG_FILE_NAME
from data_pipeline.steps import KEPT_ON_CLEAN, output_owner
from data_pipeline.steps.base import OutputFile
from data_pipeline.store import outputs as output_store

log = logging.getLogger("data_pipeline.executor")
PROTECTED = {LOG_FILE_NAME, "task_config.json", "table_list.txt", "task_result.json"}
TYPE_BY_SUFFIX = {".ddl": "ddl", ".md": "md", ".json": "json", ".txt": "txt", ".log": "log", ".sql": "sql",
                  ".csv": "csv", ".backup": "json"}


def matching_files(task_dir: Path, patterns: Iterable[str], step: Optional[str] = None) -> list[Path]:
    """Files (and directories) under `task_dir` matched by `patterns`, never outside it, never protected, and
    (given `step`) never a file that data_pipeline.steps.output_owner gives to another step."""
    root = task_dir.resolve()
    found: dict[Path, None] = {}
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            resolved = path.resolve()
            if resolved == root or not resolved.is_relative_to(root) or path.is_symlink() and path.is_dir():
                continue
            rel = path.relative_to(root).as_posix()
            if rel in PROTECTED or (step is not None and output_owner(rel) not in (None, step)):
                continue
            found[path] = None
    return list(found)


def _not_kept(paths: list[Path], root: Path) -> list[Path]:
    """Without the files that carry a user's edits (data_pipeline.steps.KEPT_ON_CLEAN): the step reads them back."""
    return [p for p in paths if p.relative_to(root).as_posix() not in KEPT_ON_CLEAN]


def _remove(paths: Iterable[Path], root: Path) -> list[str]:
    removed = []
    for path in paths:
        rel = path.relative_to(root).as_posix()
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(rel)
        except FileNotFoundError:
            continue
    return removed


def clean_step_outputs(db: Optional[Database], task_id: str, task_dir: Path, step: str,
                       patterns: Iterable[str]) -> list[str]:
    """clean_previous: remove the step's earlier files and their rows in data_pipeline_task_outputs."""
    root = task_dir.resolve()
    removed = _remove(_not_kept(matching_files(root, patterns, step), root), root)
    if db is not None:
        output_store.delete_outputs(db, task_id, removed)
        output_store.delete_step_outputs(db, task_id, step)
    return removed


def remove_partial_outputs(db: Optional[Database], task_id: str, task_dir: Path, step: str,
                           patterns: Iterable[str], since: float) -> list[str]:
    """After a cancel: remove the step's files written by the cancelled run (modified at or after `since`,
    an epoch time); older files of an earlier run are kept."""
    root = task_dir.resolve()
    fresh = []
    for path in _not_kept(matching_files(root, patterns, step), root):
        try:
            if path.stat().st_mtime >= since - 1.0:
                fresh.append(path)
        except FileNotFoundError:
            continue
    removed = _remove(fresh, root)
    if db is not None:
        output_store.delete_outputs(db, task_id, removed)
    return removed


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def register_outputs(db: Optional[Database], task_id: str, execution_id: Optional[str], task_dir: Path,
                     step: Optional[str], declared: Iterable[OutputFile], patterns: Iterable[str] = (),
                     since: float = 0.0) -> list[dict]:
    """Register the step's files with size and sha256: those the step declared, plus any other file its
    patterns match that was written in this run (modified at or after `since`, an epoch time). Returns the
    registered entries (also when `db` is None, for the CLI without tracking)."""
    root = task_dir.resolve()
    entries: dict[str, dict] = {}
    for out in declared:
        entries[out.file_name] = {"file_name": out.file_name, "file_type": out.file_type,
                                  "description": out.description, "is_primary": out.is_primary}
    for path in matching_files(root, patterns, step):
        if path.is_file() and path.stat().st_mtime >= since - 1.0:
            rel = path.relative_to(root).as_posix()
            entries.setdefault(rel, {"file_name": rel, "file_type": TYPE_BY_SUFFIX.get(path.suffix.lower(), "other"),
                                     "description": "", "is_primary": False})
    registered = []
    for entry in entries.values():
        path = (root / entry["file_name"]).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            log.warning("declared output %s is missing; not registered", entry["file_name"])
            continue
        entry.update(file_size=path.stat().st_size, content_hash=sha256_of(path), step_name=step)
        registered.append(entry)
    if db is not None and registered:
        output_store.upsert_outputs(db, task_id, execution_id, registered)   # one transaction for all
    return registered
