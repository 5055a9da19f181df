"""Mutation run over the safety code: break it on purpose, one small change at a time, and check that the tests that
cover it fail. Prints the score and every survivor. Not in CI (one pytest run per mutant).

A small purpose-built mutator (Python's `ast`), not mutmut: mutmut 3 runs its mutants from a `mutants/` copy through
trampolines and, without its per-test coverage, a whole suite per mutant; our tests start real servers and executor
subprocesses from the project root, and a full suite is ~6 min on 2 cores. Here each target names its functions and
the tests that cover them, and the mutants run in a private copy of the work tree (the developer's files are never
touched). Operators: comparison flips (== !=, < <=, > >=, in / not in, is / is not), and <-> or, dropping one operand
of and/or, dropping `not`, True <-> False, integer n -> n + 1, max <-> min, any <-> all, realpath -> abspath,
startswith -> endswith, dropping one keyword argument of a call, `raise` -> `pass`.

    .venv/bin/python bench/mutation_safety.py [--only safety.py,compute_gate] [--limit 40] [--list]

Edit TARGETS below when a module or its tests move (module path, functions, pytest arguments: one place).
"""
from __future__ import annotations

import argparse
import ast
import copy
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    module: str
    functions: tuple[str, ...]   # "name" or "Class.method"
    tests: tuple[str, ...]       # pytest arguments


TARGETS = (
    Target("core/business_db.py",
           ("vet_url", "vet_store_url", "_check_allowed_hosts", "_endpoints", "vet_connection", "connect_business",
            "business_readonly", "_connect_timeout"),
           # -k filters every file named: the modules are named in it too (test_zero_writes ran no test before)
           ("tests/test_business_db_rules.py", "tests/test_readonly_layers.py", "tests/test_security.py",
            "tests/test_zero_writes.py", "-k", "business_db_rules or readonly_layers or zero_writes or own_metadata "
            "or reached_our or superuser or old_import or server_file_roles or file_reading or vector_store_url "
            "or unreachable or allowed_hosts")),
    Target("core/secrets.py", ("is_secret_name", "_mask_query", "_mask_url_rest", "mask_url", "_mask_key_values",
                               "scrub_text", "mask_secrets"),
           # the planted-password runs (tests/test_secrets.py, ~50 s a mutant) prove the call sites, not these rules
           ("tests/test_masking_rules.py", "tests/test_masking.py", "tests/test_masking_libpq.py")),
    Target("data_pipeline/validation/guard.py", ("denied_function", "_strings", "_Collector", "_statement_body",
                                                 "check_sql"),
           ("tests/validation/test_sql_guard.py",)),
    Target("data_pipeline/validation/check.py", ("capped_query", "SqlChecker._connection", "SqlChecker.check",
                                                 "SqlChecker._execute"),
           ("tests/test_zero_writes.py", "tests/validation/test_sql_validation.py",
            "tests/validation/test_sql_check.py")),
    Target("data_pipeline/validation/catalog_check.py", ("catalog_problem", "_Reachable", "_user_objects_problem",
                                                         "_names_that_are_columns", "_columns_problem"),
           # test_extension_casts: the typing of calls and operators (implicit casts into user types)
           ("tests/validation/test_guard_corpus.py", "tests/validation/test_extension_casts.py", "-k",
            "checker_refuses or user_equals_operator or extension_casts")),
    Target("data_pipeline/schema/introspect.py", ("_text_columns", "_sample", "_profile", "_secret_view_columns",
                                                  "_withheld_columns"),
           # the fast direct tests of the sampling/profiling decisions first (-x stops a killed mutant there)
           ("tests/schema/test_sampling_decisions.py", "tests/schema/test_introspect.py",
            "tests/schema/test_secret_columns.py", "tests/test_privacy_canary.py")),
    Target("data_pipeline/schema/pii.py", ("is_withheld_by_catalog", "kind_by_name", "detect", "withhold",
                                           "protect_column", "_apply"),
           ("tests/schema/test_pii.py",)),
    Target("data_pipeline/taskfiles/safety.py", ("validate_file_name", "validate_subdir", "task_dir_path", "_inside",
                                                 "resolve_file", "open_nofollow"),
           ("tests/taskfiles/test_path_safety.py", "tests/taskfiles/test_symlinked_places.py")),
    Target("data_pipeline/taskfiles/table_list_server.py", ("allowed_path", "read_server_table_list"),
           ("tests/taskfiles/test_symlinked_places.py", "tests/test_security.py", "-k",
            "table_list or symlinked or named_table_list")),
    Target("data_pipeline/vectors/ownership.py", ("delete_task_rows", "reconcile_after_restore"),
           ("tests/vectors/test_vector_ownership.py",)),
    Target("citu_app.py", ("create_app",),
           ("tests/test_app_wiring.py", "tests/test_request_policy.py::test_the_token_guards_every_api_route",
            "tests/test_tasks_api.py::test_bearer_token_required_when_configured")),
    Target("data_pipeline/api/compute_gate.py", ("ComputeGate._take", "ComputeGate._enter", "ComputeGate._leave",
                                                  "ComputeGate.__call__"),
           ("tests/test_compute_gate.py", "-k", "not served")),
    Target("data_pipeline/executor/plan.py", ("final_task_status", "task_warnings"),
           ("tests/test_executor_plan.py",)),
    Target("core/client_db.py", ("parse", "_split", "hosts", "is_socket", "resolve", "is_ip", "allowed_host_rules",
                                 "vet", "check_allowed_hosts", "isolated", "pin", "failure_floor_s", "connect"),
           ("tests/test_client_db_vetting.py", "tests/test_client_connections.py")),
    Target("data_pipeline/api/request_policy.py", ("allowed_host_names", "host_name", "_netloc", "origin_allowed",
                                                   "_has_body", "register"),
           ("tests/test_request_policy_rules.py", "tests/test_request_policy.py")),
)

