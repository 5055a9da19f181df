"""Training documents -> rows of Vanna's PG_VectorStore tables, written in one transaction.

Contract (ARCHITECTURE.md "Vanna PG_VectorStore contract", checked against vanna's `legacy/pgvector.py`):
- collections `sql`, `ddl`, `documentation`, upserted by name, never deleted (the FK cascades);
- row id `<uuid>-sql | -ddl | -doc` matching its collection, and `cmetadata["id"]` equal to it on every row
  (Vanna's `get_training_data` reads it from every row and derives the type from its last three characters);
- a question-SQL document is exactly `json.dumps({"question": q, "sql": s}, ensure_ascii=False)` (Vanna parses
  it back with `ast.literal_eval`, so no other keys and no null/true/false); DDL and docs are raw text;
- the embedding is of the whole document text, never a zero vector.
Ids are uuid5(collection + document): a re-load of the same content hits the same ids, and this task's earlier
rows that left its data are deleted in the same transaction, so a re-load never duplicates. The same text loaded
by two tasks is ONE row owned by both (ownership records in our metadata database, store/vector_owners.py).
Extra cmetadata keys (`task_id` = latest loader, `source`, `business_db`) are ignored by Vanna, which itself
stores extra keys such as `createdat`.
"""
from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from core.errors import AppError
from data_pipeline.store import vector as vector_store_sql
from data_pipeline.store import vector_owners

COLLECTIONS = ("sql", "ddl", "documentation")
ID_SUFFIX = {"sql": "-sql", "ddl": "-ddl", "documentation": "-doc"}
# fixed namespace: ids must be the same in every process and every release
_ID_NAMESPACE = uuid.UUID("6f1c5d7e-2b0a-5c8e-9d41-7a3e0b9c2f10")


class VectorLoadFailed(AppError):
    """Loading the training data into the vector tables failed."""
    status, code, message, error_type = 500, "INTERNAL_ERROR", "训练数据加载失败", "VectorError"


@dataclass(frozen=True)
class TrainingDocument:
    collection: str          # sql | ddl | documentation
    document: str            # the exact text stored and embedded
    source: str = ""         # file the document came from (relative name)
    extra: dict = field(default_factory=dict, compare=False)   # more cmetadata keys (e.g. pair_id)

    @property
    def id(self) -> str:
        return document_id(self.collection, self.document)


def question_sql_document(question: str, sql: str) -> str:
    """The exact document text Vanna writes and reads for a question-SQL pair."""
    if not isinstance(question, str) or not isinstance(sql, str) or not question.strip() or not sql.strip():
        raise ValueError("question and sql must be non-empty strings")
    return json.dumps({"question": question, "sql": sql}, ensure_ascii=False)


