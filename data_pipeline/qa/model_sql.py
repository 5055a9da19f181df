"""SQL pieces and names for questions asked against the semantic model (`data_pipeline.semantics`).

`Schema` holds the model and the snapshot's tables; from it come the measures of a table (SUM of an additive
measure of a fact or line, AVG of anything else, unit price x quantity on lines), what a table is grouped by (its
label, with its key when labels repeat; never a key alone, never a flag), its business time axis (a line's is its
event's), and the FROM clause of a join path with every table's soft-delete condition. Nothing here phrases a
question; the nouns it returns are in the run's language (`lexicon.vocabulary`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from data_pipeline.lexicon.glossary import words
from data_pipeline.lexicon.glossary import pluralize
from data_pipeline.lexicon.phrases import plural_label, singular_en
from data_pipeline.lexicon.vocabulary import column_noun, is_en, table_noun, table_plural
from data_pipeline.qa.columns import col, literal, soft_delete_conditions, table_ref
from data_pipeline.schema.model import Table
from data_pipeline.semantics.model import JoinPath, SemanticModel, TableSemantics
from data_pipeline.semantics.roles import values_of

FACT_KINDS = ("event", "line", "snapshot", "view")
_TOTAL_ZH = re.compile(r"总|合计|小计|累计")
_AVG_ZH = re.compile(r"平均|均")


@dataclass
class Measure:
    sql: str                 # the aggregate, e.g. SUM(p.amount)
    words: str               # "total amount" / "金额合计"
    column: str              # the measure column (or the derived measure's name)
    additive: bool


@dataclass
class Group:
    select: list[str]        # expressions selected and grouped (label first)
    words: str               # "category" / "分类"
    plural: str              # "categories"
    distinct: int            # how many groups (estimated)
    values: list[str] = field(default_factory=list)    # real values of the first expression (for filters)
    value_sql: str = ""      # the expression a value filter compares
    value_col: Optional[tuple[str, str]] = None         # (qualified table, column) of value_sql

    def exprs(self) -> list[str]:
        return [s.split(" AS ")[0] for s in self.select]

    def literal(self, schema: "Schema", value: str) -> str:
        return lit(schema, *self.value_col, value) if self.value_col else "'" + value.replace("'", "''") + "'"


@dataclass
class Walk:
    """A join path as SQL: FROM/JOIN text, the alias of each table, the soft-delete conditions."""
    from_sql: str
    aliases: dict[str, str]  # qualified table -> alias
    live: list[str]
    tables: list[str]
    hops: list[int] = field(default_factory=list)    # relationships joined
    paths: tuple = ()                                  # the JoinPaths walked (without the extra join)


class Schema:
    def __init__(self, model: SemanticModel, tables: list[Table]):
        self.model = model
        self.tables = {t.qualified: t for t in tables if t.qualified in model.tables}

    def sem(self, q: str) -> TableSemantics:
        return self.model.tables[q]

    # ------------------------------------------------------------------------------------------ names
    def noun(self, q: str) -> str:
        noun = table_noun(self.tables[q])
        return singular_en(noun) if is_en() else noun          # "employees" -> an employee

    def plural(self, q: str) -> str:
        noun = self.noun(q)
        if is_en() and re.search(r"(ed|\blist)$|\bby\b", noun):
            return noun                     # "order details extended": no plural to add
        if is_en() and re.fullmatch(r"[A-Za-z][A-Za-z '’()-]*", noun):
            return pluralize(noun)
        return table_plural(self.tables[q])

    def col_noun(self, q: str, name: str) -> str:
        t = self.tables[q]
        c = t.column(name)
        return column_noun(c, t) if c else name

    def owned(self, q: str, name: str) -> str:
        """A column's noun with its table's in front when it does not already say it ("category name" -> the
        category; "rating" of a film -> "film rating")."""
        noun, words_ = self.noun(q), self.col_noun(q, name)
        if is_en():
            return words_ if noun.lower() in words_.lower() else f"{noun} {words_}"
        return words_ if _shares_bigram(words_, noun) or words_.startswith(noun) else f"{noun}{words_}"

    # ------------------------------------------------------------------------------------------ measures
    def measures(self, q: str, alias: str) -> list[Measure]:
        """SUM for additive measures of facts/lines, AVG otherwise; derived line amounts first."""
        ts = self.sem(q)
        fact = ts.kind in FACT_KINDS
        out = []
        for d in ts.derived_measures:
            a, b = d["columns"]
            words_ = d["name_words"]["en" if is_en() else "zh"]
            out.append(Measure(f"SUM({col(a, alias)} * {col(b, alias)})", self._total(self._line_words(q, words_)),
                               d["name"], True))
        for name in ts.measures:
            c = ts.columns[name]
            additive = fact and c.role == "additive_measure"
            noun = self.col_noun(q, name)
            value = self._numeric(q, name, alias)
            if additive:
                out.append(Measure(f"SUM({value})", self._total(noun), name, True))
            else:
                out.append(Measure(f"AVG({value})", self._average(noun), name, False))
        return out

    def _numeric(self, q: str, name: str, alias: str) -> str:
        """The column as a value to aggregate: `money` (AVG(money) does not exist, its text is locale-bound) as
        numeric."""
        c = self.tables[q].column(name) if q in self.tables else None
        kind = ((c.domain_base_type if c is not None and c.type_kind == "domain" else None)
                or (c.data_type if c is not None else "") or "").lower()
        return f"{col(name, alias)}::numeric" if kind == "money" else col(name, alias)

    def _line_words(self, q: str, words_: str) -> str:
        return words_

    @staticmethod
    def _total(noun: str) -> str:
        if is_en():
            return noun if re.match(r"(?i)(total|sum)\b", noun) else f"total {noun}"
        return noun if _TOTAL_ZH.search(noun) else f"{noun}合计"

    @staticmethod
    def _average(noun: str) -> str:
        if is_en():
            return noun if re.match(r"(?i)(average|avg|mean)\b", noun) else f"average {noun}"
        return noun if _AVG_ZH.search(noun) else f"平均{noun}"

    # ------------------------------------------------------------------------------------------ groups
    def label_group(self, q: str, alias: str, role: Optional[str] = None) -> Optional[Group]:
        """The table's label (first + last name joined), with its key when labels repeat; None without one."""
        ts = self.sem(q)
        if not ts.label or any(ts.columns[n].personal for n in ts.label if n in ts.columns):
            return None
        if len(ts.label) == 2:
            expr = f"{col(ts.label[0], alias)} || ' ' || {col(ts.label[1], alias)}"
            select = [f"{expr} AS {ts.label[0].split('_')[0]}_name"]
        else:
            expr = col(ts.label[0], alias)
            select = [expr]
        if not ts.label_unique and ts.key and len(ts.key) == 1:
            select.append(col(ts.key[0], alias))
        words_ = role or self.noun(q)
        t = self.tables[q]
        values = [] if len(ts.label) != 1 else _values(t, ts.label[0])
        return Group(select, words_, _plural(words_) if role else self.plural(q), ts.rows or 0, values, expr,
                     (q, ts.label[0]) if len(ts.label) == 1 else None)

    def dimension_groups(self, q: str, alias: str, own: bool = True) -> list[Group]:
        """Groups by the table's dimensions; a dimension of another table (`own=False`, reached by a path) is
        named with that table's noun when it does not say it ("customer city", not "city")."""
        ts, t = self.sem(q), self.tables[q]
        out = []
        for name, c in ts.columns.items():
            if c.role == "dimension" and c.top_values and (c.cardinality or 0) >= 2:
                words_ = self.owned(q, name) if not own and ts.kind not in FACT_KINDS else self.col_noun(q, name)
                out.append(Group([col(name, alias)], words_, _plural(words_), c.cardinality or len(c.top_values),
                                 _values(t, name), col(name, alias), (q, name)))
        return out

    def flags(self, q: str) -> list[str]:
        return [n for n, c in self.sem(q).columns.items() if c.role == "flag" and not c.soft_delete]

    # ------------------------------------------------------------------------------------------ time
    def time_axis(self, q: str) -> Optional[tuple[str, str]]:
        """(qualified table holding the axis, column): the table's own event time, else (a line) its event's."""
        ts = self.sem(q)
        if ts.event_time:
            return q, ts.event_time
        for r in self.model.relationships:
            if r.source == q and self.model.tables[r.target].kind == "event" and self.sem(r.target).event_time:
                return r.target, self.sem(r.target).event_time
        return None

    # ------------------------------------------------------------------------------------------ joins
    def walk(self, source: str, *paths: Optional[JoinPath], extra: Optional[str] = None) -> Optional[Walk]:
        """FROM text from `source` along `paths` (merged: a shared prefix is joined once), plus, when `extra`
        names a parent of the source, one more join to it (a line's event, for its time axis). None when two
        paths reach one table by different foreign keys (it would need two aliases: not asked)."""
        used: set[str] = set()
        aliases = {source: _alias(source, used)}
        via: dict[str, int] = {}
        parts = [table_ref(self.tables[source], aliases[source])]
        hop_lists = [list(p.hops) for p in paths if p is not None]
        if extra and extra != source:
            r = next((i for i, r in enumerate(self.model.relationships) if r.source == source and r.target == extra),
                     None)
            if r is None:
                return None
            hop_lists.append([r])
        for hops in hop_lists:
            here = source
            for i in hops:
                r = self.model.relationships[i]
                nxt = r.target if r.source == here else r.source
                if nxt in aliases:
                    if nxt != source and via.get(nxt) != i:
                        return None
                    here = nxt
                    continue
                aliases[nxt] = _alias(nxt, used)
                via[nxt] = i
                on = " AND ".join(f"{col(a, aliases[r.source])} = {col(b, aliases[r.target])}"
                                  for a, b in zip(r.columns, r.target_columns))
                parts.append(f"JOIN {table_ref(self.tables[nxt], aliases[nxt])} ON {on}")
                here = nxt
        live = [c for q, a in aliases.items() for c in soft_delete_conditions(self.tables[q], a)]
        return Walk("FROM " + "\n".join(parts), aliases, live, list(aliases), sorted(via.values()),
                    tuple(p for p in paths if p is not None))

    def crosses_bridge(self, walk: Walk) -> bool:
        return any(self.model.tables[self.model.relationships[i].source].kind == "bridge" for i in walk.hops)

    def fans_out(self, path: JoinPath) -> bool:
        """Whether walking `path` goes down from a parent into its children (an event into its lines)."""
        here = path.source
        hops = list(path.hops)
        k = 0
        while k < len(hops):
            r = self.model.relationships[hops[k]]
            if self.model.tables[r.source].kind == "bridge" and r.target == here and k + 1 < len(hops):
                here = self.model.relationships[hops[k + 1]].target     # across a bridge
                k += 2
                continue
            if r.target == here and r.source != here:
                return True
            here = r.target
            k += 1
        return False

    def target_group(self, path: JoinPath, alias: str) -> Optional[Group]:
        """What a path's target is grouped by: its label (named by the last hop's role), else a dimension."""
        last = self.model.relationships[path.hops[-1]]
        role = None
        if last.target == path.target and last.role_name:
            role = last.role_name.get("en" if is_en() else "zh")
        g = self.label_group(path.target, alias, role)
        if g is None:
            g = next(iter(self.dimension_groups(path.target, alias, False)), None)
            if g is not None and role:               # the opening employee's job title, not any employee's
                dim = self.col_noun(path.target, g.value_col[1])
                g.words = f"{role} {dim}" if is_en() else f"{role}{dim}"
                g.plural = _plural(g.words)
        if g is not None and last.target == path.target and len(last.columns) == 1:
            fk = self.model.column(last.source, last.columns[0])
            if fk is not None and fk.cardinality:          # only the parents the children point at
                g.distinct = min(g.distinct, fk.cardinality)
        return g


