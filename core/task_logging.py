"""The task log file `data_pipeline.log`: one line format for every process that writes it.

Line format (contract "Logs"):
    YYYY-mm-dd HH:MM:SS [LEVEL] logger: [step] message
`[step]` is the step name (ddl_generation, qa_generation, sql_validation, training_load) or `[executor]` /
`[api]` outside a step; continuation lines of a multi-line message (tracebacks) follow their entry unprefixed.
Every message passes through `scrub_text`, so no password or key reaches the file.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Optional

from core.secrets import scrub_text

LOG_FILE_NAME = "data_pipeline.log"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
LINE_FORMAT = "%(asctime)s [%(levelname)s] %(name)s: [%(step)s] %(message)s"
# parser for the line format above: timestamp, level, logger, step, message
LINE_RE = re.compile(r"^(?P<timestamp>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) \[(?P<level>[A-Z]+)\] "
                     r"(?P<logger>[^:\s]+): (?:\[(?P<step>[a-z_]+)\] )?(?P<message>.*)$")


class StepFilter(logging.Filter):
    """Stamps `step` on every record (from the record, else the current step of the process) and scrubs it."""

    def __init__(self, default_step: str = "executor"):
        super().__init__()
        self.current_step = default_step

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "step", None):
            record.step = self.current_step
        record.msg = scrub_text(record.getMessage())
        record.args = None
        return True


def task_log_handler(task_dir: Path, step_filter: Optional[StepFilter] = None) -> logging.Handler:
    handler = logging.FileHandler(Path(task_dir) / LOG_FILE_NAME, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LINE_FORMAT, DATE_FORMAT))
    handler.addFilter(step_filter or StepFilter())
    return handler


def step_logger(name: str, step: str) -> logging.LoggerAdapter:
    """A logger whose records carry `step` (used inside step modules)."""
    return logging.LoggerAdapter(logging.getLogger(name), {"step": step})


def parse_line(line: str) -> Optional[dict]:
    m = LINE_RE.match(line)
    return m.groupdict() if m else None
