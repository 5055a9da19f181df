"""ComputeGate: one request computes at a time per worker, but nothing lines up behind a slow one, and a
streamed body is never held inside the gate. Driven with real threads against small WSGI apps."""
from __future__ import annotations

import threading
import time

import pytest

from data_pipeline.api.compute_gate import ComputeGate


def _start_response(status, headers, exc_info=None):
    return lambda data: None


class Recorder:
    """A WSGI app that records how many calls run at once. A call waits for `release` (environ "hold"), or until
    `meet` calls run at once (at most `seconds`: a gate that lets fewer in never meets them)."""

    def __init__(self, seconds: float = 0.0, meet: int = 0):
        self.seconds = seconds
        self.meet = meet
        self.running = 0
        self.most_at_once = 0
        self.lock = threading.Condition()
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ, start_response):
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.lock.notify_all()
        self.entered.set()
        try:
            if environ.get("hold"):
                assert self.release.wait(120)
            else:
                with self.lock:
                    self.lock.wait_for(lambda: self.running >= self.meet, self.seconds)
        finally:
            with self.lock:
                self.running -= 1
        start_response("200 OK", [])
        return [b"ok"]


def _call_in_threads(gate, environs):
    threads = [threading.Thread(target=gate, args=(env, _start_response)) for env in environs]
    for thread in threads:
        thread.start()
    return threads


@pytest.mark.parametrize("slots, calls, most", [(1, 8, 1), (3, 12, 3), (0, 4, 4)])
def test_slots_bound_the_requests_computing_at_once(slots, calls, most):
    """1 (the default): one at a time; N: at most N; 0: no gate."""
    # each call waits (up to 1 s) for one more than the gate allows: a gate that lets more in shows at once;
    # with no gate all calls meet, however loaded the machine; nothing bypasses within the test
    app = Recorder(seconds=1.0, meet=calls if slots == 0 else most + 1)
    gate = ComputeGate(app, slots=slots, bypass_after_s=3600.0)
    for thread in _call_in_threads(gate, [{} for _ in range(calls)]):
        thread.join(60)
    assert app.most_at_once == most


def test_a_slow_request_does_not_hold_up_the_others():
    """A request waiting on I/O holds the only slot; a quick one behind it runs after the bypass delay,
    not after the slow one finishes (it is held until the quick one is done: order, not a time bound)."""
    app = Recorder()
    gate = ComputeGate(app, slots=1, bypass_after_s=0.05)
    slow = _call_in_threads(gate, [{"hold": True}])[0]
    assert app.entered.wait(60)
    quick = _call_in_threads(gate, [{}])[0]
    quick.join(60)
    assert not quick.is_alive() and slow.is_alive()
    app.release.set()
    slow.join(5)
    assert gate._holders == {}  # the slot is free again


def test_the_bypass_is_judged_on_the_newest_holder_at_two_slots():
    """Two slots: one holder has waited longer than the bypass delay (on I/O), the other has only just entered
    (computing). A third request waits for the newest holder to age too; it does not slip past because the
    oldest one is old. Lower bound only: a loaded machine can only make the wait longer."""
    bypass = 1.0
    old_app, new_app, third = Recorder(), Recorder(), Recorder()
    apps = {"old": old_app, "new": new_app, "third": third}
    gate = ComputeGate(lambda env, sr: apps[env["who"]](env, sr), slots=2, bypass_after_s=bypass)
    old = _call_in_threads(gate, [{"who": "old", "hold": True}])[0]
    assert old_app.entered.wait(60)
    assert not threading.Event().wait(bypass * 1.2)  # let the first holder become "waiting on I/O"
    new_entered = time.monotonic()  # before the gate notes it: a loaded machine cannot shorten the measured wait
    new = _call_in_threads(gate, [{"who": "new", "hold": True}])[0]
    assert new_app.entered.wait(60)
    late = _call_in_threads(gate, [{"who": "third"}])[0]
    assert third.entered.wait(60)
    waited = time.monotonic() - new_entered
    assert waited >= bypass * 0.9, waited  # judged on the oldest holder it would have run at once
    late.join(60)
    old_app.release.set()
    new_app.release.set()
    old.join(60)
    new.join(60)
    assert gate._holders == {}


def test_a_streamed_body_is_iterated_outside_the_gate():
    """An event stream returns its generator at once; the gate is free while the body streams, so a quick
    request is not held up even though bypassing would take 10 s."""
    streaming = threading.Event()
    finish = threading.Event()

    def app(environ, start_response):
        start_response("200 OK", [])
        if not environ.get("stream"):
            return [b"ok"]

        def body():
            streaming.set()
            assert finish.wait(120)
            yield b"data: end\n\n"
        return body()

    gate = ComputeGate(app, slots=1, bypass_after_s=3600.0)  # no bypass within the test
    body = gate({"stream": True}, _start_response)
    consumer = threading.Thread(target=lambda: list(body))
    consumer.start()
    assert streaming.wait(60)
    answers: list = []
    quick = threading.Thread(target=lambda: answers.append(gate({}, _start_response)))
    quick.start()
    quick.join(60)  # while the stream is still held open: order, not a time bound
    assert answers == [[b"ok"]] and consumer.is_alive()
    finish.set()
    consumer.join(5)
    assert not consumer.is_alive()


