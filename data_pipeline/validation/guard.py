"""Static check of generated SQL, read with PostgreSQL's own parser: is it exactly one read-only SELECT? Pure.

First line of defence of "the business database is read-only, provably" (ARCHITECTURE.md). The text is parsed
by libpg_query (PostgreSQL 16's grammar, through `pglast`), so quoting, `U&"..."` escapes, comments, dollar
quoting and every piece of syntax mean exactly what they mean to the server. The tree is then walked (without
recursion) and every node kind must be on an explicit allowlist (`_ALLOWED_NODES`). Refused, each with a reason
an operator can read:
- several statements, any root other than one `SELECT` (DML, DDL, COPY, SET, DO, CALL, EXPLAIN, top-level
  VALUES, ...), data-modifying CTEs, `SELECT ... INTO`, locking clauses (`FOR UPDATE/SHARE/...`) anywhere;
- any function call not in the allowlist (allowed_functions.py), or qualified with a schema other than
  `pg_catalog`; qualified operators (`OPERATOR(s.+)`);
- any type not in `SAFE_TYPES` (casts to `reg*` types or `aclitem` are catalog lookups by name, an oracle);
- node kinds a pair has no use for (parameters, XML, TABLESAMPLE, ...); SQL nested too deeply to walk.

What the tree names but cannot judge alone — is `count` really pg_catalog's, is `t.f` a column or the call
`f(t)`, is `text` a domain here — is collected in `CatalogNames` and checked against the business database's
own catalog inside the read-only transaction, before the statement is planned or run
(data_pipeline/validation/catalog_check.py). Execution then runs READ ONLY with timeouts, a row cap and a byte
cap, and is always rolled back (data_pipeline/validation/check.py).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Optional

from pglast.parser import ParseError, parse_sql_json, scan

from data_pipeline.validation.allowed_functions import ALLOWED_FUNCTIONS, DENIED_FUNCTION_PREFIXES, SAFE_TYPES

# wrapped node kinds a read-only query may contain (everything else is refused by name)
_ALLOWED_NODES = frozenset("""
SelectStmt ResTarget ColumnRef String A_Star A_Const Integer Float Boolean BitString A_Expr BoolExpr NullTest
BooleanTest FuncCall TypeCast TypeName RangeVar Alias JoinExpr RangeSubselect RangeFunction SortBy WindowDef
CommonTableExpr WithClause SubLink CaseExpr CaseWhen CoalesceExpr MinMaxExpr A_ArrayExpr A_Indirection A_Indices
RowExpr SQLValueFunction GroupingSet GroupingFunc ColumnDef List NamedArgExpr CollateClause
""".split())
_STATEMENT_WORDS = {"InsertStmt": "INSERT", "UpdateStmt": "UPDATE", "DeleteStmt": "DELETE", "MergeStmt": "MERGE"}
_LOCKS = {"LCS_FORUPDATE": "FOR UPDATE", "LCS_FORNOKEYUPDATE": "FOR NO KEY UPDATE", "LCS_FORSHARE": "FOR SHARE",
          "LCS_FORKEYSHARE": "FOR KEY SHARE"}
# operators PostgreSQL applies without them being written (ORDER BY, GROUP BY, DISTINCT, IN, CASE, joins)
IMPLICIT_OPERATORS = ("=", "<>", "<", ">", "<=", ">=")
_BETWEEN = ("<=", ">=")
_REG_TYPES = re.compile(r"^_?reg[a-z]*$")


@dataclass(frozen=True)
class CatalogNames:
    """What the statement names that only the business database's catalog can judge (catalog_check.py)."""
    functions: tuple[str, ...] = ()          # called, or reachable through column notation `x.f` / `(x).f`
    operators: tuple[str, ...] = ()          # written or implied
    types: tuple[str, ...] = ()              # unqualified type names written in casts and column definitions
    relations: tuple[tuple[str, str], ...] = ()      # (schema or "", name) of every table reference
    column_refs: tuple[tuple[str, str, str], ...] = ()  # (schema or "", relation or alias, field) from a.b
    aliases: tuple[tuple[str, str, str], ...] = ()   # (alias, schema or "", relation) for table references
    derived: tuple[str, ...] = ()            # names that are CTEs, subquery or function aliases
    fields: tuple[str, ...] = ()             # the column name of every column reference and USING list
    called: tuple[str, ...] = ()             # unqualified functions called by name (not by column notation)
    whole_rows: bool = False                 # `*`, `x.*` or NATURAL JOIN: every column of a table is read
    literals: bool = False                   # a string literal (type unknown: it can become any string type)
    # (alias, its output column names) of subqueries and CTEs whose outputs the tree names plainly
    derived_columns: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # each written call and operator with what its arguments are, as far as the tree says: ("fn" | "op", name,
    # args), an arg ("col", relation or alias or "", column) | ("const", int4 | numeric | bool | unknown) |
    # ("type", type name) | ("none",) for a prefix operator's missing left | ("any",); catalog_check types them
    uses: tuple[tuple[str, str, tuple[tuple[str, ...], ...]], ...] = ()
    # a comparison PostgreSQL resolves between operands the tree does not pair up (CASE x WHEN, JOIN USING or
    # NATURAL, GREATEST/LEAST, x op ANY/ALL/IN (subquery)): operator types cannot be read from `uses` alone
    hidden_comparisons: bool = False


