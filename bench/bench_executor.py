"""Executor benchmark against the gunicorn-served app (`python citu_app.py`, fresh temp data home).

Measures
  1. POST …/execute latency and the time from sending POST to the step being `running` (step_details.started_at
     written by the executor, so it includes process spawn, imports and the embedded-PostgreSQL attach);
  2. status GET latency p50/p99 under N concurrent pollers while complete runs are in progress (complete runs of
     the demo tables are started back to back for the whole measuring window, rule-based generator).

    .venv/bin/python bench/bench_executor.py [--pollers 50] [--seconds 20] [--tables 7] [--workers 2]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from datetime import datetime

from _served import BASE, DEMO_TABLES, create_task, fresh_home, pct, remove_home

HOME = fresh_home("dp_bench_exec_")

import requests  # noqa: E402

from app_config import load_settings  # noqa: E402
from data_pipeline.context import build_context  # noqa: E402
from tests.executor_support import wait_for  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

def status(session: requests.Session, url: str, task_id: str) -> dict:
    return session.get(f"{url}{BASE}/{task_id}", timeout=30).json()["data"]


def start_run(url: str, task_id: str, body: dict) -> tuple[float, float]:
    """POST execute; returns (POST latency s, wall time the POST was sent)."""
    sent = time.time()
    t0 = time.perf_counter()
    resp = requests.post(f"{url}{BASE}/{task_id}/execute", json=body, timeout=30)
    latency = time.perf_counter() - t0
    assert resp.status_code == 202, resp.text
    return latency, sent


def time_to_running(url: str, task_id: str, sent: float, step: str = "ddl_generation") -> float:
    session = requests.Session()
    data = wait_for(lambda: (d := status(session, url, task_id))["steps"][0]["started_at"] and d, 60, 0.02,
                    "the step to start")
    started = datetime.fromisoformat(next(s for s in data["steps"] if s["step_name"] == step)["started_at"])
    return started.timestamp() - sent


def wait_done(url: str, task_id: str, timeout: float = 300) -> dict:
    session = requests.Session()
    return wait_for(lambda: (d := status(session, url, task_id))["finished"] and d["current_step"] is None and d,
                    timeout, 0.1, "the run to finish")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--tables", type=int, default=7)
    parser.add_argument("--spawn-runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args()
    settings = load_settings({"data_home": HOME, "log_level": "WARNING"})
    t0 = time.perf_counter()
    build_context(settings)  # embedded PostgreSQL + demo DB, kept attached by this process
    print(f"bootstrap (embedded PostgreSQL + demo database): {time.perf_counter() - t0:.1f} s")
    server = ServerProcess(HOME, "bench", workers=args.workers, threads=args.threads).start()
    url = server.base_url
    tables = DEMO_TABLES[:args.tables]
    try:
        # 1. spawn latency: one-step runs, one after the other
        posts, to_running = [], []
        for _ in range(args.spawn_runs):
            task_id = create_task(url, tables[:1])
            latency, sent = start_run(url, task_id, {"execution_mode": "step", "step_name": "ddl_generation"})
            posts.append(latency)
            to_running.append(time_to_running(url, task_id, sent))
            wait_done(url, task_id)
        print(f"POST execute -> 202: p50 {statistics.median(posts) * 1000:.1f} ms, max {max(posts) * 1000:.1f} ms "
              f"({len(posts)} runs)")
        print(f"POST execute -> step running (executor spawned, attached, claimed step): "
              f"p50 {statistics.median(to_running):.2f} s, min {min(to_running):.2f} s, max {max(to_running):.2f} s")

        # 2. status polling under load while complete runs are in progress
        current = {"task_id": create_task(url, tables)}
        start_run(url, current["task_id"], {"execution_mode": "complete"})
        stop = threading.Event()
        latencies: list[float] = []
        errors = [0]
        runs = {"completed": 0, "other": 0, "in_progress_samples": 0}
        lock = threading.Lock()

        def driver():
            while not stop.is_set():
                done = wait_done(url, current["task_id"])
                runs["completed" if done["status"] == "completed" else "other"] += 1
                if stop.is_set():
                    return
                task_id = create_task(url, tables)
                start_run(url, task_id, {"execution_mode": "complete"})
                current["task_id"] = task_id

        def poller():
            session = requests.Session()
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    resp = session.get(f"{url}{BASE}/{current['task_id']}", timeout=30)
                    ok = resp.status_code == 200
                    running = ok and resp.json()["data"]["status"] == "in_progress"
                except requests.RequestException:
                    ok, running = False, False
                elapsed = time.perf_counter() - t
                with lock:
                    if ok:
                        latencies.append(elapsed)
                        runs["in_progress_samples"] += running
                    else:
                        errors[0] += 1

        threads = [threading.Thread(target=driver, daemon=True)] + \
                  [threading.Thread(target=poller, daemon=True) for _ in range(args.pollers)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(args.seconds)
        stop.set()
        for t in threads[1:]:
            t.join(60)
        window = time.perf_counter() - started
        ms = [v * 1000 for v in latencies]
        print(f"status GET under {args.pollers} concurrent pollers for {window:.1f} s "
              f"(gunicorn {args.workers} workers x {args.threads} threads, complete runs of {len(tables)} tables "
              f"back to back): {len(ms)} requests, {len(ms) / window:.0f} req/s, errors {errors[0]}")
        print(f"  latency p50 {pct(ms, 50):.1f} ms, p90 {pct(ms, 90):.1f} ms, p99 {pct(ms, 99):.1f} ms, "
              f"max {max(ms):.1f} ms; {runs['in_progress_samples']} of the answers were taken while a run was "
              f"in_progress; complete runs finished in the window: {runs['completed']} completed, "
              f"{runs['other']} other")
        wait_done(url, current["task_id"])
    finally:
        server.stop()
        remove_home(HOME)
    return 0


if __name__ == "__main__":
    sys.exit(main())
