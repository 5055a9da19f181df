"""The real service answers uploads to one task that arrive at the same moment, under both server models.

Under gevent the uploads are greenlets of one process; each takes the task directory's lock and queries our
database inside it. A lock that waited in the kernel stopped the process while the holder was paused in its
query, so nothing answered until gunicorn killed the worker (WORKER TIMEOUT, 60 s); a full CI run hit it with
two slow uploads in tests/test_compute_gate.py. Here 8 uploads send their last byte together, which collided
every time before the fix."""
from __future__ import annotations

import socket
import threading

import pytest
import requests

from tests.server_process import ServerProcess

UPLOADS = 8
ANSWER_TIMEOUT_S = 30  # answers take well under a second; a frozen worker answers after 60 s, or never


def _upload_all_but_last_byte(port: int, task_id: str) -> tuple[socket.socket, bytes]:
    body = (b'--XX\r\nContent-Disposition: form-data; name="file"; filename="notes.md"\r\n'
            b"Content-Type: text/markdown\r\n\r\n" + b"x" * 1500 + b"\r\n--XX--\r\n")
    sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT_S)
    sock.sendall(f"POST /api/v0/data_pipeline/tasks/{task_id}/files HTTP/1.1\r\nHost: localhost\r\n"
                 f"Content-Type: multipart/form-data; boundary=XX\r\nContent-Length: {len(body)}\r\n"
                 "Connection: close\r\n\r\n".encode() + body[:-1])
    return sock, body[-1:]


@pytest.mark.parametrize("model", ["gevent", "gthread"])
def test_simultaneous_uploads_to_one_task_are_all_answered(settings, model):
    with ServerProcess(settings.data_home, log_path=settings.data_home / f"uploads_{model}.log", workers=1, threads=8,
                       server_model=model) as server:
        base = server.base_url + "/api/v0/data_pipeline/tasks"
        task_id = requests.post(base, json={"table_names": ["bss_company"]}, timeout=30).json()["data"]["task_id"]
        pending = [_upload_all_but_last_byte(server.port, task_id) for _ in range(UPLOADS)]
        answers: list = []

        def finish(sock: socket.socket, last: bytes, go: threading.Barrier) -> None:
            with sock:
                go.wait()
                sock.sendall(last)
                try:
                    answers.append(sock.recv(100).split(b"\r\n", 1)[0])
                except OSError as exc:
                    answers.append(repr(exc))

        go = threading.Barrier(UPLOADS)
        threads = [threading.Thread(target=finish, args=(sock, last, go)) for sock, last in pending]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(ANSWER_TIMEOUT_S + 10)
        try:
            health = requests.get(server.base_url + "/health", timeout=ANSWER_TIMEOUT_S).status_code
        except requests.RequestException as exc:
            health = repr(exc)
        log_tail = server.log_tail()
    assert answers == [b"HTTP/1.1 200 OK"] * UPLOADS, f"{answers}\n--- server log ---\n{log_tail}"
    assert health == 200
