"""training_load's embeddings, requested while sql_validation still works (issue 26: repair answer -> embeddings).

In a complete run sql_validation and training_load run in one executor process, and most of what training_load
embeds is final long before it starts: the DDL and table docs (ddl_generation's files) and every pair whose SQL
passed its check. So once the pairs are checked, sql_validation sends those texts (`send`) while the repair calls
are out, and the repaired pairs' texts as soon as their repair is confirmed, before the pair file is rewritten,
the reports written and the step switched. training_load then embeds only what was not sent (`take`, `vector`).

A vector is looked up by the document's exact text, with the very embedder training_load would have made from the
same settings (it reuses this one), so what is stored is what training_load would have embedded itself; a text
that was sent but is not loaded (a pair held out for evaluation, a repair the file did not keep) costs a
request's share, nothing else. A send that failed leaves its texts to training_load, which reports the error as
before. Sends go out one after the other (each at most LLM_MAX_CONCURRENCY batches at a time, as training_load's
own). Only with a remote embedder (the built-in one is local and instant) and when training_load runs later here.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterable, Optional

from data_pipeline.steps.base import StepContext

_lock = threading.Lock()
_open: dict[tuple, "EmbeddingsAhead"] = {}


class EmbeddingsAhead:
    def __init__(self, settings):
        from core.embedding import make_embedder
        self.embedder = make_embedder(settings)
        self._vectors: dict[str, Future] = {}
        self._lock = threading.Lock()
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed_ahead")
        self.sent = 0

    def send(self, texts: Iterable[str]) -> int:
        """Embed the texts not sent yet, after the sends before them; returns how many were new."""
        with self._lock:
            new = [t for t in dict.fromkeys(texts) if isinstance(t, str) and t not in self._vectors]
            futures = [self._vectors.setdefault(t, Future()) for t in new]
            self.sent += len(new)
        if new:
            self._sender.submit(self._embed, new, futures)
        return len(new)

    def _embed(self, texts: list[str], futures: list[Future]) -> None:
        try:
            vectors = self.embedder.embed_documents(texts)
        except BaseException as exc:  # noqa: BLE001 - training_load embeds these itself and reports its error
            for future in futures:
                future.set_exception(exc)
            return
        for future, vector in zip(futures, vectors):
            future.set_result(vector)

    def vector(self, text: str) -> Optional[list[float]]:
        """The vector of `text` when it was sent (waits for its request); None when it was not, or failed."""
        with self._lock:
            future = self._vectors.get(text)
        if future is None:
            return None
        try:
            return future.result()
        except BaseException:  # noqa: BLE001 - see _embed
            return None

    def close(self) -> None:
        self._sender.shutdown(wait=False, cancel_futures=True)


def _key(ctx: StepContext) -> tuple:
    return ctx.task_id, ctx.execution_id


def wanted(ctx: StepContext) -> bool:
    """True when training_load runs later in this process with a remote embedder (the only case worth it)."""
    return ctx.runs_later_here("training_load") and ctx.settings.embedding_remote


def send(ctx: StepContext, texts: Iterable[str]) -> None:
    """sql_validation: embed `texts` now for training_load when `wanted`. Never raises: a problem here only
    means training_load embeds everything itself."""
    if not wanted(ctx):
        return
    try:
        with _lock:
            ahead = _open.get(_key(ctx))
            if ahead is None:
                ahead = _open[_key(ctx)] = EmbeddingsAhead(ctx.settings)
        ahead.send(texts)
    except Exception as exc:  # noqa: BLE001 - an optimisation must not fail sql_validation
        ctx.logger.warning("embeddings not requested ahead: %s", type(exc).__name__)


def take(ctx: StepContext) -> Optional[EmbeddingsAhead]:
    """training_load: the embeddings requested for it in this execution, or None. The caller owns them (close)."""
    with _lock:
        return _open.pop(_key(ctx), None)
