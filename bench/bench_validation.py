"""Benchmark of SQL validation throughput (static check + EXPLAIN + capped read-only execution) on the demo DB.

    .venv/bin/python bench/bench_validation.py [--pairs 1000] [--concurrency 4] [--seed 7] [--source synth|qa]

Starts the embedded PostgreSQL in a temporary data home (demo highway_db built there), synthesises `--pairs`
varied question-SQL pairs over the bss_* tables (random real values: service areas, dates, car types,
companies; the mix mirrors the rule-based generator: lookups and counts on small tables, date-filtered and
grouped aggregates on the 97k/292k-row fact tables, joins along foreign keys, a few full-table aggregates, and
~3 % broken or hostile SQL) — or, with `--source qa`, runs the real ddl_generation + qa_generation steps
(rule-based) on the 7 demo tables and cycles their pairs up to `--pairs` (that output is dominated by
full-table aggregates over the fact tables, 20-180 ms of server time each) — then prints:
  1. SqlChecker.check_many pairs/s at concurrency 1, 2 and --concurrency   target >= 300 pairs/s
  2. the whole sql_validation step (rule-based, modify_original_file) pairs/s end to end
  3. time per SQL class (median ms), so a slow mix is visible, not averaged away
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _values(url: str) -> dict:
    import psycopg2
    conn = psycopg2.connect(url)
    conn.set_session(readonly=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT DISTINCT service_name, service_no FROM bss_business_day_data")
            services = cur.fetchall()
            cur.execute("SELECT id, company_name FROM bss_company")
            companies = cur.fetchall()
            cur.execute("SELECT DISTINCT car_type FROM bss_car_day_count")
            car_types = [r[0] for r in cur.fetchall()]
            cur.execute("SELECT id, service_area_name FROM bss_service_area")
            areas = cur.fetchall()
    finally:
        conn.rollback()
        conn.close()
    return {"services": services, "companies": companies, "car_types": car_types, "areas": areas}


def synthesise(n: int, values: dict, seed: int) -> list[tuple[str, str, str]]:
    """(class, question, sql) triples with distinct questions."""
    rnd = random.Random(seed)
    start = date(2023, 7, 1)

    def day() -> date:
        return start + timedelta(days=rnd.randrange(700))

    def q(s: str) -> str:
        return s.replace("'", "''")

    templates = [
        (30, "small_lookup", lambda: (lambda c: (f"{c[1]}管理的服务区有哪些？",
              f"SELECT service_area_name, service_state FROM bss_service_area WHERE company_id = '{c[0]}' "
              f"AND delete_ts IS NULL ORDER BY service_area_name"))(rnd.choice(values["companies"]))),
        (10, "small_group", lambda: ("各类型服务区数量", "SELECT service_area_type, count(*) FROM bss_service_area "
                                     "WHERE delete_ts IS NULL GROUP BY service_area_type")),
        (15, "join_fk", lambda: (lambda c: (f"{c[1]}的服务区及其路段",
              "SELECT a.service_area_name, r.section_name, r.route_name FROM bss_service_area a "
              "JOIN bss_section_route_area_link l ON l.service_area_id = a.id "
              f"JOIN bss_section_route r ON r.id = l.section_route_id WHERE a.company_id = '{c[0]}'"))(
              rnd.choice(values["companies"]))),
        (25, "fact_day", lambda: (lambda s, d: (f"{s[0]}在{d}的营业额",
              f"SELECT sum(pay_sum) AS revenue, sum(order_sum) AS orders FROM bss_business_day_data "
              f"WHERE service_no = '{q(s[1])}' AND oper_date = DATE '{d}' AND delete_ts IS NULL"))(
              rnd.choice(values["services"]), day())),
        (15, "fact_top_day", lambda: (lambda d: (f"{d}营业额前10的服务区",
              f"SELECT service_name, sum(pay_sum) AS revenue FROM bss_business_day_data WHERE oper_date = DATE '{d}' "
              f"GROUP BY service_name ORDER BY revenue DESC LIMIT 10"))(day())),
        (10, "fact_month_area", lambda: (lambda s, d: (f"{s[0]}在{d:%Y年%m月}各支付方式金额",
              f"SELECT sum(wx) AS wx, sum(zfb) AS zfb, sum(rmb) AS rmb, sum(xs) AS xs, sum(jd) AS jd "
              f"FROM bss_business_day_data WHERE service_no = '{q(s[1])}' "
              f"AND oper_date >= DATE '{d.replace(day=1)}' AND oper_date < DATE '{d.replace(day=1)}' + INTERVAL '1 month'"))(
              rnd.choice(values["services"]), day())),
        (12, "car_day", lambda: (lambda a, d, t: (f"{a[1]}在{d}的{t}车流量",
              f"SELECT sum(customer_count) FROM bss_car_day_count WHERE service_area_id = '{a[0]}' "
              f"AND count_date = DATE '{d}' AND car_type = '{t}'"))(
              rnd.choice(values["areas"]), day(), rnd.choice(values["car_types"]))),
        (8, "car_week_join", lambda: (lambda d: (f"{d}起一周各公司车流量",
              "SELECT c.company_name, sum(k.customer_count) FROM bss_car_day_count k "
              "JOIN bss_service_area a ON a.id = k.service_area_id JOIN bss_company c ON c.id = a.company_id "
              f"WHERE k.count_date >= DATE '{d}' AND k.count_date < DATE '{d}' + 7 GROUP BY c.company_name "
              "ORDER BY 2 DESC"))(day())),
        (3, "fact_full_scan", lambda: (lambda m: (f"各服务区{m}以来的总营业额",
              f"SELECT service_name, sum(pay_sum) FROM bss_business_day_data WHERE oper_date >= DATE '{m}' "
              f"GROUP BY service_name ORDER BY 2 DESC LIMIT 20"))(day())),
        (2, "broken", lambda: ("拼写错误的列", f"SELECT servce_name{rnd.randrange(10**6)} FROM bss_business_day_data")),
        (1, "hostile", lambda: ("危险语句", f"DELETE FROM bss_company WHERE id = '{rnd.randrange(10**6)}'")),
    ]
    weights = [w for w, _, _ in templates]
    out, seen = [], set()
    while len(out) < n:
        _, cls, make = rnd.choices(templates, weights)[0]
        question, sql = make()
        question = f"{question}（#{len(out) + 1}）"  # distinct questions: distinct pair ids
        if question not in seen:
            seen.add(question)
            out.append((cls, question, sql))
    return out


def rule_based_pairs(n: int, settings, runtime, home: Path) -> list[tuple[str, str, str]]:
    """The real rule-based generator's pairs on all 7 demo tables, cycled to `n` (distinct questions)."""
    from core.db import Database
    from data_pipeline.qa.pair_quality import classify_difficulty
    from data_pipeline.qa.pairs import latest_pairs_file, read_pairs
    from data_pipeline.steps import ddl_generation, qa_generation
    from data_pipeline.steps.base import StepContext
    from data_pipeline.taskfiles.table_list import parse_names

    task_dir = home / "qa_task"
    task_dir.mkdir()
    names = ["bss_business_day_data", "bss_car_day_count", "bss_company", "bss_section_route",
             "bss_section_route_area_link", "bss_service_area", "bss_service_area_mapper"]
    ctx = StepContext(task_id="manual_20250101_000001", task_dir=task_dir, params={"business_context": "高速公路服务区"},
                      options={}, settings=settings, business_url=runtime.business_url,
                      meta_db=Database(runtime.meta_url), tables=parse_names(names),
                      logger=logging.getLogger("bench.qa"))
    ddl_generation.run(ctx)
    qa_generation.run(ctx)
    base = read_pairs(latest_pairs_file(task_dir))
    print(f"rule-based generator produced {len(base)} pairs; cycled to {n}")
    return [(classify_difficulty(p.sql), f"{p.question}（#{i + 1}）", p.sql)
            for i, p in ((i, base[i % len(base)]) for i in range(n))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--source", choices=("synth", "qa"), default="synth")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="dp_bench_validation_"))
    os.environ["DP_DATA_HOME"] = str(home)
    try:
        from app_config import load_settings
        from core.runtime import prepare
        from data_pipeline.qa.pairs import Pair, pairs_file_name, write_pairs
        from data_pipeline.validation.check import SqlChecker
        from data_pipeline.steps import sql_validation
        from data_pipeline.steps.base import StepContext

        settings = load_settings({"data_home": home, "log_level": "WARNING",
                                  "validation_concurrency": args.concurrency})
        t0 = time.perf_counter()
        runtime = prepare(settings)
        print(f"embedded PostgreSQL + demo DB ready in {time.perf_counter() - t0:.1f} s; cores: {os.cpu_count()}")
        if args.source == "qa":
            pairs = rule_based_pairs(args.pairs, settings, runtime, home)
        else:
            pairs = synthesise(args.pairs, _values(runtime.business_url), args.seed)
        sqls = [sql for _, _, sql in pairs]

        with SqlChecker.from_settings(runtime.business_url, settings) as warm:   # warm the buffer cache
            warm.check_many(sqls[:200])
        per_class = defaultdict(list)
        for concurrency in sorted({1, 2, args.concurrency}):
            s = settings.model_copy(update={"validation_concurrency": concurrency})
            with SqlChecker.from_settings(runtime.business_url, s) as checker:
                checker.check_many(sqls[:concurrency])            # open the connections outside the timing
                t = time.perf_counter()
                results = checker.check_many(sqls)
                elapsed = time.perf_counter() - t
            statuses = defaultdict(int)
            for (cls, _, _), r in zip(pairs, results):
                statuses[r.status] += 1
                if concurrency == 1:
                    per_class[cls].append(r.execution_time)
            target = "  (target >= 300/s)" if concurrency == args.concurrency else ""
            print(f"check_many  concurrency={concurrency}: {len(sqls)} pairs in {elapsed:.2f} s = "
                  f"{len(sqls) / elapsed:7.0f} pairs/s{target}   {dict(statuses)}")

        task_dir = home / "bench_task"
        task_dir.mkdir()
        write_pairs(task_dir / pairs_file_name("highway_db", "20250101_000000"),
                    [Pair(question, sql) for _, question, sql in pairs])
        logging.basicConfig(level=logging.WARNING)
        ctx = StepContext(task_id="manual_20250101_000000", task_dir=task_dir, params={}, options={},
                          settings=settings, business_url=runtime.business_url, meta_db=None, tables=[],
                          logger=logging.getLogger("bench.sql_validation"))
        t = time.perf_counter()
        result = sql_validation.run(ctx)
        elapsed = time.perf_counter() - t
        print(f"sql_validation step (concurrency={args.concurrency}, reports + file rewrite + quality report): "
              f"{len(sqls)} pairs in {elapsed:.2f} s = {len(sqls) / elapsed:.0f} pairs/s; "
              f"valid {result.summary['valid_sqls']}, invalid {result.summary['invalid_sqls']}")
        print("per SQL class at concurrency 1 (count, median ms, max ms):")
        for cls, times in sorted(per_class.items(), key=lambda kv: -statistics.median(kv[1])):
            print(f"  {cls:16s} {len(times):5d} {statistics.median(times) * 1000:8.2f} {max(times) * 1000:8.2f}")
    finally:
        from core import embedded_pg
        embedded_pg.detach()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
