"""Build the semantic model from the schema snapshot's tables (catalog + profiles ddl_generation collected).

No database access: every fact comes from `schema.model.Table` (constraints, row estimates, pg_stats profiles,
samples), so building is linear in the schema and cheap for hundreds of tables. Table kinds:
- view: a view or materialized view (base tables from its definition);
- bridge: two or more foreign keys and nothing else of substance (no measure, no label, no event time);
- line: a child of an event table (a foreign key to it) with measures, named or keyed like its lines;
- snapshot: a log/history/snapshot table (by name), or audit-only rows hanging off an entity;
- event: rows that happen at a time (an event time) with measures or at least one foreign key;
- lookup: a small code table (a label or code, few columns, no measures);
- entity: everything else (a thing with a label).
"""
from __future__ import annotations

import re
from typing import Optional, Sequence

from data_pipeline.lexicon.glossary import singular, words
from data_pipeline.lexicon.phrases import singular_en
from data_pipeline.lexicon.vocabulary import role_noun, speaking, table_noun
from data_pipeline.schema.model import Column, Table
from data_pipeline.semantics.model import ColumnSemantics, SemanticModel, TableSemantics, merge_overrides
from data_pipeline.semantics.paths import build_paths
from data_pipeline.semantics.roles import (column_role, event_time_of, fk_columns, is_time, is_unique,
                                          name_words, personal_name_pair, sample_dates, values_of)

LOOKUP_MAX_ROWS = 300
_LINE_WORDS = {"line", "lines", "item", "items", "detail", "details", "entry", "entries", "position"}
_LINE_ZH = re.compile(r"明细|子表|条目|行项目")
_LOG_WORDS = {"log", "logs", "history", "histories", "snapshot", "snapshots", "audit", "archive", "changelog",
              "trace", "journal"}
_LOG_ZH = re.compile(r"日志|历史|快照|流水|轨迹")
_QUANTITY = {"quantity", "qty", "count", "units", "amount_ordered", "num"}
_PRICE = {"price", "unitprice", "cost"}


def _column_semantics(c: Column, table: Table, role: str, by_q: dict[str, Table], langs: dict) -> ColumnSemantics:
    cs = ColumnSemantics(role=role, personal=bool(c.pii_kind), pii_kind=c.pii_kind, cardinality=c.distinct_count,
                         null_share=c.null_fraction, soft_delete=role == "soft_delete")
    if role == "foreign_key":
        fk = next(f for f in table.foreign_keys if c.name in f.columns)
        cs.references = f"{fk.ref_schema}.{fk.ref_table}"
        parent = by_q.get(cs.references)
        if parent is not None:
            names = {}
            for lang in langs:
                with speaking(lang):
                    names[lang] = role_noun(fk, parent)
            with speaking("en"):
                parent_en = singular_en(table_noun(parent).lower())
            with speaking("zh"):
                parent_zh = table_noun(parent)
            # dept_id -> department: an abbreviation of the parent's own name is no role
            same = singular_en((names.get("en") or "").lower()) == parent_en or names.get("zh") == parent_zh
            cs.role_name = names if any(names.values()) and not same else None
    if role in ("dimension", "flag"):
        cs.top_values = values_of(c)[:10]
    return cs


def _label(table: Table, roles: dict[str, str]) -> list[str]:
    labels = [c.name for c in table.columns if roles[c.name] == "label"]
    if labels:
        exact = [n for n in labels if n.lower() in ("name", "title") or n.lower() == f"{table.name.lower()}_name"]
        return [(exact or labels)[0]]
    own = [singular(w) for w in words(table.name)]
    for c in table.columns:              # region.region_description: a lookup named by its description
        ws = [singular(w) for w in words(c.name)]
        if roles[c.name] in ("free_text", "other", "dimension") and len(ws) >= 2 and ws[-1] in ("description", "desc") \
                and ws[:-1] == own[-len(ws) + 1:] and not c.pii_kind and is_unique(c, table):
            roles[c.name] = "label"
            return [c.name]
    pair = personal_name_pair(table)
    if pair and all(roles[n] in ("label", "personal", "other", "free_text") for n in pair):
        return pair            # a person's name: the label, used only once the user marks it public
    return []


def _label_unique(table: Table, label: list[str]) -> bool:
    if len(label) != 1:
        return False           # two people may share a name
    c = table.column(label[0])
    return c is not None and is_unique(c, table)


def _derived(table: Table, roles: dict[str, str]) -> list[dict]:
    """unit price x quantity on a line table."""
    price = [c for c in table.columns if roles[c.name] == "non_additive_measure" and name_words(c) & _PRICE]
    qty = [c for c in table.columns if roles[c.name] in ("additive_measure", "non_additive_measure")
           and name_words(c) & _QUANTITY]
    totals = [c for c in table.columns if roles[c.name] == "additive_measure" and c not in qty
              and name_words(c) & {"amount", "total", "subtotal", "sales", "revenue", "value", "sum"}]
    if price and qty and not totals:             # the line already carries its amount: no second one
        return [{"name": "line_amount", "columns": [price[0].name, qty[0].name],
                 "name_words": {"zh": "金额", "en": "amount"}}]
    return []


