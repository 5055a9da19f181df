"""Questions about a fact (event, line, view with measures): measures over its business time, per group along
join paths, top-N overall and per group, shares, thresholds, comparisons and filters on real values.

Each function returns `Draft`s (question, SQL, tables, intent) or nothing when the model does not support the
intent (no time axis, too few groups for a top-N, no two values to compare). Rules held here: measures come from
`Schema.measures` (SUM only of additive measures of facts; never of a key), groups from labels or dimensions
(never a key alone, never a flag), a LIMIT only over at least twice as many groups and always stated, the time
axis is the event time (a line's is its event's), "last N months" counts back from the data's latest date.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional

from data_pipeline.lexicon.phrases import plural_label, quoted
from data_pipeline.lexicon.questions import ask
from data_pipeline.lexicon.vocabulary import is_en
from data_pipeline.qa.columns import col, table_ref
from data_pipeline.qa.model_sql import Group, Measure, Schema, Walk, where
from data_pipeline.semantics.model import JoinPath

RECENT_MONTHS = 6


@dataclass
class Draft:
    question: str
    sql: str
    tables: list[str]
    intent: str
    hops: tuple[int, ...] = ()


def top_n(groups: int) -> Optional[int]:
    """The N of a top-N over `groups` groups: never more than half of them (else every group is listed)."""
    for n in (10, 5, 3):
        if groups >= 2 * n:
            return n
    return None


def _group_sql(g: Group) -> tuple[str, str]:
    """(select list, GROUP BY positions) of a group."""
    return ", ".join(g.select), ", ".join(str(i + 1) for i in range(len(g.select)))


def _year_range(expr: str, year: int) -> list[str]:
    return [f"{expr} >= '{year}-01-01'", f"{expr} < '{year + 1}-01-01'"]


def _series_cte(name: str, period: str, m: Measure, w: Walk, conditions: list[str]) -> str:
    """`WITH name AS (...)`: the measure per period (`period` is the first select item, grouped on), the
    query indented inside the CTE; the caller's SELECT over it follows."""
    body = f"{w.from_sql}{where(conditions)}".replace("\n", "\n  ")
    return f"WITH {name} AS (\n  SELECT {period}, {m.sql} AS value\n  {body}\n  GROUP BY 1\n)\n"


