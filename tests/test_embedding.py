"""core.embedding: the built-in hashing embedder, and the remote embedder against the local OpenAI stub."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from app_config import PROJECT_ROOT, load_settings
from core.embedding import Embedder, EmbeddingError, HashingEmbedder, RemoteEmbedder, make_embedder
from core.errors import LLMError
from tests.openai_stub import Reply, hash_vector

KEY = "emb-secret-key-987654321"


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b)) / (math.hypot(*a) * math.hypot(*b))


def _remote(stub, **overrides) -> RemoteEmbedder:
    values = {"embedding_base_url": stub.base_url, "embedding_model": "stub-embed", "embedding_api_key": KEY,
              "embedding_batch_size": 3, "llm_timeout_s": 2.0, "llm_max_retries": 2,
              "llm_retry_backoff_s": 0.01, "llm_max_concurrency": 1, **overrides}  # serial: scripts in order
    return RemoteEmbedder(load_settings(values, environ={}))


# --- built-in ------------------------------------------------------------------------------------------------------
def test_make_embedder_defaults_to_the_lexical_hashing_embedder():
    embedder = make_embedder(load_settings({"embedding_dimension": 128}, environ={}))
    assert isinstance(embedder, HashingEmbedder) and isinstance(embedder, Embedder)
    assert embedder.name == "builtin-hashing-ngram-v1" and embedder.dimension == 128
    assert embedder.describe() == {"embedder": "builtin-hashing-ngram-v1", "dimension": 128, "kind": "lexical"}


def test_hashing_vectors_are_unit_length_and_never_zero():
    embedder = HashingEmbedder(64)
    texts = ["", "   \n\t", "a", "统计", "SELECT 1", "a a a a", "x" * 5000]
    for text, vector in zip(texts, embedder.embed(texts)):
        assert len(vector) == 64
        assert any(vector), text
        assert abs(math.hypot(*vector) - 1.0) < 1e-9
    assert embedder.embed_query("") == embedder.embed_query("   ")  # the fixed "empty" vector


def test_hashing_is_deterministic_across_processes():
    """blake2b, not hash(): a fresh interpreter (other PYTHONHASHSEED) produces the very same vector."""
    text = "查询每个服务区的营业收入 SELECT sum(pay_sum) FROM bss_business_day_data"
    here = HashingEmbedder(32).embed_query(text)
    code = ("import json,sys; from core.embedding import HashingEmbedder; "
            f"print(json.dumps(HashingEmbedder(32).embed_query({text!r})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"}, check=True, timeout=60)
    assert [round(v, 12) for v in json.loads(out.stdout)] == [round(v, 12) for v in here]
    assert HashingEmbedder(32).embed_documents([text]) == [here]


def test_hashing_similarity_is_lexically_sensible_for_chinese_and_sql():
    e = HashingEmbedder(384)
    query = e.embed_query("查询每个服务区的营业收入总额")
    paraphrase = e.embed_query("统计各服务区营业收入的总和")
    unrelated = e.embed_query("列出所有车辆的车牌号码和颜色")
    assert cosine(query, paraphrase) > cosine(query, unrelated) + 0.2
    sql = e.embed_query("SELECT service_name, SUM(pay_sum) FROM bss_business_day_data GROUP BY service_name")
    sql_near = e.embed_query("SELECT service_name, AVG(pay_sum) FROM bss_business_day_data GROUP BY service_name")
    sql_far = e.embed_query("SELECT car_type, COUNT(*) FROM bss_car_day_count GROUP BY car_type")
    assert cosine(sql, sql_near) > cosine(sql, sql_far)
    assert cosine(query, query) == pytest.approx(1.0)


def test_hashing_dimension_changes_the_vector_size():
    assert len(HashingEmbedder(8).embed_query("abc")) == 8
    with pytest.raises(ValueError):
        HashingEmbedder(4)


# --- remote --------------------------------------------------------------------------------------------------------
def test_remote_batches_in_order_and_records_dimension(openai_stub):
    openai_stub.embedding_dimension = 16
    openai_stub.script_embeddings(Reply(shuffle=True))  # first batch answered in reverse order
    embedder = _remote(openai_stub)
    texts = [f"文本 {i}" for i in range(7)]
    vectors = embedder.embed(texts)
    assert vectors == [hash_vector(t, 16) for t in texts]  # re-ordered by index, one vector per text
    batches = [r.json["input"] for r in openai_stub.embedding_requests]
    assert batches == [texts[0:3], texts[3:6], texts[6:7]]
    req = openai_stub.embedding_requests[0]
    assert req.json["model"] == "stub-embed" and req.headers["Authorization"] == f"Bearer {KEY}"
    assert embedder.dimension == 16 and embedder.name == "openai-compatible:stub-embed"
    assert len(openai_stub.embedding_requests) == 3  # dimension known: no probe request


def test_make_embedder_switches_to_remote_and_probes_dimension(openai_stub):
    openai_stub.embedding_dimension = 24
    settings = load_settings({"embedding_base_url": openai_stub.base_url, "embedding_model": "m"}, environ={})
    embedder = make_embedder(settings)
    assert isinstance(embedder, RemoteEmbedder)
    assert embedder.dimension == 24
    assert len(openai_stub.embedding_requests) == 1
    assert embedder.embed_query("你好") == hash_vector("你好", 24)


def test_remote_retries_429_and_500(openai_stub):
    openai_stub.script_embeddings(Reply(status=429, retry_after="0.1"), Reply(status=500))
    embedder = _remote(openai_stub)
    assert len(embedder.embed(["a", "b"])) == 2
    assert embedder.requests == 3


def test_remote_exhausted_retries_raise_without_key(openai_stub):
    openai_stub.script_embeddings(*[Reply(status=503, body=f"overloaded {KEY}")] * 3)
    with pytest.raises(LLMError) as info:
        _remote(openai_stub).embed(["a"])
    assert "503" in str(info.value) and KEY not in str(info.value)


@pytest.mark.parametrize("reply, message", [
    (Reply(embeddings=[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]), "zero vector"),
    (Reply(embeddings=[[1.0, 0.0]]), "1 vectors for 2 texts"),
    (Reply(embeddings=[[1.0, 2.0], []]), "missing or empty"),
    (Reply(body={"data": [{"embedding": [1.0]}, {"embedding": [2.0]}]}), "index"),
    (Reply(embeddings=[[1.0, "x"], [1.0, 2.0]]), "non-numeric"),
])
def test_remote_rejects_unusable_vectors(openai_stub, reply, message):
    openai_stub.script_embeddings(reply)
    with pytest.raises(EmbeddingError, match=message):
        _remote(openai_stub).embed(["a", "b"])


def test_remote_rejects_a_dimension_change_between_batches(openai_stub):
    openai_stub.script_embeddings(Reply(embeddings=[[1.0, 0.0]] * 3), Reply(embeddings=[[1.0, 0.0, 0.5]]))
    with pytest.raises(EmbeddingError, match="dimension changed from 2 to 3"):
        _remote(openai_stub).embed(["a", "b", "c", "d"])


def test_remote_sends_blank_texts_as_a_space(openai_stub):
    _remote(openai_stub).embed(["", "ok"])
    assert openai_stub.embedding_requests[0].json["input"] == [" ", "ok"]


def test_remote_sends_batches_concurrently_up_to_the_llm_concurrency_cap(openai_stub):
    """Issue 26: the batches of one embed call go out together, at most LLM_MAX_CONCURRENCY at a time, and the
    vectors still come back in input order."""
    import threading
    openai_stub.embedding_dimension = 8
    embedder = _remote(openai_stub, embedding_batch_size=1, llm_max_concurrency=3)
    texts = [f"文本 {i}" for i in range(7)]
    openai_stub.hold(after=0)          # every request waits at the barrier until released
    box: dict = {}
    worker = threading.Thread(target=lambda: box.update(vectors=embedder.embed(texts)), daemon=True)
    worker.start()
    try:
        openai_stub.wait_held(3)       # three batches in flight at once (a serial client never gets here)
    finally:
        openai_stub.release()
    worker.join(60)
    assert box["vectors"] == [hash_vector(t, 8) for t in texts]
    assert sorted(r.json["input"][0] for r in openai_stub.embedding_requests) == sorted(texts)
    assert openai_stub.max_in_flight == 3   # the cap: never a fourth request at the same time


def test_remote_concurrent_batches_raise_the_first_failure_in_input_order(openai_stub):
    openai_stub.embedding_responder = lambda req: Reply(status=400) if req["input"] == ["c"] else None
    with pytest.raises(LLMError) as info:
        _remote(openai_stub, embedding_batch_size=1, llm_max_concurrency=4, llm_max_retries=0).embed(
            ["a", "b", "c", "d"])
    assert "400" in str(info.value)
