"""Static check of generated SQL: is it exactly one read-only SELECT? Pure: text in, verdict out.

First line of defence of "the business database is read-only, provably" (ARCHITECTURE.md). The check parses
with sqlglot (PostgreSQL dialect) and accepts only one `SELECT`, `WITH ... SELECT` or set operation of selects
(UNION/INTERSECT/EXCEPT). It rejects, each with a reason an operator can read:
- several statements (`SELECT 1; DROP TABLE t`), any non-SELECT root (DML, DDL, COPY, SET, DO, CALL, LISTEN,
  transaction control, EXPLAIN, ...), data-modifying CTEs (`WITH d AS (DELETE ... RETURNING *) SELECT ...`);
- `SELECT ... INTO` (creates a table) and locking clauses (`FOR UPDATE/SHARE`, they take row locks);
- calls to functions that write, stall, signal other sessions or read server files (`DENIED_FUNCTION_PREFIXES`).

Functions: sqlglot recognises the standard SQL/PostgreSQL functions (count, sum, date_trunc, ...) as typed
expressions, and those are allowed. Any other call (sqlglot's `Anonymous`) is allowed only when its name matches
no denied prefix. An unknown user-defined function that writes is not caught here: execution runs in a READ ONLY
transaction with statement and lock timeouts, as a read-only role on the demo database, and is always rolled
back — the second and third lines of defence (data_pipeline/validation/check.py).

Unparseable SQL is rejected with the parser's message. A consequence: valid PostgreSQL syntax that sqlglot
cannot parse is rejected too (safe side; the reason says so).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Optional

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

DIALECT = "postgres"
# sqlglot logs a warning when it falls back to an opaque Command: we reject those anyway, keep the logs quiet
logging.getLogger("sqlglot").setLevel(logging.ERROR)

# lower-case name prefixes; a call whose (unqualified, lower-cased) name starts with one of these is rejected
DENIED_FUNCTION_PREFIXES: tuple[str, ...] = (
    # sequences (write outside the transaction: nextval is not rolled back)
    "nextval", "setval", "currval", "lastval",
    # stall or signal other sessions
    "pg_sleep", "pg_terminate_backend", "pg_cancel_backend", "pg_advisory", "pg_try_advisory",
    "pg_notify", "pg_reload_conf", "pg_rotate_logfile", "pg_promote", "pg_log_backend",
    # server files and large objects
    "pg_read_file", "pg_read_binary_file", "pg_ls_", "pg_stat_file", "pg_file_", "lo_", "loread", "lowrite",
    # configuration, transaction ids, snapshots, WAL, replication, backups, statistics reset
    "set_config", "txid_", "pg_current_xact_id", "pg_export_snapshot", "pg_switch_wal", "pg_create_",
    "pg_drop_", "pg_replication_", "pg_logical_", "pg_wal_", "pg_backup_", "pg_start_backup",
    "pg_stop_backup", "pg_stat_reset", "pg_stat_statements_reset", "pg_import_system_collations", "pg_copy_",
    "pg_signal", "pg_logdir_ls", "pg_prewarm", "brin_summarize", "brin_desummarize", "gin_clean_pending_list",
    # run other SQL text or other databases (would bypass this check)
    "dblink", "query_to_xml", "cursor_to_xml", "query_to_xmlschema", "cursor_to_xmlschema",
    "database_to_xml", "schema_to_xml", "table_to_xml",
)

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
    functions: tuple[str, ...] = field(default_factory=tuple)   # names of non-standard functions called

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


def _function_name(node: exp.Func) -> str:
    return (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()


def denied_function(name: str) -> Optional[str]:
    """The denied prefix `name` matches (case-insensitive, schema qualifier ignored), else None."""
    bare = name.lower().rsplit(".", 1)[-1].strip('"')
    return next((p for p in DENIED_FUNCTION_PREFIXES if bare.startswith(p)), None)


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
        return _reject(f"unparseable SQL (sqlglot, postgres dialect): {message[:300]}")
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
        if isinstance(node, exp.Select):
            if node.args.get("into"):
                return _reject("SELECT ... INTO creates a table; not allowed")
            if node.args.get("locks"):
                return _reject(f"locking clause ({node.args['locks'][0].sql(dialect=DIALECT)}) takes row "
                               f"locks; not allowed")
    functions = []
    for func in root.find_all(exp.Func):
        name = _function_name(func)
        prefix = denied_function(name)
        if prefix:
            return _reject(f"function {name}() is not allowed (side effects, stalls, signals other sessions "
                           f"or reads server files)")
        if isinstance(func, exp.Anonymous):
            functions.append(name)
    # the same denylist on the text as written: any name followed by `(` — in case sqlglot maps a PostgreSQL
    # function to a typed expression whose SQL name differs from what the server would call
    for token, following in zip(tokens, tokens[1:]):
        if following.token_type == sqlglot.TokenType.L_PAREN and denied_function(token.text):
            return _reject(f"function {token.text.lower()}() is not allowed (side effects, stalls, signals other "
                           f"sessions or reads server files)")
    body = _statement_body(sql, tokens)
    if not body:
        return _reject("empty SQL (only comments or semicolons)")
    return GuardResult(ok=True, body=body, functions=tuple(sorted(set(functions))))
