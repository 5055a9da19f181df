"""SQL on `data_pipeline_vector_rows`: which task loaded which row of which vector store (our metadata database).

The vector rows themselves may live in another database (a task's `vector_db_connection`), so these records are
written in their own short transactions around the store's transaction, always so that a crash in between leaves
MORE records than rows, never fewer: an extra record only keeps a row alive longer, a missing one could let
another task's delete remove a row it still needs. `store_key` names the store without credentials
(data_pipeline/vectors/target.py).
"""
from __future__ import annotations

from typing import Iterable

from psycopg2.extras import execute_values

from core.db import Database

TABLE = "data_pipeline_vector_rows"


def add(db: Database, store_key: str, task_id: str, rows: Iterable[tuple[str, str]]) -> int:
    """Record `task_id` as an owner of each (row_id, collection); existing records stay."""
    values = [(store_key, row_id, task_id, collection) for row_id, collection in rows]
    if not values:
        return 0
    with db.cursor() as cur:
        execute_values(cur, f"INSERT INTO {TABLE} (store_key, row_id, task_id, collection) VALUES %s "
                            "ON CONFLICT (store_key, task_id, row_id) DO UPDATE SET loaded_at = now()",
                       values, page_size=1000)
        return len(values)


def task_rows(db: Database, store_key: str, task_id: str) -> dict[str, str]:
    """{row_id: collection} of every row `task_id` owns in the store."""
    rows = db.fetchall(f"SELECT row_id, collection FROM {TABLE} WHERE store_key = %s AND task_id = %s",
                       (store_key, task_id))
    return {r["row_id"]: r["collection"] for r in rows}


def shared_with_others(db: Database, store_key: str, task_id: str, row_ids: Iterable[str]) -> set[str]:
    """The subset of `row_ids` that some other task also owns (those rows must stay)."""
    ids = list(row_ids)
    if not ids:
        return set()
    rows = db.fetchall(f"SELECT DISTINCT row_id FROM {TABLE} WHERE store_key = %s AND task_id <> %s "
                       "AND row_id = ANY(%s)", (store_key, task_id, ids))
    return {r["row_id"] for r in rows}


def remove(db: Database, store_key: str, task_id: str, row_ids: Iterable[str]) -> int:
    """Drop `task_id`'s records of `row_ids`."""
    ids = list(row_ids)
    if not ids:
        return 0
    return db.execute(f"DELETE FROM {TABLE} WHERE store_key = %s AND task_id = %s AND row_id = ANY(%s)",
                      (store_key, task_id, ids))


def remove_task(db: Database, store_key: str, task_id: str) -> int:
    return db.execute(f"DELETE FROM {TABLE} WHERE store_key = %s AND task_id = %s", (store_key, task_id))


def remove_all_but(db: Database, store_key: str, task_id: str, row_ids: Iterable[str]) -> int:
    """After the store was emptied and `task_id` loaded `row_ids`: every other record of the store goes."""
    return db.execute(f"DELETE FROM {TABLE} WHERE store_key = %s AND NOT (task_id = %s AND row_id = ANY(%s))",
                      (store_key, task_id, list(row_ids)))


def owners(db: Database, store_key: str, row_ids: Iterable[str]) -> dict[str, list[str]]:
    """{row_id: [task_id, ...]} (sorted) for the given rows; rows nobody recorded are absent."""
    ids = list(row_ids)
    if not ids:
        return {}
    out: dict[str, list[str]] = {}
    for r in db.fetchall(f"SELECT row_id, task_id FROM {TABLE} WHERE store_key = %s AND row_id = ANY(%s) "
                         "ORDER BY row_id, task_id", (store_key, ids)):
        out.setdefault(r["row_id"], []).append(r["task_id"])
    return out


def counts(db: Database, store_key: str, task_id: str) -> dict[str, int]:
    rows = db.fetchall(f"SELECT collection, count(*) AS n FROM {TABLE} WHERE store_key = %s AND task_id = %s "
                       "GROUP BY collection", (store_key, task_id))
    return {r["collection"]: int(r["n"]) for r in rows}


def stores_of_task(db: Database, task_id: str) -> list[str]:
    return [r["store_key"] for r in db.fetchall(f"SELECT DISTINCT store_key FROM {TABLE} WHERE task_id = %s "
                                                "ORDER BY 1", (task_id,))]


def reconcile(db: Database, store_key: str, present: dict[str, tuple[str, str | None]]) -> dict[str, int]:
    """Make the records match a store whose rows changed behind them (restore, truncate by hand).

    `present` is {row_id: (collection, cmetadata task_id or None)} of every row now in the store. Records of rows
    that are gone are dropped; a present row with a task_id and no record at all is owned by that task (its last
    loader, as the row itself says). Records of rows still present are kept, so shared rows stay shared.
    """
    with db.cursor() as cur:
        cur.execute(f"SELECT DISTINCT row_id FROM {TABLE} WHERE store_key = %s", (store_key,))
        recorded = {r["row_id"] for r in cur.fetchall()}
        gone = sorted(recorded - present.keys())
        removed = 0
        if gone:
            cur.execute(f"DELETE FROM {TABLE} WHERE store_key = %s AND row_id = ANY(%s)", (store_key, gone))
            removed = cur.rowcount
        missing = [(store_key, row_id, str(task_id)[:40], collection)
                   for row_id, (collection, task_id) in present.items() if task_id and row_id not in recorded]
        if missing:
            execute_values(cur, f"INSERT INTO {TABLE} (store_key, row_id, task_id, collection) VALUES %s "
                                "ON CONFLICT DO NOTHING", missing, page_size=1000)
    return {"records_removed": removed, "records_added": len(missing)}
