"""The gunicorn workers the service runs (setting SERVER_MODEL): gevent (default) or gthread, each with the errors
gunicorn answers itself (request line or headers too long or malformed, before any Flask code runs) written as
the contract's JSON envelope instead of gunicorn's HTML page. The client's bytes are never echoed back.

Why gevent: a gthread worker hands a connection to a thread before its request has arrived, so a client that
sends half a header and goes quiet holds a thread; 16 such sockets (2 workers x 8 threads) froze the whole API.
A gevent worker reads every request in its own greenlet, so a quiet socket costs a few kilobytes and no thread
(bench/bench_slow_clients.py: numbers in the README). psycopg2 waits cooperatively through psycogreen's wait
callback, installed right after gevent's monkey-patching and before the app is loaded."""
from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker
from gunicorn.workers.gthread import ThreadWorker

from data_pipeline.api.envelope import now_iso

_REASONS = {
    400: ("VALIDATION_ERROR", "ValidationError", "the HTTP request is malformed"),
    403: ("VALIDATION_ERROR", "ValidationError", "the request is forbidden"),
    414: ("VALIDATION_ERROR", "ValidationError", "the request line (method + URL) is longer than the server accepts"),
    417: ("VALIDATION_ERROR", "ValidationError", "the Expect header is not supported"),
    431: ("VALIDATION_ERROR", "ValidationError", "the request headers are too many or too large"),
    501: ("VALIDATION_ERROR", "ValidationError", "the transfer coding is not supported"),
}
_MESSAGES = {500: "服务器内部错误"}


def envelope_bytes(status: int, reason: str) -> bytes:
    code, error_type, details = _REASONS.get(status, ("INTERNAL_ERROR", "InternalError",
                                                      "unexpected server error; see the service log"))
    body = json.dumps({"success": False, "code": status, "message": _MESSAGES.get(status, "请求参数错误"),
                       "error": {"type": error_type, "code": code, "details": details, "invalid_params": [],
                                 "timestamp": now_iso()}}, ensure_ascii=False).encode("utf-8")
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    return head + body


def write_envelope_error(sock, status_int, reason, _mesg) -> None:
    util.write_nonblock(sock, envelope_bytes(int(status_int), reason))


class EnvelopeThreadWorker(ThreadWorker):
    def init_process(self):
        # Worker.handle_error writes through `gunicorn.util.write_error`; this process only ever serves our
        # app, so the one replacement covers every error gunicorn answers on its own
        util.write_error = write_envelope_error
        super().init_process()


class EnvelopeGeventWorker(GeventWorker):
    def patch(self):
        super().patch()  # gevent.monkey.patch_all(): sockets, select, threading, time.sleep, subprocess
        from psycogreen.gevent import patch_psycopg
        patch_psycopg()  # psycopg2 waits for the server through gevent instead of blocking the whole worker

    def init_process(self):
        util.write_error = write_envelope_error
        super().init_process()