# Mutants judged equivalent after reading them: (module, description without its "line N: ", matched as a prefix
# [, text on the mutated line]) -> why. A constant's description names the expression around it, so `1 -> 2` of
# one place is not another's; the line text tells apart the same expression on two lines.
# Reported apart; the score is printed with them left out and, raw, with them counted as survivors.
EQUIVALENT: dict[tuple[str, ...], str] = {
    ("data_pipeline/taskfiles/safety.py", "3 -> 4"):
        "validate_file_name decodes %xx three or four times only to pick the reason; any '%' is refused after",
    ("data_pipeline/taskfiles/safety.py", "drop operand 2 of Or (Path(os.path.realpath(candidate)) != candidate)"):
        "task_dir_path: the id is validated (no '/', '.', '..') and the root is already resolved, so the real path "
        "differs only when the last component is a symlink, which islink() refuses first",
    ("data_pipeline/taskfiles/safety.py", "0 -> 1"):
        "open_nofollow: the getattr(os, 'O_NOFOLLOW' / 'O_CLOEXEC', 0) defaults are unused where the flags exist",
    ("data_pipeline/taskfiles/safety.py", "drop operand 2 of Or (not _inside(real, Path(os.path.realpath(task_dir)))"):
        "resolve_file: the next check (the real path is the path asked for) is stricter than inside-the-directory",
    ("data_pipeline/taskfiles/table_list_server.py", "1 -> 2 (in settings.max_upload_bytes + 1)"):
        "read_server_table_list: reading limit + 2 bytes detects an oversized file as well as limit + 1",
    ("data_pipeline/api/compute_gate.py", "1 -> 2 (in self._next_token += 1)"):
        "_enter: tokens counted in steps of 2 instead of 1 are still unique",
    ("data_pipeline/api/compute_gate.py", "GtE -> Gt (now - youngest >= self.bypass_after_s)"):
        "only the bypass comparison (now - youngest >= bypass_after_s) at exact float equality differs",
    ("data_pipeline/api/compute_gate.py", "drop operand 2 of And (not self._line)"):
        "_enter: _leave hands each freed slot to the line at once, so while anyone is in line every slot is held "
        "and `len(self._holders) < self.slots` is false already",
    ("data_pipeline/api/compute_gate.py", "drop keyword default= of max()"):
        "_enter: a request is in line only while every slot is held (see above) and __call__ never gates with "
        "0 slots, so the holders are never empty there",
    ("data_pipeline/api/compute_gate.py", "LtE -> Lt (self.slots <= 0)"):
        "__call__: with 0 slots the gated path finds no holder, `youngest` defaults to now - bypass_after_s and the "
        "request bypasses at once: it runs ungated either way (app_config forbids fewer than 0 slots)",
    # core/secrets.py, core/client_db.py, data_pipeline/api/request_policy.py (issue 27)
    ("core/secrets.py", "0 -> 1 (in at >= 0)"):
        "_mask_url_rest: at == 0 is an empty user-info (the text starts with '@'): no ':' in it, nothing to mask",
    ("core/secrets.py", "GtE -> Gt (at >= 0)"):
        "_mask_url_rest: at == 0 is an empty user-info (the text starts with '@'): no ':' in it, nothing to mask",
    ("core/secrets.py", "1 -> 2 (in len(user) + 1)"):
        "_mask_url_rest: the query is searched from the user-info's '@' or one past it; that character is '@'",
    ("core/secrets.py", "0 -> 1 (in scheme.group(0))", "+ MASK"):
        "mask_url's last resort for a URL: reached only when libpq cannot read the URL but reads a password out "
        "of its masked form; the textual URL mask covers every place libpq takes a password from (user-info and "
        "each secret-named query key), so with a scheme this line is not reached",
    ("core/secrets.py", "drop operand 2 of Or (not url)"):
        "mask_url: an empty string comes back unchanged either way (scrub_text returns it, libpq reads nothing)",
    ("core/secrets.py", "drop operand 1 of Or (not text)"):
        "scrub_text: an empty string passes every substitution unchanged",
    ("core/secrets.py", "drop operand 1 of And (key)"):
        "mask_secrets: SECRET_KEYS.search('') finds nothing, so an empty key is not a secret one either way",
    ("core/secrets.py", "Gt -> GtE (more > end)"):
        "_mask_key_values: with more == end the next key=value starts at or after end, so min() leaves end as is",
    ("core/business_db.py", "drop operand 2 of Or ('')", "business_db_allowed_hosts"):
        "vet_url: the setting is a str (default ''), and getattr's own default is '': `or ''` never applies",
    ("core/business_db.py", "drop keyword autocommit= of set_session()"):
        "connect_business: a new psycopg2 connection is not in autocommit; autocommit=False restates it",
    ("core/client_db.py", "drop operand 2 of Or ([''])"):
        "hosts: _split() always returns at least one item (''.split(',') is ['']), so `or ['']` never applies",
    ("core/client_db.py", "drop operand 2 of And (addrs[i])"):
        "hosts: an empty hostaddr item gives '' with or without the test (`addrs[i] if ... else ''`)",
    ("core/client_db.py", "drop keyword proto= of getaddrinfo()"):
        "resolve: without proto getaddrinfo lists each address once per socket type; the set of addresses is the "
        "same",
    ("core/client_db.py", "drop operand 3 of And (not params.get('hostaddr'))"):
        "check_allowed_hosts: hosts() already puts a given hostaddr in its host's place, so the address checked "
        "and pinned is the given hostaddr itself",
    ("core/client_db.py", "drop operand 2 of And (not params.get('hostaddr'))"):
        "pin: hosts() puts a given hostaddr in its host's place, and an address is never resolved (is_ip), so a "
        "URL with hostaddr is left alone either way",
    ("data_pipeline/api/request_policy.py", "1 -> 2 (in host.rsplit(':', 1))"):
        "host_name splits only a host holding exactly one ':': a maxsplit of 1 or 2 is the same",
    ("data_pipeline/api/request_policy.py", "1 -> 2 (in netloc.rsplit(']', 1))"):
        "_netloc uses only the last piece ([-1]), which is the same whatever the maxsplit",
    ("data_pipeline/api/request_policy.py", "drop operand 1 of Or (netloc.endswith(']'))"):
        "_netloc: after a final ']' the last piece is '', which holds no ':', so the second test is true as well",
    # data_pipeline/validation/{guard,check,catalog_check}.py, data_pipeline/schema/pii.py (issue 27)
    ("data_pipeline/validation/guard.py", "1 -> 2 (in name.lower().rsplit('.', 1))"):
        "denied_function: rsplit('.', 2)[-1] is the same last piece as rsplit('.', 1)[-1]",
    ("data_pipeline/validation/guard.py", "drop operand 1 of And (isinstance(i, dict))"):
        "_strings: the parser's JSON lists (funcname, names, fields, indirection) hold only node dicts",
    ("data_pipeline/validation/guard.py", "drop operand 2 of Or ({})",
     'select = (query or {}).get("SelectStmt") or {}'):
        "_outputs: a subquery is always a SelectStmt, and a CTE holding INSERT/UPDATE/DELETE is refused before",
    ("data_pipeline/validation/guard.py", "drop operand 2 of Or ({})", 'target = item.get("ResTarget") or {}'):
        "_outputs: every item of a SELECT's target list is a ResTarget",
    ("data_pipeline/validation/guard.py", "drop operand 2 of Or ({})",
     'fields = _strings(((target.get("val") or {}).get("ColumnRef") or {}).get("fields"))'):
        "_outputs: a SELECT's ResTarget always has a val (the other `or {}` of this line is killed)",
    ("data_pipeline/validation/guard.py", "And -> Or", "if kind[:1].isupper() and isinstance(value, dict):"):
        "walk: inside a SELECT's tree a one-key dict is a node wrapper {Kind: {...}} or holds a scalar or list; the "
        "one-key {'relation': {...}} / {'funccall': {...}} of DELETE / CALL never reach the walk (checked over the "
        "~200 statements of the guard corpora)",
    ("data_pipeline/validation/guard.py", "drop operand 1 of And (kind[:1].isupper())",
     "if kind[:1].isupper() and isinstance(value, dict):"):
        "walk: as `And -> Or` on this line",
    ("data_pipeline/validation/guard.py", "drop operand 2 of And (isinstance(value, dict))",
     "if kind[:1].isupper() and isinstance(value, dict):"):
        "walk: a capitalised one-key dict is always a node wrapping a dict in libpg_query's JSON",
    ("data_pipeline/validation/guard.py", "drop operand 1 of And (key == 'alias')"):
        "_field: only Alias fields carry an aliasname; for any other dict the test is denied_function('') = None",
    ("data_pipeline/validation/guard.py", "drop operand 2 of And (isinstance(value, dict))"):
        "_field: an `alias` field is always an Alias dict (the walk's line-167 twin is listed above by line)",
    ("data_pipeline/validation/guard.py", "In -> NotIn (key in ('withClause', 'over'))"):
        "_field: returningList / onConflictClause / pct_type cannot occur in a SELECT's tree (DML is refused before, "
        "%TYPE only parses in function signatures): the branch it skips is unreachable",
    ("data_pipeline/validation/guard.py", "raise -> pass (raise _Refused(f'{key} is not allowed in a query'))"):
        "_field: unreachable, as above",
    ("data_pipeline/validation/guard.py",
     "raise -> pass (raise _Refused(f'{_STATEMENT_WORDS[kind]} inside the query: )"):
        "_node: INSERT/UPDATE/DELETE/MERGE nodes occur in a SELECT only as a CTE's query, which _CommonTableExpr "
        "refuses before its children are walked; unreachable (and still refused by the allowlist next)",
    ("data_pipeline/validation/guard.py", "drop operand 2 of Or ({})", 'query = node.get("ctequery") or {}'):
        "_CommonTableExpr: a CTE always has its ctequery",
    ("data_pipeline/validation/guard.py", "drop operand 2 of Or ([])",
     'for name in _strings([i for i in node.get("indirection") or [] if "String" in i]):'):
        "_A_Indirection: an A_Indirection always has its indirection list",
    ("data_pipeline/validation/guard.py", "raise -> pass (raise _Refused('%TYPE references are not allowed'))"):
        "_type: %TYPE parses only in function signatures, never in a SELECT",
    ("data_pipeline/validation/guard.py", "drop operand 2 of Or ([])", 'statements = tree.get("stmts") or []'):
        "check_sql: `not None` and `not []` both answer 'no statement'",
    ("data_pipeline/validation/guard.py", "drop operand 2 of Or ({})", 'root = statements[0].get("stmt") or {}'):
        "check_sql: every parsed statement has its stmt",
    # _A_Expr: checked on pglast's trees of every A_Expr kind (OP, OP_ANY/ALL, DISTINCT, NULLIF, LIKE, ILIKE,
    # SIMILAR, IN, BETWEEN and NOT/SYM variants, prefix operators, row comparisons): rexpr is always there, a List
    # only for IN and BETWEEN, never empty (`IN ()` does not parse)
    ("data_pipeline/validation/guard.py", "drop operand 2 of Or ({})", 'right = node.get("rexpr") or {}'):
        "_A_Expr: every A_Expr has its rexpr (postfix operators are gone since PostgreSQL 14)",
    ("data_pipeline/validation/guard.py", "drop operand 2 of Or ({})", '(right.get("List") or {}).get("items")'):
        "_A_Expr: a List node written in SQL always holds its items",
    ("data_pipeline/validation/guard.py", "drop operand 2 of Or ([{}])", "for i in items or [{}]"):
        "_A_Expr: BETWEEN's rexpr is always a List of two items",
    ("data_pipeline/validation/guard.py", "And -> Or", 'if kind == "AEXPR_IN" and items is not None:'):
        "_A_Expr: past BETWEEN, the rexpr is a List exactly when the kind is AEXPR_IN",
    ("data_pipeline/validation/guard.py", "drop operand 1 of And (kind == 'AEXPR_IN')",
     'if kind == "AEXPR_IN" and items is not None:'):
        "_A_Expr: past BETWEEN, the rexpr is a List only for AEXPR_IN",
    ("data_pipeline/validation/guard.py", "drop operand 2 of And (items is not None)",
     'if kind == "AEXPR_IN" and items is not None:'):
        "_A_Expr: an AEXPR_IN's rexpr is always a List (`x IN (SELECT ...)` is a SubLink, not an A_Expr)",
    ("data_pipeline/validation/guard.py", "1 -> 2 (in -1:)", "for n in names[-1:]"):
        "_SubLink: a qualified operator name is refused two lines down; for one name [-2:] is [-1:]",
    ("data_pipeline/validation/guard.py", "drop operand 2 of And (fields[0] != '*')",
     'if len(fields) == 1 and fields[0] != "*":'):
        "_ColumnRef: `bare` is only intersected with table, alias and derived names; a lone `*` sets whole_rows itself",
    ("data_pipeline/validation/check.py", "drop operand 1 of Or (fresh)"):
        "_connection: fresh=True is passed only after _execute raised, which it does only on a closed connection",
    ("data_pipeline/validation/check.py", "Or -> And", "if conn is not None and (fresh or conn.closed):"):
        "_connection: a closed connection used anyway fails at cursor() and _check's retry reconnects (fresh): same "
        "verdict, same one reconnect; masked by that retry rather than strictly equivalent",
    ("data_pipeline/validation/check.py", "drop operand 2 of Or (conn.closed)"):
        "_connection: as `Or -> And` on this line, the retry in _check reconnects the closed connection",
    # (the closure's ok() and __call__ share this line's text but for `reached` / `self.reached`)
    ("data_pipeline/validation/catalog_check.py", "0 -> 1", "return oid == 0 or oid not in self.user or oid in "):
        "_Reachable: 0 (no type) is never a user type's oid, so `oid not in self.user` answers too",
    ("data_pipeline/validation/catalog_check.py", "drop operand 1 of Or (oid == 0)",
     "return oid == 0 or oid not in self.user or oid in "):
        "_Reachable: as `0 -> 1` on this line",
    ("data_pipeline/validation/catalog_check.py", "drop operand 1 of And (oid in self.user)"):
        "cast_only: both closures start from the types read and add only user types, direct within reached",
    ("data_pipeline/validation/catalog_check.py", "drop operand 2 of And (oid in self.reached)"):
        "cast_only: an unreached user argument keeps its function or operator out anyway (all arguments reached)",
    ("data_pipeline/validation/catalog_check.py", "drop operand 1 of And (source_oid in reach.user)"):
        "the cast rule: the built-in types in reach.direct are the types read, already in `produced`",
    ("data_pipeline/validation/catalog_check.py", "drop operand 2 of And (a not in self.user)"):
        "sources: a user type the statement holds is direct, so a type it casts into is direct, never cast_only",
    ("data_pipeline/validation/catalog_check.py", "And -> Or",
     "if oid is not None and (schema or relname not in derived):"):
        "_columns_problem: an alias of an unresolved table then maps to {None}, never a column: the same refusal as "
        "no target at all",
    ("data_pipeline/validation/catalog_check.py", "drop operand 2 of And (schema or relname not in derived)"):
        "_columns_problem: catalog_problem never resolves an unqualified derived name (it is left out of the "
        "catalog read), so oid is None for it and `oid is not None` alone decides",
    ("data_pipeline/validation/catalog_check.py", "drop operand 2 of And (rel in derived)"):
        "_columns_problem: derived_columns are recorded for subqueries and CTEs only, all of them derived names: "
        "outside them outputs.get(rel, ()) is empty",
    ("data_pipeline/validation/catalog_check.py", "drop operand 1 of And (oid is not None)"):
        "_columns_problem: as `And -> Or` on this line; an alias naming a resolved table too (another scope) fails "
        "in PostgreSQL on the unresolved one",
    ("data_pipeline/validation/catalog_check.py", "drop operand 2 of And (category == 'A')",
     '(elem and category == "A" and ok(elem))'):
        "_Reachable: a type with an element that is no array is a C base type declared with ELEMENT (point, name...); "
        "none can be made in SQL, and pg_catalog's own are not user types",
    ("data_pipeline/schema/pii.py", "drop operand 1 of Or (not name)"):
        "kind_by_name: always given a str (kind_by_meta passes comment_head(None) == ''), and '' matches no rule",
    ("data_pipeline/schema/pii.py", "drop operand 2 of Or ('')",
     'if is_key or names_a_fact_not_a_value(column.name) or _NO_PII_TYPES.match(column.data_type or ""):'):
        "detect: Column.data_type is always a str",
    ("data_pipeline/schema/pii.py", "drop operand 1 of Or (column.data_type)",
     'if is_key or names_a_fact_not_a_value(column.name) or _NO_PII_TYPES.match(column.data_type or ""):'):
        "detect: without the date/time/boolean early return the closing _type_allows refuses those types (values "
        "never give birth_date)",
    ("data_pipeline/schema/pii.py", "Or -> And",
     'if is_key or names_a_fact_not_a_value(column.name) or _NO_PII_TYPES.match(column.data_type or ""):'):
        "detect: the inner `column.data_type or ''` as above (the outer `is_key or ...` of this line is killed)",
    ("data_pipeline/schema/pii.py", "drop operand 3 of Or (_NO_PII_TYPES.match(column.data_type or ''))"):
        "detect: values never give birth_date, and the closing _type_allows refuses every other kind on "
        "date/time/boolean types",
    # data_pipeline/schema/introspect.py (issue 27)
    ("data_pipeline/schema/introspect.py", "0 -> 1 (in table.row_estimate or 0)", "rows_known = "):
        "_sample: no estimate read as 0 or 1 rows is below TABLESAMPLE_FROM either way, the only use of rows_known",
    ("data_pipeline/schema/introspect.py", "GtE -> Gt (nd >= 0)"):
        "_profile: n_distinct 0 (an all-null column, or unknown) gives 0 both ways: int(0), int(round(-0.0 * rows))",
    ("data_pipeline/schema/introspect.py", "drop operand 1 of And (mcv)"):
        "_profile: without most common values the list built is [], the column's top_values as it came",
}

