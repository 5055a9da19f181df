"""The evaluation report on a task's overview: headline tiles, per-level bars and the worst misses with their
SQL, from a real complete run with `enable_evaluation` (then re-evaluated in-process with the scripted LLM stub,
so the page also has execution accuracy and misses to show)."""
from __future__ import annotations

import json
import time
from dataclasses import replace

from core.llm import LLMClient
from data_pipeline.evaluation.holdout import read_holdout
from data_pipeline.steps import step_module
from tests.e2e.conftest import import_expect
from tests.e2e.test_console import unique
from tests.vector_fixtures import step_context

expect = import_expect()
TABLES = ["bss_company", "bss_service_area", "bss_car_day_count"]


def _wait_finished(server, task_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = server.api("GET", f"data_pipeline/tasks/{task_id}")["data"]
        if data["finished"]:
            return data
        time.sleep(0.5)
    raise AssertionError("the run did not finish")


def test_task_page_shows_the_evaluation_report(page, console_server, app_ctx, openai_stub, shot):
    created = console_server.api("POST", "data_pipeline/tasks", json={
        "task_name": unique("评估"), "table_names": TABLES, "enable_evaluation": True, "eval_holdout_ratio": 0.3})
    task_id = created["data"]["task_id"]
    console_server.api("POST", f"data_pipeline/tasks/{task_id}/execute", json={})
    final = _wait_finished(console_server, task_id)
    assert final["step_status"]["evaluation"] == "completed", final["error_message"]

    task_dir = app_ctx.task_dir(task_id)
    gold = {p["question"]: p["sql"] for p in read_holdout(task_dir)["pairs"]}
    right = set(sorted(gold)[::2])
    openai_stub.responder = lambda req: (
        f"```sql\n{gold[req['messages'][-1]['content']]}\n```" if req["messages"][-1]["content"] in right
        else "SELECT 'wrong' AS answer;")
    llm = LLMClient(app_ctx.settings.model_copy(update={"llm_base_url": openai_stub.base_url,
                                                        "llm_model": "stub-model", "llm_max_retries": 0}))
    ctx = step_context(app_ctx, task_id, params={"enable_evaluation": True})
    step_module("evaluation").run(replace(ctx, llm=llm, execution_id="e2e"))
    report = json.loads((task_dir / "evaluation_report.json").read_text(encoding="utf-8"))
    assert report["execution"]["status"] == "completed" and report["execution"]["misses"]

    page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
    section = page.locator("section[aria-label=评估报告]")
    expect(section).to_be_visible()
    expect(section.locator(".tile[data-key='table_recall@5']")).to_be_visible()
    expect(section.locator(".tile[data-key=ex]")).to_contain_text("%")
    expect(section.locator(".eval-bars").first.locator(".bar-row").first).to_be_visible()
    first_miss = section.locator(".eval-misses li").first
    expect(first_miss).to_contain_text("原因")
    expect(first_miss.locator("pre.sql").first).to_contain_text("标准：")
    shot(page, "15_evaluation_report")
    expect(page.locator("select[name=execution_mode] option[value=evaluation]")).to_have_count(1)
