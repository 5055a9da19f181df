"""Overhead of core.llm.LLMClient + the OpenAI stub: makespan of N parallel calls vs the LLM-bound lower bound.

    .venv/bin/python bench/bench_llm_client.py [--latency 0.2] [--calls 40] [--concurrency 4]

Many threads call `chat` at once; the client's semaphore admits `concurrency` requests; each stub answer takes
`latency` s. Lower bound = ceil(calls / concurrency) × latency. A ratio near 1.0 means the client (and the
stub) add little; the ddl/qa benchmarks' ratio target (≤ 1.3) is only meaningful when this one is close to 1.
"""
from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app_config import load_settings  # noqa: E402
from core.llm import LLMClient  # noqa: E402
from tests.openai_stub import OpenAIStub  # noqa: E402


def run(latency: float, calls: int, concurrency: int) -> None:
    with OpenAIStub(latency=latency) as stub:
        llm = LLMClient(load_settings({"llm_base_url": stub.base_url, "llm_model": "stub-model",
                                       "llm_max_concurrency": concurrency}, environ={}))
        llm.chat([{"role": "user", "content": "warm-up"}])
        threads = [threading.Thread(target=llm.chat, args=([{"role": "user", "content": f"q{i}"}],))
                   for i in range(calls)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        makespan = time.perf_counter() - started
        bound = math.ceil(calls / concurrency) * latency
        usage = llm.usage.to_dict()
        print(f"calls {calls:>4}  concurrency {concurrency:>3}  latency {latency:.3f}s  makespan {makespan:.3f}s  "
              f"lower bound {bound:.3f}s  ratio {makespan / bound:.3f}  peak in flight {stub.max_in_flight}  "
              f"failures {usage['failures']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--calls", type=int)
    parser.add_argument("--concurrency", type=int)
    args = parser.parse_args()
    if args.calls and args.concurrency:
        run(args.latency, args.calls, args.concurrency)
        return
    for concurrency in (1, 4, 8, 16):
        run(args.latency, args.calls or concurrency * 10, concurrency)


if __name__ == "__main__":
    main()
