"""The semantic model of a task's tables: what each table is, what each column means, how tables join.

`semantic_model.json` in the task directory, written by ddl_generation next to `schema_snapshot.json`, read by
qa_generation (rule-based and LLM pairs are asked against it) and rendered for people. JSON shape (version 1):

    {"version": 1, "language": "zh",
     "tables": {"public.rental": {
         "kind": "event",                       # entity, event, line, bridge, lookup, snapshot, view
         "name": {"zh": "租赁", "en": "rental"}, "rows": 16044,
         "key": ["rental_id"], "label": ["title"],  # label: one column, or first + last name
         "label_unique": true,                 # false: group by the label *and* the key
         "event_time": "rental_date",           # the business time axis, or null
         "base_tables": [],                     # a view's source tables
         "derived_measures": [{"name": "line_amount", "columns": ["unit_price", "quantity"],
                               "name_words": {"zh": "金额", "en": "amount"}}],
         "facts": {"min_time": "2005-05-24", "max_time": "2006-02-14"},   # the event time's real range,
                                                # read from the database; "approximate": true when only sampled
         "columns": {"rental_id": {"role": "identifier"},
                     "customer_id": {"role": "foreign_key", "references": "public.customer",
                                     "role_name": {"zh": "客户", "en": "customer"}},
                     "amount": {"role": "additive_measure", "cardinality": 19, "null_share": 0.0},
                     "status": {"role": "dimension", "cardinality": 3, "top_values": ["open", "closed"]},
                     "email": {"role": "personal", "personal": true, "pii_kind": "email"}}}},
     "relationships": [{"from": "public.rental", "columns": ["customer_id"], "to": "public.customer",
                        "to_columns": ["customer_id"], "role_name": {"zh": "客户", "en": "customer"}}],
     "join_paths": [{"from": "public.payment", "to": "public.category", "hops": [0, 3, 5],
                     "via": ["public.rental", "public.inventory", "public.film", "public.film_category"],
                     "phrase": {"zh": "…", "en": "…"}}],
     "overrides": {"tables": {"public.actor": {"columns": {"first_name": {"personal": false}}}}}}

`hops` index `relationships` in walking order. Column roles: see ROLES. Every column carries `personal`; its
value facts, where profiled (pg_stats or a bounded read), are `cardinality` (distinct values) and `null_share`
(0..1) — counts only, never values of a personal column. A personal date is never an event time, so its range is
never shown.

Editing: the user changes `overrides` (or any table/column entry, marking it `"edited_by_user": true`, which
`read_model` lifts into `overrides`). On a re-run ddl_generation builds the model anew from the database and
applies the stored `overrides` on top (`merge_overrides`), so edits survive; qa_generation reads the file as it
is. Overridable: a table's kind, label, event_time; a column's role, personal and role_name.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

MODEL_FILE = "semantic_model.json"
VERSION = 1

TABLE_KINDS = ("entity", "event", "line", "bridge", "lookup", "snapshot", "view")
ROLES = ("identifier", "foreign_key", "label", "additive_measure", "non_additive_measure", "dimension", "flag",
         "event_time", "personal_date", "audit_time", "free_text", "personal", "soft_delete", "other")
MEASURE_ROLES = ("additive_measure", "non_additive_measure")
TABLE_EDITABLE = ("kind", "label", "event_time")
COLUMN_EDITABLE = ("role", "personal", "role_name")


@dataclass
class ColumnSemantics:
    role: str = "other"
    personal: bool = False
    pii_kind: Optional[str] = None
    references: Optional[str] = None              # foreign_key: the qualified parent table
    role_name: Optional[dict[str, str]] = None    # foreign_key: {"zh", "en"} when it says more than the parent
    cardinality: Optional[int] = None             # distinct values (profiled)
    null_share: Optional[float] = None
    top_values: list[str] = field(default_factory=list)   # dimension: real non-personal values, most frequent first
    soft_delete: bool = False                      # flag/time that marks deleted rows (filtered out everywhere)
    edited_by_user: bool = False

    def to_dict(self) -> dict:
        # a null share of 0.0 or a count of 0 is a fact (0 == False, hence `is`): only unknowns are left out
        return {k: v for k, v in asdict(self).items()
                if (v is not None and v != [] and v is not False) or k in ("role", "personal")}

    @classmethod
    def from_dict(cls, d: dict) -> "ColumnSemantics":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class TableSemantics:
    kind: str = "entity"
    name: dict[str, str] = field(default_factory=dict)          # {"zh": ..., "en": ...}
    rows: Optional[int] = None
    key: list[str] = field(default_factory=list)
    label: list[str] = field(default_factory=list)               # [name] or [first_name, last_name]
    label_unique: bool = True
    event_time: Optional[str] = None
    base_tables: list[str] = field(default_factory=list)
    derived_measures: list[dict] = field(default_factory=list)   # {"name", "columns": [price, quantity], "name_words"}
    facts: dict[str, Any] = field(default_factory=dict)   # min_time, max_time (of the event time), approximate
    columns: dict[str, ColumnSemantics] = field(default_factory=dict)
    edited_by_user: bool = False

    def role_columns(self, *roles: str) -> list[str]:
        return [n for n, c in self.columns.items() if c.role in roles]

    @property
    def measures(self) -> list[str]:
        return self.role_columns(*MEASURE_ROLES)

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "columns"}
        if not d["edited_by_user"]:
            d.pop("edited_by_user")
        d["columns"] = {n: c.to_dict() for n, c in self.columns.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TableSemantics":
        t = cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__ and k != "columns"})
        t.columns = {n: ColumnSemantics.from_dict(c) for n, c in (d.get("columns") or {}).items()}
        return t


@dataclass
class Relationship:
    source: str                    # the child table (qualified)
    columns: list[str]
    target: str                    # the parent table (qualified)
    target_columns: list[str]
    role_name: Optional[dict[str, str]] = None

    def to_dict(self) -> dict:
        return {"from": self.source, "columns": self.columns, "to": self.target, "to_columns": self.target_columns,
                "role_name": self.role_name}

    @classmethod
    def from_dict(cls, d: dict) -> "Relationship":
        return cls(d["from"], list(d["columns"]), d["to"], list(d["to_columns"]), d.get("role_name"))


@dataclass
class JoinPath:
    source: str
    target: str
    hops: list[int]                # indexes into SemanticModel.relationships, in walking order
    via: list[str] = field(default_factory=list)    # tables between source and target
    phrase: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"from": self.source, "to": self.target, "hops": self.hops, "via": self.via, "phrase": self.phrase}

    @classmethod
    def from_dict(cls, d: dict) -> "JoinPath":
        return cls(d["from"], d["to"], list(d["hops"]), list(d.get("via") or []), dict(d.get("phrase") or {}))


@dataclass
class SemanticModel:
    language: str = "zh"
    tables: dict[str, TableSemantics] = field(default_factory=dict)
    relationships: list[Relationship] = field(default_factory=list)
    join_paths: list[JoinPath] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)

    def table(self, qualified: str) -> Optional[TableSemantics]:
        return self.tables.get(qualified)

    def column(self, qualified: str, name: str) -> Optional[ColumnSemantics]:
        t = self.tables.get(qualified)
        return t.columns.get(name) if t else None

    def paths_from(self, qualified: str) -> list[JoinPath]:
        return [p for p in self.join_paths if p.source == qualified]

    def to_dict(self) -> dict:
        return {"version": VERSION, "language": self.language,
                "tables": {q: t.to_dict() for q, t in self.tables.items()},
                "relationships": [r.to_dict() for r in self.relationships],
                "join_paths": [p.to_dict() for p in self.join_paths],
                "overrides": self.overrides}

    @classmethod
    def from_dict(cls, d: dict) -> "SemanticModel":
        if not isinstance(d, dict) or not isinstance(d.get("tables", {}), dict):
            raise ValueError("a semantic model is a JSON object with a 'tables' object")
        return cls(language=d.get("language") or "zh",
                   tables={q: TableSemantics.from_dict(t) for q, t in (d.get("tables") or {}).items()},
                   relationships=[Relationship.from_dict(r) for r in d.get("relationships") or []],
                   join_paths=[JoinPath.from_dict(p) for p in d.get("join_paths") or []],
                   overrides=dict(d.get("overrides") or {}))


# ------------------------------------------------------------------------------------------- edits


def lift_edits(model: SemanticModel) -> None:
    """Entries marked `edited_by_user` in the body become `overrides` (the one place edits live)."""
    over = model.overrides.setdefault("tables", {})
    for q, t in model.tables.items():
        if t.edited_by_user:
            entry = over.setdefault(q, {})
            for k in TABLE_EDITABLE:
                entry[k] = getattr(t, k)
        for name, c in t.columns.items():
            if c.edited_by_user:
                entry = over.setdefault(q, {}).setdefault("columns", {}).setdefault(name, {})
                for k in COLUMN_EDITABLE:
                    if getattr(c, k) is None or (k == "role" and c.role == "personal" and not c.personal):
                        continue        # marked public with its old role left in place: the role follows
                    entry[k] = getattr(c, k)


def _apply_edits(target: Any, entry: dict, editable: tuple, checked: str, allowed: tuple, where: str,
                 problems: list[str]) -> None:
    """Set each `editable` field that `entry` gives on `target` (a table or a column) and mark it edited; a
    `checked` field (kind, role) outside `allowed` is left as it was and reported in `problems`. A table's
    label may be given as one string."""
    for k in editable:
        if k not in entry:
            continue
        value = entry[k]
        if k == checked and value not in allowed:
            problems.append(f"{where}: unknown {k} {value!r}")
            continue
        if k == "label" and isinstance(value, str):
            value = [value]
        setattr(target, k, value)
        target.edited_by_user = True


def merge_overrides(model: SemanticModel, overrides: dict[str, Any]) -> list[str]:
    """Apply a user's `overrides` to a freshly built model (kept in `model.overrides` for the next re-run).
    Returns what could not be applied (a table or column no longer there, an unknown kind or role)."""
    problems: list[str] = []
    model.overrides = overrides or {}
    for q, entry in (model.overrides.get("tables") or {}).items():
        t = model.tables.get(q)
        if t is None or not isinstance(entry, dict):
            problems.append(f"{q}: not in the model")
            continue
        _apply_edits(t, entry, TABLE_EDITABLE, "kind", TABLE_KINDS, q, problems)
        for name, c_entry in (entry.get("columns") or {}).items():
            c = t.columns.get(name)
            if c is None or not isinstance(c_entry, dict):
                problems.append(f"{q}.{name}: not in the model")
                continue
            _apply_edits(c, c_entry, COLUMN_EDITABLE, "role", ROLES, f"{q}.{name}", problems)
            if c_entry.get("personal") is True and c.role not in ("personal", "personal_date"):
                c.role = "personal"
            if c_entry.get("personal") is False and c.role == "personal" and "role" not in c_entry:
                c.role = "label" if name in t.label else "free_text"
    return problems


# ------------------------------------------------------------------------------------------- files


def write_model(task_dir: Path, model: SemanticModel) -> Path:
    path = Path(task_dir) / MODEL_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(model.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def read_model(task_dir: Path) -> Optional[SemanticModel]:
    """The task's model (edits lifted into `overrides`), or None when there is none. Raises ValueError when the
    file is not a model (the caller reports it)."""
    path = Path(task_dir) / MODEL_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{MODEL_FILE} is not valid JSON: {exc}") from None
    try:
        model = SemanticModel.from_dict(data)
    except (TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"{MODEL_FILE} does not have the model's shape: {exc}") from None
    lift_edits(model)
    return model
