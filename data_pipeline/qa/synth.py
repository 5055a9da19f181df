"""Rule-based question–SQL synthesis, SQL first, from the schema snapshot alone (no LLM, no DB access).

Every template builds the SQL from the table's real structure and profiled values, then phrases the question
in the run's language (`data_pipeline.lexicon.phrases`, nouns from `vocabulary`). The column roles come from
generic rules only:
- measure: a numeric column that is not a key, not enum-like and not named like a code/type/flag/version;
  summed only when additive (a price, rate, temperature or score is averaged: `columns.is_additive`);
- category: an enum-like column (profiled as low-cardinality) with real top values, never PII;
- label: a text column named like a name (`*_name`, comment containing 名称/名字), never PII;
- time: a date/timestamp column with real sampled values (the range asked about comes from those samples),
  never a personal date (birth, hire);
- soft delete: `delete_ts`/`deleted_at`/`deleted_time`-style columns get `IS NULL`, `is_deleted`-style
  flags get `= false`/`= 0` on every table of a query.
PII columns (`Column.pii_kind`) are never filtered on, grouped by, listed or used as values. A join names the
role of its foreign key when the column says more than the parent's name (`original_language_id`), a
self-reference is asked as superior/subordinates, and a LIMIT in the SQL is always stated in the question.
Each pair's meta records difficulty, tables, fk_edges, template and `source: "rule_based"`.
"""
from __future__ import annotations

from datetime import date
from typing import Optional, Sequence

from data_pipeline.qa.pair_quality import FkEdge
from data_pipeline.qa.pairs import Pair
from data_pipeline.schema.model import Column, ForeignKey, Table
from data_pipeline.qa.columns import (TOP_N, categories, col, fk_columns, is_additive, is_creation_time,
                                     is_soft_delete, label_column, literal, measures, soft_delete_conditions,
                                     table_ref, time_column, usable_values)
from data_pipeline.lexicon.phrases import joined, month, quoted, say
from data_pipeline.lexicon.vocabulary import column_noun, identifier_noun, is_en, role_noun, table_noun, table_plural

LIST_LIMIT = 50          # rows a "which are they" listing returns (stated in the question)
GROUP_LIMIT = 20         # a join grouped by a parent with more rows than this lists its top groups only


def question_value(value: str, column: Column) -> str:
    """The value as the question shows it: quoted like the SQL's text literal, bare like its number."""
    return quoted(value, numeric=not literal(value, column).startswith("'"))


def _where(conditions: Sequence[str]) -> str:
    return f"\nWHERE {' AND '.join(conditions)}" if conditions else ""


def _pair(question: str, sql: str, difficulty: str, template: str, tables: Sequence[Table],
          edges: Sequence[FkEdge] = (), theme: Optional[str] = None) -> Pair:
    return Pair(question, sql, {"theme": theme, "difficulty": difficulty,
                                "tables": sorted({t.qualified for t in tables}),
                                "fk_edges": [e.key for e in edges], "source": "rule_based", "template": template})


def _measure(m: Column, alias: Optional[str] = None) -> tuple[str, str]:
    """(SQL aggregate, words) for a measure: SUM and "total" when additive, else AVG and "average"."""
    if is_additive(m):
        return f"SUM({col(m.name, alias)})", say("total", m=column_noun(m))
    return f"AVG({col(m.name, alias)})", say("average", m=column_noun(m))


