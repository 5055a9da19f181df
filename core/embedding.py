"""Text embeddings: the built-in lexical hashing embedder (default) or an OpenAI-compatible `/embeddings` endpoint.

Contract (`Embedder`): `name`, `dimension`, `embed(texts) -> list[list[float]]`, one vector per text in order,
every vector finite and non-zero (pgvector cosine distance is undefined for a zero vector). The LangChain names
`embed_documents` / `embed_query` are provided too, so the same object can be handed to Vanna's PG_VectorStore:
writer and reader must embed with the same model and dimension.

`HashingEmbedder` is LEXICAL, not semantic: texts are similar when they share characters, character n-grams and
words. It needs no model or network, is deterministic across processes and machines (blake2b, not `hash()`),
and handles Chinese through character n-grams.
"""
from __future__ import annotations

import hashlib
import math
import re
import threading
import unicodedata
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Optional, Protocol, runtime_checkable

from app_config import Settings
from core.errors import LLMError
from core.llm import RetryPolicy, make_session, post_json_with_retries


class EmbeddingError(LLMError):
    """The embedding service failed or answered something unusable."""


@runtime_checkable
class Embedder(Protocol):
    name: str

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class _LangChainNames:
    """LangChain's Embeddings method names on top of `embed`."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed(list(texts))

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]

    def describe(self) -> dict:
        """For logs and step results: which embedder produced the vectors."""
        return {"embedder": self.name, "dimension": self.dimension, "kind": self.kind}


# --- built-in ----------------------------------------------------------------------------------------------------
_WORD = re.compile(r"[0-9a-z_]+")
_SPACES = re.compile(r"\s+")
_EMPTY_FEATURE = "\x00<empty>"
_CACHE_LIMIT = 400_000  # feature -> (index, ±weight) entries; n-grams repeat a lot across documents


class HashingEmbedder(_LangChainNames):
    """Signed feature hashing of character 1-3-grams and word tokens, sub-linear term frequency, L2-normalised.

    Thread-safe (the hash cache only grows by whole entries; a race costs a recomputation, never a wrong value).
    """

    name = "builtin-hashing-ngram-v1"
    kind = "lexical"

    def __init__(self, dimension: int = 384):
        if dimension < 8:
            raise ValueError("dimension must be at least 8")
        self._dimension = dimension
        self._cache: dict[str, tuple[int, float]] = {}
        self._empty = self._unit(_EMPTY_FEATURE)

    @property
    def dimension(self) -> int:
        return self._dimension

    def _slot(self, feature: str) -> tuple[int, float]:
        digest = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
        return digest % self._dimension, (1.0 if (digest >> 63) & 1 else -1.0)

    def _unit(self, feature: str) -> list[float]:
        index, sign = self._slot(feature)
        vector = [0.0] * self._dimension
        vector[index] = sign
        return vector

    @staticmethod
    def features(text: str) -> Counter:
        """Feature counts of `text`: char 1-,2-,3-grams of the normalised text and word tokens (prefixed)."""
        s = _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()
        counts = Counter(s)
        counts.update([s[i:i + 2] for i in range(len(s) - 1)])
        counts.update([s[i:i + 3] for i in range(len(s) - 2)])
        counts.update(["\x01" + w for w in _WORD.findall(s) if len(w) > 3])  # whole words beyond the 3-grams
        counts.pop(" ", None)
        return counts

    def embed_one(self, text: str) -> list[float]:
        counts = self.features(text or "")
        if not counts:
            return list(self._empty)
        cache = self._cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        vector = [0.0] * self._dimension
        get, log = cache.get, math.log
        for feature, count in counts.items():
            slot = get(feature)
            if slot is None:
                slot = cache[feature] = self._slot(feature)
            if count == 1:
                vector[slot[0]] += slot[1]
            else:  # sub-linear term frequency: a repeated n-gram counts, but does not dominate
                vector[slot[0]] += slot[1] * (1.0 + log(count))
        norm = math.hypot(*vector)
        if norm < 1e-9:  # every feature cancelled out: still never a zero vector
            return list(self._empty)
        return list(map((1.0 / norm).__mul__, vector))

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_one(t) for t in texts]


# --- remote ------------------------------------------------------------------------------------------------------
class RemoteEmbedder(_LangChainNames):
    """POST {embedding_base_url}/embeddings in batches of `embedding_batch_size`, at most LLM_MAX_CONCURRENCY
    batches at a time, with the LLM retry policy (LLM_MAX_RETRIES, LLM_RETRY_BACKOFF_S, LLM_RETRY_MAX_WAIT_S) and
    LLM_TIMEOUT_S per request. Vectors come back in input order whatever order the batches are answered in.

    The answer's items are re-ordered by `index`; the dimension is taken from the first answer and every later
    vector must match it; a zero, empty or non-finite vector is an error (EmbeddingError), never stored.
    """

    kind = "remote"

    def __init__(self, settings: Settings):
        if not settings.embedding_remote:
            raise EmbeddingError("no embedding service configured (EMBEDDING_BASE_URL and EMBEDDING_MODEL)")
        self.settings = settings
        self.model = settings.embedding_model
        self.name = f"openai-compatible:{settings.embedding_model}"
        self.url = settings.embedding_base_url.rstrip("/") + "/embeddings"
        self.batch_size = settings.embedding_batch_size
        self.concurrency = max(1, settings.llm_max_concurrency)
        self.policy = RetryPolicy.from_settings(settings)
        self.requests = 0
        self._dimension: Optional[int] = None
        self._lock = threading.Lock()
        self._session = make_session(self.concurrency)
        self._headers = {"Content-Type": "application/json"}
        if settings.embedding_api_key:
            self._headers["Authorization"] = f"Bearer {settings.embedding_api_key}"

    @property
    def dimension(self) -> int:
        """The service's dimension (asks the service once with a probe text when nothing was embedded yet)."""
        if self._dimension is None:
            self.embed(["dimension probe"])
        return self._dimension  # type: ignore[return-value]

    def embed(self, texts: list[str]) -> list[list[float]]:
        batches = [texts[start:start + self.batch_size] for start in range(0, len(texts), self.batch_size)]
        workers = min(self.concurrency, len(batches))
        if workers <= 1:
            return [v for batch in batches for v in self._embed_batch(batch)]
        # the batches are independent requests: send up to `concurrency` at once (issue 26); the first failure
        # (in input order) is raised after the batches already sent have been answered
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="embed") as pool:
            answers = list(pool.map(self._embed_batch, batches))
        return [v for answer in answers for v in answer]

    def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        # some servers reject empty strings; a single space embeds "nothing" without failing the whole batch
        payload = {"model": self.model, "input": [t if t and t.strip() else " " for t in batch]}
        data, attempts = post_json_with_retries(
            self._session, self.url, payload, headers=self._headers, timeout_s=self.settings.llm_timeout_s,
            policy=self.policy, secrets=(self.settings.embedding_api_key,), what="embedding")
        with self._lock:
            self.requests += attempts
        items = data.get("data")
        if not isinstance(items, list) or len(items) != len(batch):
            got = len(items) if isinstance(items, list) else "no"
            raise EmbeddingError(f"embedding service returned {got} vectors for {len(batch)} texts")
        try:
            items = sorted(items, key=lambda item: int(item["index"]))
        except (KeyError, TypeError, ValueError):
            raise EmbeddingError("embedding service returned items without a valid 'index'") from None
        if [int(item["index"]) for item in items] != list(range(len(batch))):
            raise EmbeddingError("embedding service returned indexes that do not match the inputs")
        return [self._checked(item.get("embedding"), position) for position, item in enumerate(items)]

    def _checked(self, vector, position: int) -> list[float]:
        if not isinstance(vector, list) or not vector:
            raise EmbeddingError(f"embedding {position} of a batch is missing or empty")
        try:
            vector = [float(v) for v in vector]
        except (TypeError, ValueError):
            raise EmbeddingError(f"embedding {position} of a batch has non-numeric values") from None
        if not all(math.isfinite(v) for v in vector):
            raise EmbeddingError(f"embedding {position} of a batch has non-finite values")
        if not any(vector):
            raise EmbeddingError(f"embedding service returned a zero vector (item {position} of a batch)")
        with self._lock:
            if self._dimension is None:
                self._dimension = len(vector)
            elif len(vector) != self._dimension:
                raise EmbeddingError(f"embedding dimension changed from {self._dimension} to {len(vector)}")
        return vector

    def close(self) -> None:
        self._session.close()


def make_embedder(settings: Settings) -> HashingEmbedder | RemoteEmbedder:
    """The remote embedder when EMBEDDING_BASE_URL and EMBEDDING_MODEL are set, else the built-in hashing one."""
    if settings.embedding_remote:
        return RemoteEmbedder(settings)
    return HashingEmbedder(settings.embedding_dimension)
