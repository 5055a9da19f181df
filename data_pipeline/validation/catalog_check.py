"""What a statement names, checked against the business database's own catalog, before it is planned or run.

The static guard (guard.py) reads the SQL with PostgreSQL's parser but cannot know what a name resolves to in
one particular database. PostgreSQL resolves an unqualified function, operator or type through the search path,
and column notation `x.f` (or `(x).f`) is the call `f(x)` whenever `f` is not a column of `x`. A business
database may define `public.count`, a `first(anyelement)` aggregate, an operator `=` on a user type, a domain
`text` whose CHECK calls a function, or `evil_sleep(t)`: each would run inside our read-only transaction. So,
on the checking connection (same session, same search path, inside the READ ONLY transaction, before EXPLAIN),
in one statement whose own names are all schema-qualified:
- no function named by the statement (called, or reachable through column notation) exists outside
  `pg_catalog` for argument types the statement can pass (`_Reachable`): built-in types, the types of the
  columns it reads (all of them under `*` or NATURAL JOIN) and of the rows of its tables, a domain over or an
  array of one, the target of an implicit cast from one. PostgreSQL resolves a call by its argument types, so
  pgvector's `public.avg(vector)` takes no part in AVG over a numeric column, while a `public.lower(text)`, a
  `first(anyelement)` or `evil(t)` would be candidates and are refused. A name used only as `x.f` where f is
  a real column of every table x can be is a column, not a call;
- no operator the statement writes or implies (`=`, `<`, ... for ORDER BY, GROUP BY, IN, CASE; any operator of
  an operator class) exists outside `pg_catalog` for reachable operand types;
- except where an argument is a user type the statement reaches only through an implicit cast from a built-in
  type (PostGIS: text -> geometry, with `=`, `<`, `&&` on geometry in public): PostgreSQL takes a built-in
  overload that matches the operands exactly first, so such a function or operator is refused only when some
  combination of the built-in types the statement can produce has no exact built-in match (`text_col =
  bytea_col`, both cast to geometry), and an operator class's operator on it is never applied (`_Picks`);
- no type it names is a domain or lives outside `pg_catalog`;
- every table it reads resolves outside the system schemas (`pg_catalog`, `information_schema`, `pg_toast`);
- `x.f` where `f` is a built-in function not on the allowlist must be a real column of the table `x` (or an
  output column the tree names plainly, for a subquery or CTE `x`);
- no cast implemented by a function outside `pg_catalog` goes from a type the statement can hold (reads, writes
  as a literal or a cast, gets from a built-in function or operator) to a built-in type (implicit casts are not
  written anywhere), nor ends at a type the statement names.
Every look-up is a catalog read by name, never the statement itself: nothing of it is planned or executed.
"""
from __future__ import annotations

import itertools
from typing import Optional, Sequence

from data_pipeline.validation.allowed_functions import ALLOWED_FUNCTIONS
from data_pipeline.validation.guard import IMPLICIT_OPERATORS, CatalogNames

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")

# One statement, every name in it schema-qualified (relations, functions, types, and operators written as
# OPERATOR(pg_catalog.=)): a hostile database must not answer its own questions — a domain named `text`, an
# operator `=` or a table `pg_proc` ahead of pg_catalog in its search path would otherwise run inside them.
_EQ, _NE, _GT, _CAT, _MINUS = "OPERATOR(pg_catalog.=)", "OPERATOR(pg_catalog.<>)", "OPERATOR(pg_catalog.>)", \
    "OPERATOR(pg_catalog.||)", "OPERATOR(pg_catalog.-)"
