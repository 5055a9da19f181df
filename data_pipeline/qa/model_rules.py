"""The semantic model in the LLM path: what the pair prompt says about it, and the rules an LLM pair must keep.

`model_prompt(model, tables, language)` is the prompt section for a theme's tables: kinds, labels, measures (summed
or averaged), event times with their range, flags, audit times, personal columns, join paths with phrases, and the
complexity mix to aim for. `model_rule_break(sql, model)` is the reason an LLM pair breaks one of the model's rules
(like `pair_privacy.personal_data_use` for personal data), or None:

- `aggregated_identifier`: SUM/AVG over an identifier or a foreign key ("the total order ID");
- `summed_non_additive`: SUM over a non-additive measure (a price, a rate: averaged instead);
- `ranked_flag`: a ranking (GROUP BY … ORDER BY … LIMIT) whose groups are a flag's values;
- `bridge_counted`: COUNT(*) over a bridge (link) table alone, as if its rows were entities;
- `audit_time_axis`: an audit time (`last_update`, `updated_at`) bucketed (date_trunc, EXTRACT, to_char) or
  grouped by: it says when a row was written, not when the business event happened.

Columns are resolved through the query's table aliases (an unqualified column by the one table that has it); a
column the model does not know is never a reason to drop a pair.
"""
from __future__ import annotations

from typing import Optional, Sequence

from sqlglot import exp

from data_pipeline.qa.pair_quality import parsed_sql
from data_pipeline.schema.model import Table
from data_pipeline.semantics.model import ColumnSemantics, SemanticModel, TableSemantics

RULES = ("aggregated_identifier", "summed_non_additive", "ranked_flag", "bridge_counted", "audit_time_axis")
PATHS_IN_PROMPT = 12
# OmniSQL's four levels, as the share of pairs the prompt asks for
COMPLEXITY_MIX = {"zh": "简单（单表、无分组）不超过 15%；中等（一次关联、或分组、或过滤）约 35%；复杂（两次以上关联、子查询、"
                        "窗口函数、HAVING 或 CTE）约 30%；高度复杂（复杂的基础上再加三项以上：三表以上关联、CASE、按时间分桶等）"
                        "约 20%",
                  "en": "simple (one table, no grouping) at most 15 %; moderate (one join, or a grouping, or a filter) "
                        "about 35 %; complex (two or more joins, a subquery, a window, HAVING or a CTE) about 30 %; "
                        "highly complex (complex plus three more of: 3+ table joins, CASE, time buckets) about 20 %"}
_TIME_BUCKETS = (exp.TimestampTrunc, exp.DateTrunc, exp.Extract, exp.TimeToStr)


def _by_name(model: SemanticModel) -> dict[str, tuple[str, TableSemantics]]:
    out: dict[str, tuple[str, TableSemantics]] = {}
    for q, t in model.tables.items():
        out[q.lower()] = (q, t)
        out.setdefault(q.split(".", 1)[-1].lower(), (q, t))
    return out


class _Resolver:
    """Column references of one query -> (qualified table, its semantics, the column's semantics)."""

    def __init__(self, tree: exp.Expression, model: SemanticModel):
        known = _by_name(model)
        self.aliases: dict[str, tuple[str, TableSemantics]] = {}
        for t in tree.find_all(exp.Table):
            hit = known.get(f"{t.db}.{t.name}".lower()) if t.db else known.get(t.name.lower())
            if hit:
                self.aliases[t.alias_or_name.lower()] = hit
                self.aliases.setdefault(t.name.lower(), hit)

    def column(self, col: exp.Column) -> Optional[tuple[str, ColumnSemantics]]:
        if col.table:
            hit = self.aliases.get(col.table.lower())
            candidates = [hit] if hit else []
        else:
            candidates = list({q: (q, t) for q, t in self.aliases.values() if col.name in t.columns}.values())
        if len(candidates) != 1:
            return None
        q, t = candidates[0]
        cs = t.columns.get(col.name)
        return (f"{q.split('.', 1)[-1]}.{col.name}", cs) if cs else None


def _argument_column(node: exp.Expression) -> Optional[exp.Column]:
    arg = node.this
    if isinstance(arg, exp.Distinct):
        arg = arg.expressions[0] if arg.expressions else None
    return arg if isinstance(arg, exp.Column) else None