# Survivors that do change behaviour but that no test here can reach, with why: still scored as survivors.
KNOWN_SURVIVORS: dict[tuple[str, ...], str] = {
    ("data_pipeline/validation/catalog_check.py", "any -> all", "if not targets or any((oid, field) not in "):
        "_columns_problem: needs one alias naming two tables (two scopes) where x.f is a column of one only and f "
        "a built-in function off the allowlist; the attack database has no column named like one (a user "
        "function of that name is refused earlier, by _user_objects_problem)",
    ("core/secrets.py", "drop operand 1 of Or ('://' in value)"):
        "mask_secrets: a URL value holding a secret query key still goes to mask_url (_looks_like_dsn reads it); "
        "one without goes to scrub_text, which masks its user-info alike; only trailing whitespace (mask_url "
        "trims it) or a 'pwd=' inside a path (scrub_text masks it too) tell them apart",
    ("core/business_db.py", "200 -> 201 (in :200)"):
        "vet_connection cuts a failed role check's text at 200 characters; the refusals a real server gives there "
        "(permission denied for view pg_roles, statement timeout) are far shorter",
    ("core/business_db.py", "drop operand 1 of Or (superuser)"):
        "on PostgreSQL 11+ pg_has_role counts a superuser as a member of every role, so its server-file "
        "memberships are never empty; the superuser test matters on a server without these roles (< 11)",
}

