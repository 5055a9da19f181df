"""What a SQL text reads and how it is shaped, for stratifying and matching pairs. Pure.

- `complexity_level(sql)`: OmniSQL's four levels, `data_pipeline.semantics.complexity` (pair_lint's rules).
  `pair_level(pair)` prefers the level qa_generation recorded in `meta["complexity"]`.
- `sql_tables(sql)`: the tables (and views) a query reads, CTE names excluded, `public.` dropped.
- `sql_skeleton(sql)`: the SQL with every literal and every identifier masked (DAIL-SQL's skeleton): keywords,
  operators and function names stay, so "total revenue per area" and "total orders per area" share a skeleton.
"""
from __future__ import annotations

import re
from typing import Optional

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from data_pipeline.semantics.complexity import LEVELS, complexity

_DIALECT = "postgres"
# the one definition of the levels (data_pipeline/semantics/complexity.py, pair_lint's rules); the name kept here
complexity_level = complexity


def strip_literals(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", sql)


def pair_level(sql: str, meta: Optional[dict]) -> str:
    """The level qa_generation recorded (meta["complexity"]) when it is one of LEVELS, else computed."""
    given = (meta or {}).get("complexity")
    return given if given in LEVELS else complexity_level(sql)


def _table_name(schema: str, name: str) -> str:
    schema, name = (schema or "").lower(), name.lower()
    return name if schema in ("", "public") else f"{schema}.{name}"


def sql_tables(sql: str) -> frozenset[str]:
    """Tables the query reads (lower case; `schema.name` outside public); empty when the SQL does not parse."""
    try:
        tree = sqlglot.parse_one(sql, read=_DIALECT)
    except (ParseError, TokenError, ValueError):
        return frozenset()
    if tree is None:
        return frozenset()
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    found = set()
    for t in tree.find_all(exp.Table):
        if not t.name or (not t.db and t.name.lower() in ctes):
            continue
        found.add(_table_name(t.db, t.name))
    return frozenset(found)


_DDL_TABLE = re.compile(r"\bcreate\s+(?:or\s+replace\s+)?(?:materialized\s+)?(?:table|view)\s+(?:if\s+not\s+exists\s+)?"
                        r"((?:\"[^\"]+\"|[\w$]+)(?:\s*\.\s*(?:\"[^\"]+\"|[\w$]+))?)", re.I)


def ddl_table(document: str) -> Optional[str]:
    """The table a DDL document creates (`public.` dropped), or None."""
    m = _DDL_TABLE.search(document or "")
    if not m:
        return None
    parts = [p.strip().strip('"') for p in m.group(1).split(".")]
    return _table_name(parts[0], parts[1]) if len(parts) == 2 else _table_name("", parts[0])


_LITERALS = {TokenType.STRING, TokenType.NUMBER, TokenType.NATIONAL_STRING, TokenType.BIT_STRING,
             TokenType.HEX_STRING, TokenType.BYTE_STRING, TokenType.RAW_STRING}
_NAMES = {TokenType.VAR, TokenType.IDENTIFIER}


def sql_skeleton(sql: str) -> str:
    """Keywords, operators and function names of the SQL; literals as `?`, other names as `_`.

    >>> sql_skeleton("SELECT SUM(amount) FROM sales WHERE region = 'east' LIMIT 5")
    'SELECT SUM ( _ ) FROM _ WHERE _ = ? LIMIT ?'
    >>> sql_skeleton('select sum("qty") from public.orders where x = 1') == sql_skeleton(
    ...     "SELECT SUM(total) FROM t WHERE y = 7")
    True
    """
    try:
        tokens = sqlglot.tokenize(sql, read=_DIALECT)
    except (TokenError, ValueError):
        return re.sub(r"\s+", " ", strip_literals(sql).upper()).strip()
    out: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.token_type == TokenType.SEMICOLON:
            continue
        if tok.token_type in _LITERALS:
            out.append("?")
        elif tok.token_type in _NAMES:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            out.append(tok.text.upper() if nxt is not None and nxt.token_type == TokenType.L_PAREN else "_")
        else:
            out.append(tok.text.upper())
    text = " ".join(out)
    while True:   # schema.table and alias.column are one name
        shorter = text.replace("_ . _", "_")
        if shorter == text:
            return text
        text = shorter