def table_pairs(table: Table, theme: Optional[str] = None) -> list[Pair]:
    """Single-table templates: count, listing, filters on real values, group-by, aggregates, top-N, time
    range, monthly trend, above-average (nested) and ranking (window). Always at least the count."""
    t, live = table, soft_delete_conditions(table)
    noun, plural, ref = table_noun(t), table_plural(t), table_ref(t)
    cats, label, ms, tcol = categories(t), label_column(t), measures(t), time_column(t)
    words = dict(noun=noun, plural=plural)
    out = [_pair(say("count_all", **words), f"SELECT COUNT(*) AS record_count\nFROM {ref}{_where(live)}",
                 "aggregate", "count_all", [t], theme=theme)]
    shown = [c for c in ([label] if label else []) + cats[:2] + ([tcol[0]] if tcol else []) + ms[:1] if c]
    shown = list({c.name: c for c in shown}.values())[:4] or [c for c in t.columns if not c.pii_kind][:3]
    if shown:
        what = joined([column_noun(c, t) for c in shown])
        key = (t.primary_key or [shown[0].name])[0]
        if tcol:
            order, question = f"{col(tcol[0].name)} DESC", say("list_recent", time=column_noun(tcol[0], t),
                                                                 n=TOP_N, what=what, **words)
        else:
            key_col = t.column(key)
            order = col(key)
            question = say("list_first", key=column_noun(key_col, t) if key_col else identifier_noun(key), n=TOP_N,
                           what=what, **words)
        out.append(_pair(question, f"SELECT {', '.join(col(c.name) for c in shown)}\nFROM {ref}{_where(live)}\n"
                                   f"ORDER BY {order}\nLIMIT {TOP_N}", "single_table", "list_recent", [t],
                         theme=theme))
    if label:
        out.append(_pair(say("count_distinct", label=column_noun(label, t), **words),
                         f"SELECT COUNT(DISTINCT {col(label.name)}) AS distinct_count\nFROM {ref}{_where(live)}",
                         "aggregate", "count_distinct", [t], theme=theme))
    for c in cats[:2]:
        cn, value = column_noun(c, t), usable_values(c)[0]
        out.append(_pair(say("group_count", cat=cn, **words),
                         f"SELECT {col(c.name)}, COUNT(*) AS record_count\nFROM {ref}{_where(live)}\n"
                         f"GROUP BY {col(c.name)}\nORDER BY record_count DESC", "group_by", "group_count", [t],
                         theme=theme))
        out.append(_pair(say("filter_count", cat=cn, value=question_value(value, c), **words),
                         f"SELECT COUNT(*) AS record_count\nFROM {ref}"
                         f"{_where([*live, f'{col(c.name)} = {literal(value, c)}'])}",
                         "aggregate", "filter_count", [t], theme=theme))
    if cats and label:
        c = cats[0]
        value = usable_values(c)[0]
        out.append(_pair(say("filter_list", cat=column_noun(c, t), value=question_value(value, c),
                             n=LIST_LIMIT, label=column_noun(label, t), **words),
                         f"SELECT DISTINCT {col(label.name)}\nFROM {ref}"
                         f"{_where([*live, f'{col(c.name)} = {literal(value, c)}'])}\n"
                         f"ORDER BY {col(label.name)}\nLIMIT {LIST_LIMIT}",
                         "single_table", "filter_list", [t], theme=theme))
    for m in ms[:2]:
        mc = col(m.name)
        if is_additive(m):
            question, select = say("stats_sum", m=column_noun(m, t), **words), \
                f"SUM({mc}) AS total, AVG({mc}) AS average, MAX({mc}) AS maximum"
        else:
            question, select = say("stats_avg", m=column_noun(m, t), **words), \
                f"AVG({mc}) AS average, MIN({mc}) AS minimum, MAX({mc}) AS maximum"
        out.append(_pair(question, f"SELECT {select}\nFROM {ref}{_where(live)}", "aggregate", "measure_stats", [t],
                         theme=theme))
    if ms and cats:
        (agg, what), c = _measure(ms[0]), cats[0]
        out.append(_pair(say("group_measure", cat=column_noun(c, t), what=what, **words),
                         f"SELECT {col(c.name)}, {agg} AS value\nFROM {ref}{_where(live)}\n"
                         f"GROUP BY {col(c.name)}\nORDER BY value DESC", "group_by", "group_sum", [t], theme=theme))
    if ms and label:
        agg, what = _measure(ms[0])
        out.append(_pair(say("top_n", what=what, n=TOP_N, label=column_noun(label, t), **words),
                         f"SELECT {col(label.name)}, {agg} AS value\nFROM {ref}{_where(live)}\n"
                         f"GROUP BY {col(label.name)}\nORDER BY value DESC\nLIMIT {TOP_N}", "group_by", "top_n",
                         [t], theme=theme))
    if tcol:
        out.extend(_time_pairs(t, tcol, ms, live, theme))
    out.extend(_nested_pairs(t, cats, label, ms, live, theme))
    return out


