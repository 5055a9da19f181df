"""The semantic model for people: a few lines per table for its `_detail.md`, and a section of
`metadata_detail.md` (table kinds, column roles, measures, event times, join paths with their phrases).

Pure functions, model and language in, Markdown lines out. Only what the model says: values are shown for
dimensions and flags only (the model keeps real non-personal values there), never for personal columns.
"""
from __future__ import annotations

from data_pipeline.semantics.model import SemanticModel, TableSemantics

PATHS_PER_TABLE = 6          # join paths listed per source table (the longest first); the rest are counted

KIND_WORDS = {"entity": ("实体表", "entity"), "event": ("事件/事实表", "event (fact)"), "line": ("明细行表", "line"),
              "bridge": ("关联（桥接）表", "bridge (link)"), "lookup": ("代码表", "lookup"),
              "snapshot": ("快照/日志表", "snapshot/log"), "view": ("视图", "view")}
ROLE_WORDS = {"identifier": ("标识", "identifier"), "foreign_key": ("外键", "foreign key"), "label": ("名称", "label"),
              "additive_measure": ("可加度量（求和）", "additive measure (summed)"),
              "non_additive_measure": ("不可加度量（取平均）", "non-additive measure (averaged)"),
              "dimension": ("维度", "dimension"), "flag": ("标志（只作筛选）", "flag (a filter, never ranked)"),
              "event_time": ("事件时间", "event time"), "personal_date": ("个人日期", "personal date"),
              "audit_time": ("审计时间（不作时间轴）", "audit time (not the time axis)"),
              "free_text": ("自由文本", "free text"), "personal": ("个人信息", "personal data"),
              "soft_delete": ("软删除标记", "soft-delete marker"), "other": ("其他", "other")}
MEASURE_WORDS = {"additive_measure": ("求和", "summed"), "non_additive_measure": ("取平均", "averaged")}
_WORDS = {
    "section": ("## 语义模型", "## Semantic model"),
    "intro": ("由表结构与数据概况推断，可编辑（上传修改后的 semantic_model.json 后重新运行 qa_generation）。",
              "Inferred from the schema and its data profile; editable (upload an edited semantic_model.json, then "
              "re-run qa_generation)."),
    "table": ("### {name}（{label}）：{kind}", "### {name} ({label}): {kind}"),
    "kind": ("- 表类型：{v}", "- Kind: {v}"),
    "label": ("- 名称列：{v}", "- Label: {v}"),
    "label_repeats": ("（名称可能重复，分组时连同 {key}）", " (labels repeat: grouped with {key})"),
    "no_label": ("（无，按 {key} 区分）", "(none; rows told apart by {key})"),
    "event_time": ("- 事件时间：{v}", "- Event time: {v}"),
    "range": ("（{lo} 至 {hi}）", " ({lo} to {hi})"),
    "range_approx": ("（约 {lo} 至 {hi}，仅据抽样）", " (about {lo} to {hi}, from a sample only)"),
    "measures": ("- 度量：{v}", "- Measures: {v}"),
    "derived": ("- 派生度量：{v}", "- Derived measures: {v}"),
    "base_tables": ("- 基表：{v}", "- Base tables: {v}"),
    "rows": ("- 行数：约 {v}", "- Rows: about {v}"),
    "roles": ("- 列角色：{v}", "- Column roles: {v}"),
    "none": ("（无）", "(none)"),
    "paths": ("### 关联路径（最多四跳）", "### Join paths (up to four hops)"),
    "path": ("- {walk}：{phrase}", "- {walk}: {phrase}"),
    "more_paths": ("- {src} 另有 {n} 条路径", "- {src}: {n} more paths"),
    "detail": ("语义模型：", "Semantic model:"),
}


def _w(word: str, en: bool, **fmt) -> str:
    return _WORDS[word][en].format(**fmt)


def _short(qualified: str) -> str:
    return qualified.split(".", 1)[1] if qualified.startswith("public.") else qualified


