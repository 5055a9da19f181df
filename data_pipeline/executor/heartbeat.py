"""The executor's heartbeat thread: refreshes heartbeat_at every `interval` seconds.

When the refresh finds the execution no longer `running` (the API cancelled it, or the monitor declared it
dead), the thread sets `lost` and the cancel event, so the runner stops instead of working for nobody.
"""
from __future__ import annotations

import logging
import threading

from core.db import Database
from data_pipeline.store import executions as execution_store

log = logging.getLogger("data_pipeline.executor")


class Heartbeat(threading.Thread):
    def __init__(self, db: Database, execution_id: str, interval: float, cancel_event: threading.Event):
        super().__init__(name="heartbeat", daemon=True)
        self.db, self.execution_id, self.interval = db, execution_id, interval
        self.cancel_event = cancel_event
        self.lost = threading.Event()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                alive = execution_store.heartbeat(self.db, self.execution_id)
            except Exception as exc:  # noqa: BLE001 - a DB hiccup must not kill the run; the next beat retries
                log.warning("heartbeat failed: %s", type(exc).__name__)
                continue
            if not alive:
                log.warning("execution %s is no longer running in the task store; stopping", self.execution_id)
                self.lost.set()
                self.cancel_event.set()
                return

    def stop(self) -> None:
        self._halt.set()