@dataclass(frozen=True)
class GuardResult:
    """Verdict on one SQL text. `body` is the statement without trailing `;` and comments (to embed it)."""
    ok: bool
    reason: str = ""
    body: str = ""
    functions: tuple[str, ...] = field(default_factory=tuple)   # allowlisted functions the SQL calls
    names: CatalogNames = field(default_factory=CatalogNames)

    def __bool__(self) -> bool:
        return self.ok


class _Refused(Exception):
    """A reason to refuse, raised from deep inside the walk."""


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


_CONSTANTS = (("ival", "int4"), ("fval", "numeric"), ("boolval", "bool"), ("sval", "unknown"), ("isnull", "unknown"))


def _argument(node: Any) -> tuple[str, ...]:
    """What an operand or call argument is, as far as the tree says (see CatalogNames.uses)."""
    if not isinstance(node, dict) or len(node) != 1:
        return ("any",)
    kind, value = next(iter(node.items()))
    if kind == "ColumnRef":
        fields = _strings(value.get("fields"))
        if fields[-1] == "*" or len(fields) > 3:
            return ("any",)
        return ("col", fields[-2] if len(fields) >= 2 else "", fields[-1])
    if kind == "A_Const":
        return next((("const", t) for key, t in _CONSTANTS if key in value), ("any",))
    if kind == "TypeCast":
        type_name = value.get("typeName") or {}
        names = _strings(type_name.get("names"))
        if type_name.get("arrayBounds") or type_name.get("setof") or len(names) > 2 or \
                (len(names) == 2 and names[0] != "pg_catalog"):
            return ("any",)
        return ("type", names[-1])
    return ("any",)


def _strings(items: Optional[list]) -> list[str]:
    """The names of a list of String nodes (`funcname`, `names`, `fields`); A_Star and others as '*'."""
    return [i["String"]["sval"] if isinstance(i, dict) and "String" in i else "*" for i in items or []]