def _time_pairs(t: Table, tcol: tuple[Column, date, date], ms: list[Column], live: list[str],
                theme: Optional[str]) -> list[Pair]:
    c, lo, hi = tcol
    created = is_creation_time(c)
    if created:
        ms = []   # "how many were created" counts rows
    start = hi.replace(day=1)
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    agg, what = _measure(ms[0]) if ms else ("COUNT(*)", "")
    alias = "value" if ms else "record_count"
    words = dict(noun=table_noun(t), plural=table_plural(t), time=column_noun(c, t))
    rng = [*live, f"{col(c.name)} >= '{start.isoformat()}'", f"{col(c.name)} < '{end.isoformat()}'"]
    key = "time_created" if created else ("time_measure" if ms else "time_count")
    pairs = [_pair(say(key, period=month(start), what=what, **words),
                   f"SELECT {agg} AS {alias}\nFROM {table_ref(t)}{_where(rng)}", "aggregate", "time_range", [t],
                   theme=theme)]
    first = max(lo, date(hi.year - 1, hi.month, 1)).replace(day=1)
    trend = [*live, f"{col(c.name)} >= '{first.isoformat()}'"]
    key = "trend_created" if created else ("trend_measure" if ms else "trend_count")
    pairs.append(_pair(say(key, since=month(first), what=what, **words),
                       f"SELECT date_trunc('month', {col(c.name)}) AS month, {agg} AS {alias}\n"
                       f"FROM {table_ref(t)}{_where(trend)}\nGROUP BY 1\nORDER BY 1", "group_by", "monthly_trend",
                       [t], theme=theme))
    return pairs


def _nested_pairs(t: Table, cats: list[Column], label: Optional[Column], ms: list[Column], live: list[str],
                  theme: Optional[str]) -> list[Pair]:
    ref, out = table_ref(t), []
    words = dict(noun=table_noun(t), plural=table_plural(t))
    if ms:
        m = col(ms[0].name)
        out.append(_pair(say("above_average", m=column_noun(ms[0], t), **words),
                         f"SELECT COUNT(*) AS record_count\nFROM {ref}"
                         f"{_where([*live, f'{m} > (SELECT AVG({m}) FROM {ref}{_where(live)})'])}",
                         "nested_window", "above_average", [t], theme=theme))
    elif cats:
        c = col(cats[0].name)
        out.append(_pair(say("above_average_group", cat=column_noun(cats[0], t), **words),
                         f"SELECT {c}, COUNT(*) AS record_count\nFROM {ref}{_where(live)}\nGROUP BY {c}\n"
                         f"HAVING COUNT(*) > (SELECT AVG(n) FROM (SELECT COUNT(*) AS n FROM {ref}{_where(live)} "
                         f"GROUP BY {c}) AS per_group)", "nested_window", "above_average_group", [t], theme=theme))
    if ms and label and cats:
        (agg, what), c, lab = _measure(ms[0]), col(cats[0].name), col(label.name)
        out.append(_pair(say("top_per_group", cat=column_noun(cats[0], t), what=what, label=column_noun(label, t),
                             **words),
                         f"SELECT {c}, {lab}, value\nFROM (\n  SELECT {c}, {lab}, {agg} AS value,\n"
                         f"         ROW_NUMBER() OVER (PARTITION BY {c} ORDER BY {agg} DESC) AS rn\n"
                         f"  FROM {ref}{_where(live)}\n  GROUP BY {c}, {lab}\n) AS ranked\nWHERE rn = 1",
                         "nested_window", "top_per_group", [t], theme=theme))
    elif ms and label:
        (agg, what), lab = _measure(ms[0]), col(label.name)
        out.append(_pair(say("rank", what=what, label=column_noun(label, t), n=TOP_N, **words),
                         f"SELECT {lab}, {agg} AS value, RANK() OVER (ORDER BY {agg} DESC) AS rank_no\n"
                         f"FROM {ref}{_where(live)}\nGROUP BY {lab}\nORDER BY rank_no\nLIMIT {TOP_N}",
                         "nested_window", "rank", [t], theme=theme))
    return out


def _edge(child: Table, fk: ForeignKey) -> FkEdge:
    return FkEdge(child.qualified, tuple(fk.columns), f"{fk.ref_schema}.{fk.ref_table}", tuple(fk.ref_columns))


def _join_on(child_alias: str, fk: ForeignKey, parent_alias: str) -> str:
    return " AND ".join(f"{col(c, child_alias)} = {col(r, parent_alias)}" for c, r in zip(fk.columns, fk.ref_columns))