def _kind(table: Table, roles: dict[str, str], event_time: Optional[str], label: list[str],
          kinds: dict[str, str], parents_of_any: set[str]) -> str:
    if table.kind in ("view", "materialized_view"):
        return "view"
    fks = table.foreign_keys
    measures = [n for n, r in roles.items() if r in ("additive_measure", "non_additive_measure")]
    substance = [n for n, r in roles.items() if r in ("label", "additive_measure", "non_additive_measure",
                                                      "dimension", "free_text", "personal")]
    real_time = event_time is not None and roles.get(event_time) == "event_time"
    tw = set(words(table.name))
    rows = table.row_estimate or 0
    referenced = table.qualified in parents_of_any
    comment = table.comment or ""
    if len({tuple(f.columns) for f in fks}) >= 2 and not substance and not real_time and not referenced:
        return "bridge"
    if len(fks) >= 2 and not referenced and set(table.primary_key) and set(table.primary_key) <= fk_columns(table) and not label \
            and len(substance) <= 1 and not measures:
        return "bridge"
    if tw & _LOG_WORDS or _LOG_ZH.search(comment):
        return "snapshot"
    event_keys = {c for f in fks if kinds.get(f"{f.ref_schema}.{f.ref_table}") == "event" for c in f.columns}
    if measures and fks and not real_time and (tw & _LINE_WORDS or _LINE_ZH.search(comment) or (
            len(table.primary_key) > 1 and set(table.primary_key) & event_keys)):
        return "line"
    person = any(r == "personal" for r in roles.values()) or personal_name_pair(table)
    # a name that repeats (an order's ship name) does not make rows things: with a time, measures and two
    # foreign keys they are events
    unique_label = len(label) == 1 and table.column(label[0]) is not None and is_unique(table.column(label[0]), table)
    if real_time and (measures or fks) and not unique_label and not label[1:] and not person:
        return "event"
    if event_time and measures and fks and not unique_label and not label[1:] and not person:
        return "event"
    meaningful = [n for n, r in roles.items() if r not in ("audit_time", "soft_delete", "identifier")]
    if not measures and not real_time and rows <= LOOKUP_MAX_ROWS and len(meaningful) <= 3 and len(fks) <= 1 \
            and (label or any(r == "dimension" for r in roles.values())):
        return "lookup"
    return "entity"


def _base_tables(table: Table, names: dict[str, str]) -> list[str]:
    text = (table.view_definition or "").lower()
    found = []
    for q, name in names.items():
        if q != table.qualified and re.search(rf"(?<![\w.\"]){re.escape(name.lower())}(?![\w\"])", text):
            found.append(q)
    return sorted(found)


def _table_override(overrides: Optional[dict], qualified: str) -> dict:
    entry = ((overrides or {}).get("tables") or {}).get(qualified)
    return entry if isinstance(entry, dict) else {}


def _public_time(c: Optional[Column], role: Optional[str], personal: bool) -> bool:
    """A column whose first and last values may be shown: a date/time that is nobody's personal date."""
    return c is not None and is_time(c) and not c.pii_kind and not personal and role not in ("personal",
                                                                                            "personal_date")


def event_time_columns(tables: Sequence[Table], overrides: Optional[dict] = None) -> dict[str, str]:
    """The event-time column the model will give each table (the user's `overrides` applied), for the tables whose
    real first and last values may be read and shown (never a personal date): what ddl_generation reads the
    min/max of before building the model."""
    out = {}
    for t in tables:
        roles = {c.name: column_role(c, t) for c in t.columns}
        entry = _table_override(overrides, t.qualified)
        name = entry["event_time"] if "event_time" in entry else event_time_of(t, roles)
        c = t.column(name) if isinstance(name, str) else None
        if c is None:
            continue
        col_entry = (entry.get("columns") or {}).get(c.name)
        col_entry = col_entry if isinstance(col_entry, dict) else {}
        if _public_time(c, col_entry.get("role") or roles[c.name], col_entry.get("personal") is True):
            out[t.qualified] = c.name
    return out


