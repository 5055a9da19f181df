"""core.llm against the local OpenAI-compatible HTTP stub (real HTTP, scripted failures)."""
from __future__ import annotations

import threading
import time
from email.utils import formatdate

import pytest
from pydantic import BaseModel

from app_config import load_settings
from core.errors import LLMError
from core.llm import (LLMClient, RetryPolicy, Usage, extract_json, load_prompt, make_llm, parse_retry_after)
from tests.openai_stub import Reply

KEY = "sk-secret-key-1234567890"


def _llm(stub, **overrides) -> LLMClient:
    values = {"llm_base_url": stub.base_url, "llm_api_key": KEY, "llm_model": "stub-model",
              "llm_timeout_s": 2.0, "llm_max_retries": 2, "llm_retry_backoff_s": 0.01,
              "llm_retry_max_wait_s": 2.0, **overrides}
    return LLMClient(load_settings(values, environ={}))


USER = [{"role": "user", "content": "hello"}]


class Comment(BaseModel):
    table: str
    comment: str


def test_make_llm_is_none_without_configuration():
    assert make_llm(load_settings({}, environ={})) is None
    assert make_llm(load_settings({"llm_base_url": "http://x/v1"}, environ={})) is None


def test_chat_sends_model_key_temperature_and_returns_content(openai_stub):
    openai_stub.script("你好，这是回答")
    llm = _llm(openai_stub, llm_temperature=0.7)
    assert llm.chat(USER, max_tokens=50) == "你好，这是回答"
    req = openai_stub.chat_requests[0]
    assert req.path == "/v1/chat/completions"
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert req.json == {"model": "stub-model", "messages": USER, "temperature": 0.7, "max_tokens": 50}


def test_429_retry_after_is_honoured(openai_stub):
    openai_stub.script(Reply(status=429, retry_after="0.6"), "ok")
    llm = _llm(openai_stub)
    started = time.monotonic()
    assert llm.chat(USER) == "ok"
    assert time.monotonic() - started >= 0.6
    times = [r.received_at for r in openai_stub.chat_requests]
    assert len(times) == 2 and times[1] - times[0] >= 0.6
    assert llm.usage.retries == 1 and llm.usage.requests == 2 and llm.usage.calls == 1


def test_retry_after_as_http_date_and_cap():
    policy = RetryPolicy(max_retries=3, base_s=0.1, max_wait_s=5)
    assert 1.0 <= parse_retry_after(formatdate(time.time() + 3, usegmt=True)) <= 3.0
    assert policy.wait_s(1, "3600") == 5  # a huge Retry-After is capped
    assert parse_retry_after("soon") is None
    waits = [policy.wait_s(3) for _ in range(50)]  # 0.1 * 2**2 = 0.4 with equal jitter -> [0.2, 0.4]
    assert all(0.2 <= w <= 0.4 for w in waits) and len(set(waits)) > 1


def test_500_then_success(openai_stub):
    openai_stub.script(Reply(status=500), Reply(status=503), "third time lucky")
    llm = _llm(openai_stub)
    assert llm.chat(USER) == "third time lucky"
    assert llm.usage.retries == 2 and llm.usage.failures == 0


def test_exhausted_retries_raise_with_status_and_without_key(openai_stub):
    leaky = f'{{"error": {{"message": "upstream overloaded (key {KEY})"}}}}'
    openai_stub.script(*[Reply(status=503, body=leaky)] * 3)
    llm = _llm(openai_stub)
    with pytest.raises(LLMError) as info:
        llm.chat(USER, purpose="comments")
    message = str(info.value)
    assert "503" in message and "after 3 attempts" in message and "upstream overloaded" in message
    assert KEY not in message and "Bearer" not in message
    assert len(openai_stub.chat_requests) == 3
    assert llm.usage.to_dict()["by_purpose"]["comments"]["failures"] == 1


