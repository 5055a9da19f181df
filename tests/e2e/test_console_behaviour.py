"""Console behaviours in a real browser: untrusted Markdown, API_TOKEN, keyboard use, pages that follow runs, paging."""
from __future__ import annotations

import requests

from tests.e2e.conftest import import_expect
from tests.e2e.test_console import unique

expect = import_expect()

EVIL_MD = """# 标题 <img src=x onerror="window.__pwned=1">

<script>window.__pwned = 2</script>

| 列 | 说明 |
|---|---|
| id | <b onmouseover="window.__pwned=3">主键</b> |

[点我](javascript:window.__pwned=4) 和 [正常链接](https://example.com/doc)
"""


def test_markdown_preview_renders_untrusted_text_inert(page, console_server, shot):
    created = console_server.api("POST", "data_pipeline/tasks", json={"task_name": unique("预览安全"),
                                                                     "table_names": ["bss_company"]})
    task_id = created["data"]["task_id"]
    files = {"file": ("evil_notes.md", EVIL_MD.encode("utf-8"), "text/markdown")}
    up = requests.post(f"{console_server.base_url}/api/v0/data_pipeline/tasks/{task_id}/files", files=files,
                       timeout=30).json()
    assert up["success"], up
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}/files")
    page.get_by_role("button", name="预览 evil_notes.md").click()
    md = page.locator("#file-preview .md")
    expect(md.locator("h2")).to_contain_text("<img src=x")  # markup shown as text
    expect(md.locator("table td").nth(1)).to_contain_text('<b onmouseover="window.__pwned=3">主键</b>')
    assert md.locator("img, script, b").count() == 0
    # only the http(s) link became a link
    links = md.locator("a")
    expect(links).to_have_count(1)
    expect(links.first).to_have_attribute("href", "https://example.com/doc")
    md.locator("table td").nth(1).hover()
    assert page.evaluate("window.__pwned") is None
    shot(page, "09_markdown_untrusted")


def test_token_protected_api_asks_for_the_token(page, token_server, shot):
    headers = {"Authorization": f"Bearer {token_server.token}"}
    created = requests.post(f"{token_server.base_url}/api/v0/data_pipeline/tasks", headers=headers, timeout=30,
                            json={"task_name": unique("令牌"), "table_names": ["bss_company"]}).json()
    task_id = created["data"]["task_id"]
    page.goto(f"{token_server.base_url}/#/tasks")
    expect(page.locator(".error-box")).to_contain_text("UNAUTHORIZED")
    page.get_by_label("此服务需要 API 令牌：").fill(token_server.token)
    page.get_by_role("button", name="保存并重试").click()
    expect(page.locator(f'tr[data-task-id="{task_id}"]')).to_be_visible()
    # a download link goes through fetch with the header (a plain link would get 401)
    page.goto(f"{token_server.base_url}/#/tasks/{task_id}/files")
    with page.expect_download() as dl_info:
        page.get_by_role("link", name="下载 table_list.txt").click()
    assert "bss_company" in open(dl_info.value.path(), encoding="utf-8").read()
    shot(page, "10_token_files")


def test_keyboard_only_use(page, console_server):
    import re
    page.goto(f"{console_server.base_url}/#/tasks")
    expect(page.locator("table.tasks")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="跳到主要内容")).to_be_focused()
    for _ in range(8):  # to the "创建任务" navigation link
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "创建任务":
            break
    # the focused element is visibly marked
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#/create$"))
    # the picker works from the keyboard: Enter in the pattern field runs the query, Space ticks a table
    pattern = page.get_by_label("表名通配符 (* 与 ?)")
    pattern.focus()
    pattern.fill("bss_comp*")
    page.keyboard.press("Enter")
    box = page.locator('#table-list input[value="public.bss_company"]')
    expect(page.locator("#table-list input[type=checkbox]")).to_have_count(1)
    box.focus()
    page.keyboard.press("Space")
    expect(box).to_be_checked()
    expect(page.get_by_text("已选 1 张表")).to_be_visible()


