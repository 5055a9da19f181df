"""Pure quality functions over question–SQL pairs: duplicate removal, coverage, difficulty.

Nothing here touches a database, a file or an LLM; the quality report (sql_validation) imports the same
functions so its numbers and the generator's agree.

- `dedupe_pairs(pairs)` removes exact duplicates (same question, or same SQL up to whitespace/case) and
  template duplicates (same SQL after replacing every literal by `?`, or same question skeleton once numbers
  and quoted values are stripped *over the same identifiers*), keeping the first occurrence, and counts both
  kinds. Identifiers are never literals: two pairs over different tables or columns (`d00_t1` vs `d07_t1`)
  are never duplicates of each other.
- `fk_edges(tables)` lists the foreign-key edges among the given tables; `sql_coverage(sql, tables)` says which
  tables and edges one SQL statement touches (an edge counts when its join condition appears);
  `compute_coverage(sqls, tables)` aggregates that over a pair list.
- `classify_difficulty(sql)` puts a statement in one of `DIFFICULTIES`, from its syntax tree.
"""
from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

import sqlglot
from sqlglot import exp

from data_pipeline.qa.pairs import Pair
from data_pipeline.schema.model import Table

DIFFICULTIES: tuple[str, ...] = ("single_table", "aggregate", "group_by", "join", "nested_window")

# --------------------------------------------------------------------------------------------- normalising

_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_NUMBER_LITERAL = re.compile(r"(?<![\w\"])[-+]?\d+(?:\.\d+)?(?![\w\"])")
_SPACES = re.compile(r"\s+")


def normalize_sql_text(sql: str) -> str:
    """Whitespace collapsed, lower case, no trailing semicolon: the key of an exact SQL duplicate.

    >>> normalize_sql_text("SELECT  a\\nFROM T;") == normalize_sql_text("select a from t")
    True
    """
    return _SPACES.sub(" ", sql.strip().rstrip(";").strip()).lower()


@lru_cache(maxsize=8192)      # pure; every dedupe and quality report of a run asks it again for the same texts
def sql_template(sql: str) -> str:
    """The SQL with every string and number literal replaced by `?`: the key of a template duplicate.

    >>> sql_template("SELECT * FROM t WHERE k = 'a' LIMIT 10") == sql_template("select * from t where k='b' limit 5")
    True
    """
    text = _STRING_LITERAL.sub("?", sql.strip().rstrip(";"))
    text = _NUMBER_LITERAL.sub("?", text)
    text = _SPACES.sub(" ", text).lower()
    return re.sub(r"\s*([=<>(),])\s*", r"\1", text).strip()


_QUOTED_SEGMENTS = re.compile(r"“[^”]*”|\"[^\"]*\"|'[^']*'|‘[^’]*’|「[^」]*」|《[^》]*》|【[^】]*】")
_DIGITS = re.compile(r"\d+(?:[.:/-]\d+)*")
_PUNCT = re.compile(r"[\s,.;:!?，。；：！？、（）()\[\]…~·]+")


def question_skeleton(question: str) -> str:
    """The question without quoted values, numbers and punctuation: the key of a template duplicate.

    >>> question_skeleton("类型为“A”的记录有多少？") == question_skeleton('类型为"B"的记录有多少?')
    True
    >>> question_skeleton("销售额前10的门店") == question_skeleton("销售额前 5 的门店")
    True
    """
    text = _QUOTED_SEGMENTS.sub("", question)
    text = _DIGITS.sub("", text)
    return _PUNCT.sub("", text).lower()


_STRING_OR_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_WORD = re.compile(r"[^\W\d][\w$]*")


@lru_cache(maxsize=8192)
def sql_identifiers(sql: str) -> frozenset[str]:
    """Every identifier-like word of the SQL (quoted identifiers whole, string literals left out), lower case.

    Two statements over different tables or columns never share this set, whatever their question says.

    >>> sql_identifiers("SELECT COUNT(*) FROM d00_t1 WHERE k = 'x'") == sql_identifiers("select count(*) from d07_t1 where k='y'")
    False
    """
    words = set()
    for m in _STRING_OR_QUOTED.finditer(sql):
        if m.group(0).startswith('"'):
            words.add(m.group(0))
    words.update(w.lower() for w in _WORD.findall(_STRING_OR_QUOTED.sub(" ", sql)))
    return frozenset(words)


@dataclass
class DedupeResult:
    kept: list[Pair]
    exact: int = 0
    template: int = 0
    removed: list[tuple[Pair, str]] = field(default_factory=list)   # (pair, "exact" | "template")

    @property
    def counts(self) -> dict[str, int]:
        return {"exact": self.exact, "template": self.template}


def _skeleton_key(pair: Pair) -> tuple[str, frozenset[str]]:
    """The question skeleton, only comparable between pairs reading the same identifiers."""
    return question_skeleton(pair.question), sql_identifiers(pair.sql)


