"""Round-1 repair calls sent while the other pairs are still being checked (issue 26).

The first repair round needs every failing pair: strictly it can only start once every pair has been checked.
But the SQL guessed to fail is checked first (early_checks.py), and round 1 batches the failures guessed apart,
ahead of the others (repair.first_round_batches). So once the guessed SQL is checked, `send` is called with its
failures (file order) and sends round 1's first batches; when the round really starts, `request` hands over the
answer of a batch whose prompt is byte for byte the one sent ahead (same pairs, same SQL, same error, same DDL),
and makes the call itself for any other batch. The repairs, their checks and every record of them are therefore
exactly what they would have been; a batch sent ahead goes unused only when the pair list changed after the
send (qa_generation sends before its coverage top-up, whose rule-based SQL is never guessed to fail); that
call is counted in the LLM usage like any other, and logged.
"""
from __future__ import annotations

import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Optional, Sequence

from data_pipeline.validation.check import FAILED
from data_pipeline.validation.repair import (BATCH_SIZE, DdlLibrary, RepairCandidate, build_messages, in_batches,
                                             request_repairs)


class RepairAhead:
    def __init__(self, llm: Any, ddl: DdlLibrary, business_context: str, concurrency: int,
                 batch_size: int = BATCH_SIZE):
        self.llm, self.ddl, self.business_context, self.batch_size = llm, ddl, business_context, batch_size
        self._pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="repair_ahead")
        self._sent: dict[str, Future] = {}
        self._closed = False       # the round has started: nothing more is sent ahead
        self._lock = threading.Lock()
        self.sent = self.used = 0

    def _key(self, batch: Sequence[RepairCandidate], ddl_text: str) -> str:
        return json.dumps(build_messages(batch, ddl_text, self.business_context), ensure_ascii=False)

    def send(self, candidates: Sequence[RepairCandidate]) -> int:
        """Send the batches of `candidates`, the failures guessed to fail (file order: round 1's first batches,
        repair.first_round_batches); returns the number of calls sent (0 once the round has started)."""
        pending = [c for c in candidates if c.check.status in FAILED]
        prompts = [(batch, self.ddl.text_for(batch)) for batch in in_batches(pending, self.batch_size)]
        sent = 0
        with self._lock:
            if self._closed:
                return 0
            for batch, text in prompts:
                key = self._key(batch, text)
                if key not in self._sent:
                    self._sent[key] = self._pool.submit(request_repairs, self.llm, batch, text, self.business_context)
                    sent += 1
            self.sent += sent
        return sent

    def request(self, batch: list[RepairCandidate], ddl_text: str) -> dict[str, Optional[str]]:
        """The answer for `batch` (repair_failing's `request`): the call sent ahead with this very prompt, or a
        new call. Raises what request_repairs raises."""
        with self._lock:
            self._closed = True
            future = self._sent.pop(self._key(batch, ddl_text), None)
            if future is not None:
                self.used += 1
        if future is None:
            return request_repairs(self.llm, batch, ddl_text, self.business_context)
        return future.result()

    def close(self, wait: bool = True) -> int:
        """Stop sending; `wait` for calls sent ahead and never used (their usage is then counted before the
        step reports). Returns how many went unused."""
        with self._lock:
            self._closed = True
            unused = len(self._sent)
        self._pool.shutdown(wait=wait)
        return unused
