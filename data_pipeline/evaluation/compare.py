"""Execution accuracy: does a generated SQL's result equal the gold SQL's? Pure (rows in, verdict out).

Two protocols the field trusts:
- **EX** (BIRD): the rows as a multiset of tuples, columns by position; order-insensitive unless the gold SQL
  orders its top level with ORDER BY *and* LIMIT (then the sequence counts, see below). Cells compare NULL-aware
  (NULL equals only NULL, never 0 or ''), numbers with a tolerance (|a-b| <= 1e-6 + 1e-6*|b|, so AVG over numeric
  vs float8 agree while ROUND(x, 2) vs x do not), dates and times by their ISO text, everything else by text.
  An empty gold result matches only an empty result.
- **subset** (defog sql-eval): each gold column found among the generated result's columns (a wider answer,
  another column order) and the rows equal on those columns, by the same rules.

Ordered comparison is tie-aware: rows whose ORDER BY key values are equal may come in any order, and when the
gold was cut by its LIMIT inside a run of equal keys, the generated result may show other rows of that run (they
are equally valid top-N answers; the caller passes the gold's next row, `next_gold_row`, read with LIMIT n+1,
to say whether the tie goes on past the LIMIT — without it a cut run must match exactly). The key columns are found from the gold's ORDER BY (an output name, an ordinal
or the same expression as a select item); when they cannot be found the sequence must match exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import permutations, product
from typing import Any, Optional, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

REL_TOL = 1e-6
ABS_TOL = 1e-6
MAX_MAPPINGS = 200            # column assignments tried for the subset check


@dataclass(frozen=True)
class OrderSpec:
    """How the gold result is ordered: None when order does not count."""
    key_names: tuple[str, ...] = ()          # ORDER BY items that name an output column (lower case)
    key_ordinals: tuple[int, ...] = ()       # ORDER BY 1, 2 (0-based)
    key_exprs: tuple[str, ...] = ()          # other ORDER BY expressions, as SQL text
    limit: Optional[int] = None
    resolvable: bool = True                  # False: some key could not be read from the SQL


def order_spec(gold_sql: str) -> Optional[OrderSpec]:
    """OrderSpec when the gold's top level has ORDER BY and LIMIT, else None (compare as a multiset)."""
    try:
        tree = sqlglot.parse_one(gold_sql, read="postgres")
    except (ParseError, TokenError, ValueError):
        return None
    if tree is None or not tree.args.get("order") or not tree.args.get("limit"):
        return None
    limit = None
    node = tree.args["limit"].expression if isinstance(tree.args["limit"], exp.Limit) else None
    if isinstance(node, exp.Literal) and node.is_int:
        limit = int(node.this)
    names, ordinals, exprs = [], [], []
    select_items = {}
    for i, item in enumerate(getattr(tree, "expressions", []) or []):
        inner = item.this if isinstance(item, exp.Alias) else item
        select_items[inner.sql(dialect="postgres").lower()] = i
    resolvable = True
    for ordered in tree.args["order"].expressions:
        key = ordered.this
        if isinstance(key, exp.Literal) and key.is_int:
            ordinals.append(int(key.this) - 1)
        elif isinstance(key, exp.Column):
            names.append(key.name.lower())
            exprs.append(key.sql(dialect="postgres").lower())
        else:
            text = key.sql(dialect="postgres").lower()
            if text in select_items:
                ordinals.append(select_items[text])
            else:
                resolvable = False
    return OrderSpec(tuple(names), tuple(ordinals), tuple(exprs), limit, resolvable)


def follow_sql(gold_sql: str) -> Optional[str]:
    """The gold SQL with its top-level LIMIT n raised to n+1 (to see whether a tie goes on), or None."""
    spec = order_spec(gold_sql)
    if spec is None or spec.limit is None:
        return None
    try:
        tree = sqlglot.parse_one(gold_sql, read="postgres")
        return tree.limit(spec.limit + 1).sql(dialect="postgres")
    except (ParseError, TokenError, ValueError):
        return None


def key_indexes(spec: OrderSpec, columns: Sequence[str]) -> Optional[list[int]]:
    """Positions of the ORDER BY keys among the gold result's columns, or None when some key is not shown."""
    if not spec.resolvable:
        return None
    lowered = [c.lower() for c in columns]
    found = [i for i in spec.key_ordinals if 0 <= i < len(columns)]
    if len(found) != len(spec.key_ordinals):
        return None
    for name in spec.key_names:
        if name not in lowered:
            return None
        found.append(lowered.index(name))
    return found


