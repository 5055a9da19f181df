"""Task and execution identifiers (contract "Identifiers and states"). Validated before any file-system use."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Optional

from core.errors import ValidationFailed

TASK_ID_RE = re.compile(r"(task|manual)_\d{8}_\d{6}(_\d+)?")   # always fullmatch: `$` accepts a final "\n"


def new_task_id(prefix: str = "task", now: Optional[datetime] = None, attempt: int = 1) -> str:
    """task_YYYYMMDD_HHMMSS, then _2, _3 ... for later tasks created in the same second."""
    base = f"{prefix}_{(now or datetime.now()).strftime('%Y%m%d_%H%M%S')}"
    return base if attempt <= 1 else f"{base}_{attempt}"


def new_execution_id(task_id: str, step: str, now: Optional[datetime] = None) -> str:
    """{task_id}_step_{step|complete}_exec_{YYYYMMDD_HHMMSS}."""
    return f"{task_id}_step_{step}_exec_{(now or datetime.now()).strftime('%Y%m%d_%H%M%S')}"


def is_valid_task_id(task_id: str) -> bool:
    return bool(task_id) and len(task_id) <= 40 and TASK_ID_RE.fullmatch(task_id) is not None


def require_task_id(task_id: str) -> str:
    if not is_valid_task_id(task_id):
        raise ValidationFailed("task_id must look like task_YYYYMMDD_HHMMSS (optionally _N)",
                               invalid_params=["task_id"])
    return task_id