class FactQuestions:
    """The questions of one fact table `q` (its measures, axis, paths and dimensions worked out once)."""

    def __init__(self, schema: Schema, q: str):
        self.s, self.q = schema, q
        self.axis = schema.time_axis(q)
        base = schema.walk(q, extra=self.axis[0] if self.axis and self.axis[0] != q else None)
        self.base: Walk = base or schema.walk(q)         # with the time axis's table joined
        self.plain: Walk = schema.walk(q)
        self.alias = self.base.aliases[q]
        self.measures: list[Measure] = schema.measures(q, self.alias)
        self.noun, self.plural = schema.noun(q), schema.plural(q)
        self.time_noun = schema.col_noun(self.axis[0], self.axis[1]) if self.axis else ""
        ts = schema.sem(self.axis[0]) if self.axis else None
        self.year = int(ts.facts["max_time"][:4]) if ts and ts.facts.get("max_time") else None
        # a path down into lines repeats this table's row once per line: its measures and counts would be
        # multiplied, so only paths that keep one row per fact row (up a key, across a bridge) are walked
        # a role in the middle of a path (the ticket's *assigned* employee's store) would go unsaid: not walked
        self.paths = [p for p in schema.model.paths_from(q) if schema.sem(p.target).kind != "bridge"
                      and not schema.fans_out(p)
                      and not any(schema.model.relationships[i].role_name for i in p.hops[:-1])]

    # ------------------------------------------------------------------------------------------ helpers
    def words(self, **extra) -> dict:
        return {"noun": self.noun, "plural": self.plural, "time": self.time_noun, **extra}

    def time_expr(self, walk: Walk) -> str:
        return col(self.axis[1], walk.aliases[self.axis[0]])

    def walk_to(self, *paths: Optional[JoinPath], timed: bool = False) -> Optional[Walk]:
        """A walk along `paths`; `timed` adds the join to the table holding the time axis (a line's event)."""
        extra = self.axis[0] if timed and self.axis and self.axis[0] != self.q else None
        return self.s.walk(self.q, *paths, extra=extra)

    def timed(self, w: Walk) -> Optional[Walk]:
        return self.walk_to(*w.paths, timed=True)

    def _recent(self, walk: Walk) -> str:
        t_ref = table_ref(self.s.tables[self.axis[0]])
        return (f"{self.time_expr(walk)} >= (SELECT date_trunc('month', MAX({col(self.axis[1])})) FROM {t_ref}) "
                f"- INTERVAL '{RECENT_MONTHS - 1} months'")

    def draft(self, question: str, sql: str, walk: Walk, intent: str) -> Draft:
        return Draft(question, sql, walk.tables, intent, tuple(walk.hops))

    def groups(self) -> list[tuple[Group, Optional[JoinPath], Walk]]:
        """Every way to group this fact: its own dimensions, then each path's target (label or dimension),
        longer paths first (they are the questions a lookup cannot answer)."""
        out = [(g, None, self.plain) for g in self.s.dimension_groups(self.q, self.alias)]
        for p in sorted(self.paths, key=lambda p: (-len(p.hops), not self._role(p))):
            walk = self.walk_to(p)
            if walk is None:
                continue
            g = self.s.target_group(p, walk.aliases[p.target])
            if g is not None:                         # 4 stores are in at most 4 of the 24 cities
                g.distinct = min(g.distinct, self.s.sem(self.q).rows or g.distinct)
            if g is not None and g.distinct >= 2:
                out.append((g, p, walk))
        # one table reached two ways (the customer's city, the store's city): say whose, where the words
        # would otherwise be the same ("patient gender" and "doctor gender" already differ)
        said = [g.words for g, p, _ in out if p is not None]
        dropped = set()
        for k, (g, p, _) in enumerate(out):
            if p is None or not p.via or said.count(g.words) < 2:
                continue
            if g.words != self.s.noun(p.target):
                # a dimension reached twice (the prescription's doctor's gender, the visit's doctor's gender):
                # asked along the shortest path only
                shortest = min(len(q.hops) for h, q, _ in out if q is not None and h.words == g.words)
                if len(p.hops) > shortest:
                    dropped.add(k)
                continue
            owner = self.s.noun(p.via[-1])
            if not g.words.lower().startswith(owner.lower()):
                words = g.words
                if words.lower().startswith(self.s.noun(p.target).lower()) and words != self.s.noun(p.target):
                    words = words[len(self.s.noun(p.target)):].strip()       # 地址区县 -> 门店区县
                g.words = f"{owner}'s {words}" if is_en() else f"{owner}所属{words}"
                g.plural = f"{owner}'s {plural_label(words)}" if is_en() else g.words
        return [x for k, x in enumerate(out) if k not in dropped]

    def _role(self, p: JoinPath) -> bool:
        return bool(self.s.model.relationships[p.hops[-1]].role_name)

    # ------------------------------------------------------------------------------------------ time
    def trend_recent(self, m: Optional[Measure]) -> list[Draft]:
        if not self.axis:
            return []
        w, t = self.base, self.time_expr(self.base)
        agg, alias = (m.sql, "value") if m else ("COUNT(*)", "record_count")
        sql = (f"SELECT date_trunc('month', {t}) AS month, {agg} AS {alias}\n{w.from_sql}"
               f"{where([*w.live, self._recent(w)])}\nGROUP BY 1\nORDER BY 1")
        key = "trend_recent" if m else "count_trend"
        return [self.draft(ask(key, k=RECENT_MONTHS, **self.words(m=m.words if m else "")), sql, w, key)]

    def per_year(self, m: Measure) -> list[Draft]:
        if not self.axis:
            return []
        w, t = self.base, self.time_expr(self.base)
        sql = (f"SELECT EXTRACT(YEAR FROM {t})::int AS year, {m.sql} AS value\n{w.from_sql}{where(w.live)}\n"
               f"GROUP BY 1\nORDER BY 1")
        return [self.draft(ask("per_year", **self.words(m=m.words)), sql, w, "per_year")]

    def per_quarter(self, m: Measure) -> list[Draft]:
        if not self.axis or not self.year:
            return []
        w, t = self.base, self.time_expr(self.base)
        sql = (f"SELECT EXTRACT(QUARTER FROM {t})::int AS quarter, {m.sql} AS value\n{w.from_sql}"
               f"{where([*w.live, *_year_range(t, self.year)])}\nGROUP BY 1\nORDER BY 1")
        return [self.draft(ask("per_quarter", year=self.year, **self.words(m=m.words)), sql, w, "per_quarter")]

    def mom(self, m: Measure) -> list[Draft]:
        if not self.axis:
            return []
        w, t = self.base, self.time_expr(self.base)
        sql = (_series_cte("monthly", f"date_trunc('month', {t}) AS month", m, w, [*w.live, self._recent(w)])
               + "SELECT month, value, value - LAG(value) OVER (ORDER BY month) AS change\n"
               "FROM monthly\nORDER BY month")
        return [self.draft(ask("mom", k=RECENT_MONTHS, **self.words(m=m.words)), sql, w, "mom")]

    def yoy(self, m: Measure) -> list[Draft]:
        if not self.axis:
            return []
        ts = self.s.sem(self.axis[0])
        if not ts.facts.get("min_time") or ts.facts["min_time"][:4] == ts.facts.get("max_time", "")[:4]:
            return []
        w, t = self.base, self.time_expr(self.base)
        sql = (_series_cte("yearly", f"EXTRACT(YEAR FROM {t})::int AS year", m, w, w.live)
               + "SELECT year, value,\n       ROUND(((value - LAG(value) OVER (ORDER BY year)) * 100.0"
               " / NULLIF(LAG(value) OVER (ORDER BY year), 0))::numeric, 2) AS change_pct\nFROM yearly\nORDER BY year")
        return [self.draft(ask("yoy", **self.words(m=m.words)), sql, w, "yoy")]

    def count_year(self) -> list[Draft]:
        if not self.axis or not self.year or self.s.sem(self.q).kind == "view":
            return []
        w, t = self.base, self.time_expr(self.base)
        sql = f"SELECT COUNT(*) AS record_count\n{w.from_sql}{where([*w.live, *_year_range(t, self.year)])}"
        return [self.draft(ask("count_year", year=self.year, **self.words()), sql, w, "count_year")]

    # ------------------------------------------------------------------------------------------ groups
    def by_group(self, m: Optional[Measure], g: Group, w: Walk, in_year: bool = False) -> list[Draft]:
        sel, pos = _group_sql(g)
        agg, alias = (m.sql, "value") if m else (self._count(w), "record_count")
        if in_year:
            w = self.timed(w) if self.axis and self.year else None
            if w is None:
                return []
        cond = list(w.live) + (_year_range(self.time_expr(w), self.year) if in_year else [])
        n = top_n(g.distinct)
        limit = f"\nLIMIT {n}" if n else ""
        sql = f"SELECT {sel}, {agg} AS {alias}\n{w.from_sql}{where(cond)}\nGROUP BY {pos}\nORDER BY {alias} DESC{limit}"
        if m:
            key = ("top_groups_year" if in_year else "top_groups") if n else ("by_group_year" if in_year else "by_group")
        else:
            key = "count_top" if n else "count_by_group"
        words = self.words(m=m.words if m else "", g=g.words, gs=g.plural, n=n, year=self.year)
        return [self.draft(ask(key, **words), sql, w, key)]

    def _count(self, w: Walk) -> str:
        """COUNT(*), or across a bridge (a playlist's artists) the distinct rows of this table."""
        key = self.s.sem(self.q).key
        if self.s.crosses_bridge(w) and len(key) == 1:
            return f"COUNT(DISTINCT {col(key[0], self.alias)})"
        return "COUNT(*)"

    def share(self, m: Measure, g: Group, w: Walk) -> list[Draft]:
        if not m.additive or g.distinct > 40:
            return []
        sel, pos = _group_sql(g)
        sql = (f"SELECT {sel}, {m.sql} AS value,\n       ROUND(({m.sql} * 100.0 / SUM({m.sql}) OVER ())::numeric, 2)"
               f" AS share_pct\n{w.from_sql}{where(w.live)}\nGROUP BY {pos}\nORDER BY value DESC")
        return [self.draft(ask("share", **self.words(m=m.words, g=g.words)), sql, w, "share")]

    def having_avg(self, m: Measure, g: Group, w: Walk) -> list[Draft]:
        if g.distinct < 3:
            return []
        sel, pos = _group_sql(g)
        inner = f"SELECT {m.sql} AS value\n    {w.from_sql.replace(chr(10), chr(10) + '    ')}" \
                f"{where(w.live).replace(chr(10), chr(10) + '    ')}\n    GROUP BY {', '.join(g.exprs())}"
        sql = (f"SELECT {sel}, {m.sql} AS value\n{w.from_sql}{where(w.live)}\nGROUP BY {pos}\n"
               f"HAVING {m.sql} > (\n  SELECT AVG(value) FROM (\n    {inner}\n  ) AS per_group\n)\nORDER BY value DESC")
        return [self.draft(ask("having_avg", **self.words(m=m.words, g=g.words, gs=g.plural)), sql, w, "having_avg")]

    def having_count(self, g: Group, w: Walk) -> list[Draft]:
        rows = self.s.sem(self.q).rows or 0
        if g.distinct < 3 or rows < 3 * g.distinct or self.s.crosses_bridge(w):
            return []
        k = max(1, int(0.7 * rows / g.distinct))
        if k >= 10:                                          # a round threshold at or below the average size
            step = 10 ** (len(str(k)) - 1)
            k = k // step * step
        sel, pos = _group_sql(g)
        sql = (f"SELECT {sel}, COUNT(*) AS record_count\n{w.from_sql}{where(w.live)}\nGROUP BY {pos}\n"
               f"HAVING COUNT(*) > {k}\nORDER BY record_count DESC")
        return [self.draft(ask("having_count", k=k, **self.words(g=g.words, gs=g.plural)), sql, w, "having_count")]

    def top_per_group(self, m: Optional[Measure], outer: tuple, inner: tuple) -> list[Draft]:
        (g, gp, _), (h, hp, _) = outer, inner
        if g.distinct > 30 or h.distinct < 6 or (gp is not None and hp is not None and gp.target == hp.target):
            return []
        w = self.walk_to(*(p for p in (gp, hp) if p is not None))
        if w is None:
            return []
        g2 = self.s.target_group(gp, w.aliases[gp.target]) if gp else g
        h2 = self.s.target_group(hp, w.aliases[hp.target]) if hp else h
        if g2 is None or h2 is None:
            return []
        g2.words, g2.plural, h2.words, h2.plural = g.words, g.plural, h.words, h.plural   # named as in groups()
        n = 3
        agg = m.sql if m else "COUNT(*)"
        g_expr = g2.exprs()[0]
        h_sel = ", ".join(f"{e} AS item{'' if i == 0 else '_key'}" for i, e in enumerate(h2.exprs()))
        sql = (f"WITH ranked AS (\n  SELECT {g_expr} AS grp, {h_sel}, {agg} AS value,\n"
               f"         ROW_NUMBER() OVER (PARTITION BY {g_expr} ORDER BY {agg} DESC) AS rn\n  "
               f"{w.from_sql.replace(chr(10), chr(10) + '  ')}{where(w.live).replace(chr(10), chr(10) + '  ')}\n"
               f"  GROUP BY {g_expr}, {', '.join(h2.exprs())}\n)\n"
               f"SELECT grp, item, value\nFROM ranked\nWHERE rn <= {n}\nORDER BY grp, rn")
        m_words = m.words if m else ("number" if is_en() else "数量")
        words = self.words(m=m_words, g=g2.words, h=h2.words, hs=h2.plural, n=n)
        return [self.draft(ask("top_per_group", **words), sql, w, "top_per_group")]

    # ------------------------------------------------------------------------------------------ values
    def compare(self, m: Measure, g: Group, w: Walk) -> list[Draft]:
        if len(g.values) < 2 or not g.value_sql:
            return []
        v1, v2 = g.values[:2]
        c1, c2 = g.literal(self.s, v1), g.literal(self.s, v2)
        case = m.sql.split("(", 1)
        agg1 = f"{case[0]}(CASE WHEN {g.value_sql} = {c1} THEN {case[1][:-1]} END)"
        agg2 = f"{case[0]}(CASE WHEN {g.value_sql} = {c2} THEN {case[1][:-1]} END)"
        sql = (f"SELECT {agg1} AS value_1,\n       {agg2} AS value_2\n{w.from_sql}"
               f"{where([*w.live, f'{g.value_sql} IN ({c1}, {c2})'])}")
        words = self.words(m=m.words, c=g.words, v1=quoted(v1, not c1.startswith("'")),
                           v2=quoted(v2, not c2.startswith("'")))
        return [self.draft(ask("compare", **words), sql, w, "compare")]

    def filter_value(self, m: Measure, g: Group, w: Walk, in_year: bool) -> list[Draft]:
        if not g.values or not g.value_sql:
            return []
        v = g.values[0]
        value = g.literal(self.s, v)
        if in_year:
            w = self.timed(w) if self.axis and self.year else None
            if w is None:
                return []
        cond = [*w.live, f"{g.value_sql} = {value}"] + (_year_range(self.time_expr(w), self.year) if in_year else [])
        sql = f"SELECT {m.sql} AS value\n{w.from_sql}{where(cond)}"
        key = "filter_group_year" if in_year else "filter_value"
        words = self.words(m=m.words, g=g.words, c=g.words, v=quoted(v, not value.startswith("'")), year=self.year)
        return [self.draft(ask(key, **words), sql, w, key)]


def year_of(d: Optional[str]) -> Optional[int]:
    try:
        return date.fromisoformat(d[:10]).year if d else None
    except ValueError:
        return None
