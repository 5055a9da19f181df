"""Retrieval as Vanna does it, and how well it finds what a held-out question needs.

`retrieve_all` runs, for each question, exactly the queries of POST /vector/search (data_pipeline/store/vector.py
`nearest`: cosine `<=>` ascending within the collection, the configured embedder, a READ ONLY transaction) for
the three collections Vanna reads (`ddl` -> get_related_ddl, `documentation` -> get_related_documentation, `sql` ->
get_similar_question_sql), TOP_K = Vanna's PG_VectorStore `n_results` default (10).

Metrics (`score`, pure), per question, at k in K_VALUES:
- table recall@k: share of the gold SQL's tables whose DDL document is among the first k `ddl` rows;
- pair hit@k: one of the first k `sql` rows reads the same tables with the same SQL skeleton (shape.sql_skeleton:
  literals and names masked) — a pair that teaches the answer's shape;
- reciprocal rank: 1 / rank of the first such pair within TOP_K, else 0 (its mean is the MRR).
And for a sample of *loaded* pairs (`score_own`, the protocol of Vanna #836 "a question trained word for word was
not retrieved"): own-pair recall@k — the pair itself (same SQL text) is among the first k `sql` rows when its
question, or a rewording of it, is asked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import psycopg2
import psycopg2.errors

from core.db import first_line
from core.errors import AppError, StepDependencyNotMet
from data_pipeline.evaluation.shape import ddl_table, sql_skeleton, sql_tables
from data_pipeline.store import vector as vector_sql

K_VALUES = (1, 5, 10)
TOP_K = 10


@dataclass
class Retrieved:
    ddl: list[str] = field(default_factory=list)              # documents, nearest first
    documentation: list[str] = field(default_factory=list)
    sql: list[dict] = field(default_factory=list)             # {question, sql}, nearest first


def _pair(document: str) -> dict:
    from data_pipeline.vectors.search import _pair as read_pair   # Vanna's reading of a question-SQL document
    q, s = read_pair(document or "")
    return {"question": q or "", "sql": s or ""}


def retrieve_all(settings, meta_db, target, questions: Sequence[str], *, k: int = TOP_K,
                 check_cancelled: Callable[[], None] = lambda: None) -> tuple[list[Retrieved], dict]:
    """Retrieved context per question, and {model, dimension} of the embedder used."""
    from core.embedding import make_embedder
    from data_pipeline.vectors import target as vector_target
    from data_pipeline.vectors.search import read_only_cursor   # the search preview's READ ONLY transaction

    embedder = make_embedder(settings)
    vectors = [list(v) for v in embedder.embed_documents(list(questions))] if questions else []
    out: list[Retrieved] = []
    with vector_target.open_store(target, meta_db) as store_db:
        try:
            with read_only_cursor(store_db) as cur:
                if not vector_sql.tables_exist(cur):
                    raise StepDependencyNotMet(f"the vector store {target.label} has no vector tables: "
                                               "run training_load first")
                for vector in vectors:
                    check_cancelled()
                    if not any(vector):
                        out.append(Retrieved())
                        continue
                    rows = {c: vector_sql.nearest(cur, c, vector, k) for c in ("ddl", "documentation", "sql")}
                    out.append(Retrieved([r["document"] or "" for r in rows["ddl"]],
                                         [r["document"] or "" for r in rows["documentation"]],
                                         [_pair(r["document"]) for r in rows["sql"]]))
        except psycopg2.errors.DataException as exc:
            raise AppError(f"the stored embeddings do not match the configured embedder ({embedder.name}): "
                           f"{first_line(exc)}; evaluate with the embedding model the rows were loaded with") from None
        except psycopg2.Error as exc:
            raise AppError(f"searching the vector store {target.label} failed: {first_line(exc)}") from None
    return out, {"model": embedder.name, "dimension": embedder.dimension}


# ------------------------------------------------------------------------------------------------ metrics
def same_shape(sql_a: str, tables_a: frozenset, skeleton_a: str, sql_b: str) -> bool:
    return bool(sql_b) and sql_tables(sql_b) == tables_a and sql_skeleton(sql_b) == skeleton_a


def score(gold_sql: str, retrieved: Retrieved, ks: Sequence[int] = K_VALUES) -> dict:
    """table_recall@k, pair_hit@k, rr and the first hit's rank for one question."""
    gold_tables = sql_tables(gold_sql)
    skeleton = sql_skeleton(gold_sql)
    ddl_tables = [ddl_table(d) for d in retrieved.ddl]
    first: Optional[int] = None
    for rank, pair in enumerate(retrieved.sql, start=1):
        if same_shape(gold_sql, gold_tables, skeleton, pair.get("sql") or ""):
            first = rank
            break
    recall = {k: (len(gold_tables & set(ddl_tables[:k])) / len(gold_tables)) if gold_tables else 0.0 for k in ks}
    return {"table_recall": recall, "pair_hit": {k: first is not None and first <= k for k in ks},
            "rr": (1.0 / first) if first else 0.0, "first_hit_rank": first,
            "top_question": (retrieved.sql[0].get("question") if retrieved.sql else None),
            "top_tables": [t for t in ddl_tables[:5] if t]}


def _normal_sql(sql: str) -> str:
    return " ".join((sql or "").split()).rstrip(";").strip().lower()


def score_own(own_sql: str, retrieved: Retrieved, ks: Sequence[int] = K_VALUES) -> dict:
    """score() for a loaded pair asked again: a hit is the pair itself (same SQL text) among the first k."""
    target = _normal_sql(own_sql)
    first = next((rank for rank, pair in enumerate(retrieved.sql, start=1)
                  if _normal_sql(pair.get("sql") or "") == target), None)
    gold_tables = sql_tables(own_sql)
    ddl_tables = [ddl_table(d) for d in retrieved.ddl]
    recall = {k: (len(gold_tables & set(ddl_tables[:k])) / len(gold_tables)) if gold_tables else 0.0 for k in ks}
    return {"table_recall": recall, "pair_hit": {k: first is not None and first <= k for k in ks},
            "rr": (1.0 / first) if first else 0.0, "first_hit_rank": first,
            "top_question": (retrieved.sql[0].get("question") if retrieved.sql else None),
            "top_tables": [t for t in ddl_tables[:5] if t]}


def aggregate(scores: Sequence[dict], ks: Sequence[int] = K_VALUES) -> dict:
    """Means over questions: table_recall@k, pair_hit@k (rates 0..1, 4 decimals), mrr, n."""
    n = len(scores)
    if not n:
        return {"n": 0, "table_recall": {str(k): None for k in ks}, "pair_hit": {str(k): None for k in ks},
                "mrr": None}
    return {"n": n,
            "table_recall": {str(k): round(sum(s["table_recall"][k] for s in scores) / n, 4) for k in ks},
            "pair_hit": {str(k): round(sum(bool(s["pair_hit"][k]) for s in scores) / n, 4) for k in ks},
            "mrr": round(sum(s["rr"] for s in scores) / n, 4)}


def hit_ceiling(gold_sqls: Sequence[str], loaded_sqls: Sequence[str]) -> float:
    """Share of the questions for which some loaded pair has the same tables and skeleton (the best pair hit
    any retriever could reach on this store's pairs)."""
    shapes = {(sql_tables(s), sql_skeleton(s)) for s in loaded_sqls}
    if not gold_sqls:
        return 0.0
    return round(sum((sql_tables(g), sql_skeleton(g)) in shapes for g in gold_sqls) / len(gold_sqls), 4)
