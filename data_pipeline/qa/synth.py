"""Rule-based question–SQL synthesis, SQL first, from the schema snapshot alone (no LLM, no DB access).

Every template builds the SQL from the table's real structure and profiled values, then phrases a Chinese
question from the comments ("各{列}的{实体}数量是多少？"). The column roles come from generic rules only:
- measure: a numeric column that is not a key, not enum-like and not named like a code/type/flag/version;
- category: an enum-like column (profiled as low-cardinality) with real top values, never PII;
- label: a text column named like a name (`*_name`, comment containing 名称/名字), never PII;
- time: a date/timestamp column with real sampled values (the range asked about comes from those samples);
- soft delete: `delete_ts`/`deleted_at`/`deleted_time`-style columns get `IS NULL`, `is_deleted`-style
  flags get `= false`/`= 0` on every table of a query.
PII columns (`Column.pii_kind`) are never filtered on, grouped by, listed or used as values.
Each pair's meta records difficulty, tables, fk_edges, template and `source: "rule_based"`.
"""
from __future__ import annotations

from datetime import date
from typing import Optional, Sequence

from data_pipeline.qa.pair_quality import FkEdge
from data_pipeline.qa.pairs import Pair
from data_pipeline.schema.model import Column, ForeignKey, Table
from data_pipeline.qa.columns import (TOP_N, fk_columns, is_soft_delete, usable_values, categories, col, is_creation_time, label_column, literal, measures, soft_delete_conditions, table_ref, time_column)
from data_pipeline.qa.vocabulary import column_noun, table_noun

def _where(conditions: Sequence[str]) -> str:
    return f"\nWHERE {' AND '.join(conditions)}" if conditions else ""


def _pair(question: str, sql: str, difficulty: str, template: str, tables: Sequence[Table],
          edges: Sequence[FkEdge] = (), theme: Optional[str] = None) -> Pair:
    return Pair(question, sql, {"theme": theme, "difficulty": difficulty,
                                "tables": sorted({t.qualified for t in tables}),
                                "fk_edges": [e.key for e in edges], "source": "rule_based", "template": template})


def _entity_count(table: Table) -> str:
    """How a row is counted in words: a fact table (has a time column and measures) counts 记录, others 数量."""
    noun = table_noun(table)
    return f"{noun}记录数" if measures(table) and time_column(table) else f"{noun}数量"


