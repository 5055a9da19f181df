"""Reading a task log (`data_pipeline.log`, format in core/task_logging.py) without loading it whole.

An *entry* is a header line `YYYY-mm-dd HH:MM:SS [LEVEL] logger: [step] message` plus the continuation lines
that follow it (tracebacks, multi-line messages, a child's raw stderr): they always stay together.

- `tail(fh, limit, levels)`: the newest `limit` entries, reading 64 KB blocks backwards from the end.
- `query(fh, LogFilter, ...)`: one forward pass over large binary chunks. The most selective literal of the
  filter (keyword, `: [step] `, ` [LEVEL] `, logger) is located with `bytes.find` (C speed); only entries
  containing it are parsed and checked against the whole filter. Matches are kept as (offset, line number)
  pairs; only the requested page is parsed into dicts.
- `follow(...)`: tail -f as a generator of entries (for Server-Sent Events).
No Flask here.
"""
from __future__ import annotations

import os
import re
import time
from array import array
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator, Optional

from core.task_logging import LINE_RE

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_HEADER_B = re.compile(rb"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \[[A-Z]+\] ")
_HEADER_MULTI = re.compile(rb"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \[([A-Z]+)\] ", re.M)
CHUNK = 8 << 20
BLOCK = 64 << 10


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
    while pos > 0 and len(found) < limit:
        size = min(BLOCK, pos)
        pos -= size
        fh.seek(pos)
        data = fh.read(size) + carry
        lines = data.split(b"\n")
        carry = lines.pop(0) if pos > 0 else b""
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


# ---------------------------------------------------------------- query

@dataclass
class LogFilter:
    levels: Optional[set[str]] = None
    start_time: Optional[str] = None      # "YYYY-mm-dd HH:MM:SS", inclusive
    end_time: Optional[str] = None        # inclusive
    keyword: Optional[str] = None         # case-insensitive (ASCII case folding), anywhere in the entry
    logger_name: Optional[str] = None     # case-insensitive substring of the logger name
    step_name: Optional[str] = None       # exact step tag

    def needle(self) -> tuple[Optional[bytes], bool]:
        """(literal that every matching entry contains, whether to search the lower-cased chunk)."""
        if self.keyword:
            return self.keyword.lower().encode("utf-8"), True
        if self.step_name:
            return f": [{self.step_name}] ".encode("utf-8"), False
        if self.levels and len(self.levels) == 1:
            return f" [{next(iter(self.levels))}] ".encode("ascii"), False
        if self.logger_name:
            return self.logger_name.lower().encode("utf-8"), True
        return None, False

    def accepts(self, e: dict) -> bool:
        if self.levels and e["level"] not in self.levels:
            return False
        if self.step_name and e["step"] != self.step_name:
            return False
        ts = e["timestamp"]
        if (self.start_time or self.end_time) and ts is None:
            return False
        if self.start_time and ts < self.start_time:
            return False
        if self.end_time and ts > self.end_time:
            return False
        if self.logger_name and self.logger_name.lower() not in (e["logger"] or "").lower():
            return False
        if self.keyword and self.keyword.lower() not in _ascii_lower(e["message"] + " " + (e["logger"] or "")):
            return False
        return True


def _ascii_lower(text: str) -> str:
    return text.encode("utf-8").lower().decode("utf-8")


@dataclass
class QueryResult:
    offsets: array = field(default_factory=lambda: array("q"))   # byte offset of each matching entry
    lines: array = field(default_factory=lambda: array("q"))     # its 1-based line number
    levels: array = field(default_factory=lambda: array("b"))    # index into LEVELS (-1 unknown)

    @property
    def total(self) -> int:
        return len(self.offsets)