SWAP_NAMES = {"max": "min", "min": "max", "any": "all", "all": "any", "realpath": "abspath",
              "startswith": "endswith"}
SWAP_COMPARE = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
                ast.GtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}


class Mutator(ast.NodeTransformer):
    """Walks the chosen functions; with `apply=k` changes the k-th mutation point, else only lists them."""

    def __init__(self, functions: tuple[str, ...], apply: int = -1):
        self.functions, self.apply = functions, apply
        self.points: list[str] = []
        self.scope: list[str] = []
        self.stack: list[ast.AST] = []   # the nodes being visited, outermost first

    def visit(self, node):
        self.stack.append(node)
        try:
            return super().visit(node)
        finally:
            self.stack.pop()

    def _context(self) -> str:
        """The expression around the current node (past a unary minus): tells `1 -> 2` of `[-1]` from `, 1)`."""
        parents = [n for n in self.stack[:-1] if not isinstance(n, ast.UnaryOp)]
        return ast.unparse(parents[-1])[:60] if parents else ""

    def _point(self, node: ast.AST, desc: str) -> bool:
        self.points.append(f"line {getattr(node, 'lineno', '?')}: {desc}")
        return len(self.points) - 1 == self.apply

    def _in_target(self) -> bool:
        return any(".".join(self.scope[:i + 1]) in self.functions or ".".join(self.scope[i:]) in self.functions
                   for i in range(len(self.scope)))

    def _scoped(self, node):
        self.scope.append(node.name)
        try:
            return self.generic_visit(node)
        finally:
            self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def visit_Compare(self, node):
        self.generic_visit(node)
        if self._in_target():
            for i, op in enumerate(node.ops):
                new = SWAP_COMPARE.get(type(op))
                if new and self._point(node, f"{type(op).__name__} -> {new.__name__} ({ast.unparse(node)[:60]})"):
                    node.ops[i] = new()
        return node

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        if not self._in_target():
            return node
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        if self._point(node, f"{type(node.op).__name__} -> {other.__name__}"):
            node.op = other()
        for i, value in enumerate(list(node.values)):
            if self._point(node, f"drop operand {i + 1} of {type(node.op).__name__} ({ast.unparse(value)[:60]})"):
                rest = node.values[:i] + node.values[i + 1:]
                return rest[0] if len(rest) == 1 else ast.BoolOp(op=node.op, values=rest)
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if self._in_target() and isinstance(node.op, ast.Not) and \
                self._point(node, f"drop not ({ast.unparse(node.operand)[:60]})"):
            return node.operand
        return node

    def visit_Constant(self, node):
        if self._in_target():
            if isinstance(node.value, bool):
                if self._point(node, f"{node.value} -> {not node.value} (in {self._context()})"):
                    return ast.copy_location(ast.Constant(not node.value), node)
            elif isinstance(node.value, int) and \
                    self._point(node, f"{node.value} -> {node.value + 1} (in {self._context()})"):
                return ast.copy_location(ast.Constant(node.value + 1), node)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if not self._in_target():
            return node
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name in SWAP_NAMES and self._point(node, f"{name} -> {SWAP_NAMES[name]}"):
            if isinstance(func, ast.Name):
                func.id = SWAP_NAMES[name]
            else:
                func.attr = SWAP_NAMES[name]
        for i, kw in enumerate(list(node.keywords)):
            if kw.arg and self._point(node, f"drop keyword {kw.arg}= of {name}()"):
                node.keywords = node.keywords[:i] + node.keywords[i + 1:]
                break
        return node

    def visit_Raise(self, node):
        self.generic_visit(node)
        if self._in_target() and self._point(node, f"raise -> pass ({ast.unparse(node)[:60]})"):
            return ast.copy_location(ast.Pass(), node)
        return node


