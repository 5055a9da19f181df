"""How good are the rule-based pairs, read the way a reviewer reads them (issue 22): one row per fixture and language.

    .venv/bin/python bench/bench_semantic_quality.py [--fixtures rw_rental,rw_sales,rw_hospital,demo]
        [--languages zh,en] [--show N] [--seed 7] [--keep DIR]

Sets up a throw-away embedded PostgreSQL (temporary data home), creates the three real-world-shaped fixtures of
tests/realistic_fixtures.py (each in its own database, read through a SELECT-only LOGIN role) next to the demo
highway_db, and for each fixture and question language runs ddl_generation -> qa_generation -> sql_validation in
process with the embedded defaults and no LLM, as `task_executor.py` would. Then it runs
`/work/shared/tools/pair_lint.py TASK_DIR --dsn URL --lang L --json` (override with PAIR_LINT=path) on the task
directory and prints one table:

  pairs, templates %, complex + highly complex %, 3+-table joins % (two or more JOINs), SUM/AVG over an id,
  rankings with fewer groups than half their LIMIT, bridges counted as entities, rankings over a flag,
  keys-only groupings %, raw identifiers in questions %, doubled words, execute %, non-empty %, and the fact/line
  measures no pair aggregates (the fixture's declared measures; for the demo the additive/non-additive measures of
  `semantic_model.json` when ddl_generation wrote one).

Issue 22's bars: templates <= 15 %, complex + highly >= 30 %, 3+-table joins >= 15 %, 0 agg-id, 0 thin rankings,
0 bridges counted, 0 ranked flags, keys-only <= 5 %, raw identifiers <= 5 %, 0 doubled words, 100 % execute,
>= 90 % non-empty, no unused measure. The other kinds pair_lint finds are listed under the table with their
counts. `--show N` prints N random pairs per fixture and language for reading.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _inprocess import bench_home, run_steps

PAIR_LINT = os.environ.get("PAIR_LINT", "/work/shared/tools/pair_lint.py")
COLUMNS = [("fixture", 12), ("lang", 4), ("pairs", 5), ("tmpl%", 6), ("cx+hi%", 6), ("3+tbl%", 6), ("aggid", 5),
           ("thin", 4), ("bridge", 6), ("flag", 4), ("keys%", 5), ("rawid%", 6), ("dbl", 3), ("exec%", 6),
           ("nonem%", 6), ("unused measures", 0)]
FINDING = {"agg_id": "SUM/AVG over an identifier", "thin": "ranking with fewer groups than half its LIMIT",
           "bridge": "link table counted as if it were an entity", "flag": "ranking over a boolean flag",
           "keys": "grouped by keys only (no readable label)", "raw": "raw identifier quoted in the question",
           "doubled": "doubled word"}


def model_measures(task_dir: Path) -> dict[str, list[str]]:
    """Measures of fact/line tables in semantic_model.json (when the semantic stage wrote one), else {}."""
    path = task_dir / "semantic_model.json"
    if not path.exists():
        return {}
    model = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, list[str]] = {}
    for qualified, t in (model.get("tables") or {}).items():
        if t.get("kind") not in ("event", "line"):
            continue
        name = qualified.split(".")[-1]
        for col, c in (t.get("columns") or {}).items():
            if c.get("role") in ("additive_measure", "non_additive_measure"):
                out.setdefault(name, []).append(col)
    return out


AGG_CALL = re.compile(r"\b(SUM|AVG|MIN|MAX)\s*\(", re.I)


def aggregated_args(sql: str) -> str:
    """The arguments of every SUM/AVG/MIN/MAX call in `sql`, joined (a column only listed is not a use)."""
    out = []
    for m in AGG_CALL.finditer(sql):
        depth, i = 1, m.end()
        while i < len(sql) and depth:
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            i += 1
        out.append(sql[m.end():i - 1])
    return " ".join(out)


def unused_measures(pairs: list[dict], measures: dict[str, list[str]]) -> list[str]:
    """`table.column` of each declared measure that no pair aggregates (a query naming the table that has the
    column inside SUM/AVG/MIN/MAX)."""
    unused = []
    for table, cols in measures.items():
        args = [aggregated_args(p["sql"]) for p in pairs if re.search(rf'\b{re.escape(table)}\b', p["sql"], re.I)]
        unused += [f"{table}.{c}" for c in cols
                   if not any(re.search(rf'\b{re.escape(c)}\b', a, re.I) for a in args)]
    return unused


def lint(task_dir: Path, dsn: str, lang: str) -> dict:
    out = subprocess.run([sys.executable, PAIR_LINT, str(task_dir), "--dsn", dsn, "--lang", lang, "--json"],
                         capture_output=True, text=True, timeout=600)
    if out.returncode not in (0, 1) or not out.stdout.strip():
        raise SystemExit(f"pair_lint failed on {task_dir}: {out.stderr.strip()[-400:]}")
    return json.loads(out.stdout)


def run_task(bench, name: str, url: str, tables: list[str], lang: str) -> tuple[Path, str, float]:
    task_dir = bench.home / f"{name}_{lang}" / "task_20250101_000000"
    params = {"db_connection": url, "db_name": name, "question_language": lang, "business_context": "",
              "enable_sql_validation": True, "enable_training_data_load": False}
    run = run_steps(bench, task_dir, tables, params)
    return task_dir, run.outcome, run.wall


def row(name: str, lang: str, report: dict, quality: dict, unused: list[str] | None) -> list[str]:
    prof, found = report["profile"], report["findings"]
    n = max(prof["pairs"], 1)
    count = {k: found.get(v, {}).get("count", 0) for k, v in FINDING.items()}
    levels = prof["levels"]

    def pct(x):
        return "-" if x is None else f"{100 * x:.0f}"
    return [name, lang, str(prof["pairs"]), pct(prof["template_share"]),
            pct((levels["complex"] + levels["highly complex"]) / n), pct(prof["multi_join_share"]),
            str(count["agg_id"]), str(count["thin"]), str(count["bridge"]), str(count["flag"]),
            pct(count["keys"] / n), pct(count["raw"] / n), str(count["doubled"]),
            pct(quality.get("executable_rate")), pct(quality.get("non_empty_rate")),
            "-" if unused is None else (", ".join(unused) or "none")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixtures", default="rw_rental,rw_sales,rw_hospital,demo")
    parser.add_argument("--languages", default="zh,en")
    parser.add_argument("--show", type=int, default=0, help="random pairs to print per fixture and language")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", help="copy every task directory under this directory before cleaning up")
    args = parser.parse_args()
    with bench_home("dp_bench_semantic_", log_level=logging.ERROR) as bench:
        from data_pipeline.semantics import complexity
        from tests.qa.fixture_schemas import DEMO_TABLES
        from tests.realistic_fixtures import FIXTURES, create

        rows, samples, extra = [], [], []
        for name in args.fixtures.split(","):
            t0 = time.perf_counter()
            if name == "demo":
                url, tables, measures = bench.ctx.runtime.business_url, DEMO_TABLES, None
            else:
                fx = FIXTURES[name]
                url, tables, measures = create(bench.admin, fx, "bench_semantic_reader"), fx.tables, fx.measures
            print(f"{name}: {len(tables)} tables ready in {time.perf_counter() - t0:.1f}s", flush=True)
            for lang in args.languages.split(","):
                task_dir, outcome, wall = run_task(bench, name, url, tables, lang)
                if not list(task_dir.glob("qs_*_pair.json")):
                    print(f"  {lang}: {outcome}, no pairs (see {task_dir}/data_pipeline.log)", flush=True)
                    continue
                quality = json.loads((task_dir / "quality_report.json").read_text(encoding="utf-8"))
                pairs = json.loads(sorted(task_dir.glob("qs_*_pair.json"))[-1].read_text(encoding="utf-8"))
                declared = measures if measures is not None else (model_measures(task_dir) or None)
                report = lint(task_dir, url, lang)
                rows.append(row(name, lang, report, quality,
                                None if declared is None else unused_measures(pairs, declared)))
                others = {k: v["count"] for k, v in report["findings"].items() if k not in FINDING.values()}
                if others:
                    extra.append(f"{name} {lang}: " + "; ".join(f"{k} {n}" for k, n in others.items()))
                print(f"  {lang}: {outcome} in {wall:.1f}s, {len(pairs)} pairs", flush=True)
                for p in random.Random(args.seed).sample(pairs, min(args.show, len(pairs))):
                    samples.append(f"[{name} {lang} {complexity(p['sql'])}] "
                                   f"{p['question']}\n    {' '.join(p['sql'].split())}")
                if args.keep:
                    shutil.copytree(task_dir, Path(args.keep) / f"{name}_{lang}", dirs_exist_ok=True)
        print()
        print("  ".join(h.ljust(w) for h, w in COLUMNS))
        for r in rows:
            print("  ".join(v.ljust(w) for v, (_, w) in zip(r, COLUMNS)))
        print("bars: tmpl <= 15, cx+hi >= 30, 3+tbl >= 15, aggid/thin/bridge/flag 0, keys <= 5, rawid <= 5, dbl 0, "
              "exec 100, nonem >= 90, no unused measure")
        if extra:
            print("other pair_lint findings (read them; some are heuristics' false positives):")
            print("\n".join("  " + e for e in extra))
        for s in samples:
            print("\n" + s)


if __name__ == "__main__":
    main()
