"""Slow clients against the gunicorn-served app (`python citu_app.py`, fresh temp data home): quiet vs 64 sockets
that trickle a request header one byte a second and never finish it (issue 23, point 2).

For each server model (SERVER_MODEL gevent / gthread) and each phase (quiet, trickle):
  1. paced: P pollers each at H Hz (open loop), GET /health and GET /tasks/{id}: p50/p99/max latency and how
     many answers failed or took longer than the 5 s client timeout;
  2. closed loop: `wrk` (Debian package `wrk`) with C keep-alive connections on the status GET: GET/s.
The trickling sockets are opened and fed by one thread, only to 127.0.0.1, for a bounded time; they close when
the phase ends. Targets: under trickle, p99 within 2x quiet p99 and status GET/s >= 80 % of quiet.

    .venv/bin/python bench/bench_slow_clients.py [--models gevent,gthread] [--sockets 64] [--seconds 10]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

from _served import DEMO_TABLES, BASE, create_task, fresh_home, pct, remove_home

HOME = fresh_home("dp_bench_slow_")

import requests  # noqa: E402

from app_config import load_settings  # noqa: E402
from data_pipeline.context import build_context  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

CLIENT_TIMEOUT_S = 5.0


class Tricklers:
    """`n` sockets that each sent the start of a request and then one more header byte a second, never the
    blank line that ends the header. Bounded: stop() (or `limit_s`) ends them."""

    def __init__(self, port: int, n: int, limit_s: float = 600.0):
        self.port, self.n, self.limit_s = port, n, limit_s
        self.stop_event = threading.Event()
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Tricklers":
        for _ in range(self.n):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: ")
            self.sockets.append(s)
        self.thread.start()
        time.sleep(1.0)  # let the server take them in before measuring
        return self

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit_s
        while not self.stop_event.wait(1.0) and time.monotonic() < deadline:
            for s in self.sockets:
                try:
                    s.send(b"a")
                except OSError:
                    pass  # the server closed it: that is allowed

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5)
        for s in self.sockets:
            s.close()


def paced(url: str, pollers: int, hz: float, seconds: float) -> dict:
    latencies, failed, lock = [], [0], threading.Lock()
    start = time.perf_counter() + 0.1

    def poller(phase: float):
        session = requests.Session()
        due = start + phase / hz
        while due < start + seconds and time.perf_counter() < start + seconds:  # bounded even when answers hang
            time.sleep(max(0.0, due - time.perf_counter()))
            t = time.perf_counter()
            try:
                ok = session.get(url, timeout=CLIENT_TIMEOUT_S).status_code in (200, 304)
            except requests.RequestException:
                ok = False
            elapsed = (time.perf_counter() - t) * 1000
            with lock:
                latencies.append(elapsed)
                failed[0] += not ok
            due += 1.0 / hz

    threads = [threading.Thread(target=poller, args=(i / pollers,), daemon=True) for i in range(pollers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 2 * CLIENT_TIMEOUT_S + 10)
    return {"n": len(latencies), "failed": failed[0], "p50": pct(latencies, 50), "p99": pct(latencies, 99),
            "max": max(latencies) if latencies else float("nan")}


def wrk(url: str, connections: int, seconds: float) -> float:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "5s", url],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else 0.0


def measure(url: str, status_path: str, args) -> dict:
    health = paced(url + "/health", args.pollers, args.hz, args.seconds)
    status = paced(url + status_path, args.pollers, args.hz, args.seconds)
    rate = wrk(url + status_path, args.connections, args.seconds)
    return {"health": health, "status": status, "wrk": rate}


def show(label: str, r: dict) -> None:
    fmt = lambda d: (f"p50 {d['p50']:.1f} ms, p99 {d['p99']:.1f} ms, max {d['max']:.0f} ms, "  # noqa: E731
                     f"{d['failed']}/{d['n']} failed")
    print(f"  {label:8s} /health: {fmt(r['health'])}\n  {'':8s} status:  {fmt(r['status'])}\n"
          f"  {'':8s} status wrk: {r['wrk']:.0f} GET/s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="gevent,gthread")
    parser.add_argument("--sockets", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pollers", type=int, default=10)
    parser.add_argument("--hz", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--computing", type=int, default=1, help="COMPUTING_REQUESTS_PER_WORKER (0: no gate)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed for the closed-loop numbers: apt-get install wrk", file=sys.stderr)
        return 2
    settings = load_settings({"data_home": HOME, "log_level": "WARNING"})
    build_context(settings)  # embedded PostgreSQL + demo DB, kept attached by this process
    try:
        for model in args.models.split(","):
            # the service's defaults (8 threads) except the model under test
            server = ServerProcess(HOME, f"bench_slow_{model}", workers=args.workers, threads=8,
                                   server_model=model, computing_requests_per_worker=args.computing).start()
            try:
                task_id = create_task(server.base_url, DEMO_TABLES)
                path = f"{BASE}/{task_id}"
                print(f"{model}: {args.workers} workers, gate {args.computing}; {args.pollers} pollers x "
                      f"{args.hz} Hz, wrk {args.connections} connections, {args.seconds:.0f} s each; load average "
                      f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
                quiet = measure(server.base_url, path, args)
                show("quiet", quiet)
                tricklers = Tricklers(server.port, args.sockets, limit_s=6 * args.seconds + 60).start()
                try:
                    slow = measure(server.base_url, path, args)
                finally:
                    tricklers.stop()
                show(f"{args.sockets} slow", slow)
                for name in ("health", "status"):
                    ratio = slow[name]["p99"] / max(quiet[name]["p99"], 1e-9)
                    print(f"  {name} p99 under trickle / quiet: {ratio:.2f}x (target <= 2x)", flush=True)
                print(f"  status GET/s under trickle / quiet: {slow['wrk'] / max(quiet['wrk'], 1e-9):.0%} "
                      f"(target >= 80 %)", flush=True)
            finally:
                server.stop()
    finally:
        remove_home(HOME)
    return 0


if __name__ == "__main__":
    sys.exit(main())
