"""Filtered, paginated queries over a task log (`POST /logs/query`) in one streamed pass.

The file is read in 8 MB chunks cut on entry boundaries (an entry = header line + continuation lines, never
split). Per chunk, numpy finds every line start and marks header lines by their fixed layout
(`YYYY-mm-dd HH:MM:SS [L...`), so level and time filters are vector operations on the headers. Filters with a
literal (keyword, `: [step] `, logger name) locate it with vectorised byte comparisons and map each hit to its
entry with `searchsorted`; a keyword with few hits in a chunk is checked entry by entry instead. The result keeps (offset, line number, level) per
matching entry; `page` parses only the entries of the requested page.

Entries are appended in time order, so timestamp order is file order (ties: line number). Keyword matching is
case-insensitive for ASCII letters and covers the whole entry (header and continuation lines).
No Flask here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator, Optional

import numpy as np

from data_pipeline.taskfiles.log_reader import LEVELS, is_header, parse_entry

CHUNK = 8 << 20
_HEADER_B = re.compile(rb"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \[[A-Z]+\] ")
# first letter of a level at column 21 -> index into LEVELS (D I W E C are distinct)
_LEVEL_BY_LETTER = np.full(256, -1, dtype=np.int8)
for _i, _name in enumerate(LEVELS):
    _LEVEL_BY_LETTER[ord(_name[0])] = _i


@dataclass
class LogFilter:
    levels: Optional[set[str]] = None
    start_time: Optional[str] = None      # "YYYY-mm-dd HH:MM:SS", inclusive
    end_time: Optional[str] = None        # inclusive
    keyword: Optional[str] = None         # ASCII-case-insensitive, anywhere in the entry
    logger_name: Optional[str] = None     # case-insensitive substring of the logger name
    step_name: Optional[str] = None       # exact step tag

    def accepts(self, e: dict, entry_bytes_lower: bytes) -> bool:
        """The whole filter on one parsed entry (used when only a few entries contain the keyword)."""
        if self.levels and e["level"] not in self.levels:
            return False
        if self.step_name and e["step"] != self.step_name:
            return False
        ts = e["timestamp"]
        if (self.start_time or self.end_time) and ts is None:
            return False
        if (self.start_time and ts < self.start_time) or (self.end_time and ts > self.end_time):
            return False
        if self.logger_name and self.logger_name.lower() not in (e["logger"] or "").lower():
            return False
        return not self.keyword or self.keyword.lower().encode("utf-8") in entry_bytes_lower


@dataclass
class QueryResult:
    offsets: list = field(default_factory=list)   # numpy arrays per chunk: byte offset of each match
    lines: list = field(default_factory=list)     # 1-based line number of its header
    levels: list = field(default_factory=list)    # index into LEVELS, -1 unknown

    def finish(self) -> "QueryResult":
        for name in ("offsets", "lines", "levels"):
            parts = getattr(self, name)
            dtype = np.int8 if name == "levels" else np.int64
            setattr(self, name, np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype))
        return self

    @property
    def total(self) -> int:
        return int(len(self.offsets))


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
        cut, probe = 0, buf.rfind(b"\n")
        while probe > 0:
            if _HEADER_B.match(buf, probe + 1):
                cut = probe + 1
                break
            probe = buf.rfind(b"\n", 0, probe)
        if cut == 0 and len(buf) < 8 * CHUNK:
            carry = buf  # no entry boundary yet (a very long entry): keep reading
            continue
        cut = cut or len(buf)
        yield offset, buf[:cut]
        offset += cut
        carry = buf[cut:]


def _line_starts(arr: np.ndarray) -> np.ndarray:
    starts = np.flatnonzero(arr == 10) + 1
    starts = np.concatenate(([0], starts))
    return starts[starts < len(arr)]


_HEADER_COLUMNS = np.array([4, 7, 10, 13, 16, 19, 20])
_HEADER_BYTES = np.frombuffer(b"--  :: [", dtype=np.uint8)[[0, 1, 2, 4, 5, 6, 7]]


def _header_mask(arr: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Lines laid out like `dddd-dd-dd dd:dd:dd [X`: the header lines."""
    ok = starts + 22 <= len(arr)
    s = starts[ok]
    mask = np.zeros(len(starts), dtype=bool)
    punct = (arr[s[:, None] + _HEADER_COLUMNS] == _HEADER_BYTES).all(axis=1)
    first, level = arr[s], arr[s + 21]
    mask[ok] = punct & (first >= 48) & (first <= 57) & (level >= 65) & (level <= 90)
    return mask