_T, _N = "pg_catalog.text", "pg_catalog.name"
_CATALOG_SQL = f"""
WITH RECURSIVE path AS (SELECT pg_catalog.current_schemas(true) AS p),
rel AS (
  SELECT r.ord, found.oid, found.nspname, found.reltype
    FROM ROWS FROM (pg_catalog.unnest(%(schemas)s::{_T}[]), pg_catalog.unnest(%(relnames)s::{_T}[]))
         WITH ORDINALITY AS r(schema, name, ord)
    CROSS JOIN path
    CROSS JOIN LATERAL (
      SELECT c.oid, n.nspname, c.reltype FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} c.relnamespace
       WHERE c.relname {_EQ} r.name::{_N}
         AND CASE WHEN r.schema {_EQ} ''::{_T} THEN n.nspname {_EQ} ANY (path.p) ELSE n.nspname {_EQ} r.schema::{_N} END
       ORDER BY pg_catalog.array_position(path.p, n.nspname) LIMIT 1) AS found),
fn AS (
  SELECT p.proname, n.nspname,
         (p.proargtypes::pg_catalog.oid[])[0:(p.pronargs {_MINUS} p.pronargdefaults {_MINUS} 1::pg_catalog.int2)] AS args
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} p.pronamespace
   WHERE p.proname {_EQ} ANY (%(functions)s::{_N}[]) AND n.nspname {_NE} 'pg_catalog'::{_N}),
op AS (
  SELECT o.oprname, n.nspname, o.oprleft, o.oprright
    FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} o.oprnamespace
   WHERE n.nspname {_NE} 'pg_catalog'::{_N}
     AND (o.oprname {_EQ} ANY (%(operators)s::{_N}[])
          OR EXISTS (SELECT 1 FROM pg_catalog.pg_amop a WHERE a.amopopr {_EQ} o.oid))),
ucast AS (
  SELECT c.castsource, c.casttarget, n.nspname, p.proname
    FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_proc p ON p.oid {_EQ} c.castfunc
    JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} p.pronamespace
   WHERE n.nspname {_NE} 'pg_catalog'::{_N}),
-- the user types whose reachability decides a candidate: its argument types, then what makes each of them
-- reachable (a domain's base type, an array's element, the source of an implicit cast into it), recursively
deps(oid) AS (
  SELECT pg_catalog.unnest(fn.args) FROM fn
  UNION SELECT op.oprleft FROM op UNION SELECT op.oprright FROM op
  UNION SELECT ucast.castsource FROM ucast UNION SELECT ucast.casttarget FROM ucast
  UNION
  SELECT v.x FROM deps d JOIN pg_catalog.pg_type t ON t.oid {_EQ} d.oid
    JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} t.typnamespace AND n.nspname {_NE} 'pg_catalog'::{_N}
    CROSS JOIN LATERAL (SELECT t.typbasetype UNION ALL SELECT t.typelem UNION ALL
                        SELECT c.castsource FROM pg_catalog.pg_cast c
                         WHERE c.casttarget {_EQ} d.oid AND c.castcontext {_EQ} 'i'::"char") AS v(x)
   WHERE v.x {_NE} 0::pg_catalog.oid),
usertype AS (
  SELECT t.oid, t.typtype, t.typbasetype, t.typelem, t.typcategory
    FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} t.typnamespace
   WHERE t.oid {_EQ} ANY (SELECT deps.oid FROM deps) AND n.nspname {_NE} 'pg_catalog'::{_N})
SELECT 'function'::{_T}, fn.proname::{_T}, fn.nspname::{_T}, pg_catalog.array_to_string(fn.args, ','::{_T}),
       ''::{_T} FROM fn
UNION ALL
SELECT 'operator'::{_T}, op.oprname::{_T}, op.nspname::{_T}, op.oprleft::{_T}, op.oprright::{_T} FROM op
UNION ALL
SELECT 'type'::{_T}, t.typname::{_T}, n.nspname::{_T}, t.typtype::{_T}, ''::{_T}
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} t.typnamespace
 WHERE t.typname {_EQ} ANY (%(types)s::{_N}[])
   AND (n.nspname {_NE} 'pg_catalog'::{_N} OR t.typtype {_EQ} 'd'::"char")
UNION ALL
SELECT 'usertype'::{_T}, u.oid::{_T}, u.typtype::{_T}, u.typbasetype::{_T} {_CAT} ','::{_T} {_CAT} u.typelem::{_T},
       u.typcategory::{_T} FROM usertype u
UNION ALL
SELECT DISTINCT 'callable'::{_T}, p.proname::{_T}, ''::{_T}, ''::{_T}, ''::{_T}
  FROM pg_catalog.pg_proc p WHERE p.proname {_EQ} ANY (%(fields)s::{_N}[])
UNION ALL
SELECT 'relation'::{_T}, rel.ord::{_T}, rel.oid::{_T}, rel.nspname::{_T}, rel.reltype::{_T} FROM rel
UNION ALL
SELECT 'column'::{_T}, a.attrelid::{_T}, a.attname::{_T}, a.atttypid::{_T}, ''::{_T} FROM pg_catalog.pg_attribute a
 WHERE a.attrelid {_EQ} ANY (SELECT rel.oid FROM rel) AND a.attnum {_GT} 0 AND NOT a.attisdropped
UNION ALL
SELECT 'implicit'::{_T}, c.castsource::{_T}, c.casttarget::{_T}, ''::{_T}, ''::{_T} FROM pg_catalog.pg_cast c
 WHERE c.castcontext {_EQ} 'i'::"char" AND c.casttarget {_EQ} ANY (SELECT usertype.oid FROM usertype)
UNION ALL
SELECT 'catop'::{_T}, o.oprname::{_T}, o.oprleft::{_T}, o.oprright::{_T}, o.oprresult::{_T}
  FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} o.oprnamespace
 WHERE n.nspname {_EQ} 'pg_catalog'::{_N}
   AND (o.oprname {_EQ} ANY (%(operators)s::{_N}[]) OR o.oprname {_EQ} ANY (SELECT op.oprname FROM op))
UNION ALL
SELECT 'catfn'::{_T}, p.proname::{_T}, pg_catalog.array_to_string(p.proargtypes::pg_catalog.oid[], ','::{_T}),
       p.prorettype::{_T}, ''::{_T}
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} p.pronamespace
 WHERE n.nspname {_EQ} 'pg_catalog'::{_N} AND p.proname {_EQ} ANY (%(functions)s::{_N}[])
UNION ALL
SELECT 'named'::{_T}, t.oid::{_T}, ''::{_T}, ''::{_T}, ''::{_T}
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid {_EQ} t.typnamespace
 WHERE n.nspname {_EQ} 'pg_catalog'::{_N} AND t.typname {_EQ} ANY (%(types)s::{_N}[])
UNION ALL
SELECT 'cast'::{_T}, pg_catalog.format_type(u.castsource, NULL), pg_catalog.format_type(u.casttarget, NULL),
       u.nspname::{_T} {_CAT} '.'::{_T} {_CAT} u.proname::{_T},
       u.castsource::{_T} {_CAT} ','::{_T} {_CAT} u.casttarget::{_T} {_CAT} ','::{_T} {_CAT}
       (u.casttarget {_EQ} ANY (SELECT t.oid FROM pg_catalog.pg_type t
                                 WHERE t.typname {_EQ} ANY (%(types)s::{_N}[])))::pg_catalog.int4::{_T}
  FROM ucast u
"""


