"""The OpenAI stub itself: it must behave like a real endpoint, or every LLM test built on it proves nothing."""
from __future__ import annotations

import json
import threading
import time

import requests

from tests.openai_stub import OpenAIStub, Reply


def _chat(base: str, text: str, timeout: float = 5.0) -> requests.Response:
    return requests.post(f"{base}/chat/completions", timeout=timeout,
                         json={"model": "m", "messages": [{"role": "user", "content": text}]})


def test_default_chat_answer_is_a_chat_completion_with_usage(openai_stub):
    resp = _chat(openai_stub.base_url, "你好 world")
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "stub reply: 你好 world"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    rec = openai_stub.requests[0]
    assert rec.endpoint == "chat" and rec.json["messages"][0]["content"] == "你好 world"


def test_scripted_replies_are_fifo_then_responder(openai_stub):
    openai_stub.script("one", Reply(status=429, retry_after=2), Reply(body="{not json"), {"content": "four"},
                       Reply.of_json({"名": 1}, fenced=True))
    openai_stub.responder = lambda req: f"echo {req['messages'][-1]['content']}"
    root = openai_stub.root_url  # also without /v1
    assert _chat(root, "x").json()["choices"][0]["message"]["content"] == "one"
    r = _chat(root, "x")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2" and "error" in r.json()
    r = _chat(root, "x")
    assert r.status_code == 200 and r.text == "{not json"
    assert _chat(root, "x").json()["choices"][0]["message"]["content"] == "four"
    assert _chat(root, "x").json()["choices"][0]["message"]["content"] == '```json\n{"名": 1}\n```'
    assert _chat(root, "P-7").json()["choices"][0]["message"]["content"] == "echo P-7"
    assert openai_stub.pending() == 0


def test_delay_makes_client_time_out_and_disconnect_is_a_connection_error(openai_stub):
    openai_stub.script(Reply(content="late", delay=1.0), Reply(disconnect=True))
    try:
        _chat(openai_stub.base_url, "x", timeout=0.2)
        raise AssertionError("expected a timeout")  # the client gave up before the delayed answer came
    except requests.Timeout:
        pass
    try:
        _chat(openai_stub.base_url, "x")
        raise AssertionError("expected a connection error")
    except requests.ConnectionError:
        pass


def test_embeddings_default_is_deterministic_unit_vectors_and_shuffle_reorders(openai_stub):
    openai_stub.embedding_dimension = 12
    url = f"{openai_stub.base_url}/embeddings"
    a = requests.post(url, json={"model": "e", "input": ["甲", "乙"]}, timeout=5).json()
    b = requests.post(url, json={"model": "e", "input": "甲"}, timeout=5).json()
    assert [d["index"] for d in a["data"]] == [0, 1]
    assert a["data"][0]["embedding"] == b["data"][0]["embedding"]
    assert len(a["data"][1]["embedding"]) == 12
    assert abs(sum(v * v for v in a["data"][1]["embedding"]) - 1) < 1e-9
    openai_stub.script_embeddings(Reply(shuffle=True))
    c = requests.post(url, json={"model": "e", "input": ["甲", "乙"]}, timeout=5).json()
    assert [d["index"] for d in c["data"]] == [1, 0]


def test_tracks_peak_concurrency_and_global_latency(openai_stub):
    openai_stub.latency = 0.3
    openai_stub.hold()  # all five are in flight together (held), whatever the machine's load
    threads = [threading.Thread(target=_chat, args=(openai_stub.base_url, str(i), 30)) for i in range(5)]
    for t in threads:
        t.start()
    openai_stub.wait_held(5)
    assert openai_stub.in_flight == 5
    started = time.monotonic()
    openai_stub.release()
    for t in threads:
        t.join()
    assert time.monotonic() - started >= 0.3  # a lower bound: the latency was added after the release
    assert openai_stub.max_in_flight == 5
    # the counter drops after the answer is sent, so a client can see its answer a moment before: wait on it
    deadline = time.monotonic() + 30
    while openai_stub.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    assert openai_stub.in_flight == 0
    assert len(openai_stub.chat_requests) == 5


def test_api_key_check_and_request_capture(openai_stub):
    openai_stub.require_api_key = "sk-test"
    r = requests.post(f"{openai_stub.base_url}/chat/completions", timeout=5,
                      json={"model": "m", "messages": [{"role": "user", "content": "13800138000"}]})
    assert r.status_code == 401
    assert "13800138000" in openai_stub.sent_text()
    assert json.loads(openai_stub.requests[0].body)["model"] == "m"


def test_context_manager_stops_quickly_even_with_a_pending_delay():
    stub = OpenAIStub().start()
    stub.script(Reply(delay=30))
    try:
        _chat(stub.base_url, "x", timeout=0.2)
    except requests.Timeout:
        pass
    started = time.monotonic()
    stub.stop()
    assert time.monotonic() - started < 15  # not the 30 s delay (a bound a loaded machine meets)


def test_barrier_holds_requests_until_released(openai_stub):
    """hold(after=1): the first request is answered, the next ones wait at the barrier (counted) until
    release(); the order of events is asserted, not their duration."""
    openai_stub.hold(after=1)
    first = requests.post(openai_stub.base_url + "/chat/completions",
                          json={"messages": [{"role": "user", "content": "one"}]}, timeout=30)
    assert first.status_code == 200 and openai_stub.held == 0
    answers: list = []
    threads = [threading.Thread(target=lambda i=i: answers.append(requests.post(
        openai_stub.base_url + "/chat/completions", json={"messages": [{"role": "user", "content": f"n{i}"}]},
        timeout=30).status_code)) for i in range(2)]
    for t in threads:
        t.start()
    openai_stub.wait_held(2)
    assert answers == [] and openai_stub.held == 2  # both are blocked inside their call
    openai_stub.release()
    for t in threads:
        t.join(30)
    assert answers == [200, 200] and openai_stub.held == 0


def test_stop_ends_held_requests():
    stub = OpenAIStub().start()
    stub.hold()
    outcome: list = []

    def call():
        try:
            outcome.append(requests.post(stub.base_url + "/embeddings", json={"input": ["x"]}, timeout=30).status_code)
        except requests.RequestException as exc:
            outcome.append(type(exc).__name__)
    t = threading.Thread(target=call)
    t.start()
    stub.wait_held(1)
    stub.stop()
    t.join(30)
    assert not t.is_alive() and len(outcome) == 1