def _timestamps(arr: np.ndarray, heads: np.ndarray) -> np.ndarray:
    idx = np.minimum(heads[:, None] + np.arange(19), len(arr) - 1)
    return np.ascontiguousarray(arr[idx]).view("S19").ravel()


def _hits(arr: np.ndarray, needle: bytes, fold: bool) -> np.ndarray:
    """Start offsets of every (possibly overlapping) occurrence of `needle` in `arr`, vectorised: candidates
    for one anchor byte of the needle, then narrowed byte by byte. `fold`: ASCII letters match in either case
    (the needle is given in lower case)."""
    k = len(needle)
    if k == 0 or len(arr) < k:
        return np.zeros(0, dtype=np.int64)

    def equal(values: np.ndarray, byte: int) -> np.ndarray:
        if fold and 97 <= byte <= 122:
            return (values | 0x20) == byte
        return values == byte

    # anchor on the needle byte that is rarest in a sample of this chunk: fewest candidates to narrow down
    counts = np.bincount(arr[:1 << 16], minlength=256)

    def frequency(j: int) -> int:
        byte = needle[j]
        return int(counts[byte] + (counts[byte - 32] if fold and 97 <= byte <= 122 else 0))
    anchor = min(range(k), key=frequency)
    window = arr[anchor:len(arr) - k + 1 + anchor]
    cands = np.flatnonzero(equal(window, needle[anchor]))
    for j in range(k):
        if j == anchor or not len(cands):
            continue
        cands = cands[equal(arr[cands + j], needle[j])]
    return cands.astype(np.int64)


