"""SQL on data_pipeline_tasks (and the read-only views of executions the task API needs)."""
from __future__ import annotations

from typing import Any, Optional

import psycopg2.extras

from core.db import Database
from data_pipeline.store import jsonable

# the two durations (issue 13): the latest execution's wall time (live while it runs) and the sum over every
# execution; the task's own started_at..completed_at spans every re-run since the first start, so it is neither
DURATION_COLUMNS = """(SELECT COALESCE(e.duration, EXTRACT(EPOCH FROM (COALESCE(e.completed_at, now()) - e.started_at)))::float
     FROM data_pipeline_task_executions e WHERE e.task_id = data_pipeline_tasks.id
     ORDER BY e.started_at DESC, e.id DESC LIMIT 1) AS last_execution_duration,
    (SELECT sum(COALESCE(e.duration, EXTRACT(EPOCH FROM (COALESCE(e.completed_at, now()) - e.started_at))))::float
     FROM data_pipeline_task_executions e WHERE e.task_id = data_pipeline_tasks.id) AS total_execution_duration"""
TASK_COLUMNS = f"""id AS task_id, task_type, task_name, status, parameters, result, error_message, step_status,
    step_details, progress, output_directory, directory_exists, created_at, started_at, completed_at, updated_at,
    created_by, db_name, business_context, {DURATION_COLUMNS}"""

# Only the step warnings of `result` (what the status and list entries show of it), shaped like the result so
# the same code reads both: a poll or a list neither ships nor parses the rest of a result that grows with the task.
WARNINGS_ONLY_RESULT = """CASE WHEN jsonb_typeof(result->'steps') = 'object' THEN jsonb_build_object('steps',
        (SELECT COALESCE(jsonb_object_agg(s.key, jsonb_build_object('warnings', s.value->'warnings')), '{}'::jsonb)
         FROM jsonb_each(result->'steps') s WHERE jsonb_typeof(s.value) = 'object' AND s.value ? 'warnings'))
    END AS result"""

# list entries are summaries: no parameters, whole result or per-step details (the heavy JSON columns)
LIST_COLUMNS = f"""id AS task_id, task_type, task_name, status, error_message, step_status, progress, output_directory,
    created_at, started_at, completed_at, updated_at, created_by, db_name, {DURATION_COLUMNS},
    {WARNINGS_ONLY_RESULT}"""

SORTABLE = {"created_at", "started_at", "completed_at", "updated_at", "status", "task_name", "progress", "id"}


def insert_task(db: Database, *, task_id: str, task_type: str, task_name: Optional[str], parameters: dict,
                output_directory: str, created_by: Optional[str], db_name: Optional[str],
                business_context: Optional[str]) -> Optional[dict]:
    """Insert a pending task; None when the id is taken or was ever taken (data_pipeline_task_ids keeps every id
    given out, deleted tasks' too): the caller tries the next suffix."""
    return jsonable(db.fetchone(
        f"""WITH claimed AS (
                INSERT INTO data_pipeline_task_ids (task_id) VALUES (%(id)s)
                ON CONFLICT (task_id) DO NOTHING RETURNING task_id)
            INSERT INTO data_pipeline_tasks (id, task_type, task_name, parameters, output_directory, created_by,
                                             db_name, business_context)
            SELECT %(id)s, %(task_type)s, %(task_name)s, %(parameters)s, %(output_directory)s, %(created_by)s,
                   %(db_name)s, %(business_context)s
            FROM claimed
            ON CONFLICT (id) DO NOTHING
            RETURNING {TASK_COLUMNS}""",
        dict(id=task_id, task_type=task_type, task_name=task_name, parameters=psycopg2.extras.Json(parameters),
             output_directory=output_directory, created_by=created_by, db_name=db_name,
             business_context=business_context)))


def show_step(db: Database, task_id: str, step: str) -> None:
    """Add an optional step to a task's step_status as `pending` (a task created with it switched on shows it
    from the start, in every read of the row); nothing when it is there already."""
    db.execute("""UPDATE data_pipeline_tasks SET step_status = step_status || jsonb_build_object(%(step)s::text, 'pending')
                  WHERE id = %(id)s AND NOT step_status ? %(step)s""", {"id": task_id, "step": step})


