"""Issue 23's measured figures against the gunicorn-served app (fresh temp data home):

1. port scanning: how long POST /api/v0/database/tables and /vector/search answer a `db_connection` naming a
   closed port, a silent open port, an open port of another protocol, and a PostgreSQL server that refuses the
   role; every failure should take the same time (the failure floor: CLIENT_DB_CONNECT_TIMEOUT_S + 0.3 s) and
   say the same sentence;
2. costly bodies: the time to refuse a 15 MB body of nested arrays (413 on its Content-Length), a 1.9 MB body of
   60,001 tiny arrays or 470,000 numbers (400 before parsing) and 1.9 MB of nesting (400 before parsing).

    .venv/bin/python bench/bench_security.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import threading
import time

from _served import fresh_home, remove_home

HOME = fresh_home("dp_bench_security_")

import psycopg2.extensions  # noqa: E402
import requests  # noqa: E402

from app_config import load_settings  # noqa: E402
from data_pipeline.context import build_context  # noqa: E402
from tests.probe_servers import BannerServer, SilentServer, closed_port  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402


def connect_timing(url: str, socket_dir: str, rounds: int) -> None:
    silent, ssh = SilentServer(backlog=64), BannerServer(backlog=64)
    probes = {"closed port": f"postgresql://u:pw@127.0.0.1:{closed_port()}/x",
              "silent open port": f"postgresql://u:pw@127.0.0.1:{silent.port}/x",
              "another protocol": f"postgresql://u:pw@127.0.0.1:{ssh.port}/x",
              "role refused": f"postgresql://no_such_role:pw@/highway_db?host={socket_dir}"}
    print("1. failed connects (s): probe, endpoint -> mean, min, max, stdev; sentences seen")
    means = []
    try:
        for endpoint, field, extra in (("/api/v0/database/tables", "db_connection", {}),
                                       ("/api/v0/data_pipeline/vector/search", "vector_db_connection",
                                        {"question": "服务区"})):
            sentences = set()
            for name, probe in probes.items():
                times = []
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    resp = requests.post(url + endpoint, json={field: probe, **extra}, timeout=60)
                    times.append(time.perf_counter() - t0)
                    sentences.add(resp.json()["error"]["details"].split(": ", 1)[1])
                means.append(statistics.mean(times))
                print(f"   {name:17s} {endpoint.rsplit('/', 1)[1]:7s} {statistics.mean(times):.3f} "
                      f"{min(times):.3f} {max(times):.3f} {statistics.pstdev(times):.3f}")
            print(f"   {len(sentences)} distinct sentence(s) on {endpoint}")
        print(f"   spread of the means: {max(means) - min(means):.3f} s")
    finally:
        silent.close()
        ssh.close()


def refusal_time(port: int, body: bytes) -> tuple[float, int]:
    """Seconds from the first byte sent to the status line, and the status (the body is sent from a thread:
    the server may answer and close before reading it)."""
    sock = socket.create_connection(("127.0.0.1", port))
    head = (f"POST /api/v0/data_pipeline/tasks HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json"
            f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    t0 = time.perf_counter()

    def send():
        try:
            sock.sendall(head + body)
        except OSError:
            pass
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    status_line = sock.makefile("rb").readline()
    elapsed = time.perf_counter() - t0
    sock.close()
    return elapsed, int(status_line.split()[1])


def body_refusals(port: int, rounds: int) -> None:
    bodies = {
        "15 MB nested arrays": b'{"table_names": [' + b",".join([b"[[1],[2]]"] * 1_700_000) + b"]}",
        "60,001 tiny arrays": b'{"table_names": [' + b",".join([b"[1]"] * 60_001) + b"]}",
        "470,000 numbers": b'{"table_names": [' + b",".join([b"1"] * 470_000) + b"]}",
        "1.9 MB nesting": b'{"table_names": ' + b"[" * 950_000 + b"]" * 950_000 + b"}",
    }
    print("2. costly bodies: size -> status, mean, max (s)")
    for name, body in bodies.items():
        samples = [refusal_time(port, body) for _ in range(rounds)]
        times = [t for t, _ in samples]
        print(f"   {name:22s} {len(body) / 1e6:5.1f} MB -> {sorted({s for _, s in samples})} "
              f"{statistics.mean(times):.3f} {max(times):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    runtime = build_context(load_settings({"log_level": "WARNING"}), maxconn=2).runtime
    socket_dir = psycopg2.extensions.parse_dsn(runtime.meta_url)["host"]
    server = ServerProcess(HOME, "bench_security", workers=2, threads=8).start()
    try:
        print(json.dumps({"client_db_connect_timeout_s": 3, "rounds": args.rounds}))
        connect_timing(server.base_url, socket_dir, args.rounds)
        body_refusals(server.port, args.rounds)
    finally:
        server.stop()
        remove_home(HOME)


if __name__ == "__main__":
    main()
