"""Static check of generated SQL: is it exactly one read-only SELECT calling only allowed functions? Pure.

First line of defence of "the business database is read-only, provably" (ARCHITECTURE.md). The check parses
with sqlglot (PostgreSQL dialect) and accepts only one `SELECT`, `WITH ... SELECT` or set operation of selects
(UNION/INTERSECT/EXCEPT). It rejects, each with a reason an operator can read:
- several statements (`SELECT 1; DROP TABLE t`), any non-SELECT root (DML, DDL, COPY, SET, DO, CALL, LISTEN,
  transaction control, EXPLAIN, ...), data-modifying CTEs (`WITH d AS (DELETE ... RETURNING *) SELECT ...`);
- `SELECT ... INTO` (creates a table) and locking clauses (`FOR UPDATE/SHARE/NO KEY UPDATE/KEY SHARE`) in any
  position: on a parenthesised query, a set operation, a CTE or a subquery (token scan, not only the tree);
- any function call not in the allowlist (data_pipeline/validation/allowed_functions.py): every `name(` in the
  token stream is resolved as PostgreSQL would — quoting decoded (quoted names keep their case), `U&"..."`
  escapes decoded (with `UESCAPE`), comments between name and `(` ignored, a schema qualifier other than
  `pg_catalog` refused — so `ts_stat('<sql>')`, `U&"pg_sl\\0065ep"(1)` or `"PG_SLEEP"(1)` are named and rejected;
- casts to `reg*` types (`'pg_sleep'::regproc`, `regclass 'x'`): catalog lookups by name, never business data.
The same `name(` scan knows the SQL syntax that looks like a call (`IN (`, `OVER (`, `FILTER (`, `CAST(`,
`AS t(a, b)` column lists, `::numeric(10,2)` type modifiers, `WITH c(x) AS (`), and skips only those.

Execution still runs in a READ ONLY transaction with statement and lock timeouts and a row cap, as a
non-privileged role, and is always rolled back — the second line of defence (data_pipeline/validation/check.py).
Unparseable SQL is rejected with the parser's message (valid PostgreSQL that sqlglot cannot parse too: safe side).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Optional

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from data_pipeline.validation.allowed_functions import ALLOWED_FUNCTIONS, DENIED_FUNCTION_PREFIXES

DIALECT = "postgres"
# sqlglot logs a warning when it falls back to an opaque Command: we reject those anyway, keep the logs quiet
logging.getLogger("sqlglot").setLevel(logging.ERROR)

# statement kinds that must never appear anywhere in the tree (e.g. inside a CTE)
_WRITE_NODES: tuple[type, ...] = tuple(
    cls for cls in (
        getattr(exp, name, None) for name in (
            "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "AlterColumn", "TruncateTable",
            "Copy", "Command", "Transaction", "Commit", "Rollback", "Set", "Grant", "Revoke", "Analyze",
            "Pragma", "Use", "LoadData", "Comment", "Cache", "Uncache", "Refresh", "Describe", "Kill",
        ))
    if cls is not None)

_QUERY_ROOTS: tuple[type, ...] = (exp.Select, exp.SetOperation, exp.Subquery)


@dataclass(frozen=True)
class GuardResult:
    """Verdict on one SQL text. `body` is the statement without trailing `;` and comments (to embed it)."""
    ok: bool
    reason: str = ""
    body: str = ""
    functions: tuple[str, ...] = field(default_factory=tuple)   # allowlisted functions the SQL calls

    def __bool__(self) -> bool:
        return self.ok


def _reject(reason: str) -> GuardResult:
    return GuardResult(ok=False, reason=reason)


def _leading_keyword(sql: str) -> str:
    text = re.sub(r"^(\s|--[^\n]*\n|/\*.*?\*/)*", "", sql, flags=re.S)
    m = re.match(r"([A-Za-z_]+)(\s+[A-Za-z_]+)?", text)
    if not m:
        return "?"
    two_words = m.group(1).upper() in {"CREATE", "DROP", "ALTER", "INSERT", "DELETE"} and m.group(2)
    return (m.group(0) if two_words else m.group(1)).upper()


def denied_function(name: str) -> Optional[str]:
    """The denied prefix `name` matches (case-insensitive, schema qualifier ignored), else None."""
    bare = name.lower().rsplit(".", 1)[-1].strip('"')
    return next((p for p in DENIED_FUNCTION_PREFIXES if bare.startswith(p)), None)


# words that are followed by `(` in SQL syntax without being a function call (never a PostgreSQL function name)
_SYNTAX_WORDS = frozenset("""
in exists any all some values using on over filter within group as row array cast not and or select from where
join lateral when then else case by distinct union intersect except with recursive materialized is between like
ilike similar to escape having limit offset fetch window partition range rows groups sets cube rollup interval
collate order asc desc nulls first last preceding following unbounded current at zone for only cross inner full
outer natural end exclude ties of ordinality include
""".split())
# types whose input looks up catalog objects by name (functions, tables, roles ...)
_REG_TYPES = frozenset("""regproc regprocedure regclass regtype regoper regoperator regnamespace regrole regconfig
regdictionary regcollation""".split())
_WORD = re.compile(r"^[^\W\d][\w$]*$")
_LOCK_STARTS = {("update",), ("share",), ("no", "key"), ("key", "share")}


@dataclass(frozen=True)
class _Word:
    """One token of the statement as the server reads it: identifiers decoded, everything else as is."""
    kind: str          # sqlglot token type name
    text: str          # decoded text (quoted identifiers keep their case, U& escapes resolved)
    quoted: bool = False

    @property
    def name(self) -> str:
        """PostgreSQL's name for it: unquoted words fold to lower case."""
        return self.text if self.quoted else self.text.lower()

    @property
    def wordlike(self) -> bool:
        return self.quoted or bool(_WORD.match(self.text))


