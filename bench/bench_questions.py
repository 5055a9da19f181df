"""The complete rule-based workflow on a 300-table look-alike warehouse: coverage, pairs, executing, seconds.

    .venv/bin/python bench/bench_questions.py [--families 30] [--per-family 10] [--language zh|en]

Sets up a throw-away embedded PostgreSQL (temporary data home) with a business database of look-alike table
families (tests/qa/fixture_schemas.lookalike_sql: `d00_t0` … `d29_t9`, same column shapes, names that differ
only by digits, families x (per-family - 1) FK edges), read through a SELECT-only LOGIN role, and runs the four
steps (ddl_generation, qa_generation, sql_validation, training_load) with the embedded defaults and no LLM, as
`task_executor.py` would. Prints tables covered, FK edges covered, pairs, executing pairs, step warnings and
the wall time of each step. Issue 12's bar: >= 95 % tables, >= 90 % FK edges, >= 300 pairs, 100 % executing,
<= 120 s for the whole run.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import time

from _inprocess import bench_home, run_steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--families", type=int, default=30)
    parser.add_argument("--per-family", type=int, default=10)
    parser.add_argument("--language", default="zh", choices=("zh", "en", "auto"))
    parser.add_argument("--schema", default="lookalike", choices=("lookalike", "store", "partitioned", "demo"),
                        help="the look-alike warehouse (default), the English store/CRM or partitioned fixture, or "
                             "the demo highway_db")
    parser.add_argument("--show", type=int, default=5, help="random pairs to print")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--keep", help="copy the task directory here before cleaning up")
    args = parser.parse_args()
    with bench_home("dp_bench_questions_") as bench:
        from tests.qa import fixture_schemas as fx

        t0 = time.perf_counter()
        script, names = {
            "lookalike": (fx.lookalike_sql(args.families, args.per_family),
                          fx.lookalike_tables(args.families, args.per_family)),
            "store": (fx.STORE_SQL, fx.STORE_TABLES), "partitioned": (fx.PARTITIONED_SQL, fx.PARTITIONED_TABLES),
            "demo": ("", fx.DEMO_TABLES)}[
            args.schema]
        url = fx.create_business_db(bench.admin, f"bench_{args.schema}", script, "bench_reader") \
            if args.schema != "demo" else bench.ctx.runtime.business_url
        print(f"schema: {len(names)} tables created in {time.perf_counter() - t0:.1f}s")
        task_dir = bench.home / "task_20250101_000000"
        params = {"db_connection": url, "db_name": "lookalike", "question_language": args.language,
                  "business_context": "", "enable_sql_validation": True, "enable_training_data_load": True}
        run = run_steps(bench, task_dir, names, params)
        quality = json.loads((task_dir / "quality_report.json").read_text(encoding="utf-8"))
        pair_file = sorted(task_dir.glob("qs_*_pair.json"))[-1]
        sidecar = json.loads(pair_file.with_name(pair_file.name.replace(".json", ".meta.json")).read_text("utf-8"))
        cov = sidecar["coverage"]
        pairs = json.loads(pair_file.read_text(encoding="utf-8"))
        print(f"outcome {run.outcome}; wall {run.wall:.1f}s (bar <= 120 s)")
        print("steps: " + ", ".join(f"{s} {t:.1f}s" for s, t in run.steps.items()))
        print(f"tables covered {cov['tables_covered']}/{cov['tables_total']} "
              f"({100 * cov['tables_covered'] / max(cov['tables_total'], 1):.1f} %, bar >= 95 %)")
        print(f"FK edges covered {cov['fk_edges_covered']}/{cov['fk_edges_total']} "
              f"({100 * cov['fk_edges_covered'] / max(cov['fk_edges_total'], 1):.1f} %, bar >= 90 %)")
        print(f"pairs {len(pairs)} (bar >= 300); duplicates removed {sidecar['dedupe']}")
        print(f"executable rate {quality.get('executable_rate')} (bar 100 %); pairs in/out "
              f"{quality.get('pairs_in')}/{quality.get('pairs_out')}")
        for p in random.Random(args.seed).sample(pairs, min(args.show, len(pairs))):
            print(f"\nQ: {p['question']}\n{p['sql']}")
        if args.keep:
            shutil.copytree(task_dir, args.keep, dirs_exist_ok=True)


if __name__ == "__main__":
    main()
