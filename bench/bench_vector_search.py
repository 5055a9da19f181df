"""Latency of the search preview (`POST /vector/search`) over a store of 10,000 question-SQL rows.

    .venv/bin/python bench/bench_vector_search.py [--pairs 10000] [--dimension 384] [--queries 50]

Starts an embedded PostgreSQL in a temporary data home, loads a synthetic task (bench_load.py's generator: N
distinct Chinese pairs + 7 DDL + 7 docs) with the real `training_load` step, then times
`data_pipeline.vectors.search.search` (embed the question, nearest rows of sql/ddl/documentation with cosine
`<=>` exactly as Vanna's reader, owners from our metadata database) for --queries questions taken from the
task's own pairs: p50 / p95 / max, the part spent in the sql-collection query alone, and how often the asked
pair comes first. Exact scan, no vector index (Vanna's PG_VectorStore creates none).
"""
from __future__ import annotations

import argparse
import logging
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app_config import load_settings  # noqa: E402
from bench.bench_load import TASK_ID, write_task  # noqa: E402
from data_pipeline.context import build_context  # noqa: E402
from data_pipeline.qa import pairs as pair_files  # noqa: E402
from data_pipeline.steps import training_load  # noqa: E402
from data_pipeline.steps.base import StepContext  # noqa: E402
from data_pipeline.store import vector as vector_sql  # noqa: E402
from data_pipeline.vectors import search as vector_search  # noqa: E402
from data_pipeline.vectors import target as vector_target  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=10000)
    ap.add_argument("--dimension", type=int, default=384)
    ap.add_argument("--queries", type=int, default=50)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="dp_bench_search_"))
    try:
        settings = load_settings({"data_home": home, "embedding_dimension": args.dimension,
                                  "business_db_url": "postgresql://unused@localhost/unused"})
        app_ctx = build_context(settings, maxconn=4)
        task_dir = app_ctx.task_dir(TASK_ID)
        write_task(task_dir, args.pairs)
        ctx = StepContext(task_id=TASK_ID, task_dir=task_dir, params={}, options={}, settings=settings,
                          business_url="", meta_db=app_ctx.db, tables=[], logger=logging.getLogger("bench"))
        summary = training_load.run(ctx).summary
        print(f"store: {summary['total_rows']} rows ({summary['loaded']}), dimension {args.dimension}, "
              f"loaded in {summary['duration_seconds']:.1f}s")

        pairs = pair_files.read_pairs(pair_files.latest_pairs_file(task_dir))
        asked = random.Random(11).sample(pairs, min(args.queries, len(pairs)))
        target = vector_target.resolve(settings, app_ctx.runtime.meta_url)
        vector_search.search(settings, app_ctx.db, target, asked[0].question)      # warm the pool and caches
        totals, first = [], 0
        for pair in asked:
            started = time.perf_counter()
            result = vector_search.search(settings, app_ctx.db, target, pair.question, top_k=5)
            totals.append(time.perf_counter() - started)
            first += result["results"]["sql"][0]["question"] == pair.question
        embedder = __import__("core.embedding", fromlist=["make_embedder"]).make_embedder(settings)
        sql_only = []
        with app_ctx.db.connection() as conn, conn.cursor() as cur:
            for pair in asked:
                vector = embedder.embed_query(pair.question)
                started = time.perf_counter()
                vector_sql.nearest(cur, "sql", vector, 5)
                sql_only.append(time.perf_counter() - started)
        ms = lambda v: f"{v * 1000:.1f} ms"  # noqa: E731
        print(f"search (embed + 3 collections + owners), {len(totals)} questions, top_k=5: "
              f"p50 {ms(statistics.median(totals))}, p95 {ms(pct(totals, 0.95))}, max {ms(max(totals))}")
        print(f"  of which the sql-collection query alone: p50 {ms(statistics.median(sql_only))}, "
              f"p95 {ms(pct(sql_only, 0.95))}")
        print(f"asked pair ranked first: {first}/{len(asked)}")
        app_ctx.db.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