def catalog_problem(cur, names: CatalogNames) -> Optional[str]:
    """The first thing the statement names that does not resolve into PostgreSQL's own catalog, as a reason;
    None when everything does. `cur` is a cursor of the checking transaction (READ ONLY). One round trip."""
    derived = set(names.derived)
    relations = [(s, r) for s, r in names.relations if s or r not in derived]
    cur.execute(_CATALOG_SQL, {
        "functions": list(names.functions), "operators": list(names.operators), "types": list(names.types),
        "fields": sorted({f for _, _, f in names.column_refs}), "schemas": [s for s, _ in relations],
        "relnames": [r for _, r in relations]})
    rows = cur.fetchall()
    by_kind: dict[str, list[tuple]] = {}
    for kind, *rest in rows:
        by_kind.setdefault(kind, []).append(tuple(rest))
    for name, schema, typtype, _ in by_kind.get("type", []):
        what = "a domain" if typtype == "d" else f"a type of schema {schema}"
        return f"type {name} is {what} in this database: only built-in types"
    resolved: dict[tuple[str, str], int] = {}
    row_types: set[int] = set()
    for ord_, oid, schema, reltype in by_kind.get("relation", []):
        ref = relations[int(ord_) - 1]
        if schema in SYSTEM_SCHEMAS or schema.startswith(("pg_temp", "pg_toast")):
            return (f"relation {'.'.join(filter(None, ref))} is a system catalog ({schema}); pairs read business "
                    f"tables only")
        resolved[ref] = int(oid)
        row_types.add(int(reltype))
    table_columns = {(int(rel), name): int(typ) for rel, name, typ, _ in by_kind.get("column", [])}
    wanted = set(names.fields)
    read_types = row_types | {typ for (_, name), typ in table_columns.items() if names.whole_rows or name in wanted}
    reach = _Reachable(by_kind, read_types, names.literals)
    produced = _produced_types(by_kind, read_types)
    picks = _Picks(by_kind, reach, produced, names, resolved, table_columns)
    problem = _user_objects_problem(by_kind, reach, produced, names, resolved, table_columns, picks)
    if problem:
        return problem
    callable_fields = {name for name, *_ in by_kind.get("callable", [])} - set(ALLOWED_FUNCTIONS)
    return _columns_problem(names, derived, resolved, callable_fields, set(table_columns))