def _shares_bigram(a: str, b: str) -> bool:
    return any(a[i:i + 2] in b for i in range(len(a) - 1))


def _group_key(parent: Table, role: Optional[str] = None) -> tuple[str, str]:
    """(column, words) a join groups the parent by: its label, else a category, else its referenced key. The
    words name the parent (or the foreign key's role: "original language name") in front of a bare column."""
    owner = role or table_noun(parent)
    for column in [label_column(parent), *categories(parent)[:1]]:
        if column is not None:
            words = column_noun(column, parent)
            return column.name, _qualified_words(words, owner, table_noun(parent), role is not None)
    key = (parent.primary_key or [parent.columns[0].name])[0]
    words = column_noun(parent.column(key), parent) if parent.column(key) else identifier_noun(key)
    return key, _qualified_words(words, owner, table_noun(parent), role is not None)


def _qualified_words(words: str, owner: str, parent_noun: str, is_role: bool) -> str:
    """"名称" -> "公司名称"; "公司名称" stays; with a role, the parent's own noun gives way to the role
    ("语言名称" -> "原始语言名称", "language name" -> "original language name")."""
    if is_en():
        if words.lower().startswith(parent_noun.lower()):
            words = words[len(parent_noun):].strip() or words
        return f"{owner} {words}" if not words.lower().startswith(owner.lower()) else words
    if is_role and parent_noun in words:
        words = words.replace(parent_noun, "", 1) or words
    # "公司名称" already names its table ("…公司"); a bare "名称"/"name" needs the owner's noun in front
    return words if (not is_role and _shares_bigram(words, owner)) or words.startswith(owner) else f"{owner}{words}"


def _limit_clause(parent: Table) -> str:
    """A join grouped by a big parent lists its top GROUP_LIMIT groups (and says so); a small one lists all."""
    small = parent.row_estimate is not None and parent.row_estimate <= GROUP_LIMIT
    return "" if small else f"\nLIMIT {GROUP_LIMIT}"


def fk_pair(child: Table, fk: ForeignKey, parent: Table, theme: Optional[str] = None) -> Pair:
    """One join along `fk`: the child's measure (total, or average when not additive) or row count per parent
    label; a self-reference counts subordinates per superior."""
    if parent.qualified == child.qualified:
        return _self_join_pair(child, fk, theme)
    role = role_noun(fk, parent)
    key, group = _group_key(parent, role)
    ms = measures(child)
    live = soft_delete_conditions(child, "c") + soft_delete_conditions(parent, "p")
    if ms:
        agg, what = _measure(ms[0], "c")
        alias = "value"
    else:
        agg, what, alias = "COUNT(*)", say("count"), "record_count"
    limit = _limit_clause(parent)
    sql = (f"SELECT {col(key, 'p')}, {agg} AS {alias}\nFROM {table_ref(child, 'c')}\n"
           f"JOIN {table_ref(parent, 'p')} ON {_join_on('c', fk, 'p')}{_where(live)}\n"
           f"GROUP BY {col(key, 'p')}\nORDER BY {alias} DESC{limit}")
    child_words = table_plural(child) if is_en() else table_noun(child)
    question = say("join_top" if limit else "join_all", group=group, child=child_words, what=what, n=GROUP_LIMIT)
    return _pair(question, sql, "join", "fk_join", [child, parent], [_edge(child, fk)], theme)


def _self_join_pair(table: Table, fk: ForeignKey, theme: Optional[str]) -> Pair:
    """A self-reference (reports_to, parent_id): subordinates per superior, phrased as such."""
    role = role_noun(fk, table)
    role = role if role and role != table_noun(table) else ("上级" if not is_en() else "parent")
    if is_en() and role in ("manager", "parent", "superior"):
        role = f"{role} {table_noun(table)}" if role == "parent" else role
    key = fk.ref_columns[0]
    key_col = table.column(key)
    live = soft_delete_conditions(table, "s") + soft_delete_conditions(table, "m")
    limit = _limit_clause(table)
    sql = (f"SELECT {col(key, 'm')}, COUNT(*) AS subordinate_count\nFROM {table_ref(table, 's')}\n"
           f"JOIN {table_ref(table, 'm')} ON {_join_on('s', fk, 'm')}{_where(live)}\n"
           f"GROUP BY {col(key, 'm')}\nORDER BY subordinate_count DESC{limit}")
    question = say("self_top" if limit else "self_all", role=role, noun=table_noun(table), plural=table_plural(table),
                   key=column_noun(key_col, table) if key_col else identifier_noun(key), n=GROUP_LIMIT)
    return _pair(question, sql, "join", "self_join", [table], [_edge(table, fk)], theme)