def mutants(source: str, functions: tuple[str, ...]) -> list[tuple[str, str]]:
    """(description, mutated source) for every point that changes the code."""
    tree = ast.parse(source)
    lister = Mutator(functions)
    lister.visit(copy.deepcopy(tree))
    original = ast.unparse(tree)
    out = []
    for k, desc in enumerate(lister.points):
        mutated = ast.unparse(ast.fix_missing_locations(Mutator(functions, apply=k).visit(copy.deepcopy(tree))))
        if mutated != original:
            out.append((desc, mutated))
    return out


def make_copy() -> Path:
    """The work tree's files (tracked and new) in a temporary directory, the project's venv linked in."""
    dest = Path(tempfile.mkdtemp(prefix="dp_mutation_"))
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, names):
        src = ROOT / name
        if src.is_file() and not src.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    (dest / ".venv").symlink_to((ROOT / ".venv").resolve())
    return dest


def survivors_in(output: Path) -> dict[str, list[str]]:
    """module -> descriptions of the mutants an earlier run printed as SURVIVED."""
    found: dict[str, list[str]] = {}
    module = None
    for line in output.read_text(encoding="utf-8").splitlines():
        if line.startswith("== "):
            module = line[3:].split(":", 1)[0]
        elif " SURVIVED " in line and module:
            found.setdefault(module, []).append(line.split(" SURVIVED ", 1)[1].rsplit(" (", 1)[0])
    return found


