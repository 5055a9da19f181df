"""A task's vector rows: delete the ones only it owns, and re-align the records after a restore.

Ownership model: every row a task loads gets a record (store, row id, task) in our metadata database; the same
text loaded by two tasks is one row with two records. A task's delete with `delete_vectors` removes the rows
whose only record is its own, in one store transaction, and answers 409 while a load or restore writes the store.
"""
from __future__ import annotations

import logging

from core.errors import TaskAlreadyRunning
from data_pipeline.store import vector as vector_sql
from data_pipeline.store import vector_owners
from data_pipeline.vectors import target as vector_target

log = logging.getLogger(__name__)


def delete_task_rows(settings, meta_db, task_id: str, params: dict, business_url: str = "") -> dict:
    """Remove the rows only `task_id` owns from its vector store, then its records. Returns counts."""
    target = vector_target.for_task(settings, meta_db.url, params, business_url)
    deleted, shared = 0, set()
    with vector_target.open_store(target, meta_db) as store_db:
        with store_db.connection() as conn, conn.cursor() as cur:
            if vector_sql.tables_exist(cur):
                if not vector_sql.lock_writers(cur, wait=False):
                    raise TaskAlreadyRunning("a training load or restore is writing the vector store; retry when "
                                             "it ends", message="向量表正在写入，请稍后再删除")
                # read under the writer lock: a load that starts now waits, one that ended is in the records
                mine = vector_owners.task_rows(meta_db, target.store_key, task_id)
                shared = vector_owners.shared_with_others(meta_db, target.store_key, task_id, mine)
                deleted = vector_sql.delete_ids(cur, [row_id for row_id in mine if row_id not in shared])
        vector_owners.remove_task(meta_db, target.store_key, task_id)
    others = [key for key in vector_owners.stores_of_task(meta_db, task_id) if key != target.store_key]
    log.info("task %s: deleted %d vector rows only it owned in %s, kept %d shared with other tasks", task_id,
             deleted, target.label, len(shared))
    return {"vector_store": target.label, "vector_rows_deleted": deleted, "vector_rows_kept_shared": len(shared),
            # records in stores this task no longer points at (e.g. VECTOR_DB_URL changed since): not reachable
            "vector_stores_not_cleaned": others}


def reconcile_after_restore(meta_db, store_db, target) -> dict:
    """Records of rows a restore removed go; restored rows nobody recorded belong to their cmetadata task_id."""
    with store_db.connection() as conn, conn.cursor() as cur:
        present = vector_sql.row_index(cur)
    return vector_owners.reconcile(meta_db, target.store_key, present)