def _entries_with(hits: np.ndarray, heads: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask over entries: the entry (header .. next header) contains one of the `hits`."""
    mask = np.zeros(n, dtype=bool)
    if len(hits):
        owner = np.searchsorted(heads, hits, side="right") - 1
        mask[owner[owner >= 0]] = True
    return mask


_LEVEL_LEN = np.array([len(v) for v in LEVELS] + [0], dtype=np.int64)  # index -1 -> 0


def _header_field_mask(arr: np.ndarray, needle: bytes, fold: bool, heads: np.ndarray, levels: np.ndarray,
                       field_name: str) -> np.ndarray:
    """Entries whose header carries `needle` as the step tag (`step`) or inside the logger name (`logger`).

    The logger starts after `[LEVEL] ` and, having no spaces or colons, ends right before the first space
    after its start (at the `:` of `logger: `); a hit elsewhere (in the message) does not count.
    """
    mask = np.zeros(len(heads), dtype=bool)
    hits = _hits(arr, needle, fold)
    if not len(hits) or not len(heads):
        return mask
    owner = np.searchsorted(heads, hits, side="right") - 1
    keep = owner >= 0
    hits, owner = hits[keep], owner[keep]
    lvl = levels[owner]
    logger_start = heads[owner] + 21 + _LEVEL_LEN[lvl] + 2
    spaces = np.flatnonzero(arr == 32)
    first_space = np.searchsorted(spaces, logger_start)
    logger_end = np.where(first_space < len(spaces), spaces[np.minimum(first_space, len(spaces) - 1)] - 1,
                          len(arr))
    if field_name == "step":
        ok = hits == logger_end
    else:
        ok = (hits >= logger_start) & (hits + len(needle) <= logger_end)
    ok &= lvl >= 0
    mask[owner[ok]] = True
    return mask


SPARSE_HITS = 4000  # fewer keyword hits than this in a chunk: check them one by one instead of indexing lines


def _entry_bounds(chunk: bytes, pos: int) -> tuple[int, int]:
    """The entry containing byte `pos`: back to its header line, forward to the next header line."""
    start = chunk.rfind(b"\n", 0, pos) + 1
    while start > 0 and not _HEADER_B.match(chunk, start):
        start = chunk.rfind(b"\n", 0, start - 1) + 1
    end = chunk.find(b"\n", pos)
    while end != -1 and end + 1 < len(chunk) and not _HEADER_B.match(chunk, end + 1):
        end = chunk.find(b"\n", end + 1)
    return start, (len(chunk) if end == -1 else end + 1)


def _sparse(chunk: bytes, hits: np.ndarray, flt: LogFilter, line_base: int, offset: int,
            result: "QueryResult") -> int:
    """Check the entries holding a few keyword hits one by one; line numbers by counting newlines.
    Returns the line number of the first line after the chunk."""
    offsets, lines, levels = [], [], []
    done_until, cursor, cursor_line = -1, 0, line_base
    for pos in hits.tolist():
        if pos < done_until:
            continue
        start, end = _entry_bounds(chunk, pos)
        done_until = end
        entry = parse_entry(chunk[start:end])
        if not flt.accepts(entry, chunk[start:end].lower()):
            continue
        cursor_line += chunk.count(b"\n", cursor, start)
        cursor = start
        offsets.append(offset + start)
        lines.append(cursor_line)
        levels.append(LEVELS.index(entry["level"]) if entry["level"] in LEVELS else -1)
    result.offsets.append(np.asarray(offsets, dtype=np.int64))
    result.lines.append(np.asarray(lines, dtype=np.int64))
    result.levels.append(np.asarray(levels, dtype=np.int8))
    return cursor_line + _line_count(chunk, cursor)


def _line_count(chunk: bytes, start: int = 0) -> int:
    """Lines in chunk[start:] (start is 0 or a line start)."""
    return chunk.count(b"\n", start) + (0 if len(chunk) <= start or chunk.endswith(b"\n") else 1)


def query(fh: BinaryIO, flt: LogFilter) -> QueryResult:
    """Every entry matching `flt`, in file order (offsets, line numbers, levels)."""
    result = QueryResult()
    line_base = 1
    keyword = flt.keyword.lower().encode("utf-8") if flt.keyword else None
    logger = flt.logger_name.lower().encode("utf-8") if flt.logger_name else None
    step = f": [{flt.step_name}] ".encode("utf-8") if flt.step_name else None
    level_ids = [LEVELS.index(v) for v in flt.levels] if flt.levels else None
    start_b = flt.start_time.encode("ascii") if flt.start_time else None
    end_b = flt.end_time.encode("ascii") if flt.end_time else None
    for offset, chunk in _chunks(fh):
        arr = np.frombuffer(chunk, dtype=np.uint8)
        if keyword:
            kw_hits = _hits(arr, keyword, True)
            if len(kw_hits) < SPARSE_HITS:
                if len(kw_hits):
                    line_base = _sparse(chunk, kw_hits, flt, line_base, offset, result)
                else:
                    line_base += _line_count(chunk)
                continue
        starts = _line_starts(arr)
        is_head = _header_mask(arr, starts)
        head_idx = np.flatnonzero(is_head)
        heads = starts[head_idx]
        if len(starts) and not is_head[0]:
            # text before the first header of the file: an entry of its own (no level, no time)
            head_idx = np.concatenate(([0], head_idx))
            heads = np.concatenate(([0], heads))
            orphan = True
        else:
            orphan = False
        n = len(heads)
        levels = _LEVEL_BY_LETTER[arr[np.minimum(heads + 21, len(arr) - 1)]] if n else np.zeros(0, np.int8)
        if orphan:
            levels[0] = -1
        mask = np.ones(n, dtype=bool)
        if orphan and (level_ids or start_b or end_b or step or logger):
            mask[0] = False
        if level_ids is not None:
            mask &= np.isin(levels, level_ids)
        if (start_b or end_b) and n:
            stamps = _timestamps(arr, heads)
            if start_b:
                mask &= stamps >= start_b
            if end_b:
                mask &= stamps <= end_b
        if mask.any() and (keyword or logger or step):
            if step:
                mask &= _header_field_mask(arr, step, False, heads, levels, "step")
            if logger and mask.any():
                mask &= _header_field_mask(arr, logger, True, heads, levels, "logger")
            if keyword and mask.any():
                mask &= _entries_with(kw_hits, heads, n)
        picked = np.flatnonzero(mask)
        result.offsets.append(heads[picked] + offset)
        result.lines.append(head_idx[picked] + line_base)
        result.levels.append(levels[picked])
        line_base += len(starts)
    return result.finish()


def page(fh: BinaryIO, result: QueryResult, *, page_no: int, page_size: int, sort_by: str = "timestamp",
         sort_order: str = "desc") -> list[dict]:
    """Parse one page of a query result into entries (with line_number)."""
    total = result.total
    if sort_by == "level":
        order = np.lexsort((np.arange(total), result.levels))
    else:
        order = np.arange(total)
    if sort_order.lower() == "desc":
        order = order[::-1]
    picked = order[(page_no - 1) * page_size: page_no * page_size]
    entries = []
    for i in picked.tolist():
        fh.seek(int(result.offsets[i]))
        entries.append(parse_entry(_read_entry(fh), int(result.lines[i])))
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
