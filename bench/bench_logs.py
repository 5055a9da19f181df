"""Benchmark of the logs API on a 1,000,000-line task log.

    .venv/bin/python bench/bench_logs.py [--lines 1000000] [--runs 5] [--server]

Creates a task (embedded PostgreSQL in a temporary data home), writes a realistic `data_pipeline.log`
(every step, all levels, a multi-line traceback every ~2,000 entries), then times through the Flask test client:
  GET  /logs?limit=100                       target <= 50 ms
  POST /logs/query {keyword, level}          target <= 0.5 s
  POST /logs/query {step_name}               (information)
  POST /logs/query {keyword} (no level)      (information)
With `--server` the same requests also go over HTTP to `python citu_app.py` (gunicorn) on a free port.
Prints median / best of `--runs` after one warm-up (the OS page cache is warm, as on a server).
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STEPS = ("ddl_generation", "qa_generation", "sql_validation", "training_load")
LOGGERS = {"ddl_generation": "data_pipeline.steps.ddl_generation", "qa_generation": "data_pipeline.steps.qa",
           "sql_validation": "data_pipeline.steps.sql_validation", "training_load": "data_pipeline.steps.load"}
MESSAGES = ("开始处理表: bss_business_day_data", "生成DDL完成 (12 columns, 3.2 ms)",
            "Question-SQL对已生成: 10 pairs for theme 服务区营收", "SQL验证通过: SELECT count(*) FROM bss_company",
            "SQL验证失败，尝试LLM修复: column \"x\" does not exist", "加载训练数据: 50 documents embedded",
            "LLM request finished in 1.84 s (prompt 812 tokens)", "vector backup written: 1200 rows")
TRACEBACK = ("Traceback (most recent call last):\n  File \"/app/data_pipeline/steps/sql_validation.py\", line 88, "
             "in validate\n    cur.execute(sql)\npsycopg2.errors.UndefinedColumn: column \"x\" does not exist")


def write_log(path: Path, lines: int, seed: int = 7) -> int:
    rnd = random.Random(seed)
    written = entry = 0
    levels = ["INFO"] * 80 + ["DEBUG"] * 12 + ["WARNING"] * 6 + ["ERROR"] * 2
    with open(path, "w", encoding="utf-8") as fh:
        while written < lines:
            step = STEPS[min(3, written * 4 // lines)]
            second = written // 200
            ts = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(1750000000 + second))
            level = rnd.choice(levels)
            msg = rnd.choice(MESSAGES)
            buf = f"{ts} [{level}] {LOGGERS[step]}: [{step}] {msg} #{entry}\n"
            written += 1
            if entry % 2000 == 1999:
                buf = f"{ts} [ERROR] {LOGGERS[step]}: [{step}] step failure unique_marker_{entry}\n{TRACEBACK}\n"
                written += TRACEBACK.count("\n") + 1
            fh.write(buf)
            entry += 1
    return written


def timed(fn, runs: int) -> tuple[float, float, object]:
    fn()  # warm-up
    samples, last = [], None
    for _ in range(runs):
        t = time.perf_counter()
        last = fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples), min(samples), last


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--server", action="store_true", help="also measure over HTTP against a gunicorn server")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="dp_bench_logs_"))
    os.environ["DP_DATA_HOME"] = str(home)
    try:
        from app_config import load_settings
        from citu_app import create_app
        app = create_app(settings=load_settings({"data_home": home, "log_level": "WARNING"}))
        client = app.test_client()
        api = "/api/v0/data_pipeline/tasks"
        task_id = client.post(api, json={"task_name": "bench logs"}).get_json()["data"]["task_id"]
        path = app.extensions["data_pipeline"].task_dir(task_id) / "data_pipeline.log"
        t = time.perf_counter()
        n = write_log(path, args.lines)
        print(f"log: {n:,} lines, {path.stat().st_size / 1e6:.1f} MB, written in {time.perf_counter() - t:.1f} s")

        run_cases(lambda url: client.get(url).get_json()["data"],
                  lambda url, body: client.post(url, json=body).get_json()["data"], api, task_id, args.runs,
                  "Flask test client")
        if args.server:
            import requests
            from tests.server_process import ServerProcess
            with ServerProcess(home, as_shipped=True) as server:
                http = requests.Session()
                run_cases(lambda url: http.get(server.base_url + url, timeout=60).json()["data"],
                          lambda url, body: http.post(server.base_url + url, json=body, timeout=60).json()["data"],
                          api, task_id, args.runs, "HTTP, gunicorn")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run_cases(get_json, post_json, api: str, task_id: str, runs: int, label: str) -> None:
    print(f"-- {label}")

    def get(url):
        return lambda: get_json(url)

    def post(body):
        return lambda: post_json(f"{api}/{task_id}/logs/query", body)

    cases = [
        ("GET /logs?limit=100", get(f"{api}/{task_id}/logs?limit=100"), 0.050),
        ("GET /logs?limit=100&level=ERROR", get(f"{api}/{task_id}/logs?limit=100&level=ERROR"), None),
        ("GET /logs?level=CRITICAL (none: whole file)", get(f"{api}/{task_id}/logs?level=CRITICAL"), None),
        ("POST /logs/query keyword+level", post({"keyword": "unique_marker_1", "level": "ERROR"}), 0.5),
        ("POST /logs/query keyword+level (common word)", post({"keyword": "SQL验证失败", "level": "INFO"}), 0.5),
        ("POST /logs/query step_name", post({"step_name": "sql_validation", "page_size": 100}), None),
        ("POST /logs/query no filter", post({"page": 3}), None),
    ]
    for case, fn, target in cases:
        med, best, data = timed(fn, runs)
        total = data.get("total", data.get("pagination", {}).get("total"))
        verdict = "" if target is None else ("  OK" if med <= target else f"  OVER target {target * 1000:.0f} ms")
        print(f"{case:48s} median {med * 1000:8.1f} ms  best {best * 1000:8.1f} ms  "
              f"matches {total:>9,}{verdict}")


if __name__ == "__main__":
    main()
