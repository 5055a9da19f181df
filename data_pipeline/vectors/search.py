"""Search preview: the rows Vanna's PG_VectorStore would retrieve for a question, per collection.

Same embedder as the load (the configured one; a task whose load used another model or dimension is a 400), same
distance and order as langchain-postgres' `similarity_search` that Vanna calls (cosine `<=>`, ascending, within
the collection of that name, LIMIT k). Read only: one READ ONLY transaction on the store, nothing is created.
"""
from __future__ import annotations

import ast
import json
import time
from contextlib import contextmanager
from typing import Iterator, Optional, Sequence

import psycopg2
import psycopg2.errors

from core.db import first_line
from core.errors import AppError, ValidationFailed
from data_pipeline.store import vector as vector_sql
from data_pipeline.store import vector_owners
from data_pipeline.vectors import target as vector_target
from data_pipeline.vectors.store import COLLECTIONS


def loaded_embedding(task_row: Optional[dict]) -> Optional[dict]:
    """{model, dimension} the task's last training_load used, if it ran."""
    steps = ((task_row or {}).get("result") or {}).get("steps") or {}
    embedding = (steps.get("training_load") or {}).get("embedding")
    return embedding if isinstance(embedding, dict) else None


def _pair(document: str) -> tuple[Optional[str], Optional[str]]:
    """question/sql of a question-SQL document, read as Vanna reads it (ast.literal_eval) when not plain JSON."""
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(document)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            q, s = value.get("question"), value.get("sql")
            return (q if isinstance(q, str) else None), (s if isinstance(s, str) else None)
    return None, None


@contextmanager
def read_only_cursor(store_db) -> Iterator:
    """A cursor on the store inside one READ ONLY transaction, rolled back when the block ends, and the pooled
    connection's session reset (other users of the pool write)."""
    with store_db.connection() as conn:
        conn.set_session(readonly=True)
        try:
            with conn.cursor() as cur:
                yield cur
        finally:
            conn.rollback()
            conn.set_session(readonly="DEFAULT")


def _hit(row: dict, collection: str, owners: dict[str, list[str]]) -> dict:
    meta = row["cmetadata"] if isinstance(row["cmetadata"], dict) else {}
    task_ids = owners.get(row["id"]) or ([meta["task_id"]] if isinstance(meta.get("task_id"), str) else [])
    hit = {"id": row["id"], "distance": round(float(row["distance"]), 6), "document": row["document"],
           "task_ids": task_ids, "business_db": meta.get("business_db")}
    if collection == "sql":
        hit["question"], hit["sql"] = _pair(row["document"] or "")
    return hit


def search(settings, meta_db, target: vector_target.VectorTarget, question: str, *, top_k: int = 5,
           collections: Sequence[str] = COLLECTIONS, expected: Optional[dict] = None) -> dict:
    """Nearest rows per collection. `expected` is the task's load embedding ({model, dimension}) when known."""
    from core.embedding import make_embedder

    started = time.perf_counter()
    embedder = make_embedder(settings)
    if expected and expected.get("model") not in (None, embedder.name):
        raise ValidationFailed(f"the task's rows were embedded with {expected.get('model')} but the service now "
                               f"embeds with {embedder.name}: distances would be meaningless; configure the same "
                               "embedding model or re-run training_load", invalid_params=["task_id"])
    vector = list(embedder.embed_query(question))
    if not any(vector):
        raise ValidationFailed("the question has nothing the embedder can represent (no letters or digits)",
                               invalid_params=["question"])
    # what the client can change to fix a mismatch: the task, the store it named, or nothing (the default store)
    fields = ["task_id"] if expected is not None else ["vector_db_connection"] if target.given else []
    results: dict[str, list] = {c: [] for c in collections}
    with vector_target.open_store(target, meta_db) as store_db:
        try:
            with read_only_cursor(store_db) as cur:
                present = vector_sql.tables_exist(cur)
                if present:
                    rows = {c: vector_sql.nearest(cur, c, vector, top_k) for c in collections}
        except psycopg2.errors.DataException as exc:
            # pgvector refuses `<=>` across dimensions while scanning: no separate pass over every row needed
            raise ValidationFailed(f"the stored embeddings do not match the configured embedder ({embedder.name}, "
                                   f"dimension {len(vector)}): {first_line(exc)}; search with the embedding model "
                                   "the rows were loaded with", invalid_params=fields) from None
        except psycopg2.Error as exc:
            error = ValidationFailed if target.given else AppError   # a store the client named is its problem
            raise error(f"searching the vector store {target.store_key} failed: {first_line(exc)}",
                        invalid_params=fields) from None
    if present:
        owners = vector_owners.owners(meta_db, target.store_key, [r["id"] for rs in rows.values() for r in rs])
        results = {c: [_hit(r, c, owners) for r in rs] for c, rs in rows.items()}
    return {"question": question, "top_k": top_k, "collections": list(collections), "vector_store": target.label,
            "vector_tables_present": present, "embedding": {"model": embedder.name, "dimension": len(vector)},
            "results": results, "search_seconds": round(time.perf_counter() - started, 4)}
