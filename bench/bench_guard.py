"""Cost of the SQL guard per pair, before (December: sqlglot + token scan) and after (pglast + catalog check), and
the executor's peak memory under the byte-cap attack (issue 23 points 3 and 7).

    .venv/bin/python bench/bench_guard.py [--pairs 1000] [--old-commit 82765bd]

Starts the embedded PostgreSQL in a temporary data home (demo highway_db), synthesises `--pairs` varied pairs
(bench_validation.synthesise), then prints:
  1. static guard µs per pair: December's `check_sql` (loaded from git at --old-commit) vs today's;
  2. catalog check ms per pair (one READ ONLY transaction per pair, as the checker runs it);
  3. the whole check per pair on one connection: December's (sqlglot guard, EXPLAIN, `SELECT * ... LIMIT`
     fetched whole) vs today's (pglast guard, catalog check, EXPLAIN, sizes through a cursor), and today's
     pairs/s at concurrency 4;
  4. peak RSS (VmHWM) of a child process that runs the sql_validation step — the executor's code path — on a
     pair file holding `SELECT repeat('x',100000000) FROM generate_series(1,4)`: target < 300 MB.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ATTACK = "SELECT repeat('x', 100000000) FROM generate_series(1, 4)"


def _old_guard(commit: str):
    source = subprocess.run(["git", "show", f"{commit}:data_pipeline/validation/guard.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp(prefix="dp_old_guard_")) / "old_guard.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_guard", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_guard"] = module          # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _per_pair_us(fn, sqls: list[str], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for sql in sqls:
            fn(sql)
        best = min(best, (time.perf_counter() - t) / len(sqls) * 1e6)
    return best


def _old_whole_check_ms(old, url: str, settings, sqls: list[str]) -> float:
    """December's check on one connection: static guard, EXPLAIN, `SELECT * FROM (sql) LIMIT cap` fetched whole."""
    import psycopg2
    from core.business_db import connect_business
    conn = connect_business(url, statement_timeout_ms=settings.statement_timeout_ms,
                            lock_timeout_ms=settings.lock_timeout_ms, settings=settings)
    try:
        t = time.perf_counter()
        for sql in sqls:
            verdict = old.check_sql(sql)
            if not verdict.ok:
                continue
            try:
                with conn.cursor() as cur:
                    cur.execute("EXPLAIN (FORMAT JSON) " + verdict.body)
                    cur.fetchall()
                    cur.execute(f"SELECT * FROM (\n{verdict.body}\n) AS _dp_q LIMIT {settings.validation_row_cap}")
                    cur.fetchall()
            except psycopg2.Error:
                pass
            finally:
                conn.rollback()
        return (time.perf_counter() - t) / len(sqls) * 1000
    finally:
        conn.close()


_CHILD = textwrap.dedent("""
    import logging, sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from app_config import load_settings
    from data_pipeline.qa.pairs import Pair, pairs_file_name, write_pairs
    from data_pipeline.steps import sql_validation
    from data_pipeline.steps.base import StepContext

    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    settings = load_settings({{"data_home": {home!r}, "log_level": "WARNING"}})
    task_dir = Path({home!r}) / "attack_task"
    task_dir.mkdir(exist_ok=True)
    write_pairs(task_dir / pairs_file_name("highway_db", "20250101_000000"),
                [Pair("攻击", {attack!r}), Pair("公司数", "SELECT count(*) FROM bss_company")])
    before = hwm()
    ctx = StepContext(task_id="manual_20250101_000000", task_dir=task_dir, params={{}}, options={{}},
                      settings=settings, business_url={url!r}, meta_db=None, tables=[],
                      logger=logging.getLogger("bench.guard"))
    t = time.perf_counter()
    result = sql_validation.run(ctx)
    print(f"{{before:.0f}} {{hwm():.0f}} {{time.perf_counter() - t:.2f}} {{result.summary['status_counts']}}")
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--old-commit", default="82765bd")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="dp_bench_guard_"))
    os.environ["DP_DATA_HOME"] = str(home)
    try:
        from app_config import load_settings
        from bench.bench_validation import _values, synthesise
        from core.business_db import connect_business
        from core.runtime import prepare
        from data_pipeline.validation.catalog_check import catalog_problem
        from data_pipeline.validation.check import SqlChecker
        from data_pipeline.validation.guard import check_sql

        settings = load_settings({"data_home": home, "log_level": "WARNING"})
        runtime = prepare(settings)
        sqls = [sql for _, _, sql in synthesise(args.pairs, _values(runtime.business_url), 7)]
        old = _old_guard(args.old_commit)
        agree = sum(bool(old.check_sql(s).ok) == bool(check_sql(s).ok) for s in sqls)
        before_us, after_us = _per_pair_us(old.check_sql, sqls), _per_pair_us(check_sql, sqls)
        print(f"static guard per pair: before (sqlglot + token scan) {before_us:.0f} µs, after (pglast) "
              f"{after_us:.0f} µs; same verdict on {agree}/{len(sqls)} pairs; cores: {os.cpu_count()}")

        verdicts = [check_sql(s) for s in sqls]
        conn = connect_business(runtime.business_url, statement_timeout_ms=5000, lock_timeout_ms=1000,
                                settings=settings)
        timings = []
        try:
            for v in (v for v in verdicts if v.ok):
                t = time.perf_counter()
                with conn.cursor() as cur:
                    catalog_problem(cur, v.names)
                conn.rollback()
                timings.append((time.perf_counter() - t) * 1000)
        finally:
            conn.close()
        print(f"catalog check per pair: median {statistics.median(timings):.2f} ms, "
              f"p95 {sorted(timings)[int(len(timings) * 0.95)]:.2f} ms over {len(timings)} pairs")

        old_ms = _old_whole_check_ms(old, runtime.business_url, settings, sqls)
        with SqlChecker.from_settings(runtime.business_url, settings.model_copy(
                update={"validation_concurrency": 1})) as checker:
            checker.check(sqls[0])
            t = time.perf_counter()
            for sql in sqls:
                checker.check(sql)
            new_ms = (time.perf_counter() - t) / len(sqls) * 1000
        print(f"whole check per pair, one connection: before {old_ms:.2f} ms, after {new_ms:.2f} ms")
        with SqlChecker.from_settings(runtime.business_url, settings.model_copy(
                update={"validation_concurrency": 4})) as checker:
            checker.check_many(sqls[:50])
            t = time.perf_counter()
            checker.check_many(sqls)
            elapsed = time.perf_counter() - t
        print(f"whole check concurrency=4: {len(sqls) / elapsed:.0f} pairs/s")

        child = subprocess.run([sys.executable, "-c", _CHILD.format(root=str(ROOT), home=str(home), attack=ATTACK,
                                                                    url=runtime.business_url)],
                               capture_output=True, text=True, timeout=600)
        if child.returncode:
            print(child.stderr[-2000:])
            raise SystemExit(1)
        before, peak, seconds, counts = child.stdout.strip().split(" ", 3)
        print(f"byte-cap attack ({ATTACK}): executor peak RSS {peak} MB (before the step {before} MB; "
              f"target < 300 MB), step {seconds} s, statuses {counts}")
    finally:
        from core import embedded_pg
        embedded_pg.detach()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
