"""A logging handler that copies key events to data_pipeline_task_logs in batches.

Key events: INFO and above from the executor's own loggers (step start/finish, durations, cancellation), and
WARNING and above from anyone (steps included). Records are buffered and inserted by a background thread every
`flush_interval` seconds or `batch_size` records, and at close; a failing insert drops that batch with a
warning on the file log only (the run never stops because the DB log could not be written).
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Optional

from core.db import Database
from core.secrets import scrub_text
from data_pipeline.store import logs as log_store

EXECUTOR_LOGGERS = ("data_pipeline.executor", "data_pipeline.workflow")


class DbLogHandler(logging.Handler):
    def __init__(self, db: Database, task_id: str, execution_id: Optional[str], *, batch_size: int = 50,
                 flush_interval: float = 1.0):
        super().__init__(level=logging.INFO)
        self.db, self.task_id, self.execution_id = db, task_id, execution_id
        self.batch_size, self.flush_interval = batch_size, flush_interval
        self._buffer: list[dict] = []
        self._buffer_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="db-log", daemon=True)
        self._thread.start()

    def _is_key_event(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return record.name.startswith(EXECUTOR_LOGGERS)

    def emit(self, record: logging.LogRecord) -> None:
        if self._closed or not self._is_key_event(record) or getattr(record, "_db_log_failure", False):
            return
        entry = {"task_id": self.task_id, "execution_id": self.execution_id, "log_level": record.levelname,
                 "message": scrub_text(record.getMessage())[:4000],
                 "step_name": getattr(record, "step", None) if getattr(record, "step", None) not in
                 ("executor", "workflow") else None,
                 "module_name": record.name, "function_name": record.funcName,
                 "timestamp": datetime.fromtimestamp(record.created).astimezone(),
                 "extra_data": getattr(record, "event", None) or {}}
        with self._buffer_lock:
            self._buffer.append(entry)
            full = len(self._buffer) >= self.batch_size
        if full:
            self._wake.set()

    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        with self._buffer_lock:
            batch, self._buffer = self._buffer, []
        if not batch:
            return
        try:
            log_store.insert_logs(self.db, batch)
        except Exception as exc:  # noqa: BLE001 - see module docstring
            logging.getLogger("data_pipeline.dblog").warning(
                "could not write %d log rows to the database: %s", len(batch), type(exc).__name__,
                extra={"_db_log_failure": True})

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._wake.set()
            self._thread.join(timeout=2)
            self.flush()
        super().close()
