"""SQL on data_pipeline_task_outputs: the registry of files a step (or an upload) produced in a task directory.

One row per (task_id, file_name); `file_name` is relative to the task directory (e.g. `db_highway_db.ddl`,
`vector_bak/langchain_pg_embedding_20250101_120000.csv`) and `file_path` stores the same relative path
(never an absolute path: rows are returned to clients).
"""
from __future__ import annotations

from typing import Iterable, Optional

from core.db import Database
from data_pipeline.store import jsonable

OUTPUT_COLUMNS = """task_id, execution_id, step_name, file_type, file_name, file_path, file_size, content_hash,
    description, created_at, modified_at, is_primary, is_downloadable"""


_UPSERT = f"""INSERT INTO data_pipeline_task_outputs
        (task_id, execution_id, step_name, file_type, file_name, file_path, file_size, content_hash,
         description, is_primary)
    VALUES (%(task_id)s, %(execution_id)s, %(step_name)s, %(file_type)s, %(file_name)s, %(file_name)s,
            %(file_size)s, %(content_hash)s, %(description)s, %(is_primary)s)
    ON CONFLICT (task_id, file_name) DO UPDATE SET
        execution_id = EXCLUDED.execution_id,
        step_name    = COALESCE(EXCLUDED.step_name, data_pipeline_task_outputs.step_name),
        file_type    = EXCLUDED.file_type,
        file_size    = EXCLUDED.file_size,
        content_hash = EXCLUDED.content_hash,
        description  = COALESCE(NULLIF(EXCLUDED.description, ''), data_pipeline_task_outputs.description),
        is_primary   = EXCLUDED.is_primary,
        modified_at  = now()
    RETURNING {OUTPUT_COLUMNS}"""


def _output_params(task_id: str, execution_id: Optional[str], step_name: Optional[str], file_name: str,
                   file_type: str, file_size: int, content_hash: Optional[str], description: Optional[str],
                   is_primary: bool) -> dict:
    return dict(task_id=task_id, execution_id=execution_id, step_name=step_name, file_type=file_type,
                file_name=file_name, file_size=int(file_size), content_hash=content_hash, description=description,
                is_primary=bool(is_primary))


def upsert_output(db: Database, *, task_id: str, execution_id: Optional[str], step_name: Optional[str],
                  file_name: str, file_type: str, file_size: int, content_hash: Optional[str],
                  description: Optional[str], is_primary: bool) -> dict:
    """Insert or refresh the row of one output file; created_at is kept from the first insert.

    `execution_id` must be an existing execution id or None (the column is a foreign key).
    """
    return jsonable(db.fetchone(_UPSERT, _output_params(task_id, execution_id, step_name, file_name, file_type,
                                                        file_size, content_hash, description, is_primary)))


def upsert_outputs(db: Database, task_id: str, execution_id: Optional[str], files: Iterable[dict]) -> list[dict]:
    """`upsert_output` for many files of one task in ONE transaction (a step registers dozens of files at its
    end: one commit instead of one per file). Each file: the keyword arguments of upsert_output but task/execution."""
    rows = []
    with db.cursor() as cur:
        for f in files:
            cur.execute(_UPSERT, _output_params(task_id, execution_id, f["step_name"], f["file_name"], f["file_type"],
                                                f["file_size"], f["content_hash"], f["description"],
                                                f["is_primary"]))
            rows.append(jsonable(dict(cur.fetchone())))
    return rows


def list_outputs(db: Database, task_id: str) -> list[dict]:
    """All output rows of a task, by file name."""
    return [jsonable(r) for r in db.fetchall(
        f"SELECT {OUTPUT_COLUMNS} FROM data_pipeline_task_outputs WHERE task_id = %(id)s ORDER BY file_name",
        {"id": task_id})]


def get_output(db: Database, task_id: str, file_name: str) -> Optional[dict]:
    return jsonable(db.fetchone(
        f"""SELECT {OUTPUT_COLUMNS} FROM data_pipeline_task_outputs
            WHERE task_id = %(id)s AND file_name = %(name)s""", {"id": task_id, "name": file_name}))


def uploaded_bytes(db: Database, task_id: str) -> int:
    """Bytes of the task's files that clients put there (uploads, their backups, table lists: no execution)."""
    row = db.fetchone("""SELECT COALESCE(sum(file_size), 0) AS n FROM data_pipeline_task_outputs
                         WHERE task_id = %(id)s AND execution_id IS NULL""", {"id": task_id})
    return int(row["n"]) if row else 0


def delete_outputs(db: Database, task_id: str, file_names: Iterable[str]) -> int:
    """Delete the rows of the given files (e.g. before a step re-run cleans its files). Returns the row count."""
    names = list(file_names)
    if not names:
        return 0
    return db.execute(
        "DELETE FROM data_pipeline_task_outputs WHERE task_id = %(id)s AND file_name = ANY(%(names)s)",
        {"id": task_id, "names": names})


def delete_step_outputs(db: Database, task_id: str, step_name: str) -> int:
    """Delete every row recorded for one step of a task. Returns the row count."""
    return db.execute(
        "DELETE FROM data_pipeline_task_outputs WHERE task_id = %(id)s AND step_name = %(step)s",
        {"id": task_id, "step": step_name})


def delete_task_outputs(db: Database, task_id: str) -> int:
    return db.execute("DELETE FROM data_pipeline_task_outputs WHERE task_id = %(id)s", {"id": task_id})