class _Collector:
    """Walks one statement's tree iteratively, refusing what is not allowed and collecting CatalogNames."""

    def __init__(self) -> None:
        self.functions: set[str] = set()
        self.called: set[str] = set()
        self.operators: set[str] = set(IMPLICIT_OPERATORS)
        self.types: set[str] = set()
        self.relations: set[tuple[str, str]] = set()
        self.column_refs: set[tuple[str, str, str]] = set()
        self.aliases: set[tuple[str, str, str]] = set()
        self.derived: set[str] = set()
        self.fields: set[str] = set()
        self.bare: set[str] = set()
        self.called_bare: set[str] = set()
        self.whole_rows = False
        self.literals = False
        self.derived_columns: dict[str, Optional[tuple[str, ...]]] = {}
        self.uses: set[tuple[str, str, tuple]] = set()
        self.hidden_comparisons = False

    def names(self) -> CatalogNames:
        return CatalogNames(tuple(sorted(self.functions)), tuple(sorted(self.operators)), tuple(sorted(self.types)),
                            tuple(sorted(self.relations)), tuple(sorted(self.column_refs)),
                            tuple(sorted(self.aliases)), tuple(sorted(self.derived)), tuple(sorted(self.fields)),
                            tuple(sorted(self.called_bare)),
                            self.whole_rows or bool(self.bare & ({a for a, _, _ in self.aliases}
                                                                 | {r for _, r in self.relations} | self.derived)),
                            self.literals,
                            tuple(sorted((a, c) for a, c in self.derived_columns.items() if c is not None)),
                            tuple(sorted(self.uses)), self.hidden_comparisons)

    def _outputs(self, alias: str, query: Any, colnames: Optional[list]) -> None:
        """Remember the output column names of the derived table `alias` when the tree names them plainly
        (`AS n`, a bare column reference, or an alias column list); otherwise none (a `*`, an expression)."""
        if colnames:
            self.derived_columns[alias] = tuple(_strings(colnames))
            return
        select = (query or {}).get("SelectStmt") or {}
        while select.get("larg"):                     # UNION / INTERSECT / EXCEPT: the first branch names them
            select = select["larg"]
        out = []
        for item in select.get("targetList") or []:
            target = item.get("ResTarget") or {}
            fields = _strings(((target.get("val") or {}).get("ColumnRef") or {}).get("fields"))
            name = target.get("name") or (fields[-1] if fields and fields[-1] != "*" else "")
            if not name:
                self.derived_columns[alias] = None
                return
            out.append(name)
        self.derived_columns[alias] = tuple(out)

    def walk(self, root: Any) -> None:
        stack = [root]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
                continue
            if not isinstance(item, dict):
                continue
            if len(item) == 1:
                kind, value = next(iter(item.items()))
                if kind[:1].isupper() and isinstance(value, dict):
                    self._node(kind, value)
                    stack.append(value)
                    continue
            for key, value in item.items():
                self._field(key, value)
                if isinstance(value, (dict, list)):
                    stack.append(value)

    # --- fields of any node (some nodes are embedded without their kind: alias, typeName, over, intoClause) ---
    def _field(self, key: str, value: Any) -> None:
        if not value:
            return
        if key == "intoClause":
            raise _Refused("SELECT ... INTO creates a table; not allowed")
        if key == "lockingClause":
            strength = value[0].get("LockingClause", {}).get("strength", "") if isinstance(value, list) else ""
            raise _Refused(f"locking clause ({_LOCKS.get(strength, 'FOR ...')}) takes row locks; not allowed")
        if key == "typeName":
            self._type(value)
        elif key == "alias" and isinstance(value, dict) and denied_function(value.get("aliasname", "")):
            # harmless to PostgreSQL, but a report saying "pg_read_file(a)" passed would mislead its reader
            raise _Refused(f"alias {value['aliasname']} carries the name of a refused function "
                           f"{value['aliasname'].lower()}(); not allowed")
        elif key in ("withClause", "over"):
            return
        elif key in ("returningList", "onConflictClause", "pct_type"):
            raise _Refused(f"{key} is not allowed in a query")

    # --- wrapped nodes -------------------------------------------------------------------------------------
    def _node(self, kind: str, node: dict) -> None:
        if kind in _STATEMENT_WORDS:
            raise _Refused(f"{_STATEMENT_WORDS[kind]} inside the query: data-modifying or non-query statements "
                           f"are not allowed")
        if kind not in _ALLOWED_NODES:
            raise _Refused(f"{kind} is not allowed in a pair's SQL (only plain SELECT syntax)")
        handler = getattr(self, f"_{kind}", None)
        if handler is not None:
            handler(node)

    def _CommonTableExpr(self, node: dict) -> None:
        query = node.get("ctequery") or {}
        inner = next(iter(query), "")
        if inner in _STATEMENT_WORDS:
            raise _Refused(f"{_STATEMENT_WORDS[inner]} in a CTE: data-modifying or non-query statements are not "
                           f"allowed")
        if node.get("search_clause") or node.get("cycle_clause"):
            raise _Refused("SEARCH/CYCLE clauses of recursive CTEs are not allowed")
        self.derived.add(node.get("ctename", ""))
        self._outputs(node.get("ctename", ""), node.get("ctequery"), node.get("aliascolnames"))

    def _FuncCall(self, node: dict) -> None:
        names = _strings(node.get("funcname"))
        name = names[-1]
        if denied_function(name):
            raise _Refused(f"function {name.lower()}() is not allowed (runs SQL text, side effects, stalls, signals "
                           f"other sessions or reads server files)")
        if len(names) > 1 and names[:-1] != ["pg_catalog"]:
            raise _Refused(f"function {'.'.join(names[:-1])}.{name}() is not allowed (only built-in functions)")
        if name not in ALLOWED_FUNCTIONS:
            raise _Refused(f"function {name}() is not in the allowlist of functions")
        self.called.add(name)
        if len(names) == 1:
            self.functions.add(name)
            self.called_bare.add(name)
        self.uses.add(("fn", name, tuple(_argument(a) for a in node.get("args") or [])))

    def _ColumnRef(self, node: dict) -> None:
        fields = _strings(node.get("fields"))
        if fields[-1] != "*":
            self.fields.add(fields[-1])
        self.whole_rows = self.whole_rows or "*" in fields
        if len(fields) == 1 and fields[0] != "*":
            self.bare.add(fields[0])                 # a column, or a whole row when it names a table or alias
        if len(fields) >= 2 and fields[-1] != "*":
            # `x.f` is the column f of x, or else PostgreSQL calls the function f(x): the catalog decides
            schema = fields[-3] if len(fields) >= 3 else ""
            self.column_refs.add((schema, fields[-2], fields[-1]))
            self.functions.add(fields[-1])

    def _A_Indirection(self, node: dict) -> None:
        for name in _strings([i for i in node.get("indirection") or [] if "String" in i]):
            self.functions.add(name)                 # `(x).f`: a field of x, or the call f(x)
            self.column_refs.add(("", "", name))     # never a known relation: treated as a possible call

    def _A_Expr(self, node: dict) -> None:
        names = _strings(node.get("name"))
        if len(names) > 1:
            raise _Refused(f"OPERATOR({'.'.join(names)}) syntax is not allowed (only built-in operators, "
                           f"written plainly)")
        kind = node.get("kind", "")
        left = _argument(node["lexpr"]) if node.get("lexpr") else ("none",)
        right = node.get("rexpr") or {}
        items = (right.get("List") or {}).get("items") if "List" in right else None
        if kind.startswith("AEXPR_BETWEEN") or kind.startswith("AEXPR_NOT_BETWEEN"):
            self.operators.update(_BETWEEN)
            for op in _BETWEEN:
                self.uses.update(("op", op, (left, _argument(i))) for i in items or [{}])
        elif names:
            self.operators.add(names[-1])
            if kind == "AEXPR_IN" and items is not None:
                self.uses.update(("op", names[-1], (left, _argument(i))) for i in items)
            else:
                self.uses.add(("op", names[-1], (left, _argument(right) if items is None else ("any",))))

    def _CaseExpr(self, node: dict) -> None:
        self.hidden_comparisons = self.hidden_comparisons or bool(node.get("arg"))

    def _MinMaxExpr(self, node: dict) -> None:
        self.hidden_comparisons = True

    def _SubLink(self, node: dict) -> None:
        self.hidden_comparisons = self.hidden_comparisons or bool(node.get("testexpr"))
        names = _strings(node.get("operName"))
        self.uses.update(("op", n, (("any",), ("any",))) for n in names[-1:])
        if len(names) > 1:
            raise _Refused(f"OPERATOR({'.'.join(names)}) syntax is not allowed")
        self.operators.update(names)

    def _TypeCast(self, node: dict) -> None:
        return   # its typeName is checked as a field

    def _TypeName(self, node: dict) -> None:
        self._type(node)

    def _type(self, node: dict) -> None:
        names = _strings(node.get("names"))
        if node.get("pct_type"):
            raise _Refused("%TYPE references are not allowed")
        name = names[-1] if names else ""
        if len(names) > 1 and names[:-1] != ["pg_catalog"]:
            raise _Refused(f"type {'.'.join(names)} is not allowed (only built-in types)")
        if _REG_TYPES.match(name.lower()) or name.lower() in ("aclitem", "_aclitem"):
            raise _Refused(f"cast to {name} (a catalog lookup by name) is not allowed")
        if name not in SAFE_TYPES:
            raise _Refused(f"type {name} is not allowed (only common built-in types)")
        if len(names) == 1:
            self.types.add(name)

    def _CollateClause(self, node: dict) -> None:
        names = _strings(node.get("collname"))
        if len(names) > 1 and names[:-1] != ["pg_catalog"]:
            raise _Refused(f"collation {'.'.join(names)} is not allowed (only built-in collations)")

    def _RangeVar(self, node: dict) -> None:
        schema, name = node.get("schemaname", ""), node.get("relname", "")
        if node.get("catalogname"):
            raise _Refused("cross-database references are not allowed")
        self.relations.add((schema, name))
        alias = (node.get("alias") or {}).get("aliasname") or name
        self.aliases.add((alias, schema, name))

    def _RangeSubselect(self, node: dict) -> None:
        alias = node.get("alias") or {}
        self.derived.add(alias.get("aliasname", ""))
        self._outputs(alias.get("aliasname", ""), node.get("subquery"), alias.get("colnames"))

    def _A_Const(self, node: dict) -> None:
        self.literals = self.literals or "sval" in node or "bsval" in node

    def _RangeFunction(self, node: dict) -> None:
        self.derived.add((node.get("alias") or {}).get("aliasname", ""))

    def _JoinExpr(self, node: dict) -> None:
        self.whole_rows = self.whole_rows or bool(node.get("isNatural"))
        self.hidden_comparisons = self.hidden_comparisons or bool(node.get("isNatural") or node.get("usingClause"))
        self.fields.update(_strings(node.get("usingClause")))
        if node.get("alias"):
            self.derived.add(node["alias"].get("aliasname", ""))