def test_client_error_is_not_retried(openai_stub):
    openai_stub.script(Reply(status=401), "never reached")
    with pytest.raises(LLMError, match="HTTP 401"):
        _llm(openai_stub).chat(USER)
    assert len(openai_stub.chat_requests) == 1


def test_timeout_then_success_and_timeout_exhaustion(openai_stub):
    # "late" answers come after 60 s (or when the stub stops); the client gives up after 1 s
    openai_stub.script(Reply(content="late", delay=60), "fast")
    llm = _llm(openai_stub, llm_timeout_s=1.0, llm_max_retries=1)
    assert llm.chat(USER) == "fast"
    openai_stub.script(*[Reply(content="late", delay=60)] * 2)
    with pytest.raises(LLMError, match=r"timed out after 1(\.0)? s"):
        llm.chat(USER)
    # order, not duration: the client raised while the stub was still holding the late answers
    assert openai_stub.in_flight >= 1 and len(openai_stub.chat_requests) == 4


def test_connection_drop_is_retried(openai_stub):
    openai_stub.script(Reply(disconnect=True), "after reconnect")
    assert _llm(openai_stub).chat(USER) == "after reconnect"


def test_malformed_response_body_is_retried_then_reported(openai_stub):
    openai_stub.script(Reply(body='{"choices": [ {"mess'), "recovered")
    llm = _llm(openai_stub)
    assert llm.chat(USER) == "recovered"
    openai_stub.script(*[Reply(body="<html>Bad gateway</html>")] * 3)
    with pytest.raises(LLMError, match="not JSON"):
        llm.chat(USER)


@pytest.mark.parametrize("content", ["", "   \n  "])
def test_empty_content_is_an_error_not_an_answer(openai_stub, content):
    openai_stub.script(Reply(content=content, finish_reason="content_filter"))
    with pytest.raises(LLMError, match="empty content"):
        _llm(openai_stub).chat(USER)


def test_response_without_choices_is_an_error(openai_stub):
    openai_stub.script(Reply(body={"id": "x", "choices": []}))
    with pytest.raises(LLMError, match="no choices"):
        _llm(openai_stub).chat(USER)


@pytest.mark.parametrize("answer", [
    '{"table": "bss_car", "comment": "车辆"}',
    'Sure! Here it is:\n```json\n{"table": "bss_car", "comment": "车辆"}\n```\nAnything else?',
    '```\n{"table": "bss_car", "comment": "车辆"}\n```',
    '<think>maybe {"table": 1}</think>The result is {"table": "bss_car", "comment": "车辆"}. Done [1].',
    'Note [see below]: {"wrong": true} and then {"table": "bss_car", "comment": "车辆"}',
])
def test_json_extraction_from_fenced_and_chatty_answers(openai_stub, answer):
    openai_stub.script(answer)
    result = _llm(openai_stub).chat_json(USER, Comment)
    assert result == Comment(table="bss_car", comment="车辆")
    assert len(openai_stub.chat_requests) == 1


def test_json_array_with_list_schema_and_no_schema():
    text = 'Pairs:\n[{"table": "a", "comment": "x"}, {"table": "b", "comment": "y"}]\nThanks'
    assert [c.table for c in extract_json(text, list[Comment])] == ["a", "b"]
    assert extract_json('answer: {"a": [1, 2]}') == {"a": [1, 2]}
    wrapped = '{"pairs": [{"table": "a", "comment": "x"}]}'
    assert extract_json(wrapped, list[Comment]) == [Comment(table="a", comment="x")]
    assert extract_json(wrapped) == {"pairs": [{"table": "a", "comment": "x"}]}
    with pytest.raises(ValueError, match="no JSON"):
        extract_json("I am sorry, I cannot help with that.")