def _time_facts(table: Table, ts: TableSemantics, read: Optional[dict]) -> dict:
    """min_time/max_time of the event time: read from the database when `read` is for that column, else from the
    samples and marked `approximate`. Nothing for a personal date, whatever the user named the event time."""
    name = ts.event_time if isinstance(ts.event_time, str) else None
    c = table.column(name) if name else None
    cs = ts.columns.get(name) if name else None
    if cs is None or not _public_time(c, cs.role, cs.personal):
        return {}
    if read and read.get("column") == c.name:
        return {k: read[k] for k in ("min_time", "max_time") if read.get(k)}   # empty: no value at all
    dates = sample_dates(c)
    if not dates:
        return {}
    return {"min_time": min(dates).isoformat(), "max_time": max(dates).isoformat(), "approximate": True}


def build_semantic_model(tables: Sequence[Table], language: str = "zh", overrides: Optional[dict] = None,
                         time_ranges: Optional[dict[str, dict]] = None) -> SemanticModel:
    """The model of `tables` in `language` (names and phrases carry zh and en), the user's `overrides` applied.
    `time_ranges` (qualified -> {"column", "min_time", "max_time"}, read by ddl_generation through
    `schema.time_range`) gives each event time its real range; a table without one keeps the sampled range,
    marked `"approximate": true`."""
    by_q = {t.qualified: t for t in tables}
    langs = {"zh": None, "en": None}
    model = SemanticModel(language=language if language in ("zh", "en") else "zh")
    roles_of = {t.qualified: {c.name: column_role(c, t) for c in t.columns} for t in tables}
    event_of = {q: event_time_of(by_q[q], roles) for q, roles in roles_of.items()}
    labels = {}
    for t in tables:
        roles = roles_of[t.qualified]
        label = _label(t, roles)
        labels[t.qualified] = label
    kinds: dict[str, str] = {}
    # two passes: a line is recognised by its parent being an event
    referenced = {f"{f.ref_schema}.{f.ref_table}" for t in tables for f in t.foreign_keys
                  if f"{f.ref_schema}.{f.ref_table}" != t.qualified}
    for _ in range(2):
        for t in tables:
            kinds[t.qualified] = _kind(t, roles_of[t.qualified], event_of[t.qualified], labels[t.qualified], kinds,
                                       referenced)
    plain_names = {t.qualified: t.name for t in tables}
    for t in tables:
        roles = roles_of[t.qualified]
        names = {}
        for lang in langs:
            with speaking(lang):
                names[lang] = table_noun(t)
        ts = TableSemantics(kind=kinds[t.qualified], name=names, rows=t.row_estimate, key=list(t.primary_key),
                            label=labels[t.qualified], event_time=event_of[t.qualified])
        ts.label_unique = _label_unique(t, ts.label)
        ts.columns = {c.name: _column_semantics(c, t, roles[c.name], by_q, langs) for c in t.columns}
        if ts.kind == "view":
            ts.base_tables = _base_tables(t, plain_names)
        if ts.kind in ("line", "event"):
            ts.derived_measures = _derived(t, roles)
        model.tables[t.qualified] = ts
    model.relationships, model.join_paths = build_paths(tables, model)
    if overrides:
        merge_overrides(model, overrides)
    for t in tables:                 # after the overrides: the user may have named another event time
        ts = model.tables[t.qualified]
        ts.facts = _time_facts(t, ts, (time_ranges or {}).get(t.qualified))
    return model



def apply_personal(tables: Sequence[Table], model: SemanticModel) -> list[str]:
    """The model's word on personal data, onto the snapshot's columns every generator reads: a column the user
    marked public loses its `pii_kind` (a performer's name is a public credit), one marked personal gains
    "user_marked". Only edited entries count: the built model says what the snapshot already says. Returns the
    columns changed, as `schema.table.column`."""
    changed = []
    for t in tables:
        ts = model.tables.get(t.qualified)
        if ts is None:
            continue
        for c in t.columns:
            cs = ts.columns.get(c.name)
            if cs is None or not cs.edited_by_user:
                continue
            if cs.personal and not c.pii_kind:
                c.pii_kind, c.pii_source = "user_marked", "semantic_model"
                changed.append(f"{t.qualified}.{c.name}")
            elif not cs.personal and c.pii_kind and c.pii_kind != "secret":
                c.pii_kind, c.pii_source = None, None
                changed.append(f"{t.qualified}.{c.name}")
    # a view showing a column the user marked personal shows personal data too (same name, a base table's)
    marked = {(q.rsplit(".", 1)[0], q.rsplit(".", 1)[1]) for q in changed}
    for t in tables:
        ts = model.tables.get(t.qualified)
        if ts is None or ts.kind != "view":
            continue
        for c in t.columns:
            if not c.pii_kind and any((b, c.name) in marked and model.column(b, c.name).personal
                                      for b in ts.base_tables if model.column(b, c.name)):
                c.pii_kind, c.pii_source = "user_marked", "semantic_model"
                cs = ts.columns.get(c.name)
                if cs is not None:
                    cs.personal, cs.role = True, "personal"
                changed.append(f"{t.qualified}.{c.name}")
    return changed