def get_task(db: Database, task_id: str) -> Optional[dict]:
    return jsonable(db.fetchone(f"SELECT {TASK_COLUMNS} FROM data_pipeline_tasks WHERE id = %(id)s",
                                {"id": task_id}))


# The status GET's one statement: the task row, its running execution (if any) and a version of both (md5 of
# their text, computed by the server) that becomes the ETag. Read in autocommit: one round trip. `parameters` and
# the whole `result` are read only when the answer includes them.
HEAVY_COLUMNS = ("parameters", "result")
_STATUS_SQL = """SELECT {columns}, r.run_execution_id, r.run_step, r.run_status, r.run_started_at, r.run_mode,
        md5(data_pipeline_tasks::text || COALESCE(r::text, '')) AS version
    FROM data_pipeline_tasks
    LEFT JOIN LATERAL (SELECT e.execution_id AS run_execution_id, e.execution_step AS run_step,
                              e.status AS run_status, e.started_at AS run_started_at, e.execution_mode AS run_mode
                       FROM data_pipeline_task_executions e
                       WHERE e.task_id = data_pipeline_tasks.id AND e.status = 'running'
                       ORDER BY e.started_at DESC LIMIT 1) r ON TRUE
    WHERE data_pipeline_tasks.id = %(id)s"""


def _status_sql(include: tuple[str, ...]) -> str:
    lean = TASK_COLUMNS.replace("parameters, result, ", "", 1)
    assert lean != TASK_COLUMNS, "TASK_COLUMNS changed: update _status_sql"
    extra = ["parameters"] if "parameters" in include else []
    extra.append("result" if "result" in include else WARNINGS_ONLY_RESULT)
    return _STATUS_SQL.format(columns=", ".join([lean, *extra]))


_STATUS_SQL_BY_INCLUDE = {inc: _status_sql(inc) for inc in ((), ("parameters",), ("result",),
                                                            ("parameters", "result"))}


def task_with_running(db: Database, task_id: str, include: tuple[str, ...] = ()
                      ) -> Optional[tuple[dict, Optional[dict], str]]:
    """(task row, running execution or None, version) in one round trip; None when the task does not exist.
    `include`: which of HEAVY_COLUMNS to read whole (without them `result` holds only the step warnings)."""
    key = tuple(c for c in HEAVY_COLUMNS if c in include)
    row = jsonable(db.read_one(_STATUS_SQL_BY_INCLUDE[key], {"id": task_id}))
    if row is None:
        return None
    run = {k[4:]: row.pop(k) for k in [k for k in row if k.startswith("run_")]}
    running = None
    if run["execution_id"] is not None:
        running = {"execution_id": run["execution_id"], "execution_step": run["step"], "status": run["status"],
                   "started_at": run["started_at"], "execution_mode": run["mode"]}
    return row, running, row.pop("version")


def delete_task(db: Database, task_id: str) -> bool:
    """Delete unless it has a running execution (checked in the same statement). True when deleted."""
    row = db.fetchone(
        """DELETE FROM data_pipeline_tasks t WHERE t.id = %(id)s
           AND NOT EXISTS (SELECT 1 FROM data_pipeline_task_executions e
                           WHERE e.task_id = t.id AND e.status = 'running')
           RETURNING t.id""", {"id": task_id})
    return row is not None


def update_parameters(db: Database, task_id: str, changes: dict, business_context: Optional[str] = None) -> None:
    """Merge `changes` into parameters (e.g. table list uploaded -> file_upload_mode false)."""
    db.execute(
        """UPDATE data_pipeline_tasks SET parameters = parameters || %(changes)s,
               business_context = COALESCE(%(bc)s, business_context), updated_at = now()
           WHERE id = %(id)s""",
        {"id": task_id, "changes": psycopg2.extras.Json(changes), "bc": business_context})