def document_id(collection: str, document: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{collection}\x00{document}")) + ID_SUFFIX[collection]


def collection_uuid(name: str) -> uuid.UUID:
    """The uuid we give a collection we create (an existing collection keeps whatever uuid it has)."""
    return uuid.uuid5(_ID_NAMESPACE, f"collection\x00{name}")


def unique_documents(docs: Sequence[TrainingDocument]) -> tuple[list[TrainingDocument], int]:
    """Drop exact duplicates (same collection and text): one row each. Returns (kept, dropped)."""
    seen, kept = set(), []
    for doc in docs:
        if doc.id not in seen:
            seen.add(doc.id)
            kept.append(doc)
    return kept, len(docs) - len(kept)


def checked_vector(vector: Sequence[float]) -> list[float]:
    """The vector as floats. Rejects zero, empty and non-finite vectors (they break cosine search)."""
    values = [float(x) for x in vector]
    if not values or not any(values) or not all(map(math.isfinite, values)):
        raise ValueError("embedding is empty, zero or not finite")
    return values


def build_rows(task_id: str, docs: Sequence[TrainingDocument], vectors: Sequence[Sequence[float]],
               collection_ids: dict[str, str], dimension: int, *, business_db: Optional[str] = None) -> list[tuple]:
    """(id, collection_id, vector floats, document, cmetadata_json) per document, checked against the contract."""
    if len(docs) != len(vectors):
        raise VectorLoadFailed(f"the embedder returned {len(vectors)} vectors for {len(docs)} documents")
    rows = []
    for doc, vector in zip(docs, vectors):
        if len(vector) != dimension:
            raise VectorLoadFailed(f"embedding dimension {len(vector)} differs from the model's {dimension}")
        try:
            values = checked_vector(vector)
        except ValueError as exc:
            raise VectorLoadFailed(f"{doc.source or doc.collection}: {exc}") from None
        row_id = doc.id
        meta = {"id": row_id, "task_id": task_id, "source": doc.source, **doc.extra}
        if business_db:
            meta["business_db"] = business_db     # 'dbname@host:port', no credentials: tells stores apart
        rows.append((row_id, collection_ids[doc.collection], values, doc.document,
                     json.dumps(meta, ensure_ascii=False)))
    return rows


@dataclass
class LoadStats:
    counts: dict[str, int]       # this task's rows by collection after the load
    inserted: int
    replaced_task_rows: int      # rows this task owned before the load (re-written or removed now)
    removed_rows: int            # this task's earlier rows no longer in its data, deleted from the store
    kept_shared_rows: int        # this task's earlier rows no longer in its data, kept: another task owns them too
    truncated_rows: int          # rows emptied by truncate_vector_tables (0 when not truncating)
    insert_seconds: float


def write_task_rows(store_db, meta_db, store_key: str, task_id: str, docs: Sequence[TrainingDocument],
                    vectors: Sequence[Sequence[float]], dimension: int, *, business_db: Optional[str] = None,
                    truncate: bool = False, before_truncate: Optional[Callable[[object], None]] = None,
                    check_cancelled: Callable[[], None] = lambda: None, page_size: int = 2000) -> LoadStats:
    """Make `task_id`'s rows in the store exactly `docs`, in ONE store transaction (optionally emptying the
    embedding table first), and record the ownership in our metadata database.

    Ownership (store/vector_owners.py): this task's records for the new rows are added BEFORE the store
    transaction and its records of dropped rows removed AFTER it, so a crash in between leaves extra records
    (a row kept too long), never a shared row deleted. An earlier row of this task that another task also owns
    stays in the store. `before_truncate(cursor)` runs inside the transaction after writers are blocked and
    before the table is emptied (the backup goes there). Any failure rolls the store back: the old rows stay.
    """
    started = time.perf_counter()
    new_rows = {doc.id: doc.collection for doc in docs}
    previous = vector_owners.task_rows(meta_db, store_key, task_id)
    vector_owners.add(meta_db, store_key, task_id, new_rows.items())
    stale = sorted(previous.keys() - new_rows.keys())
    try:
        with store_db.connection() as conn:
            with conn.cursor() as cur:
                vector_store_sql.lock_writers(cur)
                truncated, to_delete, shared = 0, [], set()
                if truncate:
                    vector_store_sql.block_external_writes(cur)
                    if before_truncate is not None:
                        before_truncate(cur)
                    try:
                        truncated = vector_store_sql.delete_all_embeddings(cur)
                    except Exception as exc:   # noqa: BLE001 - reported with the contract's code
                        from core.db import first_line
                        from core.errors import VectorTruncateFailed
                        raise VectorTruncateFailed(
                            f"emptying langchain_pg_embedding failed: {first_line(exc)}") from None
                else:
                    # read under the store's writer lock: a concurrent delete_vectors sees the same owners
                    shared = vector_owners.shared_with_others(meta_db, store_key, task_id, stale)
                    to_delete = [row_id for row_id in stale if row_id not in shared]
                    others = [d for d in vector_store_sql.other_dimensions(cur, list(new_rows) + to_delete)
                              if d != dimension]
                    if others:
                        raise VectorLoadFailed(
                            f"the vector table holds embeddings of dimension {others} but this model makes "
                            f"{dimension}: Vanna's search needs one dimension; re-run with "
                            "truncate_vector_tables=true (it backs up first) or use the same embedding model")
                collection_ids = vector_store_sql.upsert_collections(cur, COLLECTIONS, collection_uuid)
                removed = vector_store_sql.delete_ids(cur, to_delete)
                rows = build_rows(task_id, docs, vectors, collection_ids, dimension, business_db=business_db)
                staging = vector_store_sql.create_embedding_staging(cur)
                for start in range(0, len(rows), page_size):
                    check_cancelled()
                    vector_store_sql.copy_embeddings(cur, staging, rows[start:start + page_size])
                vector_store_sql.insert_from_staging(cur, staging)
                check_cancelled()
    except BaseException:
        # the store is unchanged: take back the records this attempt added (those it had before stay)
        vector_owners.remove(meta_db, store_key, task_id, [r for r in new_rows if r not in previous])
        raise
    if truncate:
        vector_owners.remove_all_but(meta_db, store_key, task_id, list(new_rows))
    else:
        # rows this task dropped: deleted, or (when shared) now the other task's alone
        vector_owners.remove(meta_db, store_key, task_id, stale)
    counts = {c: 0 for c in COLLECTIONS}
    for collection in new_rows.values():
        counts[collection] += 1
    return LoadStats(counts=counts, inserted=len(rows), replaced_task_rows=len(previous), removed_rows=removed,
                     kept_shared_rows=len(shared), truncated_rows=truncated,
                     insert_seconds=time.perf_counter() - started)
