"""Questions about entities and lookups (counts, rankings by a measure, flags as filters), bridges (distinct
counts through them: a bridge is never counted as if it were a thing), anti-joins ("products never ordered") and
missing values ("rentals without a return date").

A bridge's rows are never counted bare: every count through one is COUNT(DISTINCT) of the thing on its other end.
A flag is only ever a filter. A ranking lists at most half of the rows it ranks, and says how many.
"""
from __future__ import annotations

import re
from typing import Optional

from data_pipeline.lexicon.phrases import quoted
from data_pipeline.lexicon.questions import ask
from data_pipeline.lexicon.vocabulary import is_en
from data_pipeline.qa.columns import col, literal, soft_delete_conditions, table_ref
from data_pipeline.qa.model_facts import Draft, top_n
from data_pipeline.qa.model_sql import FACT_KINDS, Schema, where
from data_pipeline.semantics.model import Relationship

NULL_SHARE = (0.02, 0.98)


class EntityQuestions:
    def __init__(self, schema: Schema, q: str):
        self.s, self.q = schema, q
        self.ts = schema.sem(q)
        self.t = schema.tables[q]
        self.noun, self.plural = schema.noun(q), schema.plural(q)
        self.ref = table_ref(self.t, "e")

    def _draft(self, question: str, sql: str, intent: str, tables: Optional[list[str]] = None,
               hops: tuple[int, ...] = ()) -> Draft:
        return Draft(question, sql, tables or [self.q], intent, hops)

    def _live(self, alias: str = "e", q: Optional[str] = None) -> list[str]:
        return soft_delete_conditions(self.s.tables[q or self.q], alias)

    def count(self) -> list[Draft]:
        if self.ts.kind not in ("entity", "lookup"):
            return []
        sql = f"SELECT COUNT(*) AS {_name(self.q)}_count\nFROM {self.ref}{where(self._live())}"
        return [self._draft(ask("count_entity", noun=self.noun, plural=self.plural), sql, "count_entity")]

    def rank(self, order: Optional[list[str]] = None) -> list[Draft]:
        group = self.s.label_group(self.q, "e")
        n = top_n(self.ts.rows or 0)
        if group is None or n is None:
            return []
        out = []
        for name in [c for c in (order or self.ts.measures) if c in self.ts.columns][:2]:
            m = col(name, "e")
            sql = (f"SELECT {', '.join(group.select)}, {m},\n       RANK() OVER (ORDER BY {m} DESC) AS rank_no\n"
                   f"FROM {self.ref}{where([*self._live(), f'{m} IS NOT NULL'])}\nORDER BY rank_no\nLIMIT {n}")
            words = {"m": self.s.col_noun(self.q, name), "n": n, "noun": self.noun, "plural": self.plural}
            out.append(self._draft(ask("rank_entity", **words), sql, "rank_entity"))
        return out

    def flags(self) -> list[Draft]:
        out = []
        for name in self.s.flags(self.q)[:1]:
            cond = _truthy(self.t, name, "e")
            if cond is None:
                continue
            flag = self.s.col_noun(self.q, name)
            is_ = "_is" if not is_en() and flag.startswith("是否") and len(flag) > 3 else ""
            flag = flag[2:] if is_ else flag        # 是否非处方药 -> 属于非处方药的
            if is_en():
                flag = re.sub(r"^(is|has|can) ", "", flag)
            sql = f"SELECT COUNT(*) AS record_count\nFROM {self.ref}{where([*self._live(), cond])}"
            out.append(self._draft(ask(f"flag{is_}_count", flag=flag, noun=self.noun, plural=self.plural), sql,
                                   "flag_count"))
            ms = self.s.measures(self.q, "e")
            if ms:
                sql = f"SELECT {ms[0].sql} AS value\nFROM {self.ref}{where([*self._live(), cond])}"
                out.append(self._draft(ask(f"flag{is_}_measure", flag=flag, m=ms[0].words, noun=self.noun,
                                           plural=self.plural), sql, "flag_measure"))
        return out

    def bridges(self) -> list[Draft]:
        """Distinct things on a bridge's other end, per labelled entity (top-N when there are many)."""
        out = []
        group = self.s.label_group(self.q, "e")
        for path in self.s.model.paths_from(self.q):
            if len(path.hops) != 2 or len(path.via) != 1 or self.s.sem(path.via[0]).kind != "bridge":
                continue
            near, far = (self.s.model.relationships[i] for i in path.hops)
            bridge = path.via[0]
            b = table_ref(self.s.tables[bridge], "b")
            other_key = ", ".join(col(c, "b") for c in far.columns)
            count = f"COUNT(DISTINCT {other_key})" if len(far.columns) == 1 else f"COUNT(DISTINCT ({other_key}))"
            on = " AND ".join(f"{col(a, 'b')} = {col(k, 'e')}" for a, k in zip(near.columns, near.target_columns))
            other, others = self.s.noun(path.target), self.s.plural(path.target)
            live = self._live() + self._live("b", bridge)
            per_entity = (self.s.sem(bridge).rows or 0) / max(self.ts.rows or 1, 1)
            if group is not None and per_entity >= 2:      # "the most categories" of one or two each says nothing
                n = top_n(self.ts.rows or 0)
                sel = ", ".join(group.select)
                pos = ", ".join(str(i + 1) for i in range(len(group.select)))
                sql = (f"SELECT {sel}, {count} AS {_name(path.target)}_count\nFROM {self.ref}\nJOIN {b} ON {on}"
                       f"{where(live)}\nGROUP BY {pos}\nORDER BY {_name(path.target)}_count DESC"
                       + (f"\nLIMIT {n}" if n else ""))
                key = "bridge_top" if n else "bridge_count"
                out.append(self._draft(ask(key, g=group.words, gs=group.plural, other=other, others=others, n=n), sql,
                                       key, [self.q, bridge], (near_index(self.s, near),)))
            near_cols = ", ".join(col(c, "b") for c in near.columns)
            sql = (f"SELECT ROUND(AVG(n)::numeric, 2) AS average_count\nFROM (\n  SELECT {near_cols}, {count} AS n\n"
                   f"  FROM {b}{where(self._live('b', bridge))}\n  GROUP BY {near_cols}\n) AS per_{_name(self.q)}")
            out.append(self._draft(ask("bridge_avg", g=self.noun, other=other, others=others), sql, "bridge_avg",
                                   [bridge]))
        return out[:3]

    def never(self) -> list[Draft]:
        """Entities no fact row points at (overall, and in the data's latest year)."""
        out = []
        group = self.s.label_group(self.q, "e")
        for r in self.s.model.relationships:
            if r.target != self.q or r.source == self.q or self.s.sem(r.source).kind not in FACT_KINDS:
                continue
            f = self.s.tables[r.source]
            on = " AND ".join(f"{col(a, 'f')} = {col(b, 'e')}" for a, b in zip(r.columns, r.target_columns))
            sub = f"SELECT 1 FROM {table_ref(f, 'f')} WHERE {on}"
            live = self._live()
            role = (r.role_name or {}).get("en" if is_en() else "zh")
            words = {"e": self.noun, "es": self.plural, "noun": self.s.noun(r.source), "plural": self.s.plural(r.source),
                     "role": role}
            says = "never_role_" if role else "never_"      # two keys to one table: say which one
            sql = f"SELECT COUNT(*) AS {_name(self.q)}_count\nFROM {self.ref}{where([*live, f'NOT EXISTS ({sub})'])}"
            hops = (self.s.model.relationships.index(r),)
            out.append(self._draft(ask(f"{says}count", **words), sql, "never_count", [self.q, r.source], hops))
            year_sql = self._never_in_year(r, on)
            if year_sql:
                sql, year, tables = year_sql
                out.append(self._draft(ask(f"{says}year", year=year, **words), sql, "never_year", tables, hops))
            fk = self.s.model.column(r.source, r.columns[0]) if len(r.columns) == 1 else None
            unused = fk is not None and fk.cardinality and fk.cardinality < 0.9 * (self.ts.rows or 0)
            if group is not None and len(out) < 3 and unused:      # a list only where some are never used
                n = 10
                sel = ", ".join(group.select)
                sql = (f"SELECT {sel}\nFROM {self.ref}{where([*live, f'NOT EXISTS ({sub})'])}\n"
                       f"ORDER BY {group.exprs()[0]}\nLIMIT {n}")
                out.append(self._draft(ask(f"{says}list", n=n, **words), sql, "never_list", [self.q, r.source], hops))
            if len(out) >= 3:
                break
        return out

    def _never_in_year(self, r: Relationship, on: str) -> Optional[tuple[str, int, list[str]]]:
        axis = self.s.time_axis(r.source)
        if axis is None:
            return None
        ts = self.s.sem(axis[0])
        year = int(ts.facts["max_time"][:4]) if ts.facts.get("max_time") else None
        if year is None:
            return None
        f = self.s.tables[r.source]
        join, alias, tables = "", "f", [self.q, r.source]
        if axis[0] != r.source:
            up = next(x for x in self.s.model.relationships if x.source == r.source and x.target == axis[0])
            join = f" JOIN {table_ref(self.s.tables[axis[0]], 'v')} ON " + " AND ".join(
                f"{col(a, 'f')} = {col(b, 'v')}" for a, b in zip(up.columns, up.target_columns))
            alias = "v"
            tables.append(axis[0])
        t = col(axis[1], alias)
        sub = (f"SELECT 1 FROM {table_ref(f, 'f')}{join} WHERE {on} AND {t} >= '{year}-01-01' "
               f"AND {t} < '{year + 1}-01-01'")
        return (f"SELECT COUNT(*) AS {_name(self.q)}_count\nFROM {self.ref}"
                f"{where([*self._live(), f'NOT EXISTS ({sub})'])}", year, tables)

    def value_count(self) -> list[Draft]:
        """How many rows have a real value of the table's first dimension (never a personal one)."""
        for g in self.s.dimension_groups(self.q, "e"):
            if g.values and g.distinct >= 2:
                v = g.values[0]
                value = g.literal(self.s, v)
                sql = f"SELECT COUNT(*) AS record_count\nFROM {self.ref}{where([*self._live(), f'{g.value_sql} = {value}'])}"
                words = {"c": g.words, "v": quoted(v, not value.startswith("'")), "noun": self.noun,
                         "plural": self.plural}
                return [self._draft(ask("value_count", **words), sql, "value_count")]
        return []

    def hierarchy(self) -> list[Draft]:
        return _hierarchy(self.s, self.q)

    def nulls(self) -> list[Draft]:
        out = []
        for name, c in self.ts.columns.items():
            if c.personal or c.soft_delete or c.null_share is None or not NULL_SHARE[0] <= c.null_share <= NULL_SHARE[1]:
                continue
            if c.role not in ("event_time", "foreign_key", "dimension", "additive_measure", "non_additive_measure",
                              "label"):
                continue
            noun = self.s.col_noun(self.q, name)
            if c.role == "foreign_key" and c.references in self.s.tables:
                noun = (c.role_name or {}).get("en" if is_en() else "zh") or self.s.noun(c.references)
            words = {"c": noun, "noun": self.noun, "plural": self.plural,
                     "unit": "条" if self.ts.kind in FACT_KINDS else "个"}
            if len(out) % 2 == 0:
                cond = f"{col(name, 'e')} IS NULL"
                sql = f"SELECT COUNT(*) AS record_count\nFROM {self.ref}{where([*self._live(), cond])}"
                out.append(self._draft(ask("null_count", **words), sql, "null_count"))
            else:
                sql = (f"SELECT ROUND(100.0 * SUM(CASE WHEN {col(name, 'e')} IS NULL THEN 1 ELSE 0 END) / COUNT(*), 2)"
                       f" AS null_pct\nFROM {self.ref}{where(self._live())}")
                out.append(self._draft(ask("null_share", **words), sql, "null_share"))
            if len(out) >= 2:
                break
        return out