def where(conditions: list[str]) -> str:
    return f"\nWHERE {' AND '.join(conditions)}" if conditions else ""


def lit(schema: Schema, q: str, name: str, value: str) -> str:
    c = schema.tables[q].column(name) if q in schema.tables else None
    return literal(value, c) if c else "'" + value.replace("'", "''") + "'"


def _values(t: Table, name: str) -> list[str]:
    """Real values to filter on. In Chinese a lowercase code ("shipped") would read as an identifier quoted
    into the sentence: only values a reader sees as words or numbers are used there."""
    c = t.column(name)
    values = values_of(c) if c else []
    if not is_en():
        values = [v for v in values if not re.fullmatch(r"[a-z_][a-z0-9_]*", v)]
    return values


def _alias(q: str, used: set[str]) -> str:
    name = q.split(".", 1)[-1]
    base = "".join(w[0] for w in words(name) if w and w[0].isascii() and w[0].isalpha()).lower()[:3] or "t"
    alias, n = base, 1
    while alias in used or alias in _SQL_WORDS:
        n += 1
        alias = f"{base}{n}"
    used.add(alias)
    return alias


_SQL_WORDS = {"as", "at", "by", "do", "if", "in", "is", "of", "on", "or", "to", "and", "all", "any", "asc", "end",
              "for", "not", "off", "old", "new", "set", "top", "use", "desc", "from", "into", "join", "left", "null"}


def _plural(words_: str) -> str:
    return plural_label(words_) if is_en() else words_


def _shares_bigram(a: str, b: str) -> bool:
    return any(a[i:i + 2] in b for i in range(len(a) - 1))