def table_pairs(table: Table, theme: Optional[str] = None) -> list[Pair]:
    """Single-table templates: count, listing, filters on real values, group-by, aggregates, top-N, time
    range, monthly trend, above-average (nested) and ranking (window). Always at least the count."""
    t, live = table, soft_delete_conditions(table)
    noun, ref = table_noun(t), table_ref(t)
    cats, label, ms, tcol = categories(t), label_column(t), measures(t), time_column(t)
    out = [_pair(f"{noun}共有多少条记录？", f"SELECT COUNT(*) AS record_count\nFROM {ref}{_where(live)}",
                 "aggregate", "count_all", [t], theme=theme)]
    shown = [c for c in ([label] if label else []) + cats[:2] + ([tcol[0]] if tcol else []) + ms[:1] if c]
    shown = list({c.name: c for c in shown}.values())[:4] or [c for c in t.columns if not c.pii_kind][:3]
    if shown:
        order = f"\nORDER BY {col(tcol[0].name)} DESC" if tcol else ""
        what = "、".join(column_noun(c) for c in shown)
        head = f"最近的{TOP_N}条{noun}记录" if tcol else f"前{TOP_N}条{noun}记录"
        out.append(_pair(f"列出{head}的{what}。",
                         f"SELECT {', '.join(col(c.name) for c in shown)}\nFROM {ref}{_where(live)}{order}\n"
                         f"LIMIT {TOP_N}", "single_table", "list_recent", [t], theme=theme))
    if label:
        out.append(_pair(f"{noun}中共有多少个不同的{column_noun(label)}？",
                         f"SELECT COUNT(DISTINCT {col(label.name)}) AS distinct_count\nFROM {ref}{_where(live)}",
                         "aggregate", "count_distinct", [t], theme=theme))
    for c in cats[:2]:
        cn, value = column_noun(c), usable_values(c)[0]
        out.append(_pair(f"各{cn}的{_entity_count(t)}是多少？",
                         f"SELECT {col(c.name)}, COUNT(*) AS record_count\nFROM {ref}{_where(live)}\n"
                         f"GROUP BY {col(c.name)}\nORDER BY record_count DESC", "group_by", "group_count", [t],
                         theme=theme))
        out.append(_pair(f"{cn}为“{value}”的{noun}有多少条记录？",
                         f"SELECT COUNT(*) AS record_count\nFROM {ref}"
                         f"{_where([*live, f'{col(c.name)} = {literal(value, c)}'])}",
                         "aggregate", "filter_count", [t], theme=theme))
    if cats and label:
        c = cats[0]
        value = usable_values(c)[0]
        out.append(_pair(f"{column_noun(c)}为“{value}”的{noun}有哪些？列出其{column_noun(label)}。",
                         f"SELECT DISTINCT {col(label.name)}\nFROM {ref}"
                         f"{_where([*live, f'{col(c.name)} = {literal(value, c)}'])}\nLIMIT 50",
                         "single_table", "filter_list", [t], theme=theme))
    for m in ms[:2]:
        mn = column_noun(m)
        out.append(_pair(f"{noun}的{mn}总计、平均值和最大值分别是多少？",
                         f"SELECT SUM({col(m.name)}) AS total, AVG({col(m.name)}) AS average, "
                         f"MAX({col(m.name)}) AS maximum\nFROM {ref}{_where(live)}", "aggregate", "measure_stats",
                         [t], theme=theme))
    if ms and cats:
        m, c = ms[0], cats[0]
        out.append(_pair(f"各{column_noun(c)}的{column_noun(m)}合计是多少？",
                         f"SELECT {col(c.name)}, SUM({col(m.name)}) AS total\nFROM {ref}{_where(live)}\n"
                         f"GROUP BY {col(c.name)}\nORDER BY total DESC", "group_by", "group_sum", [t], theme=theme))
    if ms and label:
        m = ms[0]
        out.append(_pair(f"{column_noun(m)}合计最高的前{TOP_N}个{column_noun(label)}是哪些？",
                         f"SELECT {col(label.name)}, SUM({col(m.name)}) AS total\nFROM {ref}{_where(live)}\n"
                         f"GROUP BY {col(label.name)}\nORDER BY total DESC\nLIMIT {TOP_N}", "group_by", "top_n",
                         [t], theme=theme))
    if tcol:
        out.extend(_time_pairs(t, tcol, ms, live, theme))
    out.extend(_nested_pairs(t, cats, label, ms, live, theme))
    return out


def _time_pairs(t: Table, tcol: tuple[Column, date, date], ms: list[Column], live: list[str],
                theme: Optional[str]) -> list[Pair]:
    c, lo, hi = tcol
    if is_creation_time(c):
        ms = []   # "how many were created" counts rows
    start = hi.replace(day=1)
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    what = f"{column_noun(ms[0])}合计" if ms else "记录数"
    agg = f"SUM({col(ms[0].name)})" if ms else "COUNT(*)"
    alias = "total" if ms else "record_count"
    rng = [*live, f"{col(c.name)} >= '{start.isoformat()}'", f"{col(c.name)} < '{end.isoformat()}'"]
    created = is_creation_time(c)
    question = (f"{start.year}年{start.month}月新增了多少条{table_noun(t)}记录？" if created else
                f"{start.year}年{start.month}月{table_noun(t)}的{what}是多少？")
    pairs = [_pair(question, f"SELECT {agg} AS {alias}\nFROM {table_ref(t)}{_where(rng)}", "aggregate",
                   "time_range", [t], theme=theme)]
    first = max(lo, date(hi.year - 1, hi.month, 1)).replace(day=1)
    trend = [*live, f"{col(c.name)} >= '{first.isoformat()}'"]
    question = (f"按月统计{first.year}年{first.month}月以来每月新增的{table_noun(t)}数量。" if created else
                f"按{column_noun(c)}逐月统计{first.year}年{first.month}月以来{table_noun(t)}的{what}。")
    pairs.append(_pair(question,
                       f"SELECT date_trunc('month', {col(c.name)}) AS month, {agg} AS {alias}\n"
                       f"FROM {table_ref(t)}{_where(trend)}\nGROUP BY 1\nORDER BY 1", "group_by", "monthly_trend",
                       [t], theme=theme))
    return pairs


