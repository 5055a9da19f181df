"""Live updates: the detail page's conditional polls (304 while nothing changes) and event stream in a run; the
list page's conditional refresh while a listed task runs."""
from __future__ import annotations

import re

from tests.e2e.conftest import import_expect
from tests.e2e.test_console import unique

expect = import_expect()


def test_detail_page_revalidates_then_follows_events(page, console_server):
    created = console_server.api("POST", "data_pipeline/tasks", json={"task_name": unique("轮询"),
                                                                     "table_names": ["bss_company"]})
    task_id = created["data"]["task_id"]
    status_url = re.compile(rf"/api/v0/data_pipeline/tasks/{task_id}(\?.*)?$")
    seen: list[tuple[str, int]] = []
    page.on("response", lambda r: seen.append((r.url, r.status)) if status_url.search(r.url) else None)
    events: list[str] = []
    page.on("request", lambda r: events.append(r.url) if r.url.endswith(f"/{task_id}/events") else None)
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
    expect(page.locator(".head-status .badge")).to_have_text("待执行")
    page.wait_for_timeout(10000)  # an idle task is polled every 4.5 s: at least two polls
    full = [s for u, s in seen if "include=" in u]
    lean = [s for u, s in seen if "include=" not in u]
    assert full == [200], seen             # parameters and result once
    assert len(lean) >= 2 and lean.count(200) <= 1 and lean[-1] == 304, seen  # then 304s: nothing re-sent
    assert events == []                    # nothing runs: no stream
    page.get_by_role("button", name="执行", exact=True).click()
    # the page sees the run it started and switches to the task's event stream
    expect(page.locator(".head-status .badge")).to_have_text("已完成", timeout=60000)
    assert events, "the page never opened the event stream"
    expect(page.locator('section.step-card[data-step="training_load"] .badge')).to_have_text("已完成")


def test_list_page_refreshes_with_conditional_gets_while_a_task_runs(page, console_server):
    created = console_server.api("POST", "data_pipeline/tasks", json={"task_name": unique("列表轮询"),
                                                                     "table_names": ["bss_company"]})
    task_id = created["data"]["task_id"]
    # demo_delay_s holds the first step running without writing the task: the list stays the same meanwhile
    started = console_server.api("POST", f"data_pipeline/tasks/{task_id}/execute", json={"demo_delay_s": 60})
    assert started["success"], started
    seen: list[int] = []
    page.on("response", lambda r: seen.append(r.status) if "/api/v0/data_pipeline/tasks?" in r.url else None)
    try:
        page.goto(f"{console_server.base_url}/#/tasks")
        row = page.locator(f'tr[data-task-id="{task_id}"]')
        expect(row.locator(".badge")).to_have_text("执行中")
        expect(page.locator(".auto-refresh")).to_contain_text("自动刷新")
        page.wait_for_timeout(5000)  # refreshed every 2 s
        assert len(seen) >= 3 and seen[0] == 200 and seen[-1] == 304, seen  # unchanged: nothing re-sent
        expect(row.locator(".badge")).to_have_text("执行中")  # a 304 keeps the rendered rows
    finally:
        console_server.api("POST", f"data_pipeline/tasks/{task_id}/cancel")
    expect(row.locator(".badge")).to_have_text("已取消", timeout=30000)  # a change is still seen
    expect(page.locator(".auto-refresh")).to_have_text("")
