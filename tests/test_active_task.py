"""GET /tasks/active, the contract's three-way rule: the task with a running execution, else the most recently
finished one, else `data: null` (a task that never ran is neither).

States are arranged in our own database the way the executor leaves them (a `running` execution row; a final
status with its completion time), so each branch is reached deterministically and without waiting on a run.
"""
from __future__ import annotations

BASE = "/api/v0/data_pipeline/tasks"


def _create(client, name: str) -> str:
    resp = client.post(BASE, json={"task_name": name, "table_names": ["bss_company"]})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["task_id"]


def _finish(db, task_id: str, status: str, minutes_ago: int) -> None:
    db.execute("UPDATE data_pipeline_tasks SET status = %s, started_at = now() - make_interval(mins => %s + 1), "
               "completed_at = now() - make_interval(mins => %s) WHERE id = %s",
               (status, minutes_ago, minutes_ago, task_id))


def _active(client):
    resp = client.get(f"{BASE}/active")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["success"] is True
    return body["data"]


def test_active_is_running_else_latest_finished_else_null(client, app_ctx):
    db = app_ctx.db
    assert _active(client) is None                       # no task at all

    older, newer, never_run = (_create(client, n) for n in ("older", "newer", "never run"))
    assert _active(client) is None                       # only pending tasks: none ran, none finished

    _finish(db, older, "completed", minutes_ago=30)
    _finish(db, newer, "failed", minutes_ago=5)
    active = _active(client)
    assert active["task_id"] == newer and active["status"] == "failed"   # latest finished, failed or not
    assert active["current_step"] is None

    _finish(db, older, "completed", minutes_ago=1)       # finished again, more recently
    assert _active(client)["task_id"] == older

    db.execute("""INSERT INTO data_pipeline_task_executions (task_id, execution_id, execution_step, status)
                  VALUES (%s, %s, 'ddl_generation', 'running')""", (never_run, never_run + "_x"))
    db.execute("UPDATE data_pipeline_tasks SET status = 'in_progress', started_at = now() WHERE id = %s",
               (never_run,))
    active = _active(client)
    assert active["task_id"] == never_run                # running beats any finished task
    assert active["current_step"]["execution_id"] == never_run + "_x"
