"""Seed 002's Python client (its `DataPipelineAPI`, kept as the seed wrote it) polls until the task ends. The seed's
loop stops on `completed` / `failed` only, so it would spin forever on `partial_completed` or `cancelled`; with the
one change the README asks for — poll until `finished` — it ends on every terminal state. Real API server
processes (gunicorn), real executors, the demo database; the cancelled run uses the LLM stub with latency so it is
still running when the cancel arrives."""
from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.executor_support import comments_responder, llm_overrides, stop_executors, wait_for
from tests.openai_stub import OpenAIStub
from tests.server_process import ServerProcess


class DataPipelineAPI:
    """Seed 002 §Python client, verbatim except `poll_task_status` (and `interval` passed through)."""

    def __init__(self, base_url='http://localhost:8084'):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers.update({
            'Content-Type': 'application/json'
        })

    def create_task(self, **params):
        """创建任务"""
        response = self.session.post(
            f'{self.base_url}/api/v0/data_pipeline/tasks',
            json=params
        )
        response.raise_for_status()
        return response.json()

    def execute_task(self, task_id, execution_mode='complete', step_name=None):
        """执行任务"""
        params = {'execution_mode': execution_mode}
        if step_name:
            params['step_name'] = step_name

        response = self.session.post(
            f'{self.base_url}/api/v0/data_pipeline/tasks/{task_id}/execute',
            json=params
        )
        response.raise_for_status()
        return response.json()

    def get_task_status(self, task_id):
        """获取任务状态"""
        response = self.session.get(
            f'{self.base_url}/api/v0/data_pipeline/tasks/{task_id}'
        )
        response.raise_for_status()
        return response.json()

    def poll_task_status(self, task_id, interval=5):
        """轮询任务状态直到结束（finished 为 true：completed / partial_completed / failed / cancelled）"""
        while True:
            result = self.get_task_status(task_id)
            status = result['data']['status']

            print(f"任务状态: {status}")

            if result['data']['finished']:
                if status == 'failed':
                    raise Exception(f"任务执行失败: {result['data'].get('error_message', '未知错误')}")
                return result

            time.sleep(interval)


def poll_within(api: DataPipelineAPI, task_id: str, timeout: float = 120) -> dict:
    """Run the client's loop in a daemon thread: a loop that never ends fails the test instead of hanging it."""
    box: dict = {}

    def loop():
        try:
            box["result"] = api.poll_task_status(task_id, interval=0.2)
        except Exception as exc:  # noqa: BLE001 - the seed client's way of reporting `failed`
            box["error"] = exc
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"the polling loop did not end within {timeout} s"
    return box


@pytest.fixture()
def servers(settings, app_ctx, clean_db):
    """A rule-based API server and one whose LLM calls take 1.5 s each (both real processes, same data home)."""
    with OpenAIStub(latency=1.5) as stub:
        stub.responder = comments_responder
        plain = ServerProcess(settings.data_home, "seed_client_plain").start()
        slow = ServerProcess(settings.data_home, "seed_client_slow", **llm_overrides(stub, cancel_grace_s=1.0))
        try:
            slow.start()
            yield DataPipelineAPI(plain.base_url), DataPipelineAPI(slow.base_url)
        finally:
            stop_executors(app_ctx.db)
            slow.stop()
            plain.stop()


def test_seed_002_client_ends_on_every_terminal_state_when_it_polls_finished(servers):
    api, slow_api = servers
    quick = {"enable_sql_validation": False, "enable_training_data_load": False}

    task_id = api.create_task(table_names=["bss_company"], **quick)["data"]["task_id"]
    api.execute_task(task_id, 'complete')
    box = poll_within(api, task_id)
    assert box["result"]["data"]["status"] == "completed"

    task_id = api.create_task(table_names=["bss_company"], **quick)["data"]["task_id"]
    api.execute_task(task_id, 'step', 'ddl_generation')          # later steps stay pending
    box = poll_within(api, task_id)
    assert box["result"]["data"]["status"] == "partial_completed"   # the seed's own loop never ends here

    task_id = api.create_task(table_names=["bss_company"], **quick)["data"]["task_id"]
    forced = api.session.post(f"{api.base_url}/api/v0/data_pipeline/tasks/{task_id}/execute",
                              json={"execution_mode": "step", "step_name": "qa_generation", "force_execute": True})
    assert forced.status_code == 202
    box = poll_within(api, task_id)
    assert "任务执行失败" in str(box["error"])                        # nothing was produced: failed

    task_id = slow_api.create_task(table_names=["bss_company", "bss_service_area", "bss_car_day_count"])["data"][
        "task_id"]
    slow_api.execute_task(task_id, 'step', 'ddl_generation')
    wait_for(lambda: slow_api.get_task_status(task_id)["data"]["step_status"]["ddl_generation"] == "running",
             60, 0.1, "ddl_generation to run")
    cancelled = slow_api.session.post(f"{slow_api.base_url}/api/v0/data_pipeline/tasks/{task_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    box = poll_within(slow_api, task_id)
    assert box["result"]["data"]["status"] == "cancelled"            # the seed's own loop never ends here either
