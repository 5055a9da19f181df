"""Every SQL statement on our own tables lives in this package, one module per table group.

    tasks.py       data_pipeline_tasks
    executions.py  data_pipeline_task_executions (and the task row state the executor owns while it runs)
    logs.py        data_pipeline_task_logs
    outputs.py     data_pipeline_task_outputs (files a step or an upload produced)
    retention.py   the monitor's cross-instance lock and the retention query
    vector.py      Vanna's vector tables (in whichever vector store a task targets)
    vector_owners.py  data_pipeline_vector_rows: which task loaded which vector row of which store

Functions take the `Database` first and return plain dicts with JSON-ready values (see `jsonable`).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any


def iso(value: Any) -> Any:
    """Timestamps leave the store as local-time ISO strings without offset (the seeds' format)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone().replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def jsonable(row: dict | None) -> dict | None:
    if row is None:
        return None
    return {k: iso(v) for k, v in row.items()}