def _nested_pairs(t: Table, cats: list[Column], label: Optional[Column], ms: list[Column], live: list[str],
                  theme: Optional[str]) -> list[Pair]:
    ref, noun, out = table_ref(t), table_noun(t), []
    if ms:
        m = col(ms[0].name)
        out.append(_pair(f"{column_noun(ms[0])}高于平均值的{noun}记录有多少条？",
                         f"SELECT COUNT(*) AS record_count\nFROM {ref}"
                         f"{_where([*live, f'{m} > (SELECT AVG({m}) FROM {ref}{_where(live)})'])}",
                         "nested_window", "above_average", [t], theme=theme))
    elif cats:
        c = col(cats[0].name)
        out.append(_pair(f"{_entity_count(t)}高于平均水平的{column_noun(cats[0])}有哪些？",
                         f"SELECT {c}, COUNT(*) AS record_count\nFROM {ref}{_where(live)}\nGROUP BY {c}\n"
                         f"HAVING COUNT(*) > (SELECT AVG(n) FROM (SELECT COUNT(*) AS n FROM {ref}{_where(live)} "
                         f"GROUP BY {c}) AS per_group)", "nested_window", "above_average_group", [t], theme=theme))
    if ms and label and cats:
        m, c, lab = col(ms[0].name), col(cats[0].name), col(label.name)
        out.append(_pair(f"各{column_noun(cats[0])}中{column_noun(ms[0])}合计最高的{column_noun(label)}分别是什么？",
                         f"SELECT {c}, {lab}, total\nFROM (\n  SELECT {c}, {lab}, SUM({m}) AS total,\n"
                         f"         ROW_NUMBER() OVER (PARTITION BY {c} ORDER BY SUM({m}) DESC) AS rn\n"
                         f"  FROM {ref}{_where(live)}\n  GROUP BY {c}, {lab}\n) AS ranked\nWHERE rn = 1",
                         "nested_window", "top_per_group", [t], theme=theme))
    elif ms and label:
        m, lab = col(ms[0].name), col(label.name)
        out.append(_pair(f"按{column_noun(ms[0])}合计对{column_noun(label)}排名，前{TOP_N}名分别是谁？",
                         f"SELECT {lab}, SUM({m}) AS total, RANK() OVER (ORDER BY SUM({m}) DESC) AS rank_no\n"
                         f"FROM {ref}{_where(live)}\nGROUP BY {lab}\nORDER BY rank_no\nLIMIT {TOP_N}",
                         "nested_window", "rank", [t], theme=theme))
    return out


def _edge(child: Table, fk: ForeignKey) -> FkEdge:
    return FkEdge(child.qualified, tuple(fk.columns), f"{fk.ref_schema}.{fk.ref_table}", tuple(fk.ref_columns))


def _join_on(child_alias: str, fk: ForeignKey, parent_alias: str) -> str:
    return " AND ".join(f"{col(c, child_alias)} = {col(r, parent_alias)}" for c, r in zip(fk.columns, fk.ref_columns))


def _shares_bigram(a: str, b: str) -> bool:
    return any(a[i:i + 2] in b for i in range(len(a) - 1))