def link_pair(link: Table, tables_by_q: dict[str, Table], theme: Optional[str] = None) -> Optional[Pair]:
    """A two-hop join through a link table (two FKs to two other tables): covers both edges at once."""
    if len(link.foreign_keys) != 2:
        return None
    (fa, fb) = link.foreign_keys
    pa, pb = (tables_by_q.get(f"{f.ref_schema}.{f.ref_table}") for f in (fa, fb))
    if pa is None or pb is None or pa is pb or link in (pa, pb):
        return None
    key, group = _group_key(pa, role_noun(fa, pa))
    b_key = (pb.primary_key or fb.ref_columns)[0]
    live = soft_delete_conditions(link, "l") + soft_delete_conditions(pa, "a") + soft_delete_conditions(pb, "b")
    limit = _limit_clause(pa)
    sql = (f"SELECT {col(key, 'a')}, COUNT(DISTINCT {col(b_key, 'b')}) AS record_count\nFROM {table_ref(link, 'l')}\n"
           f"JOIN {table_ref(pa, 'a')} ON {_join_on('l', fa, 'a')}\n"
           f"JOIN {table_ref(pb, 'b')} ON {_join_on('l', fb, 'b')}"
           f"{_where(live)}\nGROUP BY {col(key, 'a')}\nORDER BY record_count DESC{limit}")
    other = table_plural(pb) if is_en() else table_noun(pb)
    return _pair(say("link_top" if limit else "link_all", group=group, other=other, n=GROUP_LIMIT), sql, "join",
                 "link_join", [link, pa, pb], [_edge(link, fa), _edge(link, fb)], theme)


def fk_filter_pair(child: Table, fk: ForeignKey, parent: Table, theme: Optional[str] = None) -> Optional[Pair]:
    """A join filtered on a real category value of the parent (named by the foreign key's role)."""
    cats = categories(parent)
    if not cats or parent.qualified == child.qualified:
        return None
    c = cats[0]
    value = usable_values(c)[0]
    live = soft_delete_conditions(child, "c") + soft_delete_conditions(parent, "p")
    cond = [*live, f"{col(c.name, 'p')} = {literal(value, c)}"]
    sql = (f"SELECT COUNT(*) AS record_count\nFROM {table_ref(child, 'c')}\n"
           f"JOIN {table_ref(parent, 'p')} ON {_join_on('c', fk, 'p')}{_where(cond)}")
    parent_words = role_noun(fk, parent) or table_noun(parent)
    child_words = table_plural(child) if is_en() else table_noun(child)
    return _pair(say("join_filter", cat=column_noun(c, parent), value=question_value(value, c),
                     parent=parent_words, child=child_words),
                 sql, "join", "fk_filter_join", [child, parent], [_edge(child, fk)], theme)


def edge_pairs(child: Table, tables_by_q: dict[str, Table], theme: Optional[str] = None) -> list[Pair]:
    """Join pairs for every FK of `child` whose parent is known (a link table gets the two-hop join)."""
    link = link_pair(child, tables_by_q, theme) if _is_link(child) else None
    if link:
        return [link]
    out = []
    for fk in child.foreign_keys:
        parent = tables_by_q.get(f"{fk.ref_schema}.{fk.ref_table}")
        if parent is not None:
            out.append(fk_pair(child, fk, parent, theme))
            extra = fk_filter_pair(child, fk, parent, theme)
            out.extend([extra] if extra else [])
    return out


def _is_link(table: Table) -> bool:
    fk_cols = fk_columns(table)
    return len(table.foreign_keys) == 2 and all(c.name in fk_cols or is_soft_delete(c) or c.is_primary_key
                                                for c in table.columns)


def edge_key(child: Table, fk: ForeignKey) -> str:
    """The `pair_quality.FkEdge.key` of a foreign key of `child`."""
    return _edge(child, fk).key
