"""Slow clients cannot starve the served app (issue 23, point 2): sockets that send half a request header and
then trickle a byte a second hold no worker, so /health and the status GET keep answering. The numbers (64
sockets, p99 and throughput vs quiet) are measured in bench/bench_slow_clients.py; this test only proves the
service keeps answering, with a bound that a loaded machine meets and the old model (SERVER_MODEL=gthread:
2 workers x 8 threads, each held by a half-sent request) does not."""
from __future__ import annotations

import socket
import threading

import requests

from tests.server_process import ServerProcess

SLOW_SOCKETS = 32
ANSWER_TIMEOUT_S = 15  # generous: quiet answers take milliseconds; a starved service never answers


def test_health_and_status_answer_while_32_sockets_trickle_headers(settings):
    with ServerProcess(settings.data_home, log_path=settings.data_home / "slow_clients_server.log", workers=2,
                       threads=8, server_model="gevent") as server:
        base = server.base_url + "/api/v0/data_pipeline/tasks"
        task_id = requests.post(base, json={"table_names": ["bss_company"]}, timeout=30).json()["data"]["task_id"]
        stop = threading.Event()
        sockets = []
        try:
            for _ in range(SLOW_SOCKETS):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: ")
                sockets.append(sock)

            def trickle():  # a byte a second on every socket, never the blank line that ends the header
                while not stop.wait(1.0):
                    for sock in sockets:
                        try:
                            sock.send(b"a")
                        except OSError:
                            pass

            feeder = threading.Thread(target=trickle, daemon=True)
            feeder.start()
            # fresh connections (no kept-alive one that was accepted before the slow ones)
            for n in range(6):
                health = requests.get(server.base_url + "/health", timeout=ANSWER_TIMEOUT_S,
                                      headers={"Connection": "close"})
                assert health.status_code == 200, n
                status = requests.get(f"{base}/{task_id}", timeout=ANSWER_TIMEOUT_S, headers={"Connection": "close"})
                assert status.status_code == 200 and status.json()["data"]["task_id"] == task_id, n
        finally:
            stop.set()
            for sock in sockets:
                sock.close()
        assert server.proc.poll() is None