class _Reachable:
    """Which types a value of the statement can have, as PostgreSQL would resolve calls and operators: every
    built-in type (literals and built-in functions make them), the types of the columns and rows it reads, a
    domain over or an array of a reachable type, the target of an implicit cast from one, and any user type of
    the string category when the statement holds a string literal (an unknown literal can become it). A
    function or operator of the business database is a candidate only when all its arguments are reachable:
    pgvector's avg(vector) does not take part in AVG over a numeric column (no value of the statement is a
    vector), a user lower(text) or an operator === (int, int) does."""

    def __init__(self, by_kind: dict, read_types: set[int], literals: bool):
        user = {int(oid): (typtype, basis, category) for oid, typtype, basis, category in by_kind.get("usertype", [])}
        self.implicit = [(int(a), int(b)) for a, b, _, _ in by_kind.get("implicit", [])]
        self.user = user
        self.literals = literals
        self.reached = self._closure(read_types, from_builtin=True)
        # the user types a value of the statement can have without an implicit cast from a built-in type: a
        # type reached only through such a cast (PostGIS' text -> geometry) is never what the statement holds, so
        # a built-in operator matching its operands exactly is what PostgreSQL picks (see `could_pick`)
        self.direct = self._closure(read_types, from_builtin=False)

    def _closure(self, read_types: set[int], from_builtin: bool) -> set[int]:
        reached = set(read_types)

        def ok(oid: int) -> bool:
            return oid == 0 or oid not in self.user or oid in reached
        changed = True
        while changed:
            changed = False
            for oid, (typtype, basis, category) in self.user.items():
                if oid in reached:
                    continue
                base, elem = (int(x) for x in basis.split(","))
                if ((typtype == "d" and ok(base)) or (elem and category == "A" and ok(elem))
                        or (self.literals and category == "S")
                        or any(b == oid and ok(a) and (from_builtin or a in self.user) for a, b in self.implicit)):
                    reached.add(oid)
                    changed = True
        return reached

    def cast_only(self, oid: int) -> bool:
        """A user type the statement reaches only through an implicit cast from a built-in type."""
        return oid in self.user and oid in self.reached and oid not in self.direct

    def sources(self, oid: int, produced: set[int]) -> set[int]:
        """The built-in types the statement can produce that PostgreSQL would implicitly cast into `oid`."""
        return {a for a, b in self.implicit if b == oid and a not in self.user and a in produced}

    def __call__(self, oid: int) -> bool:
        return oid == 0 or oid not in self.user or oid in self.reached