def test_invalid_json_gets_one_reask_with_the_error_then_succeeds(openai_stub):
    openai_stub.script('{"table": "bss_car"}', '{"table": "bss_car", "comment": "车辆"}')
    llm = _llm(openai_stub)
    assert llm.chat_json(USER, Comment, purpose="comment").comment == "车辆"
    second = openai_stub.chat_requests[1].json["messages"]
    assert second[:1] == USER
    assert second[1] == {"role": "assistant", "content": '{"table": "bss_car"}'}
    assert second[2]["role"] == "user" and "comment" in second[2]["content"] and "Field required" in \
        second[2]["content"]
    assert llm.usage.to_dict()["by_purpose"]["comment"]["calls"] == 2


def test_invalid_json_twice_raises_after_exactly_one_reask(openai_stub):
    openai_stub.script("抱歉，我无法回答。", "Still not JSON", '{"table": "x", "comment": "never asked"}')
    with pytest.raises(LLMError, match="even after one re-ask"):
        _llm(openai_stub).chat_json(USER, Comment)
    assert len(openai_stub.chat_requests) == 2
    assert openai_stub.pending() == 1


def test_usage_counts_tokens_calls_and_latency(openai_stub):
    openai_stub.script(Reply(content="a", usage={"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}),
                       Reply(content="b", delay=0.2,
                             usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}))
    usage = Usage()
    llm = LLMClient(_llm(openai_stub).settings, usage)
    llm.chat(USER, purpose="ddl")
    llm.chat(USER, purpose="qa")
    d = usage.to_dict()
    assert (d["calls"], d["prompt_tokens"], d["completion_tokens"], d["total_tokens"]) == (2, 15, 5, 20)
    assert d["max_latency_s"] >= 0.2 and d["total_latency_s"] >= d["max_latency_s"]
    assert d["by_purpose"]["qa"]["total_tokens"] == 7 and d["by_purpose"]["ddl"]["calls"] == 1


def test_concurrency_cap_is_respected_across_threads(openai_stub):
    openai_stub.latency = 0.1
    llm = _llm(openai_stub, llm_max_concurrency=3)
    errors: list[Exception] = []

    def work(i: int) -> None:
        try:
            assert llm.chat([{"role": "user", "content": f"q{i}"}]) == f"stub reply: q{i}"
        except Exception as exc:  # collected: assertion errors in threads would be lost otherwise
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert openai_stub.max_in_flight == 3  # reached, never exceeded
    assert llm.usage.calls == 12


def test_close_abandons_a_pending_retry_wait(openai_stub):
    llm = _llm(openai_stub, llm_retry_max_wait_s=30)

    def close_then_429(_request):  # the client is closed while its request is being answered
        llm.close()
        return Reply(status=429, retry_after="30")
    openai_stub.script(close_then_429)
    with pytest.raises(LLMError, match="abandoned"):
        llm.chat(USER)
    assert len(openai_stub.chat_requests) == 1  # the 30 s retry wait was abandoned, no retry was sent


def test_task_cancellation_ends_a_retry_wait_without_touching_the_event_on_close(openai_stub):
    cancel = threading.Event()
    settings = _llm(openai_stub, llm_retry_max_wait_s=30).settings
    llm = make_llm(settings, cancel_event=cancel)

    def cancel_then_503(_request):  # the task is cancelled while the request is being answered
        cancel.set()
        return Reply(status=503, retry_after="30")
    openai_stub.script(cancel_then_503)
    with pytest.raises(LLMError, match="abandoned while waiting to retry.*HTTP 503"):
        llm.chat(USER)
    assert len(openai_stub.chat_requests) == 1  # no retry after the 30 s wait
    other = threading.Event()
    make_llm(settings, cancel_event=other).close()
    assert not other.is_set()  # closing a client never cancels the task


def test_load_prompt_fills_placeholders_and_rejects_missing_or_bad_names():
    text = load_prompt("json_reask", error="field x missing")
    assert "field x missing" in text and "{{" not in text
    with pytest.raises(KeyError, match="error"):
        load_prompt("json_reask")
    with pytest.raises(ValueError):
        load_prompt("../app_config")
