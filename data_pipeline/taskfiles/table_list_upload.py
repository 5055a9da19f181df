"""Giving a task its table list after creation (upload mode): from an uploaded `.txt` or a JSON list.

Rules: refused while the task runs (409); names parsed and validated (`table_list.parse_text/parse_names`);
when the business database is reachable every name must exist there, otherwise 400 with `missing_tables`
(unless `allow_missing`); saved as `table_list.txt` in canonical form; the task's parameters switch to
`file_upload_mode: false`, `table_list_file: "{task_directory}/table_list.txt"` (+ business_context).
No Flask here.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Optional

from core.errors import DatabaseConnectionError, TaskAlreadyRunning, ValidationFailed
from data_pipeline.taskfiles import safety as file_safety
from data_pipeline.taskfiles import table_list
from data_pipeline.taskfiles.files import check_text, human_size, read_limited
from data_pipeline.store import outputs as output_store
from data_pipeline.store import tasks as task_store

log = logging.getLogger(__name__)


class MissingTables(ValidationFailed):
    """Some listed tables do not exist in the business database."""

    def __init__(self, missing: list[str], checked_database: str):
        super().__init__(f"{len(missing)} table(s) not found in database {checked_database}: "
                         + ", ".join(missing[:50]) + ("" if len(missing) <= 50 else ", ..."),
                         invalid_params=["table_names"])
        self.missing = missing


def parse_upload(data: bytes, file_name: str, settings) -> list[table_list.TableRef]:
    """Uploaded bytes -> refs. `.txt` only; UTF-8 (BOM allowed); line limit; at least one table."""
    if not file_name or not file_name.lower().endswith(".txt"):
        from core.errors import UnsupportedFileType
        raise UnsupportedFileType("the table list must be a .txt file", invalid_params=["file"])
    text = check_text(data, "table_list.txt")
    refs = table_list.parse_text(text, max_lines=settings.table_list_max_lines)
    if not refs:
        raise ValidationFailed("the table list names no table (only comments or blank lines)",
                               invalid_params=["file"])
    return refs


def read_upload(stream, settings) -> bytes:
    return read_limited(stream, settings.max_upload_bytes)


def check_existence(ctx, task: dict, refs: list[table_list.TableRef]) -> tuple[bool, list[str]]:
    """(checked, missing names). Unreachable database -> (False, []): the executor will report it later."""
    url = (task.get("parameters") or {}).get("db_connection") or ctx.runtime.business_url
    try:
        missing = table_list.find_missing_tables(url, refs, ctx.settings)
    except DatabaseConnectionError as exc:
        log.warning("table list for %s not checked: %s", task["task_id"], exc.details)
        return False, []
    return True, [r.short for r in missing]


def apply_table_list(ctx, task: dict, refs: list[table_list.TableRef], *, business_context: Optional[str] = None,
                     allow_missing: bool = False) -> dict:
    """Check, save `table_list.txt`, update the task's parameters. Returns the answer's data."""
    task_id = task["task_id"]
    if task_store.running_execution(ctx.db, task_id) is not None:
        raise TaskAlreadyRunning("the table list cannot change while the task is running")
    checked, missing = check_existence(ctx, task, refs)
    if missing and not allow_missing:
        from core.db import database_name
        url = (task.get("parameters") or {}).get("db_connection") or ctx.runtime.business_url
        raise MissingTables(missing, database_name(url) or "?")
    task_dir = file_safety.task_dir_path(ctx.tasks_root, task_id)
    task_dir.mkdir(parents=True, exist_ok=True)
    target = file_safety.resolve_file(task_dir, table_list.TABLE_LIST_FILE, must_exist=False)
    content = table_list.render(refs).encode("utf-8")
    file_safety.write_bytes_nofollow(target, content)
    changes = {"file_upload_mode": False, "table_list_file": f"{{task_directory}}/{table_list.TABLE_LIST_FILE}"}
    if business_context is not None:
        changes["business_context"] = business_context
    task_store.update_parameters(ctx.db, task_id, changes, business_context=business_context)
    import hashlib
    output_store.upsert_output(
        ctx.db, task_id=task_id, execution_id=None, step_name=None, file_name=table_list.TABLE_LIST_FILE,
        file_type="txt", file_size=len(content), content_hash=hashlib.sha256(content).hexdigest(),
        description="表清单", is_primary=False)
    data = table_info(ctx, task_id)
    data.update(existence_checked=checked, missing_tables=missing)
    if not checked:
        data["warning"] = "the business database was not reachable; table names were not checked"
    elif missing:
        data["warning"] = f"{len(missing)} table(s) not found in the database; saved because allow_missing=true"
    return data


def table_info(ctx, task_id: str) -> dict:
    """The contract's table-list-info data (has_table_list false when there is none)."""
    task_dir = file_safety.task_dir_path(ctx.tasks_root, task_id)
    path = task_dir / table_list.TABLE_LIST_FILE
    base = {"task_id": task_id, "has_table_list": False, "file_name": table_list.TABLE_LIST_FILE,
            "file_size": 0, "file_size_human": human_size(0), "file_path": None, "table_count": 0,
            "tables": [], "uploaded_at": None}
    try:
        path = file_safety.resolve_file(task_dir, table_list.TABLE_LIST_FILE)
    except Exception:  # missing, or a planted symlink: there is no usable list
        return base
    with file_safety.open_nofollow(path) as fh:
        st = os.fstat(fh.fileno())
        raw = fh.read(ctx.settings.max_upload_bytes + 1)
    try:
        refs = table_list.parse_text(raw.decode("utf-8-sig"), max_lines=ctx.settings.table_list_max_lines)
    except (UnicodeDecodeError, ValidationFailed):
        refs = []
    base.update(has_table_list=True, file_size=st.st_size, file_size_human=human_size(st.st_size),
                file_path=ctx.display_path(Path(path)), table_count=len(refs), tables=[r.short for r in refs],
                uploaded_at=datetime.fromtimestamp(st.st_mtime).replace(microsecond=0).isoformat())
    return base