def run_tests(workdir: Path, args: tuple[str, ...], timeout: float) -> tuple[str, float]:
    """One pytest session; its temporary files (the test data home with its embedded PostgreSQL, which conftest
    keeps after a failed session) go in a directory removed afterwards: 200 killed mutants would leave 50 GB."""
    started = time.monotonic()
    scratch = workdir / ".mutation_tmp"
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(scratch)}
    proc = subprocess.Popen([str(workdir / ".venv/bin/python"), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                             "--basetemp", str(scratch / "pytest"), *args], cwd=workdir, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)  # the test process turns SIGTERM into an exit: its PostgreSQL stops
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        rc = None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if rc is None:
        return "timeout", time.monotonic() - started
    return {0: "passed", 5: "no tests"}.get(rc, "failed"), time.monotonic() - started


def equivalent_why(module: str, desc: str, source: str, table: dict | None = None) -> str | None:
    """Why this mutant is equivalent, when EQUIVALENT (or `table`) says so: the description matches as a prefix
    and, for a key with a third element, that text is on the mutated line of the original source (line numbers may
    move)."""
    where, bare = desc.split(": ", 1)
    lineno = int(where.split()[1]) if where.split()[1].isdigit() else 0
    lines = source.splitlines()
    line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
    for key, why in (EQUIVALENT if table is None else table).items():
        if key[0] == module and bare.startswith(key[1]) and (len(key) < 3 or key[2] in line):
            return why
    return None


