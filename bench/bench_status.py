"""Status polling against the gunicorn-served app (`python citu_app.py`, fresh temp data home): paced pollers,
closed-loop saturation and payload sizes, idle and while a complete run is in progress.

Measures, for GET /api/v0/data_pipeline/tasks/{id}:
  1. paced: N pollers (default 50) each polling at H Hz (default 2) on a fixed schedule (open loop: a slow answer
     does not lower the offered rate), p50/p99 latency; once as plain GETs, once as the console polls
     (If-None-Match with the last ETag -> 304 while nothing changes);
  2. closed loop: `wrk` (Debian package `wrk`, C, not the bottleneck) with C connections for S seconds, GET/s;
     plain and conditional;
  3. payload sizes: lean status, `?include=parameters,result`, `GET /tasks?limit=50`; with `--wide N` also a
     real complete run over a business database of N tables (rule-based generator) to size a large task.
Phases: `idle` (the task has finished; nothing else runs) and `run` (complete runs of the demo tables back to
back while measuring).

    .venv/bin/python bench/bench_status.py [--seconds 10] [--pollers 50] [--hz 2] [--connections 16] [--wide 300]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from _served import BASE, DEMO_TABLES, create_task, fresh_home, pct, remove_home

HOME = fresh_home("dp_bench_status_")

import psycopg2  # noqa: E402
import requests  # noqa: E402

from app_config import load_settings  # noqa: E402
from data_pipeline.context import build_context  # noqa: E402
from tests.business_roles import reader_url  # noqa: E402
from tests.executor_support import wait_for  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

def run_complete(url: str, task_id: str) -> None:
    resp = requests.post(f"{url}{BASE}/{task_id}/execute", json={"execution_mode": "complete"}, timeout=30)
    assert resp.status_code == 202, resp.text


def wait_done(url: str, task_id: str, timeout: float = 1800) -> dict:
    session = requests.Session()
    return wait_for(lambda: (d := session.get(f"{url}{BASE}/{task_id}", timeout=30).json()["data"])
                    ["current_step"] is None and d["status"] != "in_progress" and d, timeout, 0.2, "the run to end")


def paced(url: str, path: str, pollers: int, hz: float, seconds: float, conditional: bool) -> dict:
    """Open-loop pollers: each sends on its own fixed schedule (random phase); latency of every answer."""
    latencies, codes, lock = [], {}, threading.Lock()
    interval = 1.0 / hz
    start = time.perf_counter() + 0.2

    def poller():
        session = requests.Session()
        etag = None
        due = start + random.random() * interval
        while due < start + seconds:
            time.sleep(max(0.0, due - time.perf_counter()))
            headers = {"If-None-Match": etag} if conditional and etag else {}
            t = time.perf_counter()
            try:
                resp = session.get(url + path, headers=headers, timeout=30)
                status = resp.status_code
                etag = resp.headers.get("ETag") or etag
            except requests.RequestException:
                status = 0
            elapsed = time.perf_counter() - t
            with lock:
                latencies.append(elapsed * 1000)
                codes[status] = codes.get(status, 0) + 1
            due += interval

    threads = [threading.Thread(target=poller, daemon=True) for _ in range(pollers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    return {"n": len(latencies), "p50": pct(latencies, 50), "p99": pct(latencies, 99), "max": max(latencies),
            "codes": codes, "rate": len(latencies) / seconds}


def _proc_table() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds used (user + system), command line) for every process we can read."""
    ticks = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks, cmdline)
    return table


def service_cpu(server_pid: int) -> tuple[float, float]:
    """CPU seconds so far of (the gunicorn tree, our embedded PostgreSQL's processes)."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _cpu, _cmd) in table.items():
        children.setdefault(ppid, []).append(pid)

    def tree(root: int) -> float:
        total, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            total += table.get(pid, (0, 0.0, ""))[1]
            todo += children.get(pid, [])
        return total
    postmasters = [pid for pid, (_p, _c, cmd) in table.items() if "postgres" in cmd and str(HOME) in cmd]
    return tree(server_pid), sum(tree(pid) for pid in postmasters)


def closed_loop(url: str, path: str, connections: int, seconds: float, etag: str | None,
                server_pid: int) -> dict:
    """wrk: 2 threads, C keep-alive connections: requests/s, p99, and the service's CPU per request (gunicorn
    workers + PostgreSQL), which on a shared machine says more than the rate: 2 idle cores / that = capacity."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency"]
    if etag:
        cmd += ["-H", f"If-None-Match: {etag}"]
    app0, pg0 = service_cpu(server_pid)
    out = subprocess.run(cmd + [url + path], capture_output=True, text=True, timeout=seconds + 60).stdout
    app1, pg1 = service_cpu(server_pid)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)] if p99 else float("nan")
    app_ms, pg_ms = (app1 - app0) * 1000 / max(total, 1), (pg1 - pg0) * 1000 / max(total, 1)
    if pg_ms < 0:  # an executor's PostgreSQL backends exited during the run (their CPU left the tree): unknown
        pg_ms = float("nan")
    return {"rate": rate, "non_2xx_3xx": int(bad.group(1)) if bad else 0, "p99": p99_ms,
            "cpu_ms_app": app_ms, "cpu_ms_pg": pg_ms,
            "capacity_2_cores": 2000 / max(app_ms + pg_ms, 1e-6) if pg_ms == pg_ms else float("nan"),
            "load_avg": os.getloadavg()[0]}