def test_file_list_follows_a_run_started_elsewhere(page, console_server):
    created = console_server.api("POST", "data_pipeline/tasks", json={"task_name": unique("文件跟随"),
                                                                     "table_names": ["bss_company"]})
    task_id = created["data"]["task_id"]
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}/files")
    expect(page.locator('table.files tr[data-file="table_list.txt"]')).to_be_visible()
    assert page.locator('table.files tr[data-file$=".ddl"]').count() == 0
    assert console_server.api("POST", f"data_pipeline/tasks/{task_id}/execute", json={})["success"]
    # no reload: the detail page's status poll notices the run and the file list reloads itself
    expect(page.locator('table.files tr[data-file="bss_company.ddl"]')).to_be_visible(timeout=30000)
    expect(page.locator(".head-status .badge")).to_have_text("已完成", timeout=60000)


def test_log_view_follows_a_run_started_after_it_opened(page, console_server):
    created = console_server.api("POST", "data_pipeline/tasks", json={"task_name": unique("日志跟随"),
                                                                     "table_names": ["bss_company"]})
    task_id = created["data"]["task_id"]
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}/logs")
    expect(page.locator(".log-status")).to_contain_text("当前没有执行中的任务", timeout=20000)
    assert console_server.api("POST", f"data_pipeline/tasks/{task_id}/execute", json={})["success"]
    # the run's lines arrive without a reload, through to the executor's final line
    expect(page.locator("#log-view .log-step", has_text="[training_load]").first).to_be_visible(timeout=60000)
    expect(page.locator("#log-view .log-line").last).to_contain_text("completed", timeout=30000)


def test_task_list_pages(page, console_server):
    prefix = unique("分页")
    ids = [console_server.api("POST", "data_pipeline/tasks", json={"task_name": f"{prefix}_{i:02d}",
                                                                  "table_names": ["bss_company"]})["data"]["task_id"]
           for i in range(12)]
    page.goto(f"{console_server.base_url}/#/tasks")
    page.get_by_label("任务名称").fill(prefix)
    page.get_by_role("button", name="筛选").click()
    rows = page.locator("table.tasks tbody tr")
    expect(rows).to_have_count(10)
    expect(page.get_by_text("共 12 个任务，第 1 / 2 页")).to_be_visible()
    expect(page.get_by_role("button", name="上一页")).to_be_disabled()
    first_page = set(rows.evaluate_all("rs => rs.map(r => r.dataset.taskId)"))
    page.get_by_role("button", name="下一页").click()
    expect(page.get_by_text("共 12 个任务，第 2 / 2 页")).to_be_visible()
    expect(rows).to_have_count(2)
    second_page = set(rows.evaluate_all("rs => rs.map(r => r.dataset.taskId)"))
    assert first_page | second_page == set(ids) and not first_page & second_page
    expect(page.get_by_role("button", name="下一页")).to_be_disabled()


def test_step_dependency_error_and_force(page, console_server):
    created = console_server.api("POST", "data_pipeline/tasks", json={"task_name": unique("依赖"),
                                                                     "table_names": ["bss_company"]})
    task_id = created["data"]["task_id"]
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
    page.get_by_label("执行方式").select_option("qa_generation")
    page.get_by_role("button", name="执行", exact=True).click()
    alert = page.locator("section[aria-label=执行控制] .error-box")
    expect(alert).to_contain_text("STEP_DEPENDENCY_NOT_MET")
    expect(page.get_by_role("button", name="执行", exact=True)).to_be_enabled()
    # forced: the request is accepted and the run shows up in the history (whatever the step makes of it)
    page.get_by_label("强制执行（跳过依赖检查）").check()
    with page.expect_response(lambda r: r.url.endswith("/execute")) as resp_info:
        page.get_by_role("button", name="执行", exact=True).click()
    sent = resp_info.value.request.post_data_json
    assert sent["force_execute"] is True and sent["step_name"] == "qa_generation" and sent["execution_mode"] == "step"
    assert resp_info.value.status == 202
    expect(alert).to_have_count(0)
    expect(page.locator("section[aria-label=执行历史] tbody tr").first).to_contain_text(
        f"{task_id}_step_qa_generation_exec_", timeout=15000)