def _entries_in_chunk(chunk: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of every entry in a chunk that starts on an entry boundary."""
    starts = [m.start() for m in _HEADER_MULTI.finditer(chunk)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    starts.append(len(chunk))
    for a, b in zip(starts, starts[1:]):
        if a < b:
            yield a, b


def _entry_bounds(chunk: bytes, pos: int) -> tuple[int, int]:
    """The entry containing byte `pos`: back to its header line, forward to the next header line."""
    start = chunk.rfind(b"\n", 0, pos) + 1
    while start > 0 and not _HEADER_B.match(chunk, start):
        start = chunk.rfind(b"\n", 0, start - 1) + 1
    end = chunk.find(b"\n", pos)
    while end != -1 and end + 1 < len(chunk) and not _HEADER_B.match(chunk, end + 1):
        end = chunk.find(b"\n", end + 1)
    return start, (len(chunk) if end == -1 else end + 1)


def _chunks(fh: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(file offset, bytes) pieces of the file, each cut just before a header line (entries never split)."""
    fh.seek(0)
    offset, carry = 0, b""
    while True:
        data = fh.read(CHUNK)
        if not data:
            if carry:
                yield offset, carry
            return
        buf = carry + data
        cut = len(buf)
        probe = buf.rfind(b"\n")
        while probe > 0:
            if _HEADER_B.match(buf, probe + 1):
                cut = probe + 1
                break
            probe = buf.rfind(b"\n", 0, probe)
        if cut == len(buf) or cut == 0:
            carry = buf  # no boundary found yet: keep reading (a very long entry)
            if len(carry) > 8 * CHUNK:   # pathological: give up keeping it whole
                yield offset, carry
                offset += len(carry)
                carry = b""
            continue
        yield offset, buf[:cut]
        offset += cut
        carry = buf[cut:]


def _outside_time_range(chunk: bytes, flt: LogFilter) -> bool:
    """True when a whole chunk lies before start_time or after end_time (entries are appended in time order)."""
    if not (flt.start_time or flt.end_time):
        return False
    first = _HEADER_MULTI.search(chunk)
    last_nl = chunk.rfind(b"\n", 0, len(chunk) - 1)
    while last_nl > 0 and not _HEADER_B.match(chunk, last_nl + 1):
        last_nl = chunk.rfind(b"\n", 0, last_nl)
    if first is None:
        return False
    first_ts = chunk[first.start():first.start() + 19].decode("ascii")
    last_ts = chunk[last_nl + 1:last_nl + 20].decode("ascii") if last_nl > 0 else first_ts
    return bool((flt.start_time and last_ts < flt.start_time) or (flt.end_time and first_ts > flt.end_time))


def query(fh: BinaryIO, flt: LogFilter) -> QueryResult:
    """Every entry matching `flt`, in file order, as offsets/line numbers (see `page`)."""
    result = QueryResult()
    needle, lowered = flt.needle()
    trivial = not (flt.levels or flt.start_time or flt.end_time or flt.keyword or flt.logger_name
                   or flt.step_name)
    line_base = 1
    for offset, chunk in _chunks(fh):
        if _outside_time_range(chunk, flt):
            line_base += chunk.count(b"\n")
            continue
        hay = chunk.lower() if (needle and lowered) else chunk
        cursor, cursor_line = 0, line_base

        def line_at(pos: int) -> int:
            nonlocal cursor, cursor_line
            cursor_line += chunk.count(b"\n", cursor, pos)
            cursor = pos
            return cursor_line

        if needle:
            bounds, pos, last_start = [], hay.find(needle), -1
            while pos != -1:
                start, end = _entry_bounds(chunk, pos)
                if start != last_start:
                    bounds.append((start, end))
                    last_start = start
                pos = hay.find(needle, end)
        else:
            bounds = _entries_in_chunk(chunk)
        for start, end in bounds:
            if trivial:
                entry_level = _level_of(chunk[start:start + 40]) if _HEADER_B.match(chunk, start) else None
            else:
                entry = parse_entry(chunk[start:end])
                if not flt.accepts(entry):
                    continue
                entry_level = entry["level"]
            result.offsets.append(offset + start)
            result.lines.append(line_at(start))
            result.levels.append(LEVELS.index(entry_level) if entry_level in LEVELS else -1)
        line_base += chunk.count(b"\n")
    return result


def page(fh: BinaryIO, result: QueryResult, *, page_no: int, page_size: int, sort_by: str = "timestamp",
         sort_order: str = "desc") -> list[dict]:
    """Materialise one page of a query result. The file is in time order, so timestamp order = file order."""
    order: list[int] | range = range(result.total)
    if sort_by == "level":
        order = sorted(order, key=lambda i: (result.levels[i], i))
    if sort_order.lower() == "desc":
        order = list(reversed(order)) if isinstance(order, list) else range(result.total - 1, -1, -1)
    picked = order[(page_no - 1) * page_size: page_no * page_size]
    entries = []
    for i in picked:
        fh.seek(result.offsets[i])
        entries.append(parse_entry(_read_entry(fh), result.lines[i]))
    return entries


def _read_entry(fh: BinaryIO) -> bytes:
    """From the current position (a header) up to the next header line."""
    out = [fh.readline()]
    while True:
        pos = fh.tell()
        line = fh.readline()
        if not line or is_header(line):
            fh.seek(pos)
            return b"".join(out)
        out.append(line)


# ---------------------------------------------------------------- follow

def follow(open_file: Callable[[], BinaryIO], *, from_start: bool, still_running: Callable[[], bool],
           max_seconds: float, poll: float = 0.25, idle_flush: float = 0.5,
           heartbeat: float = 15.0) -> Iterator[Optional[dict]]:
    """tail -f: yield entries as they are appended; yield None as a heartbeat tick.

    Stops after `max_seconds`, or when `still_running()` is false and the file has been drained. A partial
    last line is held until its newline arrives; an entry is emitted when the next header arrives or after
    `idle_flush` seconds without new lines.
    """
    started = last_beat = time.monotonic()
    fh = None
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
