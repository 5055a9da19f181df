"""Checks on a user's edited `semantic_model.json` before it replaces the task's model (files API upload).

`model_problems(data, current)` lists what is wrong, in words a person can act on, or [] when the file can be
used. It checks the JSON shape (a `tables` object; known kinds and roles; labels, key and event time naming the
table's own columns; `relationships` / `join_paths` lists; `overrides` entries well formed) and that nothing of the
current model is lost: every table and column the task's model has must still be there (an edit changes roles,
it does not drop tables).
"""
from __future__ import annotations

from typing import Any, Optional

from data_pipeline.semantics.model import COLUMN_EDITABLE, ROLES, TABLE_KINDS, VERSION, SemanticModel

MAX_PROBLEMS = 10


def _table_problems(q: str, t: Any) -> list[str]:
    if not isinstance(t, dict):
        return [f"tables[{q!r}] must be an object"]
    out = []
    if t.get("kind", "entity") not in TABLE_KINDS:
        out.append(f"tables[{q!r}].kind {t.get('kind')!r} is not one of {', '.join(TABLE_KINDS)}")
    columns = t.get("columns", {})
    if not isinstance(columns, dict):
        return out + [f"tables[{q!r}].columns must be an object (column name -> its role)"]
    for name, c in columns.items():
        if not isinstance(c, dict):
            out.append(f"tables[{q!r}].columns[{name!r}] must be an object")
            continue
        if c.get("role", "other") not in ROLES:
            out.append(f"tables[{q!r}].columns[{name!r}].role {c.get('role')!r} is not one of {', '.join(ROLES)}")
        if not isinstance(c.get("personal", False), bool):
            out.append(f"tables[{q!r}].columns[{name!r}].personal must be true or false")
    label = t.get("label", [])
    label = [label] if isinstance(label, str) else label
    if not isinstance(label, list) or not all(isinstance(x, str) for x in label):
        out.append(f"tables[{q!r}].label must be a column name or a list of column names")
    else:
        out += [f"tables[{q!r}].label names {x!r}, not a column of the table" for x in label if x not in columns]
    event_time = t.get("event_time")
    if event_time is not None and (not isinstance(event_time, str) or event_time not in columns):
        out.append(f"tables[{q!r}].event_time {event_time!r} is not a column of the table (or null)")
    key = t.get("key", [])
    if not isinstance(key, list) or not all(isinstance(x, str) for x in key):
        out.append(f"tables[{q!r}].key must be a list of column names")
    return out


def _override_problems(overrides: Any, tables: dict) -> list[str]:
    if not isinstance(overrides, dict):
        return ["overrides must be an object"]
    entries = overrides.get("tables", {})
    if not isinstance(entries, dict):
        return ["overrides.tables must be an object (qualified table name -> edits)"]
    out = []
    for q, entry in entries.items():
        if not isinstance(entry, dict):
            out.append(f"overrides.tables[{q!r}] must be an object")
            continue
        if q not in tables:
            out.append(f"overrides.tables[{q!r}]: no such table in the model")
            continue
        if "kind" in entry and entry["kind"] not in TABLE_KINDS:
            out.append(f"overrides.tables[{q!r}].kind {entry['kind']!r} is not one of {', '.join(TABLE_KINDS)}")
        columns = entry.get("columns", {})
        if not isinstance(columns, dict):
            out.append(f"overrides.tables[{q!r}].columns must be an object")
            continue
        for name, c in columns.items():
            where = f"overrides.tables[{q!r}].columns[{name!r}]"
            if not isinstance(c, dict):
                out.append(f"{where} must be an object")
            elif name not in (tables[q].get("columns") or {}):
                out.append(f"{where}: no such column in the model")
            elif "role" in c and c["role"] not in ROLES:
                out.append(f"{where}.role {c['role']!r} is not one of {', '.join(ROLES)}")
            elif "personal" in c and not isinstance(c["personal"], bool):
                out.append(f"{where}.personal must be true or false")
            elif not set(c) <= set(COLUMN_EDITABLE):
                out.append(f"{where}: only {', '.join(COLUMN_EDITABLE)} can be overridden")
    return out


def model_problems(data: Any, current: Optional[SemanticModel] = None) -> list[str]:
    """What keeps `data` (the parsed upload) from being the task's model; [] when it can be used. `current`: the
    task's model now, whose tables and columns must all still be there."""
    if not isinstance(data, dict):
        return ["the file must hold one JSON object: the semantic model ({\"version\": 1, \"tables\": {...}})"]
    out = []
    if data.get("version", VERSION) != VERSION:
        out.append(f"version {data.get('version')!r} is not understood (only {VERSION})")
    tables = data.get("tables")
    if not isinstance(tables, dict) or not tables:
        return out + ["'tables' must be a non-empty object (qualified table name -> table)"]
    for q, t in tables.items():
        out += _table_problems(q, t)
    for name in ("relationships", "join_paths"):
        if not isinstance(data.get(name, []), list):
            out.append(f"'{name}' must be a list")
    out += _override_problems(data.get("overrides", {}), tables)
    if not out:
        try:
            SemanticModel.from_dict(data)
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            out.append(f"the model's entries do not have the expected shape: {type(exc).__name__}: {exc}")
    if current is not None:
        missing = [q for q in current.tables if q not in tables]
        if missing:
            out.append(f"tables of the task's model are missing (an upload edits, it does not drop): "
                       f"{', '.join(missing[:MAX_PROBLEMS])}")
        for q, t in current.tables.items():
            gone = [c for c in t.columns if isinstance(tables.get(q), dict)
                    and isinstance(tables[q].get("columns"), dict) and c not in tables[q]["columns"]]
            if q in tables and gone:
                out.append(f"tables[{q!r}] lacks columns of the task's model: {', '.join(gone)}")
    return out


def mark_edits(data: dict, current: Optional[SemanticModel]) -> list[str]:
    """Mark `edited_by_user` on every table and column of `data` whose editable fields differ from `current`, so
    that an edit made in the body (not in `overrides`) survives the next ddl_generation too. Returns what was
    marked (`schema.table` or `schema.table.column`), in the file's order."""
    if current is None:
        return []
    marked = []
    for q, t in data["tables"].items():
        now = current.tables.get(q)
        if now is None:
            continue
        label = t.get("label", now.label)
        label = [label] if isinstance(label, str) else label
        if (t.get("kind", now.kind), label, t.get("event_time", now.event_time)) != (now.kind, now.label,
                                                                                      now.event_time):
            t["edited_by_user"] = True
        if t.get("edited_by_user"):
            marked.append(q)
        for name, c in (t.get("columns") or {}).items():
            was = now.columns.get(name)
            if was is not None and any(c.get(k, getattr(was, k)) != getattr(was, k) for k in COLUMN_EDITABLE):
                c["edited_by_user"] = True
            if c.get("edited_by_user"):
                marked.append(f"{q}.{name}")
    return marked
