"""Accessibility of every console page at a laptop (1366 px) and a phone (390 px) width (issue 25 #11).

axe-core runs in the page (vendored from the npm registry: tests/e2e/vendor/axe.min.js, axe-core 4.10.2, nothing
downloaded at test time) on the task list, the create form, a finished task's overview, logs and files tabs (with
a file preview open) and the not-found page: no serious or critical violation is allowed. Each page is also saved
as tests/artifacts/screens/25_<page>_<width>.png, and no page scrolls sideways.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import SCREENS, import_expect
from tests.e2e.test_console_ux import WIDTHS, unique, wait_finished

expect = import_expect()

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
AXE_VERSION = "4.10.2"
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def finished(console_server):
    created = console_server.api("POST", "data_pipeline/tasks", json={
        "task_name": unique("无障碍"), "business_context": "高速公路服务区管理系统",
        "table_names": ["bss_company", "bss_service_area", "bss_section_route"]})
    task_id = created["data"]["task_id"]
    assert console_server.api("POST", f"data_pipeline/tasks/{task_id}/execute", json={})["success"]
    wait_finished(console_server, task_id)
    return task_id


def axe_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    assert page.evaluate("axe.version") == AXE_VERSION
    result = page.evaluate("""async () => {
        const r = await axe.run(document, { resultTypes: ["violations"] });
        return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                        nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + n.failureSummary) }));
    }""")
    return [v for v in result if v["impact"] in BLOCKING]


def pages(base: str, task_id: str):
    """(name, url, what to wait for, optional action) per console page."""
    def open_preview(pg):
        pg.locator("tr[data-file$='_pair.json'] button", has_text="预览").click()
        expect(pg.locator("#file-preview .pairs-view")).to_be_visible()
    return [
        ("list", f"{base}/#/tasks", "tr[data-task-id]", None),
        ("create", f"{base}/#/create", "#table-list input[type=checkbox]", None),
        ("overview", f"{base}/#/tasks/{task_id}", ".step-card", None),
        ("logs", f"{base}/#/tasks/{task_id}/logs", "#log-view .log-line", None),
        ("files", f"{base}/#/tasks/{task_id}/files", "tr[data-file]", None),
        ("preview", f"{base}/#/tasks/{task_id}/files", "tr[data-file]", open_preview),
        ("notfound", f"{base}/#/nowhere", "h1", None),
    ]


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_every_page_has_no_serious_axe_violation(browser, console_server, finished, width):
    # bypass_csp: the console's Content-Security-Policy (rightly) refuses injected scripts such as axe
    context = browser.new_context(viewport=WIDTHS[width], locale="zh-CN", bypass_csp=True)
    context.set_default_timeout(20000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    found: dict[str, list] = {}
    SCREENS.mkdir(parents=True, exist_ok=True)
    try:
        for name, url, ready, action in pages(console_server.base_url, finished):
            page.goto(url)
            page.reload()   # a fresh document per page: axe and the router start clean
            expect(page.locator(ready).first).to_be_visible()
            if action:
                action(page)
            page.wait_for_timeout(300)
            page.screenshot(path=str(SCREENS / f"25_{name}_{width}.png"), full_page=True)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{name} at {width} px scrolls sideways by {overflow} px"
            bad = axe_violations(page)
            if bad:
                found[name] = bad
    finally:
        context.close()
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)
    assert not errors, errors
