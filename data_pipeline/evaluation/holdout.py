"""The hold-out: a sample of the pairs kept out of the vector store so the evaluation can ask them.

Chosen by `choose` (pure): strata are (complexity level, the pair's first table); each stratum gives its share
of `ratio` (largest remainders), never its last pair (so every table and level stays taught); the pairs taken
inside a stratum are the first by a hash of their id (deterministic: the same pairs give the same hold-out).
Size: ceil(ratio x pairs), at least MIN_FOR_LARGE when there are LARGE or more pairs, at least MIN_HELD_OUT (the
fewest the evaluation accepts) when there are 4 x MIN_HELD_OUT or more, at most half.
training_load calls `hold_out_for_load` when the task has `enable_evaluation`: the held-out pairs are written
to `eval_holdout.json` and not loaded.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Optional, Sequence

from data_pipeline.evaluation.shape import pair_level, sql_tables

HOLDOUT_FILE = "eval_holdout.json"
DEFAULT_RATIO = 0.1
LARGE, MIN_FOR_LARGE = 200, 20
MIN_HELD_OUT = 5           # fewer held-out pairs and the evaluation refuses to run


def pair_tables(sql: str, meta: Optional[dict]) -> list[str]:
    """The pair's tables: the SQL's own (what retrieval must find), else the generator's meta."""
    found = sorted(sql_tables(sql))
    if found:
        return found
    return sorted(str(t).lower().removeprefix("public.") for t in (meta or {}).get("tables") or [])


def holdout_size(total: int, ratio: float) -> int:
    if total <= 1 or ratio <= 0:
        return 0
    size = math.ceil(ratio * total)
    if total >= 4 * MIN_HELD_OUT:
        size = max(size, MIN_HELD_OUT)
    if total >= LARGE:
        size = max(size, MIN_FOR_LARGE)
    return min(size, total // 2)


def _rank(pair_id: str) -> str:
    return hashlib.sha1(f"holdout:{pair_id}".encode()).hexdigest()


def choose(pairs: Sequence, ratio: float = DEFAULT_RATIO) -> tuple[list, list, dict]:
    """(held out, kept, strata {"level|table": [held, total]}) for pairs with .id, .sql, .meta."""
    strata: dict[str, list] = defaultdict(list)
    for p in pairs:
        tables = pair_tables(p.sql, p.meta)
        strata[f"{pair_level(p.sql, p.meta)}|{tables[0] if tables else '-'}"].append(p)
    want = holdout_size(len(pairs), ratio)
    room = {k: len(v) - 1 for k, v in strata.items()}
    exact = {k: want * len(v) / max(1, len(pairs)) for k, v in strata.items()}
    take = {k: min(room[k], int(exact[k])) for k in strata}
    # largest remainders first (ties: bigger stratum, then name), never a stratum's last pair
    order = sorted(strata, key=lambda k: (-(exact[k] - int(exact[k])), -len(strata[k]), k))
    while sum(take.values()) < want and any(take[k] < room[k] for k in strata):
        for k in order:
            if sum(take.values()) >= want:
                break
            if take[k] < room[k]:
                take[k] += 1
    held_ids = set()
    for k, members in strata.items():
        held_ids.update(p.id for p in sorted(members, key=lambda p: _rank(p.id))[:take[k]])
    held = [p for p in pairs if p.id in held_ids]
    kept = [p for p in pairs if p.id not in held_ids]
    return held, kept, {k: [take[k], len(v)] for k, v in sorted(strata.items())}


def holdout_entry(p) -> dict:
    return {"id": p.id, "question": p.question, "sql": p.sql, "level": pair_level(p.sql, p.meta),
            "tables": pair_tables(p.sql, p.meta), "template": (p.meta or {}).get("template"),
            "source": (p.meta or {}).get("source")}


def write_holdout(task_dir: Path, held: Sequence, total: int, ratio: float, strata: dict, pairs_file) -> dict:
    body = {"generated_at": datetime.now().isoformat(timespec="seconds"), "ratio": ratio, "pairs_total": total,
            "held_out": len(held), "pairs_file": pairs_file, "strata": strata,
            "pairs": [holdout_entry(p) for p in held]}
    path = Path(task_dir) / HOLDOUT_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return body


def read_holdout(task_dir: Path) -> Optional[dict]:
    """eval_holdout.json, or None when missing or unreadable."""
    try:
        data = json.loads((Path(task_dir) / HOLDOUT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pairs"), list):
        return None
    data["pairs"] = [p for p in data["pairs"] if isinstance(p, dict) and isinstance(p.get("question"), str)
                     and isinstance(p.get("sql"), str) and p["question"].strip() and p["sql"].strip()]
    return data


def ratio_of(params: dict) -> float:
    try:
        ratio = float(params.get("eval_holdout_ratio") if params.get("eval_holdout_ratio") is not None
                      else DEFAULT_RATIO)
    except (TypeError, ValueError):
        return DEFAULT_RATIO
    return min(max(ratio, 0.0), 0.5)


def hold_out_for_load(task_dir: Path, params: dict, pairs: list, pairs_file: Optional[str]) -> tuple[list, Optional[dict]]:
    """training_load's hook: with `enable_evaluation`, the pairs to load (held-out ones removed) and a summary
    for the step result; without it, the pairs unchanged and None."""
    if params.get("enable_evaluation") is not True:
        return pairs, None
    ratio = ratio_of(params)
    held, kept, strata = choose(pairs, ratio)
    write_holdout(task_dir, held, len(pairs), ratio, strata, pairs_file)
    return kept, {"file": HOLDOUT_FILE, "ratio": ratio, "held_out": len(held), "pairs_considered": len(pairs),
                  "strata": len(strata)}


def evaluable_problem(task_dir: Path, load_summary: Optional[dict], tracked: bool) -> Optional[str]:
    """Why a task cannot be evaluated (nothing loaded, no or too small hold-out), else None. `load_summary`:
    training_load's step result from the task row; `tracked`: the task has a row (a CLI run without tracking is
    judged by its files). Shared by the step (a step error) and the API's pre-check (a 400 before the run)."""
    if tracked and (load_summary is None or not load_summary.get("total_rows")):
        return "nothing is loaded for this task: run training_load first (with enable_evaluation: true)"
    if tracked and "evaluation_holdout" not in load_summary:
        return ("the last training_load held nothing out (the task's enable_evaluation was off), so every pair is "
                "in the vector store; create the task with enable_evaluation: true and run training_load again")
    data = read_holdout(task_dir)
    held = len(data["pairs"]) if data else 0
    if held < MIN_HELD_OUT:
        return (f"{held} held-out pair(s) in {HOLDOUT_FILE}; the evaluation needs at least {MIN_HELD_OUT} "
                "(raise eval_holdout_ratio or generate more pairs)")
    return None


def precheck(task_dir: Path, task_row: Optional[dict]) -> None:
    """The API's 400 before an `evaluation` step run starts."""
    from core.errors import ValidationFailed
    steps = ((task_row or {}).get("result") or {}).get("steps") or {}
    load = steps.get("training_load")
    problem = evaluable_problem(task_dir, load if isinstance(load, dict) else None, tracked=True)
    if problem:
        raise ValidationFailed(problem, invalid_params=["step_name"])