def list_tasks(db: Database, *, limit: int, offset: int, filters: dict[str, Any]) -> tuple[list[dict], int]:
    """Newest first; `filters` as in `query_tasks`."""
    where, params = _filter_clause(filters)
    rows = db.fetchall(
        f"""SELECT {LIST_COLUMNS}, count(*) OVER () AS _total FROM data_pipeline_tasks {where}
            ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s""",
        {**params, "limit": limit, "offset": offset})
    total = rows[0]["_total"] if rows else _count(db, where, params)
    return [jsonable({k: v for k, v in r.items() if k != "_total"}) for r in rows], total


def _count(db: Database, where: str, params: dict) -> int:
    return db.fetchone(f"SELECT count(*) AS n FROM data_pipeline_tasks {where}", params)["n"]


def query_tasks(db: Database, *, filters: dict[str, Any], page: int, page_size: int, sort_by: str,
                sort_order: str) -> tuple[list[dict], int]:
    where, params = _filter_clause(filters)
    column = sort_by if sort_by in SORTABLE else "created_at"
    direction = "ASC" if sort_order.lower() == "asc" else "DESC"
    rows = db.fetchall(
        f"""SELECT {LIST_COLUMNS} FROM data_pipeline_tasks {where}
            ORDER BY {column} {direction} NULLS LAST, id {direction} LIMIT %(limit)s OFFSET %(offset)s""",
        {**params, "limit": page_size, "offset": (page - 1) * page_size})
    return [jsonable(r) for r in rows], _count(db, where, params)


def _filter_clause(filters: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Filters: status, task_name (case-insensitive contains), created_by, db_name, created_time_start/end."""
    clauses, params = [], {}
    if filters.get("status"):
        clauses.append("status = %(status)s")
        params["status"] = filters["status"]
    if filters.get("task_name"):
        clauses.append("task_name ILIKE %(task_name)s ESCAPE '\\'")
        params["task_name"] = "%" + _like_escape(filters["task_name"]) + "%"
    for key in ("created_by", "db_name"):
        if filters.get(key):
            clauses.append(f"{key} = %({key})s")
            params[key] = filters[key]
    if filters.get("created_time_start"):
        clauses.append("created_at >= %(start)s")
        params["start"] = filters["created_time_start"]
    if filters.get("created_time_end"):
        clauses.append("created_at <= %(end)s")
        params["end"] = filters["created_time_end"]
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def active_task(db: Database) -> Optional[dict]:
    """The task with a running execution, else the most recently finished one, else None (a task that never
    ran, still `pending`, is neither)."""
    return jsonable(db.fetchone(
        f"""SELECT {TASK_COLUMNS} FROM data_pipeline_tasks
            WHERE data_pipeline_tasks.status <> 'pending'
               OR EXISTS (SELECT 1 FROM data_pipeline_task_executions e
                          WHERE e.task_id = data_pipeline_tasks.id AND e.status = 'running')
            ORDER BY EXISTS (SELECT 1 FROM data_pipeline_task_executions e
                             WHERE e.task_id = data_pipeline_tasks.id AND e.status = 'running') DESC,
                     (data_pipeline_tasks.status = 'in_progress') DESC,
                     COALESCE(data_pipeline_tasks.completed_at, data_pipeline_tasks.started_at) DESC NULLS LAST,
                     data_pipeline_tasks.created_at DESC
            LIMIT 1"""))


EXECUTION_COLUMNS = """execution_id, task_id, execution_step, execution_mode, status, started_at, completed_at,
    COALESCE(duration, EXTRACT(EPOCH FROM (COALESCE(completed_at, now()) - started_at))) AS duration,
    error_message, execution_result, options, force_executed, files_cleaned, pid, host, heartbeat_at"""


def list_executions(db: Database, task_id: str) -> list[dict]:
    return [jsonable(r) for r in db.fetchall(
        f"""SELECT {EXECUTION_COLUMNS} FROM data_pipeline_task_executions WHERE task_id = %(id)s
            ORDER BY started_at DESC, id DESC""", {"id": task_id})]


def running_execution(db: Database, task_id: str) -> Optional[dict]:
    return jsonable(db.fetchone(
        f"""SELECT {EXECUTION_COLUMNS} FROM data_pipeline_task_executions
            WHERE task_id = %(id)s AND status = 'running'""", {"id": task_id}))
