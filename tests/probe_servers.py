"""Fake servers a client's `db_connection` may name when it probes ports, for the failed-connect tests
(tests/test_security.py, tests/test_client_connections.py) and bench/bench_security.py: a closed port, a port that
accepts and stays silent, and an open port of another protocol (an SSH banner, then close).
"""
from __future__ import annotations

import socket
import threading

SSH_BANNER = b"SSH-2.0-OpenSSH_9.6\r\n"


class ProbeServer:
    """A TCP port on 127.0.0.1 that accepts every connection, then holds it silently (`reply=None`; the
    connections wait in `accepted` until close(), so a connect hangs until its timeout) or writes `reply` and
    closes it."""

    def __init__(self, reply: bytes | None = None, backlog: int = 8):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:          # close() closed the listening socket
                return
            if self.reply is None:
                self.accepted.append(conn)
            else:
                conn.sendall(self.reply)
                conn.close()

    def close(self):
        for conn in self.accepted:
            conn.close()
        self.sock.close()


class SilentServer(ProbeServer):
    """Accepts and says nothing until closed (a connect that holds a request thread)."""

    def __init__(self, backlog: int = 8):
        super().__init__(None, backlog)


class BannerServer(ProbeServer):
    """An open port of another protocol: answers every connection with an SSH banner and closes it."""

    def __init__(self, backlog: int = 8):
        super().__init__(SSH_BANNER, backlog)


def closed_port() -> int:
    """A port nothing listens on (bound for a moment to pick it, then released): connection refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
