"""ComputeGate: the WSGI middleware that lets one request at a time compute in an API worker process.

Why: a request here is almost all Python (routing, one short query to our own local PostgreSQL, JSON), and
Python threads of one process share one interpreter lock. With 8 threads of a gthread worker computing at once
they mostly wait for each other: on 2 cores, 2 workers x 8 threads served 450-530 status GET/s, the same
workers with at most one computing request each 1,600-1,750 (bench/bench_status.py; docs/polling.md).
Threads still matter for what waits rather than computes, so the gate must never put fast requests behind
a slow one:
- only the application call is gated, not the iteration of its body: an event or log stream returns at
  once and streams outside the gate;
- a request that holds the gate longer than `bypass_after_s` is taken to be waiting on I/O (a remote business
  database, an LLM or embedding service, a slow client's upload), and the others stop lining up behind it
  until it is done: they run ungated, as they would without the gate.
Under the gevent worker (SERVER_MODEL=gevent, the default) `threading` is gevent's: requests are greenlets that
switch only where they wait, so the gate keeps one computing at a time and its bypass works the same way.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Iterable, Optional

DEFAULT_BYPASS_AFTER_S = 0.025


class _Waiter:
    """A request in line for a slot: `_leave` hands it one (sets `token`, then `ready`)."""
    __slots__ = ("ready", "token")

    def __init__(self):
        self.ready = threading.Event()
        self.token: Optional[int] = None


class ComputeGate:
    def __init__(self, app: Callable, slots: int = 1, bypass_after_s: float = DEFAULT_BYPASS_AFTER_S):
        self.app = app
        self.slots = slots
        self.bypass_after_s = bypass_after_s
        self._lock = threading.Lock()
        self._holders: dict[int, float] = {}  # token -> when it entered; a token per gated request
        self._line: deque[_Waiter] = deque()   # first come, first served: never empty unless a slot is free
        self._next_token = 0

    def _take(self) -> int:
        self._next_token += 1
        self._holders[self._next_token] = time.monotonic()
        return self._next_token

    def _enter(self) -> int | None:
        """A token when this request holds a slot (give it back with `_leave`), None when it runs ungated
        because every slot is held by a request older than `bypass_after_s`.

        A freed slot goes to the request that has waited longest, handed over by `_leave`: a request that just
        arrived never takes it first. (With a free-for-all, a request woken for a slot found it taken by a
        newcomer again and again; under the gevent worker, where the newcomer is always ready first, single
        polls waited half a second in a closed loop of 16 connections.)"""
        with self._lock:
            if len(self._holders) < self.slots and not self._line:
                return self._take()
            waiter = _Waiter()
            self._line.append(waiter)
        try:
            while True:
                with self._lock:
                    if waiter.token is not None:
                        return waiter.token
                    now = time.monotonic()
                    youngest = max(self._holders.values(), default=now - self.bypass_after_s)
                    if now - youngest >= self.bypass_after_s:
                        self._line.remove(waiter)
                        return None  # every holder is waiting on something slow: don't queue behind them
                waiter.ready.wait(self.bypass_after_s - (now - youngest))
        except BaseException:  # interrupted in line (a gevent Timeout, the worker stopping): leave no slot taken
            with self._lock:
                if waiter.token is None:
                    self._line.remove(waiter)
            if waiter.token is not None:
                self._leave(waiter.token)
            raise

    def _leave(self, token: int) -> None:
        with self._lock:
            del self._holders[token]
            while self._line and len(self._holders) < self.slots:
                waiter = self._line.popleft()
                waiter.token = self._take()
                waiter.ready.set()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self.slots <= 0:
            return self.app(environ, start_response)
        token = self._enter()
        try:
            return self.app(environ, start_response)
        finally:
            if token is not None:
                self._leave(token)
