"""The executor process started ahead of its execution (issue 26; data_pipeline/executor/standby.py): real
processes, the session's embedded PostgreSQL and demo database."""
from __future__ import annotations

import pytest

from core.task_logging import LOG_FILE_NAME
from data_pipeline.executor import launcher, standby
from data_pipeline.executor.process import pid_alive, runs_execution
from data_pipeline.store import executions as execution_store
from tests.executor_support import wait_final, wait_for, wait_step_running
from tests.test_executor import create, execute, run_client  # noqa: F401 - run_client is a fixture

# refused by the executor's argument check (exit code 2, the reason in the task's log): a whole run in no time
FOREIGN_EXECUTION = "task_20250102_000000_step_complete_x"


@pytest.fixture()
def no_delay(monkeypatch):
    monkeypatch.setattr(standby, "START_DELAY_S", 0)
    yield
    standby.discard()


def _waiting_process():
    return wait_for(lambda: standby._waiting, 60, 0.05, "the process started ahead")[1]


def test_the_process_started_ahead_runs_the_next_execution_into_its_task_log(settings, tmp_path, no_delay):
    first = launcher.spawn_executor(settings, tmp_path / "task_20250101_000001", task_id="task_20250101_000001",
                                    execution_id=FOREIGN_EXECUTION, mode="complete", step=None)
    assert first.wait(120) == 2
    waiting = _waiting_process()
    assert waiting.pid != first.pid and waiting.poll() is None
    task_dir = tmp_path / "task_20250101_000002"
    second = launcher.spawn_executor(settings, task_dir, task_id="task_20250101_000002",
                                     execution_id=FOREIGN_EXECUTION, mode="complete", step=None)
    assert second is waiting                                     # no new process for this execution
    assert second.wait(120) == 2                                 # it ran main() on the arguments it was given
    assert "--execution-id does not belong to --task-id" in (task_dir / LOG_FILE_NAME).read_text()
    assert _waiting_process() is not second                      # and the next one is on its way


def test_no_process_is_started_ahead_when_disabled_or_for_other_settings(settings, tmp_path, no_delay):
    off = settings.model_copy(update={"executor_standby": False})
    proc = launcher.spawn_executor(off, tmp_path / "task_20250101_000003", task_id="task_20250101_000003",
                                   execution_id=FOREIGN_EXECUTION, mode="complete", step=None)
    assert proc.wait(120) == 2 and standby._waiting is None
    launcher.spawn_executor(settings, tmp_path / "task_20250101_000004", task_id="task_20250101_000004",
                            execution_id=FOREIGN_EXECUTION, mode="complete", step=None).wait(120)
    waiting = _waiting_process()
    other = settings.model_copy(update={"heartbeat_interval_s": 3.0})    # another environment: not this one
    proc = launcher.spawn_executor(other, tmp_path / "task_20250101_000005", task_id="task_20250101_000005",
                                   execution_id=FOREIGN_EXECUTION, mode="complete", step=None)
    assert proc is not waiting and proc.wait(120) == 2
    wait_for(lambda: not pid_alive(waiting.pid), 60, 0.05, "the dropped process to exit")
    assert waiting.returncode == 0                               # its pipe closed: a quiet exit


def test_an_execution_run_ahead_is_tracked_proven_and_cancelled(run_client, app_ctx, no_delay):
    warm = create(run_client)
    assert execute(run_client, warm, execution_mode="step", step_name="ddl_generation").status_code == 202
    waiting = _waiting_process()
    wait_final(run_client, warm, 120)
    task_id = create(run_client)
    resp = execute(run_client, task_id, execution_mode="step", step_name="ddl_generation", demo_delay_s=60)
    assert resp.status_code == 202, resp.get_json()
    execution_id = resp.get_json()["data"]["execution_id"]
    wait_step_running(run_client, task_id, "ddl_generation")
    assert execution_store.get_execution(app_ctx.db, execution_id)["pid"] == waiting.pid
    assert runs_execution(waiting.pid, execution_id)             # its output is this task's log
    assert not runs_execution(waiting.pid, f"{warm}_step_ddl_generation_exec_20250101_000000")
    body = run_client.post(f"/api/v0/data_pipeline/tasks/{task_id}/cancel").get_json()["data"]
    assert body["status"] == "cancelled" and body["forced"] is False, body    # SIGTERM cancelled it cleanly
    assert waiting.wait(60) == 3


def test_the_bytecode_cache_appearing_does_not_drop_the_waiting_process():
    env = {"LOG_LEVEL": "INFO", "PYTHONDONTWRITEBYTECODE": "1"}
    warmed = {"LOG_LEVEL": "INFO", "PYTHONPYCACHEPREFIX": "/data/cache/pycache"}
    assert standby._key(["python", "x.py"], env) == standby._key(["python", "x.py"], warmed)
    assert standby._key(["python", "x.py"], env) != standby._key(["python", "x.py"], {"LOG_LEVEL": "DEBUG"})


def test_a_worker_starts_the_process_for_its_first_execution(settings, tmp_path, no_delay):
    """prime_standby (gunicorn's post_worker_init): the first execution after the service starts is handed to a
    process started ahead too, not spawned."""
    launcher.prime_standby(settings)
    waiting = _waiting_process()
    proc = launcher.spawn_executor(settings, tmp_path / "task_20250101_000006", task_id="task_20250101_000006",
                                   execution_id=FOREIGN_EXECUTION, mode="complete", step=None)
    assert proc is waiting and proc.wait(120) == 2