def _decode_unicode_escapes(text: str, escape: str = "\\") -> str:
    """PostgreSQL's U&"..." decoding: <esc>XXXX, <esc>+XXXXXX, <esc><esc>. Raises ValueError when malformed."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch != escape:
            out.append(ch)
            i += 1
        elif text[i + 1:i + 2] == escape:
            out.append(escape)
            i += 2
        elif text[i + 1:i + 2] == "+":
            out.append(chr(int(text[i + 2:i + 8], 16)) if len(text[i + 2:i + 8]) == 6 else _bad_escape())
            i += 8
        else:
            out.append(chr(int(text[i + 1:i + 5], 16)) if len(text[i + 1:i + 5]) == 4 else _bad_escape())
            i += 5
    return "".join(out)


def _bad_escape() -> str:
    raise ValueError("invalid Unicode escape")


def _words(tokens: list) -> list[_Word]:
    """Tokens -> words, with `U&"..."` [UESCAPE 'c'] collapsed into one decoded identifier."""
    words: list[_Word] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        kind = t.token_type.name
        nxt = tokens[i + 1:i + 3]
        if (kind == "VAR" and t.text.lower() == "u" and len(nxt) == 2 and nxt[0].token_type.name == "AMP"
                and nxt[1].token_type.name == "IDENTIFIER" and t.end + 1 == nxt[0].start
                and nxt[0].end + 1 == nxt[1].start):
            raw, escape, i = nxt[1].text, "\\", i + 3
            if (i + 1 < len(tokens) and tokens[i].text.lower() == "uescape"
                    and tokens[i + 1].token_type.name == "STRING"):
                escape, i = tokens[i + 1].text, i + 2
            words.append(_Word("IDENTIFIER", _decode_unicode_escapes(raw, escape), quoted=True))
            continue
        words.append(_Word(kind, t.text, quoted=kind == "IDENTIFIER"))
        i += 1
    return words


def _closing(words: list[_Word], open_at: int) -> int:
    depth = 0
    for j in range(open_at, len(words)):
        depth += {"L_PAREN": 1, "R_PAREN": -1}.get(words[j].kind, 0)
        if depth == 0:
            return j
    return len(words) - 1


def _not_a_call(words: list[_Word], i: int, first: int, aliases: frozenset) -> bool:
    """`words[i]` is followed by `(` but is not a function: syntax, a type modifier or a column-name list.

    `aliases`: names the parse tree knows as aliases with a column list (`AS t(a, b)`, `g(x)`, `WITH c(x) AS`)
    and never as a function call; such a name is skipped only where an alias can stand, so
    `SELECT ts_stat(...) FROM t ts_stat(a)` or `trim(both ts_stat(q) from x) ... t ts_stat(a)` still fail.
    """
    w = words[i]
    if not w.quoted and w.text.lower() in _SYNTAX_WORDS:
        return True
    before = words[first - 1] if first > 0 else None
    if before is not None and before.kind in ("DCOLON", "ALIAS"):
        return True    # x::numeric(10,2), CAST(x AS varchar(5)), FROM f() AS t(a, b)
    if first != i or w.name.lower() not in aliases or before is None:
        return False
    if denied_function(w.name) or w.name.lower().startswith("pg_"):
        return False   # an alias may not carry the name of a refused function: checked as a call, whatever it is
    if before.kind == "R_PAREN" or (before.kind in ("VAR", "IDENTIFIER") and (
            before.quoted or before.text.lower() not in _SYNTAX_WORDS)):
        return True    # FROM t g(a, b), FROM (SELECT ...) s(a): an alias with a column list
    if before.kind in ("WITH", "COMMA") or before.text.lower() == "recursive":     # WITH c(x) AS (...)
        after = _closing(words, i + 1) + 1
        return (after + 1 < len(words) and words[after].kind == "ALIAS"
                and (words[after + 1].kind == "L_PAREN" or words[after + 1].text.lower() in ("materialized", "not")))
    return False


def _function_problem(words: list[_Word], aliases: frozenset = frozenset()) -> Optional[str]:
    """The first call, reg* cast or locking clause the statement may not contain, as a reason; else None."""
    for i, w in enumerate(words):
        if not w.quoted and w.text.lower() == "for" and i + 1 < len(words):
            following = tuple(x.text.lower() for x in words[i + 1:i + 3])
            if following[:1] in _LOCK_STARTS or following[:2] in _LOCK_STARTS:
                return (f"locking clause (FOR {' '.join(following[:2]).upper()}...) takes row locks; "
                        f"not allowed")
        if w.name in _REG_TYPES or w.kind == "OBJECT_IDENTIFIER":
            return f"cast to {w.name} (a catalog lookup by name) is not allowed"
        if i + 1 >= len(words) or words[i + 1].kind != "L_PAREN" or not w.wordlike:
            continue
        qualified = i >= 2 and words[i - 1].kind == "DOT"
        first = i - 2 if qualified else i
        if w.name.lower() == "operator":
            return "OPERATOR(...) syntax is not allowed (it may call any function)"
        if _not_a_call(words, i, first, aliases):
            continue
        if denied_function(w.name):
            return (f"function {w.name.lower()}() is not allowed (runs SQL text, side effects, stalls, signals "
                    f"other sessions or reads server files)")
        if qualified and words[i - 2].name != "pg_catalog":
            return f"function {words[i - 2].name}.{w.name}() is not allowed (only built-in functions)"
        if w.name not in ALLOWED_FUNCTIONS:
            return f"function {w.name}() is not in the allowlist of functions"
    return None


def _named_problem(sql: str) -> Optional[str]:
    """For SQL the parser refuses: a forbidden call it contains, so the reason names the attempt."""
    try:
        return _function_problem(_words(sqlglot.Dialect.get_or_raise(DIALECT).tokenize(sql)))
    except (TokenError, ValueError):
        return None


def _called(words: list[_Word]) -> tuple[str, ...]:
    return tuple(sorted({w.name for i, w in enumerate(words[:-1])
                         if words[i + 1].kind == "L_PAREN" and w.name in ALLOWED_FUNCTIONS}))


def _statement_body(sql: str, tokens: list) -> str:
    """The text up to the last token that is not `;` — drops trailing semicolons and comments."""
    meaningful = [t for t in tokens if t.token_type != sqlglot.TokenType.SEMICOLON]
    return sql[: meaningful[-1].end + 1].strip() if meaningful else ""


def check_sql(sql: str) -> GuardResult:
    """Accept exactly one read-only SELECT statement, or say why not.

    >>> check_sql("SELECT 1").ok
    True
    >>> check_sql("SELECT 1; DROP TABLE t").reason
    'multiple statements (2); exactly one SELECT is allowed'
    """
    if not isinstance(sql, str) or not sql.strip():
        return _reject("empty SQL")
    dialect = sqlglot.Dialect.get_or_raise(DIALECT)
    try:
        tokens = dialect.tokenize(sql)   # once: for the parser and for the statement body
        # a lone `;` (possibly carrying a comment) parses as an empty Semicolon statement: not a statement
        statements = [s for s in dialect.parser().parse(tokens, sql)
                      if s is not None and not isinstance(s, exp.Semicolon)]
    except (ParseError, TokenError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        return _reject(_named_problem(sql) or f"unparseable SQL (sqlglot, postgres dialect): {message[:300]}")
    if not statements:
        return _reject("empty SQL (only comments or semicolons)")
    if len(statements) > 1:
        return _reject(f"multiple statements ({len(statements)}); exactly one SELECT is allowed")
    root = statements[0]
    if not isinstance(root, _QUERY_ROOTS) or isinstance(root, exp.Subquery) and not isinstance(
            root.unnest(), (exp.Select, exp.SetOperation)):
        return _reject(f"not a SELECT statement ({_leading_keyword(sql)}); only SELECT / WITH ... SELECT "
                       f"is allowed")
    for node in root.walk():
        if isinstance(node, _WRITE_NODES):
            kind = node.key.upper()
            where = "in a CTE" if node.find_ancestor(exp.CTE) else "inside the query"
            return _reject(f"{kind} {where}: data-modifying or non-query statements are not allowed")
        if isinstance(node, exp.Select) and node.args.get("into"):
            return _reject("SELECT ... INTO creates a table; not allowed")
        if isinstance(node, exp.Expression) and node.args.get("locks"):
            return _reject(f"locking clause ({node.args['locks'][0].sql(dialect=DIALECT)}) takes row "
                           f"locks; not allowed")
    try:
        words = _words(tokens)
    except ValueError:
        return _reject("invalid Unicode escape in an identifier")
    called = {f.name.lower() for f in root.find_all(exp.Anonymous)}
    aliases = frozenset(a.name.lower() for a in root.find_all(exp.TableAlias) if a.args.get("columns")) - called
    problem = _function_problem(words, aliases)
    if problem:
        return _reject(problem)
    body = _statement_body(sql, tokens)
    if not body:
        return _reject("empty SQL (only comments or semicolons)")
    return GuardResult(ok=True, body=body, functions=_called(words))