def _score(killed: int, survived: int, equivalent: int) -> str:
    scored = killed + survived
    return (f"killed {killed}, survived {survived}, equivalent {equivalent}: score "
            f"{100 * killed / max(scored, 1):.1f} % of {scored} (equivalent mutants not scored); raw "
            f"{100 * killed / max(scored + equivalent, 1):.1f} % of {scored + equivalent}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="", help="comma-separated substrings of module paths")
    parser.add_argument("--limit", type=int, default=0, help="at most N mutants per module (seeded sample)")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--rerun", type=Path, help="only the survivors printed in this earlier output")
    args = parser.parse_args()
    targets = [t for t in TARGETS if not args.only or any(o in t.module for o in args.only.split(","))]
    earlier = survivors_in(args.rerun) if args.rerun else None
    if earlier is not None:
        targets = [t for t in targets if t.module in earlier]
    workdir = None if args.list else make_copy()
    killed = survived = equivalent = 0
    survivors: list[str] = []
    try:
        for target in targets:
            path = (workdir or ROOT) / target.module
            source = path.read_text(encoding="utf-8")
            found = mutants(source, target.functions)
            if earlier is not None:
                found = [(d, m) for d, m in found if any(d.startswith(e) for e in earlier[target.module])]
            if args.limit and len(found) > args.limit:
                found = sorted(random.Random(27).sample(found, args.limit))
            print(f"== {target.module}: {len(found)} mutants; tests: {' '.join(target.tests)}", flush=True)
            if args.list:
                for desc, _ in found:
                    print(f"   {desc}")
                continue
            status, base_s = run_tests(workdir, target.tests, 1800)
            if status != "passed":
                print(f"   the unmutated tests did not pass ({status}): module skipped", flush=True)
                continue
            before = (killed, survived, equivalent)
            try:
                for n, (desc, mutated) in enumerate(found, start=1):
                    path.write_text(mutated, encoding="utf-8")
                    status, took = run_tests(workdir, target.tests, max(120.0, 3 * base_s))
                    why = equivalent_why(target.module, desc, source)
                    if status in ("failed", "timeout"):
                        killed += 1
                        print(f"   [{n}/{len(found)}] killed ({status}, {took:.0f} s) {desc}", flush=True)
                    elif why:
                        equivalent += 1
                        print(f"   [{n}/{len(found)}] equivalent {desc}: {why}", flush=True)
                    else:
                        survived += 1
                        known = equivalent_why(target.module, desc, source, KNOWN_SURVIVORS)
                        note = f" - known: {known}" if known else ""
                        survivors.append(f"{target.module} {desc}{note}")
                        print(f"   [{n}/{len(found)}] SURVIVED {desc} ({status}){note}", flush=True)
            finally:
                path.write_text(source, encoding="utf-8")
            print(f"-- {target.module}: " + _score(killed - before[0], survived - before[1], equivalent - before[2]),
                  flush=True)
        if not args.list:
            print("\n" + _score(killed, survived, equivalent))
            for line in survivors:
                print(f"  survivor: {line}")
    finally:
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