# Types a statement holds without reading a column: literals (unknown, text, integers, numeric, float, boolean)
# and what the grammar writes as pg_catalog types (int, char(n), varchar(n), double precision, timestamp, ...).
_GRAMMAR_TYPES = {705, 25, 21, 23, 20, 700, 701, 1700, 16, 1042, 1043, 1082, 1083, 1266, 1114, 1184, 1186, 1560,
                  1562}


def _produced_types(by_kind: dict, read_types: set[int]) -> set[int]:
    """Every built-in type a value of the statement can have: the types it reads, literals and grammar types,
    the types it names, what the built-in functions it calls return, what built-in operators it uses make of
    those (a fixed point)."""
    produced = set(read_types) | _GRAMMAR_TYPES
    produced |= {int(oid) for oid, *_ in by_kind.get("named", [])}
    produced |= {int(ret) for _, _, ret, _ in by_kind.get("catfn", [])}
    ops = [(int(left), int(right), int(result)) for _, left, right, result in by_kind.get("catop", [])]
    changed = True
    while changed:
        changed = False
        for left, right, result in ops:
            if result not in produced and (left == 0 or left in produced) and right in produced:
                produced.add(result)
                changed = True
    return produced


# pg_catalog types a type name of the grammar or a cast names (a user type of that name is refused before)
_TYPE_OIDS = {"int2": 21, "int4": 23, "int8": 20, "float4": 700, "float8": 701, "numeric": 1700, "bool": 16,
              "bpchar": 1042, "varchar": 1043, "text": 25, "date": 1082, "time": 1083, "timetz": 1266,
              "timestamp": 1114, "timestamptz": 1184, "interval": 1186, "bytea": 17}
# an integer past int4 reaches the tree as a float's text: PostgreSQL reads it as int8, a decimal as numeric
_CONST_OIDS = {"int4": {23}, "numeric": {20, 1700}, "bool": {16}, "unknown": {705}}
_UNKNOWN = 705


