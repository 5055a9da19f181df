"""Truthful status in the console (issue 13): the yellow 部分完成 badge with the run's warnings (object names link
to their log lines), the latest run's duration apart from the total, and quality tiles that follow the run — after
a cancelled run they show that run's state, not the numbers of the run before."""
from __future__ import annotations

import re

from tests.e2e.conftest import import_expect
from tests.e2e.test_console import unique
from tests.status_fixture_db import status_fixture

expect = import_expect()


def wait_finished(server, task_id: str, page) -> dict:
    """Poll the status endpoint the way clients should: until `finished`."""
    for _ in range(600):
        data = server.api("GET", f"data_pipeline/tasks/{task_id}?include=result")["data"]
        if data["finished"]:
            return data
        page.wait_for_timeout(200)
    raise AssertionError(f"task {task_id} did not finish")


def test_partial_run_shows_badge_warnings_and_log_links(page, console_server, app_ctx, shot):
    _, reader = status_fixture(app_ctx)
    created = console_server.api("POST", "data_pipeline/tasks", json={
        "task_name": unique("部分完成"), "table_names": ["customers", "orders", "suppliers", "payments"],
        "db_connection": reader, "allow_unreadable_tables": True, "enable_sql_validation": False,
        "enable_training_data_load": False})
    assert created["success"], created
    task_id = created["data"]["task_id"]
    assert console_server.api("POST", f"data_pipeline/tasks/{task_id}/execute", json={})["success"]
    first = wait_finished(console_server, task_id, page)
    assert first["status"] == "partial_completed", first
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
    badge = page.locator(".head-status .badge")
    expect(badge).to_have_text("部分完成")
    assert badge.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(253, 240, 213)"   # yellow
    expect(page.locator(".detail-head .warn-box")).to_contain_text("2 张表当前数据库账号无读取权限")
    item = page.locator('section[aria-label=警告] li[data-code="TABLES_UNREADABLE"]')
    expect(item).to_contain_text("2 of 4 tables cannot be read")
    expect(item.locator("a.obj")).to_have_text(["public.suppliers", "public.payments"])
    expect(page.locator(".durations")).to_have_text(re.compile(r"^本次耗时 \d"))
    shot(page, "13_partial_completed_warnings")

    # a second run of one step: the header shows that run's time and the total separately
    assert console_server.api("POST", f"data_pipeline/tasks/{task_id}/execute",
                              json={"execution_mode": "step", "step_name": "qa_generation"})["success"]
    second = wait_finished(console_server, task_id, page)
    expect(page.locator(".durations")).to_contain_text("累计", timeout=15000)
    assert second["duration"] < second["total_duration"]

    # an object name opens the log tab searching for it
    page.locator('section[aria-label=警告] a.obj', has_text="public.suppliers").click()
    page.wait_for_url(re.compile(r"/logs\?q=public\.suppliers$"))
    expect(page.get_by_label("关键词")).to_have_value("public.suppliers")
    expect(page.locator(".log-status")).to_contain_text("搜索结果")
    expect(page.locator("#log-view .log-line").first).to_contain_text("public.suppliers")


def test_quality_tiles_show_the_cancelled_runs_state(page, console_server, slow_llm_server, shot):
    """A rule-based run makes pairs and tiles; a second (slow, LLM) run cancelled in its first step leaves the
    tiles without numbers, since the pairs on disk are the first run's."""
    created = console_server.api("POST", "data_pipeline/tasks", json={
        "task_name": unique("取消后指标"), "table_names": ["bss_company", "bss_service_area", "bss_car_day_count"],
        "enable_training_data_load": False})
    task_id = created["data"]["task_id"]
    assert console_server.api("POST", f"data_pipeline/tasks/{task_id}/execute", json={})["success"]
    first = wait_finished(console_server, task_id, page)
    pairs = first["result"]["quality"]["pairs_out"]
    assert first["status"] in ("completed", "partial_completed") and pairs > 0, first

    page.goto(f"{slow_llm_server.base_url}/#/tasks/{task_id}")
    tiles = page.locator("section[aria-label=质量报告] .tile")
    expect(tiles.first.locator(".tile-value")).to_have_text(str(pairs))
    page.get_by_role("button", name="执行", exact=True).click()
    expect(page.locator(".step-card.s-running")).to_have_count(1, timeout=20000)
    # the new run's page no longer shows the old numbers while it runs
    expect(tiles).to_have_count(0)
    page.get_by_role("button", name="取消执行").click()
    page.get_by_role("alertdialog").get_by_role("button", name="确认取消执行").click()
    expect(page.locator(".head-status .badge")).to_have_text("已取消", timeout=30000)
    expect(page.locator(".quality-note")).to_contain_text("后显示问答对指标")   # in words (issue 25)
    expect(tiles.first.locator(".tile-value")).to_have_text("—")
    data = slow_llm_server.api("GET", f"data_pipeline/tasks/{task_id}?include=result")["data"]
    assert data["finished"] is True and data["result"]["quality"]["pairs_out"] is None
    assert data["result"]["quality"]["status"] == "not_run"
    shot(page, "14_cancelled_run_tiles")
