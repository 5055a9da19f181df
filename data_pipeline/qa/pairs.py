"""Question–SQL pair files: `qs_{db}_{YYYYMMDD_HHMMSS}_pair.json` (the seeds' flat array of {"question","sql"})
plus a sidecar `qs_{db}_{ts}_pair.meta.json` with per-pair metadata keyed by a stable pair id.

The pair id derives from the question only, so it survives SQL repair; exact-duplicate questions are removed
before writing, so ids are unique within a file. A pair file without a sidecar (e.g. uploaded by a user) still
loads: ids are derived the same way and metadata is empty.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from data_pipeline.semantics.complexity import complexity

PAIRS_GLOB = "qs_*_pair.json"
_NAME_RE = re.compile(r"^qs_(?P<db>.+)_(?P<ts>\d{8}_\d{6})_pair\.json$")


@dataclass
class Pair:
    question: str
    sql: str
    meta: dict[str, Any] = field(default_factory=dict)  # theme, difficulty, tables, fk_edges, template, source

    @property
    def id(self) -> str:
        return pair_id(self.question)


def pair_id(question: str) -> str:
    return "p_" + hashlib.sha1(question.strip().encode("utf-8")).hexdigest()[:12]


def pairs_file_name(db_name: str, timestamp: str) -> str:
    safe_db = re.sub(r"[^\w-]", "_", db_name or "db")
    return f"qs_{safe_db}_{timestamp}_pair.json"


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name[: -len(".json")] + ".meta.json")


def latest_pairs_file(task_dir: Path) -> Optional[Path]:
    """The newest pair file by the timestamp in its name (backups and sidecars excluded)."""
    found = [p for p in Path(task_dir).glob(PAIRS_GLOB) if _NAME_RE.match(p.name)]
    if not found:
        return None
    return max(found, key=lambda p: (_NAME_RE.match(p.name)["ts"], p.stat().st_mtime))


def read_pairs(path: Path) -> list[Pair]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{Path(path).name}: expected a JSON array of {{question, sql}} objects")
    meta_by_id: dict[str, dict] = {}
    side = sidecar_path(Path(path))
    if side.exists():
        meta_by_id = json.loads(side.read_text(encoding="utf-8")).get("pairs", {})
    pairs = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) \
                or not isinstance(item.get("sql"), str):
            raise ValueError(f"{Path(path).name}: item {i} is not an object with string question and sql")
        pairs.append(Pair(item["question"], item["sql"], dict(meta_by_id.get(pair_id(item["question"]), {}))))
    return pairs


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def write_pairs(path: Path, pairs: list[Pair], extra_meta: Optional[dict] = None) -> None:
    """Write the flat pair file and its sidecar. Exact-duplicate questions must be removed by the caller. Every
    pair's `meta.complexity` is set here from its final SQL (`data_pipeline.semantics.complexity`), so a repaired
    SQL is never described by its draft's level."""
    ids = [p.id for p in pairs]
    for p in pairs:
        p.meta["complexity"] = complexity(p.sql)
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate questions in pair list")
    _write_json(Path(path), [{"question": p.question, "sql": p.sql} for p in pairs])
    _write_json(sidecar_path(Path(path)), {**(extra_meta or {}), "pairs": {p.id: p.meta for p in pairs}})