def _measures(t: TableSemantics, en: bool) -> str:
    items = [f"{n} ({MEASURE_WORDS[t.columns[n].role][en]})" if en else f"{n}（{MEASURE_WORDS[t.columns[n].role][en]}）"
             for n in t.measures]
    return (", " if en else "、").join(items) or _w("none", en)


def _event_time(t: TableSemantics, en: bool) -> str:
    if not t.event_time:
        return _w("none", en)
    lo, hi = t.facts.get("min_time"), t.facts.get("max_time")
    word = "range_approx" if t.facts.get("approximate") else "range"
    return t.event_time + (_w(word, en, lo=lo, hi=hi) if lo and hi else "")


def _label(t: TableSemantics, en: bool) -> str:
    key = ", ".join(t.key) or "—"
    if not t.label:
        return _w("no_label", en, key=key)
    text = " + ".join(t.label)
    return text if t.label_unique else text + _w("label_repeats", en, key=key)


def table_lines(model: SemanticModel, qualified: str, language: str = "zh") -> list[str]:
    """The lines a table's `_detail.md` carries: its kind, label, measures and event time ([] when the model does
    not know the table)."""
    t = model.table(qualified)
    if t is None:
        return []
    en = language == "en"
    lines = [_w("detail", en), _w("kind", en, v=KIND_WORDS.get(t.kind, (t.kind, t.kind))[en]),
             _w("label", en, v=_label(t, en)), _w("measures", en, v=_measures(t, en)),
             _w("event_time", en, v=_event_time(t, en))]
    if t.derived_measures:
        lines.append(_w("derived", en, v=", ".join(
            f"{d.get('name')} = {' × '.join(d.get('columns') or [])}" for d in t.derived_measures)))
    if t.base_tables:
        lines.append(_w("base_tables", en, v=", ".join(_short(b) for b in t.base_tables)))
    return lines


def _roles(t: TableSemantics, en: bool) -> str:
    parts = []
    for name, c in t.columns.items():
        word = ROLE_WORDS.get(c.role, (c.role, c.role))[en]
        extra = ""
        if c.role == "foreign_key" and c.references:
            role = (c.role_name or {}).get("en" if en else "zh")
            extra = f" → {_short(c.references)}" + (f" “{role}”" if role else "")
        elif c.role in ("dimension", "flag") and not c.personal:
            values = ", ".join(str(v) for v in c.top_values[:4])
            card = f"{c.cardinality}" if c.cardinality is not None else "?"
            extra = f" [{card}: {values}]" if values else ""
        parts.append(f"{name} {word}{extra}" if en else f"{name} {word}{extra}")
    return "; ".join(parts) if en else "；".join(parts)


def render_model(model: SemanticModel, language: str = "zh") -> list[str]:
    """The model section of `metadata_detail.md`: one block per table, then the join paths with phrases."""
    en = language == "en"
    lines = [_w("section", en), "", _w("intro", en), ""]
    for q, t in model.tables.items():
        name = (t.name or {}).get("en" if en else "zh") or _short(q)
        lines += [_w("table", en, name=_short(q), label=name, kind=KIND_WORDS.get(t.kind, (t.kind, t.kind))[en]),
                  _w("label", en, v=_label(t, en)), _w("measures", en, v=_measures(t, en)),
                  _w("event_time", en, v=_event_time(t, en))]
        if t.rows is not None:
            lines.append(_w("rows", en, v=t.rows))
        if t.base_tables:
            lines.append(_w("base_tables", en, v=", ".join(_short(b) for b in t.base_tables)))
        lines += [_w("roles", en, v=_roles(t, en)), ""]
    if model.join_paths:
        lines += [_w("paths", en), ""]
        for source in model.tables:
            paths = sorted(model.paths_from(source), key=lambda p: -len(p.hops))
            for p in paths[:PATHS_PER_TABLE]:
                walk = " → ".join(_short(q) for q in [p.source, *p.via, p.target])
                lines.append(_w("path", en, walk=walk, phrase=p.phrase.get("en" if en else "zh") or ""))
            if len(paths) > PATHS_PER_TABLE:
                lines.append(_w("more_paths", en, src=_short(source), n=len(paths) - PATHS_PER_TABLE))
        lines.append("")
    return lines