def _hierarchy(s: Schema, q: str) -> list[Draft]:
    """A self-reference (reports_to, parent_id): subordinates per superior when superiors have a label, else how
    many rows are someone's superior; and the average number of subordinates."""
    out = []
    for i, r in enumerate(s.model.relationships):
        if r.source != q or r.target != q:
            continue
        t = s.tables[q]
        role = (r.role_name or {}).get("en" if is_en() else "zh") or ("parent" if is_en() else "上级")
        on = " AND ".join(f"{col(a, 's')} = {col(b, 'm')}" for a, b in zip(r.columns, r.target_columns))
        live = soft_delete_conditions(t, "s") + soft_delete_conditions(t, "m")
        join = f"FROM {table_ref(t, 's')}\nJOIN {table_ref(t, 'm')} ON {on}"
        words = {"role": role, "noun": s.noun(q), "plural": s.plural(q)}
        group = s.label_group(q, "m")
        if group is not None:
            sel, pos = ", ".join(group.select), ", ".join(str(k + 1) for k in range(len(group.select)))
            sql = f"SELECT {sel}, COUNT(*) AS subordinate_count\n{join}{where(live)}\nGROUP BY {pos}\n" \
                  f"ORDER BY subordinate_count DESC"
            out.append(Draft(ask("self_count", **words), sql, [q], "self_join", (i,)))
        else:
            key = ", ".join(col(b, "m") for b in r.target_columns)
            sql = f"SELECT COUNT(DISTINCT {key}) AS superior_count\n{join}{where(live)}"
            out.append(Draft(ask("edge_self", **words), sql, [q], "self_join", (i,)))
        fk = ", ".join(col(c, "s") for c in r.columns)
        sql = (f"SELECT ROUND(AVG(n)::numeric, 2) AS average_subordinates\nFROM (\n  SELECT {fk}, COUNT(*) AS n\n"
               f"  FROM {table_ref(t, 's')}{where([*soft_delete_conditions(t, 's'), f'{fk} IS NOT NULL'])}\n"
               f"  GROUP BY {fk}\n) AS per_superior")
        out.append(Draft(ask("self_avg", **words), sql, [q], "self_avg"))
        break
    return out


def near_index(schema: Schema, r: Relationship) -> int:
    return schema.model.relationships.index(r)


def _name(q: str) -> str:
    name = q.split(".", 1)[-1].lower()
    return name if name.isidentifier() and name.isascii() else "row"


def _truthy(t, name: str, alias: str) -> Optional[str]:
    c = t.column(name)
    if c is None:
        return None
    if c.data_type.lower() == "boolean":
        return f"{col(name, alias)} IS TRUE"
    values = {str(v).strip().lower(): str(v) for v in [x.value for x in c.top_values] + list(c.samples)}
    for v in ("1", "y", "t", "true", "yes", "是"):
        if v in values:
            return f"{col(name, alias)} = {literal(values[v], c)}"
    return None
