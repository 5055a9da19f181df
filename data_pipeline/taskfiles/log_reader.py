"""Reading a task log (`data_pipeline.log`, format in core/task_logging.py) without loading it whole.

An *entry* is a header line `YYYY-mm-dd HH:MM:SS [LEVEL] logger: [step] message` plus the continuation lines
that follow it (tracebacks, multi-line messages, a child's raw stderr): they always stay together.

- `tail(fh, limit, levels)`: the newest `limit` entries, reading 64 KB blocks backwards from the end.
- filtered queries live in `data_pipeline.taskfiles.log_query`.
- `follow(...)`: tail -f as a generator of entries (for Server-Sent Events).
No Flask here.
"""
from __future__ import annotations

import os
import re
import time
from typing import BinaryIO, Callable, Iterator, Optional

from core.task_logging import LINE_RE

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_HEADER_B = re.compile(rb"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \[[A-Z]+\] ")
BLOCK = 64 << 10
MAX_LINE = 1 << 20   # a longer line (e.g. binary junk from a child's stderr) is served cut, memory stays bounded
LINE_KEEP = 4 << 10


def is_header(line: bytes) -> bool:
    return _HEADER_B.match(line) is not None


def parse_entry(raw: bytes, line_number: Optional[int] = None) -> dict:
    """Header + continuation lines -> {timestamp, level, logger, step, message[, line_number]}."""
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    first, _, rest = text.partition("\n")
    m = LINE_RE.match(first.rstrip("\r"))
    if m:
        entry = {"timestamp": m["timestamp"], "level": m["level"], "logger": m["logger"], "step": m["step"],
                 "message": m["message"] + ("\n" + rest if rest else "")}
    else:  # text before the first header (e.g. a child's raw output)
        entry = {"timestamp": None, "level": None, "logger": None, "step": None, "message": text}
    if line_number is not None:
        entry["line_number"] = line_number
    return entry


# ---------------------------------------------------------------- tail

def tail(fh: BinaryIO, limit: int, levels: Optional[set[str]] = None) -> list[dict]:
    """The newest `limit` entries (optionally only these levels), oldest first. Reads from the end."""
    fh.seek(0, os.SEEK_END)
    pos = fh.tell()
    found: list[bytes] = []
    pending: list[bytes] = []       # continuation lines (newest first) waiting for their header
    carry = b""                     # partial first line of the block read last
    tokens = [f" [{level}] ".encode("ascii") for level in levels] if levels else []
    while pos > 0 and len(found) < limit:
        size = min(BLOCK, pos)
        pos -= size
        fh.seek(pos)
        data = fh.read(size) + carry
        lines = data.split(b"\n")
        carry = lines.pop(0) if pos > 0 else b""
        if len(carry) > MAX_LINE:  # keep the end of an overlong line as its own cut continuation line
            lines.insert(0, b"[...] " + carry[-LINE_KEEP:])
            carry = b""
        if tokens and not any(tok in data for tok in tokens):
            # no wanted header in this block: its headers own `pending` and their own lines (all dropped);
            # only the lines before its first header can belong to a wanted entry further back
            first = next((i for i, line in enumerate(lines) if is_header(line)), None)
            if first is not None:
                pending = list(reversed(lines[:first]))
                continue
        for line in reversed(lines):
            if not line and not pending and not found:
                continue  # the final newline
            if is_header(line):
                if levels is None or _level_of(line) in levels:
                    found.append(b"\n".join([line, *reversed(pending)]))
                    if len(found) >= limit:
                        break
                pending = []
            else:
                pending.append(line)
    if len(found) < limit and pending and levels is None:
        found.append(b"\n".join(reversed(pending)))  # lines before the first header
    return [parse_entry(raw) for raw in reversed(found)]


def _level_of(header: bytes) -> str:
    start = header.index(b"[", 19) + 1
    return header[start:header.index(b"]", start)].decode("ascii", "replace")


# ---------------------------------------------------------------- follow

def follow(open_file: Callable[[], BinaryIO], *, from_start: bool, still_running: Callable[[], bool],
           max_seconds: float, poll: float = 0.25, idle_flush: float = 0.5,
           heartbeat: float = 15.0, fh: Optional[BinaryIO] = None) -> Iterator[Optional[dict]]:
    """tail -f: yield entries as they are appended; yield None as a heartbeat tick.

    `fh`: the file already opened (and positioned) by the caller, so that "from the end" means from the moment
    of the request rather than from the generator's first iteration; else it is opened (and retried) here.

    Stops after `max_seconds`, or when `still_running()` is false and the file has been drained. A partial
    last line is held until its newline arrives; an entry is emitted when the next header arrives or after
    `idle_flush` seconds without new lines.
    """
    started = last_beat = time.monotonic()
    buf = b""
    entry: list[bytes] = []
    last_line_at = time.monotonic()
    check_at = 0.0
    running = True
    try:
        while time.monotonic() - started < max_seconds:
            if fh is None:
                try:
                    fh = open_file()
                    if not from_start:
                        fh.seek(0, os.SEEK_END)
                except Exception:  # not created yet
                    fh = None
            data = fh.read(1 << 20) if fh is not None else b""
            if data:
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if is_header(line) and entry:
                        yield parse_entry(b"\n".join(entry))
                        entry = []
                    entry.append(line)
                last_line_at = time.monotonic()
                continue
            now = time.monotonic()
            if entry and now - last_line_at >= idle_flush:
                yield parse_entry(b"\n".join(entry))
                entry = []
            if now - last_beat >= heartbeat:
                last_beat = now
                yield None
            if now >= check_at:
                check_at = now + 2.0
                was_running, running = running, still_running()
                if not running and not was_running and not entry:
                    return  # drained after one more pass once the execution ended
            time.sleep(poll)
    finally:
        if fh is not None:
            fh.close()