def _group_key(parent: Table) -> tuple[str, str]:
    """(column, words) a join groups the parent by: its label, else a category, else its referenced key."""
    parent_noun = table_noun(parent)
    for column in [label_column(parent), *categories(parent)[:1]]:
        if column is not None:
            words = column_noun(column)
            # "公司名称" already names its table ("…公司"); a bare "名称"/"name" needs the table's noun in front
            return column.name, words if _shares_bigram(words, parent_noun) else f"{parent_noun}{words}"
    key = (parent.primary_key or [parent.columns[0].name])[0]
    return key, f"{table_noun(parent)}{column_noun(parent.column(key)) if parent.column(key) else key}"


def fk_pair(child: Table, fk: ForeignKey, parent: Table, theme: Optional[str] = None, tag: str = "") -> Pair:
    """One join along `fk`: the child's measure total (or row count) per parent label."""
    key, words = _group_key(parent)
    ms = measures(child)
    live = soft_delete_conditions(child, "c") + soft_delete_conditions(parent, "p")
    agg, what, alias = ((f"SUM({col(ms[0].name, 'c')})", f"{column_noun(ms[0])}合计", "total") if ms else
                        ("COUNT(*)", _entity_count(child), "record_count"))
    sql = (f"SELECT {col(key, 'p')}, {agg} AS {alias}\nFROM {table_ref(child, 'c')}\n"
           f"JOIN {table_ref(parent, 'p')} ON {_join_on('c', fk, 'p')}{_where(live)}\n"
           f"GROUP BY {col(key, 'p')}\nORDER BY {alias} DESC\nLIMIT 20")
    return _pair(f"各{words}对应的{what}是多少？{tag}", sql, "join", "fk_join", [child, parent],
                 [_edge(child, fk)], theme)


def link_pair(link: Table, tables_by_q: dict[str, Table], theme: Optional[str] = None, tag: str = "") -> Optional[Pair]:
    """A two-hop join through a link table (two FKs to two other tables): covers both edges at once."""
    if len(link.foreign_keys) != 2:
        return None
    (fa, fb) = link.foreign_keys
    pa, pb = (tables_by_q.get(f"{f.ref_schema}.{f.ref_table}") for f in (fa, fb))
    if pa is None or pb is None or pa is pb or link in (pa, pb):
        return None
    key, words = _group_key(pa)
    b_key = (pb.primary_key or fb.ref_columns)[0]
    live = soft_delete_conditions(link, "l") + soft_delete_conditions(pa, "a") + soft_delete_conditions(pb, "b")
    sql = (f"SELECT {col(key, 'a')}, COUNT(DISTINCT {col(b_key, 'b')}) AS record_count\nFROM {table_ref(link, 'l')}\n"
           f"JOIN {table_ref(pa, 'a')} ON {_join_on('l', fa, 'a')}\n"
           f"JOIN {table_ref(pb, 'b')} ON {_join_on('l', fb, 'b')}"
           f"{_where(live)}\nGROUP BY {col(key, 'a')}\nORDER BY record_count DESC\nLIMIT 20")
    return _pair(f"各{words}关联的{table_noun(pb)}数量是多少？{tag}", sql, "join", "link_join", [link, pa, pb],
                 [_edge(link, fa), _edge(link, fb)], theme)


def fk_filter_pair(child: Table, fk: ForeignKey, parent: Table, theme: Optional[str] = None) -> Optional[Pair]:
    """A join filtered on a real category value of the parent."""
    cats = categories(parent)
    if not cats or parent is child:
        return None
    c = cats[0]
    value = usable_values(c)[0]
    live = soft_delete_conditions(child, "c") + soft_delete_conditions(parent, "p")
    cond = [*live, f"{col(c.name, 'p')} = {literal(value, c)}"]
    sql = (f"SELECT COUNT(*) AS record_count\nFROM {table_ref(child, 'c')}\n"
           f"JOIN {table_ref(parent, 'p')} ON {_join_on('c', fk, 'p')}{_where(cond)}")
    return _pair(f"{column_noun(c)}为“{value}”的{table_noun(parent)}共有多少条{table_noun(child)}记录？", sql,
                 "join", "fk_filter_join", [child, parent], [_edge(child, fk)], theme)


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
