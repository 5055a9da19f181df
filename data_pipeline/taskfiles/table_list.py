"""Table lists (contract "Table list format"): parsing, validation and the task's `table_list.txt`.

One name per line or comma separated; `schema.table` or `table` (schema `public`); `#` and `--` comments and
blank lines ignored; duplicates removed (first occurrence wins); quoted identifiers (`"Mixed Case"."订单 表"`)
allowed. Unquoted names fold to lower case, as PostgreSQL does.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from core.errors import ValidationFailed

TABLE_LIST_FILE = "table_list.txt"
_UNQUOTED = re.compile(r"^[^\W\d][\w$]*$")  # letters (any script) or _, then letters, digits, _, $
MAX_IDENTIFIER = 63


@dataclass(frozen=True)
class TableRef:
    schema: str
    name: str

    @property
    def qualified(self) -> str:
        """Display / file form: `schema.table`, each part quoted only when it needs to be."""
        return f"{_show(self.schema)}.{_show(self.name)}"

    @property
    def short(self) -> str:
        return _show(self.name) if self.schema == "public" else self.qualified


def _show(part: str) -> str:
    return part if _UNQUOTED.match(part) and part == part.lower() else '"' + part.replace('"', '""') + '"'


def _split_identifier(text: str) -> list[str]:
    """Split `a."B.c"` on dots outside quotes, unquoting and folding as PostgreSQL would."""
    parts, i, n = [], 0, len(text)
    while i < n:
        if text[i] == '"':
            j, buf = i + 1, []
            while True:
                k = text.find('"', j)
                if k < 0:
                    raise ValueError("unterminated quoted identifier")
                buf.append(text[j:k])
                if k + 1 < n and text[k + 1] == '"':
                    buf.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            part = "".join(buf)
            if not part:
                raise ValueError("empty quoted identifier")
        else:
            k = text.find(".", i)
            k = n if k < 0 else k
            part = text[i:k].strip()
            if not _UNQUOTED.match(part):
                raise ValueError(f"invalid identifier {part!r}")
            part = part.lower()
            i = k
        if len(part.encode("utf-8")) > MAX_IDENTIFIER:
            raise ValueError("identifier longer than 63 bytes")
        parts.append(part)
        if i < n:
            if text[i] != ".":
                raise ValueError("unexpected character after quoted identifier")
            i += 1
            if i == n:
                raise ValueError("trailing dot")
    return parts


def parse_name(text: str) -> TableRef:
    parts = _split_identifier(text.strip())
    if len(parts) == 1:
        return TableRef("public", parts[0])
    if len(parts) == 2:
        return TableRef(parts[0], parts[1])
    raise ValueError("use table or schema.table")


def _strip_comment(line: str) -> str:
    """Remove a `#` or `--` comment that is not inside a quoted identifier."""
    in_quote = False
    for i, ch in enumerate(line):
        if ch == '"':
            in_quote = not in_quote
        elif not in_quote and (ch == "#" or line.startswith("--", i)):
            return line[:i]
    return line


def _split_commas(line: str) -> list[str]:
    items, buf, in_quote = [], [], False
    for ch in line:
        if ch == '"':
            in_quote = not in_quote
        if ch == "," and not in_quote:
            items.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    items.append("".join(buf))
    return items


def parse_names(names: Iterable[str]) -> list[TableRef]:
    """Validate a sequence of names; all problems are reported at once."""
    refs: list[TableRef] = []
    errors: list[str] = []
    for raw in names:
        if not isinstance(raw, str):
            errors.append(f"{raw!r}: not a string")
            continue
        if not raw.strip():
            continue
        try:
            ref = parse_name(raw)
        except ValueError as exc:
            errors.append(f"{raw.strip()[:80]!r}: {exc}")
            continue
        if ref not in refs:
            refs.append(ref)
    if errors:
        raise ValidationFailed("invalid table names: " + "; ".join(errors[:20]), invalid_params=["table_names"])
    return refs


def masked_preview(text: str) -> str:
    """At most the first two characters of a line and its length: enough to find it, not to read a file with it."""
    text = text.strip()
    return f"{text[:2]}… ({len(text)} chars)" if len(text) > 2 else "…"


def parse_text(text: str, *, max_lines: int = 5000) -> list[TableRef]:
    """Parse a table-list file's text (BOM already removed). Invalid lines are reported by number and a masked
    preview only: the text may come from a file the client cannot read, and never flows back to it."""
    lines = text.splitlines()
    if len(lines) > max_lines:
        raise ValidationFailed(f"table list has {len(lines)} lines; at most {max_lines} allowed",
                               invalid_params=["file"])
    refs: list[TableRef] = []
    errors: list[str] = []
    for number, line in enumerate(lines, start=1):
        for item in _split_commas(_strip_comment(line)):
            if not item.strip():
                continue
            try:
                ref = parse_name(item)
            except ValueError as exc:
                reason = re.sub(r"\s+['\"].*$", "", str(exc))   # the reason, without the text it quotes
                errors.append(f"line {number} ({masked_preview(item)}): {reason}")
                continue
            if ref not in refs:
                refs.append(ref)
    if errors:
        more = f"; and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise ValidationFailed(f"{len(errors)} invalid table name(s): " + "; ".join(errors[:20]) + more,
                               invalid_params=["table_names"])
    return refs


def render(refs: Iterable[TableRef]) -> str:
    """The canonical `table_list.txt` content: one qualified name per line."""
    return "".join(f"{r.short}\n" for r in refs)


def find_missing_tables(business_url: str, refs: Iterable[TableRef], settings) -> list[TableRef]:
    """The refs that name no table, view, materialized view or foreign table in the business database.

    One read-only catalog query (core.business_db.business_readonly: vetted, timeouts on). Raises
    DatabaseConnectionError when the database cannot be reached; the caller decides whether that blocks.
    """
    from core.business_db import business_readonly
    refs = list(refs)
    if not refs:
        return []
    with business_readonly(business_url, statement_timeout_ms=settings.statement_timeout_ms,
                           lock_timeout_ms=settings.lock_timeout_ms, settings=settings) as conn:
        with conn.cursor() as cur:
            cur.execute(
                """SELECT n.nspname, c.relname FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                   JOIN unnest(%(schemas)s::text[], %(names)s::text[]) AS want(schema_name, table_name)
                     ON want.schema_name = n.nspname AND want.table_name = c.relname
                   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')""",
                {"schemas": [r.schema for r in refs], "names": [r.name for r in refs]})
            found = {(s, n) for s, n in cur.fetchall()}
    return [r for r in refs if (r.schema, r.name) not in found]