def dedupe_pairs(pairs: Iterable[Pair], seen: Optional["DedupeResult"] = None) -> DedupeResult:
    """Drop exact and template duplicates, keeping the first of each; order of the kept pairs is preserved.

    Pass `seen` (an earlier result) to dedupe new pairs against pairs already kept; its kept list is not
    modified and the returned result counts only the new removals.
    """
    result = DedupeResult(kept=[])
    questions, sqls, templates, skeletons = set(), set(), set(), set()
    for p in (seen.kept if seen else []):
        questions.add(p.question.strip())
        sqls.add(normalize_sql_text(p.sql))
        templates.add(sql_template(p.sql))
        skeletons.add(_skeleton_key(p))
    for p in pairs:
        q, s, t, k = p.question.strip(), normalize_sql_text(p.sql), sql_template(p.sql), _skeleton_key(p)
        if q in questions or s in sqls:
            result.exact += 1
            result.removed.append((p, "exact"))
            continue
        if t in templates or (k[0] and k in skeletons):
            result.template += 1
            result.removed.append((p, "template"))
            continue
        questions.add(q), sqls.add(s), templates.add(t), skeletons.add(k)
        result.kept.append(p)
    return result


# --------------------------------------------------------------------------------------------- coverage


@dataclass(frozen=True)
class FkEdge:
    """child.columns -> parent.ref_columns; tables by `schema.name`."""
    child: str
    columns: tuple[str, ...]
    parent: str
    ref_columns: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.child}({','.join(self.columns)})->{self.parent}({','.join(self.ref_columns)})"


def fk_edges(tables: Sequence[Table]) -> list[FkEdge]:
    """Foreign-key edges whose both ends are among `tables`, in table order."""
    known = {t.qualified for t in tables}
    edges = []
    for t in tables:
        for fk in t.foreign_keys:
            parent = f"{fk.ref_schema}.{fk.ref_table}"
            if parent in known:
                edges.append(FkEdge(t.qualified, tuple(fk.columns), parent, tuple(fk.ref_columns)))
    return edges


@lru_cache(maxsize=4096)
def parsed_sql(sql: str) -> Optional[exp.Expression]:
    """The statement's sqlglot tree (None when it does not parse), parsed once per distinct text: coverage, the
    personal-data and model-rule checks and the difficulty all read the same tree, and coverage is computed again
    after a top-up (issue 26: parsing was half of an LLM pair's analysis). Shared: callers never mutate it."""
    try:
        return sqlglot.parse_one(sql, read="postgres")
    except (sqlglot.errors.SqlglotError, ValueError, RecursionError):   # RecursionError: deep nesting
        return None


class _Catalog:
    """What coverage needs to know about the tables, computed once per `compute_coverage` call."""

    def __init__(self, tables: Sequence[Table]):
        self.by_name = {(t.schema, t.name): t.qualified for t in tables}
        self.public_or_unique: dict[str, str] = {}
        for t in tables:
            if t.schema == "public" or t.name not in self.public_or_unique:
                self.public_or_unique[t.name] = t.qualified
        self.columns_of = {t.qualified: {c.name for c in t.columns} for t in tables}
        self.edges = fk_edges(tables)
        # everything a statement's coverage depends on besides its text (the memo's key, with the text)
        self.key = hashlib.sha1(repr((sorted(self.by_name.items()), sorted(self.public_or_unique.items()),
                                      sorted((q, sorted(c)) for q, c in self.columns_of.items()),
                                      [e.key for e in self.edges])).encode("utf-8")).hexdigest()

    def resolve(self, tree: exp.Expression) -> dict[str, str]:
        """alias (or bare name) -> qualified name of a known table, for every table reference in the tree."""
        aliases: dict[str, str] = {}
        for ref in tree.find_all(exp.Table):
            qualified = self.by_name.get((ref.db, ref.name)) if ref.db else self.public_or_unique.get(ref.name)
            if qualified:
                aliases[ref.alias_or_name] = qualified
                aliases.setdefault(ref.name, qualified)
        return aliases


# (catalog key, SQL) -> coverage: a run computes the coverage of the same statements up to five times (qa before
# and after its top-up, each validation and quality report); walking the tree is most of a report's time (issue 26)
_MEMO: dict[tuple[str, str], tuple[frozenset[str], frozenset[str]]] = {}
_MEMO_SIZE = 8192


def _coverage_of(sql: str, catalog: _Catalog) -> tuple[set[str], set[str]]:
    found = _MEMO.get((catalog.key, sql))
    if found is None:
        tables, edges = _walk_coverage(sql, catalog)
        found = frozenset(tables), frozenset(edges)
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.clear()
        _MEMO[(catalog.key, sql)] = found
    return set(found[0]), set(found[1])