def _statement_body(sql: str) -> str:
    """The text up to the last token that is not `;` or a comment — drops trailing semicolons and comments."""
    meaningful = [t for t in scan(sql) if t.name not in ("ASCII_59", "SQL_COMMENT", "C_COMMENT")]
    return sql[: meaningful[-1].end + 1].strip() if meaningful else ""


@lru_cache(maxsize=4096)
def check_sql_once(sql: str) -> GuardResult:
    """`check_sql`, remembered per text, for the generation side, which judges the same text twice (a theme's
    answer, then the failure guess of early_checks). A verdict is never modified by its readers. The checks of
    sql_validation call `check_sql` itself."""
    return check_sql(sql)


def check_sql(sql: str) -> GuardResult:
    """Accept exactly one read-only SELECT statement, or say why not. Never raises for any text.

    >>> check_sql("SELECT 1").ok
    True
    >>> check_sql("SELECT 1; DROP TABLE t").reason
    'multiple statements (2); exactly one SELECT is allowed'
    """
    if not isinstance(sql, str) or not sql.strip():
        return _reject("empty SQL")
    try:
        tree = json.loads(parse_sql_json(sql))
    except ParseError as exc:
        return _reject(f"unparseable SQL (PostgreSQL parser): {str(exc)[:300]}")
    except RecursionError:
        return _reject("SQL nested too deeply to check (refused)")
    statements = tree.get("stmts") or []
    if not statements:
        return _reject("empty SQL (only comments or semicolons)")
    if len(statements) > 1:
        return _reject(f"multiple statements ({len(statements)}); exactly one SELECT is allowed")
    root = statements[0].get("stmt") or {}
    kind = next(iter(root), "")
    if kind != "SelectStmt" or root[kind].get("valuesLists"):
        return _reject(f"not a SELECT statement ({_leading_keyword(sql)}); only SELECT / WITH ... SELECT "
                       f"is allowed")
    collector = _Collector()
    try:
        collector.walk(root)
    except _Refused as refused:
        return _reject(str(refused))
    body = _statement_body(sql)
    if not body:
        return _reject("empty SQL (only comments or semicolons)")
    return GuardResult(ok=True, body=body, functions=tuple(sorted(collector.called)), names=collector.names())