# ------------------------------------------------------------------------------------------------ cells
def normalise(value: Any) -> Any:
    """A cell as compared: None, bool, float (every number), or text (dates as ISO, bytes as hex)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        number = float(value)
        return number if math.isfinite(number) else str(number)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return float(value.total_seconds())
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return str(value)


def cells_equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= ABS_TOL + REL_TOL * abs(b)
    return type(a) is type(b) and a == b


def rows_equal(a: Sequence, b: Sequence) -> bool:
    return len(a) == len(b) and all(cells_equal(x, y) for x, y in zip(a, b))


def _sort_key(row: Sequence) -> tuple:
    key = []
    for v in row:
        if v is None:
            key.append((0, 0.0, ""))
        elif isinstance(v, bool):
            key.append((1, float(v), ""))
        elif isinstance(v, float):
            key.append((2, float(f"{v:.5g}"), ""))
        else:
            key.append((3, 0.0, str(v)))
    return tuple(key)


def multiset_equal(a: Sequence[Sequence], b: Sequence[Sequence]) -> bool:
    """Same rows, each as often, in any order (numbers within the tolerance)."""
    if len(a) != len(b):
        return False
    sa, sb = sorted(a, key=_sort_key), sorted(b, key=_sort_key)
    if all(rows_equal(x, y) for x, y in zip(sa, sb)):
        return True
    if len(a) > 500:   # rounding put near-equal numbers in another order: match greedily on small results only
        return False
    unused = list(sb)
    for row in sa:
        match = next((i for i, other in enumerate(unused) if rows_equal(row, other)), None)
        if match is None:
            return False
        unused.pop(match)
    return True


def ordered_equal(gold: Sequence[Sequence], pred: Sequence[Sequence], keys: Optional[list[int]],
                  next_row: Optional[Sequence] = None) -> bool:
    """Sequence equality with ties: runs of equal ORDER BY keys compare as multisets; the last run, when the
    LIMIT cut a tie (`next_row`, the gold's row after the LIMIT, has the same keys), only needs the same keys
    (other rows of the tie are equally right)."""
    if len(gold) != len(pred):
        return False
    if not keys:
        return all(rows_equal(g, p) for g, p in zip(gold, pred))

    def key(row):
        return [row[i] for i in keys] if all(i < len(row) for i in keys) else None

    i, n = 0, len(gold)
    while i < n:
        run_key = key(gold[i])
        j = i
        while j < n and rows_equal(key(gold[j]), run_key):
            j += 1
        run = pred[i:j]
        if any(key(p) is None or not rows_equal(key(p), run_key) for p in run):
            return False
        cut_by_limit = j == n and next_row is not None and key(next_row) is not None \
            and rows_equal(key(next_row), run_key)
        if not cut_by_limit and not multiset_equal(gold[i:j], run):
            return False
        i = j
    return True


# ------------------------------------------------------------------------------------------------ verdicts
@dataclass
class Verdict:
    ex: bool
    subset: bool
    reason: str = ""                       # why not EX (empty when EX)
    detail: dict = field(default_factory=dict)


def _same_rows(gold, pred, order: Optional[OrderSpec], keys, next_row=None) -> bool:
    if order is None:
        return multiset_equal(gold, pred)
    return ordered_equal(gold, pred, keys, next_row)


def _column(rows, i) -> list:
    return [r[i] for r in rows]


def _column_matches(gold_rows, pred_rows, gi: int, pi: int) -> bool:
    g, p = sorted(_column(gold_rows, gi), key=lambda v: _sort_key([v])), \
        sorted(_column(pred_rows, pi), key=lambda v: _sort_key([v]))
    return all(cells_equal(a, b) for a, b in zip(g, p))


def subset_match(gold_cols, gold_rows, pred_cols, pred_rows, order: Optional[OrderSpec], keys,
                 next_row=None) -> bool:
    """defog's subset: the gold's columns (each matched to a distinct generated column with the same values)
    carry the same rows."""
    if len(gold_rows) != len(pred_rows):
        return False
    if not gold_rows:
        return True
    width = len(gold_rows[0])
    if len(pred_rows[0]) < width:
        return False
    candidates = [[pi for pi in range(len(pred_rows[0])) if _column_matches(gold_rows, pred_rows, gi, pi)]
                  for gi in range(width)]
    if any(not c for c in candidates):
        return False
    tried = 0
    for mapping in product(*candidates):
        if len(set(mapping)) != width:
            continue
        tried += 1
        projected = [[row[pi] for pi in mapping] for row in pred_rows]
        if _same_rows(gold_rows, projected, order, keys, next_row):
            return True
        if tried >= MAX_MAPPINGS:
            break
    return False


def compare(gold_sql: str, gold_cols: Sequence[str], gold_rows: Sequence[Sequence], pred_cols: Sequence[str],
            pred_rows: Sequence[Sequence], next_gold_row: Optional[Sequence] = None) -> Verdict:
    """EX and subset of a generated result against the gold result (raw database rows; normalised here).
    `next_gold_row`: the gold's row after its LIMIT (see `follow_sql`), when there is one."""
    gold = [[normalise(v) for v in r] for r in gold_rows]
    next_row = [normalise(v) for v in next_gold_row] if next_gold_row is not None else None
    pred = [[normalise(v) for v in r] for r in pred_rows]
    order = order_spec(gold_sql)
    keys = key_indexes(order, gold_cols) if order is not None else None
    detail = {"gold_rows": len(gold), "generated_rows": len(pred), "gold_columns": len(gold_cols),
              "generated_columns": len(pred_cols), "ordered": order is not None}
    if not gold and not pred:
        return Verdict(True, True, "", detail)
    same_width = len(gold_cols) == len(pred_cols)
    ex = same_width and _same_rows(gold, pred, order, keys, next_row)
    subset = ex or subset_match(gold_cols, gold, pred_cols, pred, order, keys, next_row)
    if ex:
        return Verdict(True, True, "", detail)
    if len(gold) != len(pred):
        reason = f"{len(pred)} rows, the gold result has {len(gold)}"
    elif not same_width:
        reason = f"{len(pred_cols)} columns, the gold result has {len(gold_cols)}"
    elif multiset_equal(gold, pred):
        reason = "same rows in another order (the gold orders with LIMIT)"
    elif _columns_permuted(gold, pred):
        reason = "same values in another column order"
    else:
        reason = "different values"
    if subset and not ex:
        reason += " (subset match: the gold columns are in the result)"
    return Verdict(False, subset, reason, detail)


def _columns_permuted(gold, pred) -> bool:
    if not gold or len(gold[0]) > 6:
        return False
    width = len(gold[0])
    return any(multiset_equal(gold, [[r[i] for i in perm] for r in pred])
               for perm in permutations(range(width)) if list(perm) != list(range(width)))