def _walk_coverage(sql: str, catalog: _Catalog) -> tuple[set[str], set[str]]:
    tree = parsed_sql(sql)
    if tree is None:
        return set(), set()
    aliases = catalog.resolve(tree)
    referenced = set(aliases.values())

    def owner(col: exp.Column) -> Optional[str]:
        if col.table:
            return aliases.get(col.table)
        owners = [q for q in referenced if col.name in catalog.columns_of.get(q, ())]
        return owners[0] if len(owners) == 1 else None

    equalities: set[frozenset] = set()
    for eq in tree.find_all(exp.EQ):
        left, right = eq.left, eq.right
        if isinstance(left, exp.Column) and isinstance(right, exp.Column):
            a, b = owner(left), owner(right)
            if a and b:
                equalities.add(frozenset({(a, left.name), (b, right.name)}))
    covered = set()
    for edge in catalog.edges:
        if edge.child in referenced and edge.parent in referenced and all(
                frozenset({(edge.child, c), (edge.parent, r)}) in equalities
                for c, r in zip(edge.columns, edge.ref_columns)):
            covered.add(edge.key)
    return referenced, covered


def sql_coverage(sql: str, tables: Sequence[Table], catalog: Optional["_Catalog"] = None
                 ) -> tuple[set[str], set[str]]:
    """(qualified tables referenced, keys of FK edges whose join equalities appear) for one statement.

    Unqualified columns are attributed to the only referenced table that has a column of that name.
    An unparseable statement covers nothing. `catalog`: `coverage_catalog(tables)`, made once by a caller that
    asks about many statements (making it is half the cost of a memoised answer).
    """
    return _coverage_of(sql, catalog if catalog is not None else _Catalog(tables))


def coverage_catalog(tables: Sequence[Table]) -> "_Catalog":
    """What `sql_coverage` knows of `tables`, for many calls on the same, unchanged tables."""
    return _Catalog(tables)


@dataclass
class Coverage:
    tables_total: int
    tables_covered: int
    fk_edges_total: int
    fk_edges_covered: int
    missing_tables: list[str]
    missing_fk_edges: list[str]

    @property
    def complete(self) -> bool:
        return not self.missing_tables and not self.missing_fk_edges

    def as_dict(self) -> dict:
        return {"tables_covered": self.tables_covered, "tables_total": self.tables_total,
                "fk_edges_covered": self.fk_edges_covered, "fk_edges_total": self.fk_edges_total,
                "missing_tables": self.missing_tables, "missing_fk_edges": self.missing_fk_edges}


def compute_coverage(sqls: Iterable[str], tables: Sequence[Table]) -> Coverage:
    """How many of `tables` and of their FK edges the statements touch (see `sql_coverage`)."""
    seen_tables: set[str] = set()
    seen_edges: set[str] = set()
    catalog = _Catalog(tables)
    for sql in sqls:
        t, e = _coverage_of(sql, catalog)
        seen_tables |= t
        seen_edges |= e
    all_tables = [t.qualified for t in tables]
    all_edges = [e.key for e in catalog.edges]
    return Coverage(
        tables_total=len(all_tables), tables_covered=sum(1 for t in all_tables if t in seen_tables),
        fk_edges_total=len(all_edges), fk_edges_covered=sum(1 for e in all_edges if e in seen_edges),
        missing_tables=[t for t in all_tables if t not in seen_tables],
        missing_fk_edges=[e for e in all_edges if e not in seen_edges])


# --------------------------------------------------------------------------------------------- difficulty


def classify_difficulty(sql: str) -> str:
    """single_table < aggregate < group_by < join < nested_window, by the hardest construct present.

    >>> classify_difficulty("SELECT a FROM t")
    'single_table'
    >>> classify_difficulty("SELECT k, count(*) FROM t GROUP BY k")
    'group_by'
    >>> classify_difficulty("SELECT * FROM (SELECT a, rank() OVER (ORDER BY a) r FROM t) s")
    'nested_window'
    """
    tree = parsed_sql(sql)
    if tree is None:
        return "single_table"
    if tree.find(exp.Window) or tree.find(exp.Subquery) or tree.find(exp.With) \
            or len(list(tree.find_all(exp.Select))) > 1:
        return "nested_window"
    if tree.find(exp.Join) or len({t.alias_or_name for t in tree.find_all(exp.Table)}) > 1:
        return "join"
    if tree.find(exp.Group):
        return "group_by"
    if tree.find(exp.AggFunc):
        return "aggregate"
    return "single_table"


def count_by_difficulty(difficulties: Iterable[str]) -> dict[str, int]:
    """Counts in `DIFFICULTIES` order (zeros kept, so reports line up)."""
    counts = {d: 0 for d in DIFFICULTIES}
    for d in difficulties:
        counts[d] = counts.get(d, 0) + 1
    return counts
