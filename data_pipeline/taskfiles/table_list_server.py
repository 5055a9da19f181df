"""`table_list_file` at task creation: a table list already on the server, read from where table lists belong.

Accepted places (nothing else on the server, whatever the spelling, `..` or symlink):
- `{DATA_HOME}/table_lists/` — the operator's directory for table lists; a relative name resolves here;
- `{task directory}/table_list.txt` of an existing task (absolute path), to reuse another task's list.
The path is resolved (symlinks followed) before the check, the file is opened without following a final symlink,
read up to MAX_UPLOAD_MB. A refused, missing or unreadable file is reported by the name the client gave only;
invalid lines by line number and a masked preview (`table_list.parse_text`): no content flows back.
"""
from __future__ import annotations

import os
from pathlib import Path

from core.errors import ValidationFailed
from data_pipeline import ids
from data_pipeline.taskfiles import table_list
from data_pipeline.taskfiles.safety import open_nofollow

TABLE_LISTS_DIR = "table_lists"


def _refuse(reason: str) -> ValidationFailed:
    return ValidationFailed(f"table_list_file {reason}", invalid_params=["table_list_file"])


def _shown(given: str) -> str:
    return repr(given if len(given) <= 120 else given[:120] + "…")


def allowed_path(settings, given: str) -> Path:
    """The resolved file `given` names, when it is in an accepted place; else 400 naming `given` only."""
    if not isinstance(given, str) or "\x00" in given or not given.strip():
        raise _refuse("is not a valid path")
    lists_dir = settings.table_lists_dir
    tasks_root = settings.tasks_root
    candidate = Path(given) if os.path.isabs(given) else lists_dir / given
    real = Path(os.path.realpath(candidate))
    if real.is_relative_to(lists_dir) and real != lists_dir:
        return real
    if real.is_relative_to(tasks_root):
        parts = real.relative_to(tasks_root).parts
        if len(parts) == 2 and ids.is_valid_task_id(parts[0]) and parts[1] == table_list.TABLE_LIST_FILE:
            return real
    raise _refuse(f"{_shown(given)} is not in an accepted place: give a file name in {{DATA_HOME}}/"
                  f"{TABLE_LISTS_DIR}/ or the path of a task's {table_list.TABLE_LIST_FILE}")


def read_server_table_list(settings, given: str) -> list[table_list.TableRef]:
    """Parse the table list `given` names (see the module docstring for where it may be)."""
    path = allowed_path(settings, given)
    try:
        with open_nofollow(path) as fh:
            raw = fh.read(settings.max_upload_bytes + 1)
    except Exception:  # noqa: BLE001 - missing, a directory, a symlink, no permission: all "cannot be read"
        raise _refuse(f"{_shown(given)} was not found or cannot be read") from None
    if len(raw) > settings.max_upload_bytes:
        raise _refuse(f"{_shown(given)} is larger than {settings.max_upload_mb:g} MB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse(f"{_shown(given)} is not UTF-8 text") from None
    return table_list.parse_text(text, max_lines=settings.table_list_max_lines)