def sizes(url: str, task_id: str) -> dict:
    lean = requests.get(f"{url}{BASE}/{task_id}", timeout=30)
    full = requests.get(f"{url}{BASE}/{task_id}?include=parameters,result", timeout=30)
    listing = requests.get(f"{url}{BASE}?limit=50", timeout=30)
    return {"status_lean": len(lean.content), "status_full": len(full.content), "list_50": len(listing.content),
            "list_entries": len(listing.json()["data"]["tasks"]), "etag": lean.headers.get("ETag")}


def make_wide_database(server_url: str, n_tables: int) -> str:
    """A business database of `n_tables` small tables in the embedded server, read through a SELECT-only role."""
    from core.db import with_database
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS bench_wide_db")
        cur.execute("CREATE DATABASE bench_wide_db")
    admin.close()
    wide_url = with_database(server_url, "bench_wide_db")
    conn = psycopg2.connect(wide_url)
    with conn, conn.cursor() as cur:
        for i in range(n_tables):
            cur.execute(f"""CREATE TABLE t_area_{i:03d} (id serial PRIMARY KEY, area_name varchar(50),
                                amount numeric(12,2), visit_date date, status smallint)""")
            cur.execute(f"""INSERT INTO t_area_{i:03d} (area_name, amount, visit_date, status)
                            SELECT '服务区' || g, g * 1.5, date '2024-01-01' + g, g % 3
                            FROM generate_series(1, 20) g""")
    conn.close()
    return reader_url(wide_url)   # a superuser URL is refused (DATABASE_ROLE_TOO_PRIVILEGED): SELECT-only role


def report(label: str, result: dict) -> None:
    extra = f", answers {result['codes']}" if "codes" in result else ""
    print(f"  {label}: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                     for k, v in result.items() if isinstance(v, (int, float))) + extra, flush=True)


def measure(url: str, task_id: str, args, phase: str, server_pid: int) -> None:
    path = f"{BASE}/{task_id}"
    print(f"[{phase}] paced {args.pollers} pollers x {args.hz} Hz for {args.seconds:.0f} s "
          f"(load average {os.getloadavg()[0]:.1f}):", flush=True)
    report("plain GET (ms)", paced(url, path, args.pollers, args.hz, args.seconds, conditional=False))
    report("If-None-Match, like the console (ms)", paced(url, path, args.pollers, args.hz, args.seconds, True))
    etag = requests.get(url + path, timeout=30).headers.get("ETag")
    print(f"[{phase}] closed loop, wrk {args.connections} connections for {args.seconds:.0f} s:", flush=True)
    report("plain GET (GET/s, p99 ms)", closed_loop(url, path, args.connections, args.seconds, None, server_pid))
    if etag:
        report("If-None-Match (GET/s, p99 ms)", closed_loop(url, path, args.connections, args.seconds, etag, server_pid))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--hz", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--wide", type=int, default=0, help="also size a complete run over N tables")
    parser.add_argument("--skip-run-phase", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed for the closed-loop numbers: apt-get install wrk", file=sys.stderr)
        return 2
    settings = load_settings({"data_home": HOME, "log_level": "WARNING"})
    context = build_context(settings)  # embedded PostgreSQL + demo DB, kept attached by this process
    server = ServerProcess(HOME, "bench_status", workers=args.workers, threads=args.threads).start()
    url = server.base_url
    try:
        task_id = create_task(url, DEMO_TABLES)
        run_complete(url, task_id)
        done = wait_done(url, task_id)
        for _ in range(49):  # a list page of 50
            create_task(url, DEMO_TABLES[:2])
        print(f"gunicorn {args.workers} workers x {args.threads} threads; demo task {done['status']}; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
        print(f"sizes (bytes), {len(DEMO_TABLES)}-table task: {json.dumps(sizes(url, task_id))}", flush=True)
        if args.wide:
            wide_url = make_wide_database(context.runtime.meta_url, args.wide)
            names = [f"t_area_{i:03d}" for i in range(args.wide)]
            t0 = time.perf_counter()
            wide_id = create_task(url, names, db_connection=wide_url, task_name=f"wide {args.wide}")
            run_complete(url, wide_id)
            wide = wait_done(url, wide_id)
            print(f"sizes (bytes), {args.wide}-table task ({wide['status']} in {time.perf_counter() - t0:.0f} s): "
                  f"{json.dumps(sizes(url, wide_id))}", flush=True)
        measure(url, task_id, args, "idle", server.proc.pid)
        if not args.skip_run_phase:
            current = {"task_id": create_task(url, DEMO_TABLES)}
            stop = threading.Event()

            def driver():  # complete runs back to back for the whole phase
                while not stop.is_set():
                    run_complete(url, current["task_id"])
                    wait_done(url, current["task_id"])

            thread = threading.Thread(target=driver, daemon=True)
            thread.start()
            wait_for(lambda: requests.get(f"{url}{BASE}/{current['task_id']}", timeout=30).json()["data"]
                     ["status"] == "in_progress", 60, 0.05, "the run to start")
            measure(url, current["task_id"], args, "run", server.proc.pid)
            stop.set()
            thread.join(600)
    finally:
        server.stop()
        remove_home(HOME)
    return 0


if __name__ == "__main__":
    sys.exit(main())
