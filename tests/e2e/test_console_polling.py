"""The detail page's live updates: conditional polls (304 while nothing changes) and the event stream in a run."""
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