def _waiting_in_gate(thread: threading.Thread) -> bool:
    """`thread` is blocked in a wait inside ComputeGate._enter."""
    import sys
    frame, names = sys._current_frames().get(thread.ident), []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return bool(names) and names[0] == "wait" and "_enter" in names


def test_a_freed_slot_goes_to_the_request_that_waited_not_to_a_newcomer():
    """The holder leaves and, before the waiting request has been scheduled, a new one arrives: the waiting one
    runs first. (Letting the newcomer take the slot starved waiters: under the gevent worker, polls of a closed
    loop waited up to half a second.)"""
    order: list[str] = []

    def app(environ, start_response):
        order.append(environ["who"])
        start_response("200 OK", [])
        return [b"ok"]

    gate = ComputeGate(app, slots=1, bypass_after_s=3600.0)  # no bypass within the test
    token = gate._enter()                                     # the holder
    waiting = _call_in_threads(gate, [{"who": "waited"}])[0]
    while not _waiting_in_gate(waiting):                      # in line (order, not a time bound)
        assert waiting.is_alive()
        threading.Event().wait(0.01)
    gate._leave(token)
    gate({"who": "newcomer"}, _start_response)                # at once, in this thread
    waiting.join(60)
    assert order == ["waited", "newcomer"]
    assert gate._holders == {} and not gate._line


INTERRUPTED_IN_LINE = r"""
from gevent import monkey
monkey.patch_all()
import gevent
from data_pipeline.api.compute_gate import ComputeGate

gate = ComputeGate(lambda env, sr: [b"ok"], slots=1, bypass_after_s=3600.0)
token = gate._enter()
interrupted = False
try:
    gevent.with_timeout(0.2, gate._enter)   # a gevent Timeout while in line (or the worker stopping)
except gevent.Timeout:
    interrupted = True                      # it reaches the request: never swallowed into an ungated run
in_line = len(gate._line)
gate._leave(token)
print(in_line, len(gate._holders), interrupted)
"""


def test_a_request_interrupted_in_line_takes_no_slot():
    """Under gevent: a request that is interrupted while in line leaves the line; the slot is not lost."""
    import subprocess
    import sys

    from tests.server_process import PROJECT_ROOT
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_IN_LINE], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "0", "True"]


def test_an_exception_gives_the_slot_back():
    def failing(environ, start_response):
        raise RuntimeError("boom")

    gate = ComputeGate(failing, slots=1, bypass_after_s=10.0)
    for _ in range(3):
        try:
            gate({}, _start_response)
        except RuntimeError:
            pass
    assert gate._holders == {}


def _slow_upload(port: int, path: str, seconds: float, answers: list, halfway: threading.Event) -> None:
    """A client that takes `seconds` to send a 15 KB multipart upload (the app reads it inside the gate);
    `halfway` is set once half of the body is sent (the app is reading it by then)."""
    import socket
    body = (b'--XX\r\nContent-Disposition: form-data; name="file"; filename="notes.md"\r\n'
            b"Content-Type: text/markdown\r\n\r\n" + b"x" * 15000 + b"\r\n--XX--\r\n")
    chunks = [body[i:i + 500] for i in range(0, len(body), 500)]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=XX\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
        for n, chunk in enumerate(chunks):
            sock.sendall(chunk)
            if n == len(chunks) // 2:
                halfway.set()
            time.sleep(seconds / len(chunks))  # the client's pace (not synchronisation)
        sock.settimeout(120)   # the answer after the whole body: generous, a full suite loads both cores
        answers.append(sock.recv(100).split(b"\r\n", 1)[0])


def test_served_status_polls_do_not_wait_behind_slow_uploads(settings):
    """The real service, one worker: two uploads that take 12 s each are inside the app (reading the body) while
    status GETs go on; every GET is answered while both uploads are still being sent (without the bypass the
    first GET would wait for an upload to finish). Order, not a time bound."""
    import requests

    from tests.server_process import ServerProcess
    with ServerProcess(settings.data_home, log_path=settings.data_home / "gate_server.log", workers=1, threads=4,
                       computing_requests_per_worker=1) as server:
        base = server.base_url + "/api/v0/data_pipeline/tasks"
        task_id = requests.post(base, json={"table_names": ["bss_company"]}, timeout=30).json()["data"]["task_id"]
        answers: list = []
        halfway = [threading.Event() for _ in range(2)]
        uploads = [threading.Thread(target=_slow_upload, args=(server.port, f"/api/v0/data_pipeline/tasks/{task_id}/"
                                                               "files", 12.0, answers, event)) for event in halfway]
        for upload in uploads:
            upload.start()
        for event in halfway:
            assert event.wait(60)                    # both uploads are inside the app now
        session = requests.Session()
        for _ in range(10):
            assert session.get(f"{base}/{task_id}", timeout=30).status_code == 200
        still_uploading = all(u.is_alive() for u in uploads)
        for upload in uploads:
            upload.join(150)
        log_tail = server.log_tail()
    assert still_uploading, "an upload ended before the polls were answered: they waited behind it"
    assert answers == [b"HTTP/1.1 200 OK"] * 2, f"{answers}\n--- server log ---\n{log_tail}"