def model_rule_break(sql: str, model: Optional[SemanticModel]) -> Optional[tuple[str, str]]:
    """(rule, reason) for the first rule of the model `sql` breaks, or None (also without a model or when the
    SQL does not parse: the read-only guard has the last word on SQL)."""
    if model is None or not model.tables:
        return None
    tree = parsed_sql(sql)    # shared with coverage and the personal-data check (never mutated)
    if tree is None:
        return None
    resolve = _Resolver(tree, model)
    for agg in tree.find_all(exp.Sum, exp.Avg):
        col = _argument_column(agg)
        hit = resolve.column(col) if col is not None else None
        if hit and hit[1].role in ("identifier", "foreign_key"):
            return "aggregated_identifier", f"{agg.key.upper()} over the identifier {hit[0]} (count it instead)"
        if hit and isinstance(agg, exp.Sum) and hit[1].role == "non_additive_measure":
            return "summed_non_additive", f"SUM over the non-additive measure {hit[0]} (average it instead)"
    for select in tree.find_all(exp.Select):
        group = select.args.get("group")
        if group and select.args.get("limit") and select.args.get("order"):
            for col in group.find_all(exp.Column):
                hit = resolve.column(col)
                if hit and hit[1].role == "flag":
                    return "ranked_flag", f"a ranking over the flag {hit[0]} (a flag filters, it is not ranked)"
        source = select.args.get("from_") or select.args.get("from")
        if (source and isinstance(source.this, exp.Table) and not select.args.get("joins") and not group
                and any(isinstance(c.this, exp.Star) or c.this is None or isinstance(c.this, exp.Literal)
                        for c in select.find_all(exp.Count))):
            hit = resolve.aliases.get(source.this.alias_or_name.lower())
            if hit and hit[1].kind == "bridge":
                return "bridge_counted", (f"counts the rows of the bridge {hit[0].split('.', 1)[-1]} as if they were "
                                          f"entities (count the linked entities instead)")
    for col in tree.find_all(exp.Column):
        hit = resolve.column(col)
        if hit and hit[1].role == "audit_time" and (isinstance(col.parent, _TIME_BUCKETS)
                                                    or col.find_ancestor(exp.Group) is not None):
            return "audit_time_axis", (f"the audit time {hit[0]} used as the time axis (it says when a row was "
                                       f"written; use the event time)")
    return None


# ------------------------------------------------------------------------------------------------- prompt


def _line(q: str, t: TableSemantics, en: bool) -> str:
    name = q.split(".", 1)[-1]
    parts = [f"{name}: {t.kind}"]
    if t.label:
        parts.append(("label " if en else "名称列 ") + "+".join(t.label) + ("" if t.label_unique else
                                                                          (" (repeats: group with the key)" if en
                                                                           else "（会重复，分组时连同主键）")))
    summed = t.role_columns("additive_measure")
    averaged = t.role_columns("non_additive_measure")
    if summed:
        parts.append(("summed " if en else "可求和度量 ") + ", ".join(summed))
    if averaged:
        parts.append(("averaged " if en else "取平均度量 ") + ", ".join(averaged))
    if t.event_time:
        lo, hi = t.facts.get("min_time"), t.facts.get("max_time")
        about = ("about " if en else "约 ") if t.facts.get("approximate") else ""
        parts.append(("event time " if en else "事件时间 ") + t.event_time + (f" ({about}{lo} … {hi})" if lo and hi
                                                                             else ""))
    for role, word in (("flag", ("flags (filter only) ", "标志（只作筛选）")),
                       ("audit_time", ("audit times (never the axis) ", "审计时间（不作时间轴）")),
                       ("foreign_key", ("foreign keys (never summed) ", "外键（不求和）")),
                       ("identifier", ("identifiers (never summed) ", "标识（不求和）"))):
        cols = t.role_columns(role)
        if cols:
            parts.append((word[0] if en else word[1] + " ") + ", ".join(cols))
    personal = [n for n, c in t.columns.items() if c.personal]
    if personal:
        parts.append(("personal (never listed, grouped or filtered) " if en else "个人信息（不列出、不分组、不筛选）")
                     + ", ".join(personal))
    return "- " + ("; " if en else "；").join(parts)


def model_prompt(model: Optional[SemanticModel], tables: Sequence[Table], language: str = "zh",
                 mix: bool = True) -> str:
    """The semantic-model section of the pair prompt for `tables` (a theme's members); `mix=False` for the theme
    prompt, which asks for no questions (kinds, measures, event times and paths tell it which tables belong
    together and what can be measured)."""
    en = language == "en"
    if model is None:
        return "(no semantic model)" if en else "（无语义模型）"
    members = [t.qualified for t in tables if t.qualified in model.tables]
    lines = [_line(q, model.tables[q], en) for q in members]
    paths = [p for p in model.join_paths if p.source in members and len(p.hops) >= 2]
    paths.sort(key=lambda p: (-len(p.hops), p.source, p.target))
    if paths:
        lines.append("Join paths (multi-hop):" if en else "多跳关联路径：")
        for p in paths[:PATHS_IN_PROMPT]:
            walk = " → ".join(q.split(".", 1)[-1] for q in [p.source, *p.via, p.target])
            lines.append(f"- {walk}: {p.phrase.get('en' if en else 'zh', '')}")
    if mix:
        lines.append(("Complexity mix: " if en else "难度分布：") + COMPLEXITY_MIX["en" if en else "zh"])
    return "\n".join(lines)