class _Picks:
    """Whether PostgreSQL could pick a function or operator of the business database whose arguments include a
    user type the statement reaches only through an implicit cast from a built-in type (PostGIS: text ->
    geometry, and `=`, `<`, `&&` on geometry in public). PostgreSQL takes an exact match of the operands' types
    first, so such a candidate is picked only for operands that no built-in overload matches exactly: `name =
    'a'` or `name < other_name` stay pg_catalog's text operators, `text_col = bytea_col` (no built-in operator;
    both cast to geometry) resolves to the extension's.

    Each written call and operator (`CatalogNames.uses`) is typed where the tree allows it (a column of a known
    table, a literal, a cast); an unknown literal takes the other operand's type. An occurrence that cannot be
    typed, a comparison the tree does not pair up (CASE x WHEN, USING, ANY (subquery)) or a function reached by
    column notation falls back to every combination of the built-in types the statement can produce (`_produced
    _types`): one combination without an exact built-in match refuses. An operator the statement only implies
    (ORDER BY, GROUP BY, DISTINCT sort by their own type's operator class) is never applied through a cast."""

    def __init__(self, by_kind: dict, reach: _Reachable, produced: set[int], names: CatalogNames,
                 resolved: dict, table_columns: dict):
        self.reach, self.produced, self.names = reach, produced, names
        self.operators = {(name, int(left), int(right)) for name, left, right, _ in by_kind.get("catop", [])}
        self.functions = {(name, tuple(int(a) for a in filter(None, args.split(","))))
                          for name, args, _, _ in by_kind.get("catfn", [])}
        self.by_alias: dict[str, set[int]] = {}
        for alias, schema, relname in names.aliases:
            if (schema, relname) in resolved and alias not in names.derived:
                self.by_alias.setdefault(alias, set()).add(resolved[(schema, relname)])
        self.columns: dict[str, dict[int, int]] = {}
        for (oid, column), typ in table_columns.items():
            self.columns.setdefault(column, {})[oid] = typ

    def cast_only(self, args: Sequence[int]) -> bool:
        return any(self.reach.cast_only(a) for a in args)

    def possible(self, name: str, args: Sequence[int], operator: bool) -> bool:
        kind = "op" if operator else "fn"
        uses = [u for u in self.names.uses if u[0] == kind and u[1] == name]
        if operator and not uses and not (name in IMPLICIT_OPERATORS and self.names.hidden_comparisons):
            return False                                   # implied only: sorts and groups by its own type
        if (operator and name in IMPLICIT_OPERATORS and self.names.hidden_comparisons) or not uses:
            return self._any_combination(name, args, operator)
        for _, _, used in uses:
            verdict = self._occurrence(name, args, used, operator)
            if verdict is None:
                return self._any_combination(name, args, operator)
            if verdict:
                return True
        return False

    def _types(self, arg: tuple) -> Optional[set[int]]:
        """The types an argument can have, or None when the tree does not say."""
        if arg[0] == "none":
            return {0}
        if arg[0] == "const":
            return set(_CONST_OIDS[arg[1]])
        if arg[0] == "type":
            return {_TYPE_OIDS[arg[1]]} if arg[1] in _TYPE_OIDS else None
        if arg[0] == "col":
            _, rel, column = arg
            by_table = self.columns.get(column, {})
            if rel:
                tables = self.by_alias.get(rel) if rel not in self.names.derived else None
            else:                                          # unqualified: any table of the statement, unless a
                tables = None if self.names.derived else set(by_table)   # subquery's output could be meant
            if not tables or any(t not in by_table for t in tables):
                return None
            return {by_table[t] for t in tables}
        return None

    def _occurrence(self, name: str, args: Sequence[int], used: tuple, operator: bool) -> Optional[bool]:
        if len(used) != len(args):
            return None
        types = [self._types(a) for a in used]
        if any(t is None for t in types):
            return None
        if operator and len(types) == 2:                   # an unknown literal is read as the other side's type
            left, right = types
            types = [right if left == {_UNKNOWN} else left, left if right == {_UNKNOWN} else right]
        if any(_UNKNOWN in t for t in types):
            return None
        for combo in itertools.product(*types):
            if not all(self._takes(want, have) for want, have in zip(args, combo)):
                continue                                   # not a candidate for these operands at all
            if not self._exact(name, combo, operator):
                return True
        return False

    def _takes(self, want: int, have: int) -> bool:
        if want == 0 or have == 0:
            return want == have
        if self.reach.cast_only(want):
            return have == want or have in self.reach.sources(want, {have})
        return True                                        # a built-in argument: assume an operand casts into it

    def _exact(self, name: str, combo: tuple, operator: bool) -> bool:
        return (name, *combo) in self.operators if operator else (name, tuple(combo)) in self.functions

    def _any_combination(self, name: str, args: Sequence[int], operator: bool) -> bool:
        choices = []
        for a in args:
            if a == 0:
                choices.append((0,))
            elif self.reach.cast_only(a):
                sources = self.reach.sources(a, self.produced)
                if not sources:
                    return False                           # no value of the statement casts into it
                choices.append(tuple(sorted(sources)))
            elif a in self.reach.user:
                return True                                # the statement can hold this user type itself
            else:
                choices.append((a,))
        return any(not self._exact(name, combo, operator) for combo in itertools.product(*choices))


def _user_objects_problem(by_kind: dict, reach: _Reachable, produced: set[int], names: CatalogNames,
                          resolved: dict, table_columns: dict, picks: _Picks) -> Optional[str]:
    columns_only = _names_that_are_columns(names, resolved, table_columns)
    for name, schema, args, _ in by_kind.get("function", []):
        if name in columns_only:
            continue
        oids = [int(a) for a in filter(None, args.split(","))]
        if picks.cast_only(oids) and not picks.possible(name, oids, operator=False):
            continue
        if all(reach(a) for a in oids):
            return (f"function {name} is defined in schema {schema} of this database for argument types this "
                    f"statement can pass: a pair may call built-in functions only (column notation x.{name} "
                    f"would call it too)")
    for name, schema, left, right in by_kind.get("operator", []):
        oids = [int(left), int(right)]
        if picks.cast_only(oids) and not picks.possible(name, oids, operator=True):
            continue      # an operator class's operator on a type only a cast reaches sorts no value here
        if reach(int(left)) and reach(int(right)):
            return (f"operator {name} is defined in schema {schema} of this database for types this statement "
                    f"can compare: only built-in operators")
    for source, target, function, oids in by_kind.get("cast", []):
        # a cast fires where a value of its source meets a place that wants its target: a built-in function,
        # operator or written cast (a user function or operator wanting a user type is refused above)
        source_oid, target_oid, target_named = (int(x) for x in oids.split(","))
        # from any type the statement holds, not only those it reads: `'\x01'::bytea::int` or abs(decode(...))
        # runs a user bytea -> int cast (a user type only an implicit cast reaches is never a value of the
        # statement: no cast starts from it)
        if target_named or ((source_oid in produced or (source_oid in reach.user and source_oid in reach.direct))
                            and target_oid not in reach.user):
            return (f"the cast from {source} to {target} runs function {function} of this database: only built-in "
                    f"casts")
    return None


def _names_that_are_columns(names: CatalogNames, resolved: dict, table_columns: dict) -> set[str]:
    """Names the statement uses only as `x.f` where f is a real column of every table x can be (PostgreSQL
    reads the column then, it never calls a function f(x)), and never calls."""
    by_alias: dict[str, set[int]] = {}
    for alias, schema, relname in names.aliases:
        if (schema, relname) in resolved:
            by_alias.setdefault(alias, set()).add(resolved[(schema, relname)])
    out: dict[str, bool] = {}
    for schema, rel, field in names.column_refs:
        targets = {resolved[(schema, rel)]} if schema and (schema, rel) in resolved else by_alias.get(rel, set())
        ok = bool(targets) and all((oid, field) in table_columns for oid in targets)
        out[field] = out.get(field, True) and ok
    return {f for f, ok in out.items() if ok} - set(names.called)


def _columns_problem(names: CatalogNames, derived: set, resolved: dict, callable_fields: set,
                     columns: set) -> Optional[str]:
    by_alias: dict[str, set[int]] = {}
    for alias, schema, relname in names.aliases:
        oid = resolved.get((schema, relname))
        if oid is not None and (schema or relname not in derived):
            by_alias.setdefault(alias, set()).add(oid)
    outputs = dict(names.derived_columns)
    for schema, rel, field in names.column_refs:
        if field not in callable_fields:
            continue
        if not schema and rel in derived and rel not in by_alias and field in outputs.get(rel, ()):
            continue                  # an output column of the subquery or CTE named `rel`
        targets = {resolved[(schema, rel)]} if schema and (schema, rel) in resolved else \
            (set() if rel in derived else by_alias.get(rel, set()))
        if not targets or any((oid, field) not in columns for oid in targets):
            shown = f"{rel}.{field}" if rel else f"(...).{field}"
            return (f"{shown} is not a column of a table named {rel or 'there'}: PostgreSQL would call the "
                    f"function {field}({rel or '...'}) (column notation); not allowed")
    return None
