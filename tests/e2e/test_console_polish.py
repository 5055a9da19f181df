"""Issue 25, console items, each as a user meets it in the browser (1366 px unless the item is about width):

1. an upload-mode task gets its table list in the console (表清单 card: pick tables, or type names) and runs;
2. the task list refreshes although no task was running when it loaded (a run started from the API shows up);
3. long unbroken names wrap: no sideways scroll, the status column and 删除任务 stay on screen (both widths);
4. the skip link moves the focus to the content and never routes to 页面不存在;
5. the create form sends the question language and a vector store; parameters read 英文, not `en`;
6. errors explain in Chinese and name the checkbox (强制执行…), not the API field (force_execute);
7. 试问 on a task that loaded nothing says so and marks other tasks' rows; no raw "metadata database";
8. a failed task's bar is not a blue bar in progress; 0 / 0 foreign keys is "无外键关系", not 未知;
9. the pair file previews as questions with their SQL on real lines;
10. step timeline, "继续执行下一步" after a single-step run, log filter by execution, list filters and page in
    the URL, a page title per page, an empty custom connection refused, unreadable tables marked;
11. Escape closes a confirmation after the focus left it; the phone file preview holds the focus.
"""
from __future__ import annotations

import json
import re

import pytest

from tests.e2e.conftest import import_expect
from tests.e2e.test_console_ux import WIDTHS, unique, wait_finished

expect = import_expect()


def api_ok(server, method: str, path: str, **kw) -> dict:
    answer = server.api(method, path, **kw)
    assert answer["success"], answer
    return answer["data"]


def test_upload_mode_task_gets_its_table_list_in_the_console(page, console_server, shot):
    task_id = api_ok(console_server, "POST", "data_pipeline/tasks", json={"task_name": unique("上传模式")})["task_id"]
    sent: list[tuple[str, str]] = []     # every request with a body: its Content-Type (a server may require it)
    page.on("request", lambda r: sent.append((r.url, r.headers.get("content-type", ""))) if r.post_data else None)
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
    card = page.locator("#table-list-card")
    expect(card).to_be_visible()
    # 执行 before the list: a Chinese sentence pointing at the card, not at API routes
    page.get_by_role("button", name="执行", exact=True).click()
    box = page.locator("section.run .error-box")
    expect(box).to_contain_text("表清单")
    expect(box.locator(".err-explain")).not_to_contain_text("upload-table-list")
    card.locator('#table-list input[value="public.bss_company"]').check()
    card.get_by_label("或输入表名（逗号或换行分隔，schema.table 或 table）").fill("bss_service_area")
    shot(page, "25_table_list_card_1366")
    card.get_by_role("button", name="保存表清单").click()
    expect(page.locator("#table-list-card")).to_have_count(0)
    info = api_ok(console_server, "GET", f"data_pipeline/tasks/{task_id}/table-list-info")
    assert sorted(info["tables"]) == ["bss_company", "bss_service_area"], info
    page.get_by_role("button", name="执行", exact=True).click()
    expect(page.locator(".head-status .badge")).to_have_text("已完成", timeout=120000)
    assert any(u.endswith("/table-list") for u, _ in sent) and any(u.endswith("/execute") for u, _ in sent), sent
    assert all(ct.startswith("application/json") for _, ct in sent), sent


def test_task_list_refreshes_when_nothing_ran_at_load(page, console_server):
    for t in api_ok(console_server, "GET", "data_pipeline/tasks?limit=500&status=in_progress")["tasks"]:
        console_server.api("POST", f"data_pipeline/tasks/{t['task_id']}/cancel")
    page.goto(f"{console_server.base_url}/#/tasks")
    expect(page.locator("tbody tr").first).to_be_visible()
    assert page.locator(".auto-refresh").inner_text() == ""
    # a run started elsewhere (the API, the CLI, another tab) after the page loaded
    task_id = api_ok(console_server, "POST", "data_pipeline/tasks/execute-complete",
                     json={"task_name": unique("别处启动"), "table_names": ["bss_company"]})["task_id"]
    row = page.locator(f'tr[data-task-id="{task_id}"]')
    expect(row).to_be_visible(timeout=15000)
    wait_finished(console_server, task_id)
    expect(row.locator(".badge")).to_have_text("已完成", timeout=15000)


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_long_unbroken_names_do_not_break_the_layout(browser, console_server, width, shot):
    long_name = "超长名称" + "x" * 240
    task_id = api_ok(console_server, "POST", "data_pipeline/tasks",
                     json={"task_name": long_name, "table_names": ["bss_company"]})["task_id"]
    context = browser.new_context(viewport=WIDTHS[width], locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{console_server.base_url}/#/tasks")
        row = page.locator(f'tr[data-task-id="{task_id}"]')
        expect(row).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
        badge = row.locator(".badge")
        box = badge.bounding_box()
        assert box and box["x"] + box["width"] <= WIDTHS[width]["width"], box   # the status column is on screen
        shot(page, f"25_long_name_list_{width}")
        page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
        delete = page.get_by_role("button", name="删除任务")
        expect(delete).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
        box = delete.bounding_box()
        assert box and box["x"] + box["width"] <= WIDTHS[width]["width"], box
        shot(page, f"25_long_name_detail_{width}")
    finally:
        context.close()


def test_skip_link_focuses_the_content_without_routing(page, console_server):
    page.goto(f"{console_server.base_url}/#/tasks")
    expect(page.get_by_role("heading", name="任务列表")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    expect(page.get_by_role("heading", name="任务列表")).to_be_visible()
    expect(page.get_by_text("页面不存在")).to_have_count(0)
    # opened as a URL (no script on the link): still the list
    page.goto(f"{console_server.base_url}/#main")
    expect(page.get_by_role("heading", name="任务列表")).to_be_visible()


def test_create_form_question_language_vector_store_and_readable_parameters(page, console_server):
    page.goto(f"{console_server.base_url}/#/create")
    expect(page).to_have_title(re.compile("^创建任务"))
    page.get_by_label("任务名称").fill(unique("英文问题"))
    language = page.get_by_label("问题语言")
    assert [o.get_attribute("value") for o in language.locator("option").all()] == ["zh", "en", "auto"]
    language.select_option("en")
    page.get_by_label("指定向量库连接").check()
    expect(page.get_by_label("向量库 URL（PostgreSQL + pgvector）")).to_be_visible()
    page.get_by_label("默认向量库").check()
    page.get_by_label("表名通配符 (* 与 ?)").fill("bss_company")
    page.get_by_role("button", name="查询表").click()
    page.locator('#table-list input[value="public.bss_company"]').check()
    page.get_by_label("创建后立即执行完整流程").uncheck()
    page.get_by_role("button", name="创建任务").click()
    page.wait_for_url(re.compile(r"#/tasks/(task_\d{8}_\d{6}(_\d+)?)$"))
    task_id = page.url.rsplit("/", 1)[-1]
    params = api_ok(console_server, "GET", f"data_pipeline/tasks/{task_id}?include=parameters")["parameters"]
    assert params["question_language"] == "en", params
    expect(page.locator('dd[data-key="question_language"]')).to_have_text("英文")
    expect(page.locator('dd[data-key="vector_db_connection"]')).to_contain_text("默认向量库")


def test_errors_name_the_checkbox_in_chinese(page, console_server):
    task_id = api_ok(console_server, "POST", "data_pipeline/tasks",
                     json={"task_name": unique("依赖"), "table_names": ["bss_company"]})["task_id"]
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
    page.get_by_label("执行方式").select_option("qa_generation")
    page.get_by_role("button", name="执行", exact=True).click()
    box = page.locator("section.run .error-box")
    expect(box.locator(".err-explain")).to_contain_text("勾选“强制执行（跳过依赖检查）”")
    assert "force_execute" not in box.locator(".err-explain").inner_text()
    expect(box.locator("details.err-tech")).to_be_attached()   # the API's own text one click away


def test_ask_on_a_task_that_loaded_nothing_says_so(page, console_server):
    loaded = api_ok(console_server, "POST", "data_pipeline/tasks/execute-complete",
                    json={"task_name": unique("已加载"), "table_names": ["bss_company"]})["task_id"]
    wait_finished(console_server, loaded)
    empty = api_ok(console_server, "POST", "data_pipeline/tasks",
                   json={"task_name": unique("未加载"), "table_names": ["bss_company"]})["task_id"]
    page.goto(f"{console_server.base_url}/#/tasks/{empty}")
    ask = page.locator("section.ask")
    expect(ask.locator(".ask-not-loaded")).to_contain_text("尚未把训练数据加载到向量库")
    expect(ask).to_contain_text("距离是余弦距离")
    ask.get_by_label("试问的问题").fill("公司名称")
    ask.get_by_role("button", name="试问").click()
    hits = ask.locator(".ask-hit")
    expect(hits.first).to_be_visible()
    assert "metadata database" not in ask.inner_text()
    owners = ask.locator(".owner").all_inner_texts()
    assert owners and all(o.startswith("其他任务") for o in owners), owners
    # the task that did load: its own rows say 本任务
    page.goto(f"{console_server.base_url}/#/tasks/{loaded}")
    ask = page.locator("section.ask")
    expect(ask.locator(".ask-not-loaded")).to_have_count(0)
    ask.get_by_label("试问的问题").fill("公司名称")
    ask.get_by_role("button", name="试问").click()
    # its own rows say 本任务 (the first hit may be another task's: other tests load the same demo tables)
    expect(ask.locator(".owner", has_text="本任务").first).to_be_visible()


def test_failed_task_bar_and_unfinished_states(page, console_server):
    task_id = api_ok(console_server, "POST", "data_pipeline/tasks",
                     json={"task_name": unique("失败"), "table_names": ["bss_company"]})["task_id"]
    # validation forced without any pairs: the step fails
    api_ok(console_server, "POST", f"data_pipeline/tasks/{task_id}/execute",
           json={"execution_mode": "step", "step_name": "sql_validation", "force_execute": True})
    status = wait_finished(console_server, task_id)
    assert status["status"] == "failed", status
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
    bar = page.locator(".head-progress .progress")
    expect(bar).to_have_class(re.compile(r"\bp-failed\b"))
    expect(bar).to_contain_text("失败")
    fill = bar.locator(".progress-fill").evaluate("n => getComputedStyle(n).backgroundImage + getComputedStyle(n).backgroundColor")
    assert "31, 95, 191" not in fill and "58, 123, 224" not in fill, fill     # not the running blue
    expect(page).to_have_title(re.compile(r"失败"))


def test_one_table_run_shows_no_fk_edges_and_pairs_view(page, console_server):
    task_id = api_ok(console_server, "POST", "data_pipeline/tasks/execute-complete",
                     json={"task_name": unique("单表"), "table_names": ["bss_company"]})["task_id"]
    wait_finished(console_server, task_id)
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
    expect(page.locator('.gauge-row[data-key="fk_edges_covered"] .gauge-text')).to_have_text("无外键关系（0 / 0）")
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}/files")
    first = page.locator("tr[data-file]").first
    expect(first).to_have_attribute("data-file", re.compile(r"^qs_.*_pair\.json$"))   # primary_files[0]
    first.get_by_role("button", name=re.compile("^预览")).click()
    pairs = page.locator("#file-preview .pairs-view .pair")
    expect(pairs.first).to_be_visible()
    sql = pairs.first.locator(".pair-sql").inner_text()
    assert "\\n" not in sql and "SELECT" in sql.upper(), sql
    # the buttons of every row stay inside the list column with the preview open
    last = page.locator("tr[data-file] td.actions").last.bounding_box()
    table = page.locator(".files-main .table-wrap").bounding_box()
    assert last["x"] + last["width"] <= table["x"] + table["width"] + 1, (last, table)
    # the generated Markdown keeps 字段补充说明 out of the last bullet
    page.locator("tr[data-file='bss_company_detail.md'] button", has_text="预览").click()
    notes = page.locator("#file-preview .md p", has_text="字段补充说明")
    expect(notes).to_have_count(1)


def test_run_page_timeline_continue_and_log_filter_by_execution(page, console_server):
    task_id = api_ok(console_server, "POST", "data_pipeline/tasks",
                     json={"task_name": unique("继续"), "table_names": ["bss_company"]})["task_id"]
    api_ok(console_server, "POST", f"data_pipeline/tasks/{task_id}/execute",
           json={"execution_mode": "step", "step_name": "ddl_generation"})
    wait_finished(console_server, task_id)
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
    expect(page.locator('.timeline-row[data-step="ddl_generation"]')).to_be_visible()
    more = page.get_by_role("button", name="继续执行下一步：问答对生成")
    expect(more).to_be_visible()
    more.click()
    expect(page.locator('section.step-card[data-step="qa_generation"] .badge')).to_have_text("已完成", timeout=60000)
    expect(page.get_by_role("button", name="继续执行下一步：SQL 验证")).to_be_visible()
    expect(page.locator(".timeline-row")).to_have_count(2)
    # the log of one execution only
    executions = api_ok(console_server, "GET", f"data_pipeline/tasks/{task_id}/executions")["executions"]
    assert len(executions) == 2
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}/logs")
    expect(page.locator("#log-view .log-line").first).to_be_visible()
    select = page.get_by_label("执行", exact=True)
    expect(select.locator("option")).to_have_count(3)
    qa_run = next(e for e in executions if (e.get("step_name") or e.get("execution_step")) == "qa_generation")
    select.select_option(qa_run["execution_id"])
    expect(page.locator(".log-status")).to_contain_text("搜索结果")
    steps = set(page.locator("#log-view .log-step").all_inner_texts())
    assert steps and "[ddl_generation]" not in steps, steps


def test_list_filters_page_and_title_live_in_the_url(page, console_server):
    page.goto(f"{console_server.base_url}/#/tasks")
    expect(page).to_have_title(re.compile("^任务列表"))
    page.get_by_label("状态").select_option("completed")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url(re.compile(r"#/tasks\?status=completed$"))
    page.reload()
    expect(page.get_by_label("状态")).to_have_value("completed")
    badges = page.locator("tbody .badge").all_inner_texts()
    assert badges and set(badges) == {"已完成"}, badges


def test_empty_custom_connection_is_refused_and_unreadable_tables_are_marked(page, console_server):
    page.goto(f"{console_server.base_url}/#/create")
    expect(page.locator("#table-list input[type=checkbox]").first).to_be_visible()
    page.get_by_label("自定义连接").check()
    page.get_by_label("主机").fill("")
    page.get_by_role("button", name="查询表").click()
    expect(page.locator(".picker .error-box")).to_contain_text("请填写自定义连接的主机和数据库")
    expect(page.locator("#table-list input[type=checkbox]")).to_have_count(0)   # not the default database's
    # the API's readable flag (see tests/test_database_api.py) drawn by the picker: marked, left out of 全选
    page.get_by_label("默认业务数据库").check()

    def answer(route):
        resp = route.fetch()
        body = resp.json()
        body["data"]["objects"][0]["readable"] = False
        route.fulfill(response=resp, body=json.dumps(body))
    page.route("**/api/v0/database/tables", answer)
    page.get_by_role("button", name="查询表").click()
    locked = page.locator("label.table-item.unreadable")
    expect(locked).to_have_count(1)
    expect(locked.locator(".tag")).to_have_text("不可读")
    page.get_by_role("button", name="全选").click()
    expect(locked.locator("input")).not_to_be_checked()


def test_escape_closes_a_confirmation_after_focus_left_it(page, console_server):
    task_id = api_ok(console_server, "POST", "data_pipeline/tasks",
                     json={"task_name": unique("确认"), "table_names": ["bss_company"]})["task_id"]
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
    page.get_by_role("button", name="删除任务").click()
    bar = page.locator(".confirm-bar")
    expect(bar).to_be_visible()
    page.get_by_label("执行方式").focus()          # the focus leaves the confirmation
    page.keyboard.press("Escape")
    expect(bar).to_have_count(0)
    assert api_ok(console_server, "GET", f"data_pipeline/tasks/{task_id}")["task_id"] == task_id


def test_phone_preview_holds_the_focus(browser, console_server):
    task_id = api_ok(console_server, "POST", "data_pipeline/tasks/execute-complete",
                     json={"task_name": unique("焦点"), "table_names": ["bss_company"]})["task_id"]
    wait_finished(console_server, task_id)
    context = browser.new_context(viewport=WIDTHS["390"], locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{console_server.base_url}/#/tasks/{task_id}/files")
        page.locator("tr[data-file='metadata.txt'] button", has_text="预览").click()
        preview = page.locator("#file-preview")
        expect(preview).to_be_visible()
        for _ in range(8):
            page.keyboard.press("Tab")
            assert page.evaluate("document.getElementById('file-preview').contains(document.activeElement)")
        page.keyboard.press("Escape")
        expect(preview).to_be_hidden()
    finally:
        context.close()


def test_partial_run_counts_skipped_tables_and_explains_warnings_in_chinese(page, console_server, app_ctx):
    from tests.status_fixture_db import status_fixture
    _, reader = status_fixture(app_ctx)
    task_id = api_ok(console_server, "POST", "data_pipeline/tasks", json={
        "task_name": unique("跳过的表"), "table_names": ["customers", "orders", "suppliers"], "db_connection": reader,
        "allow_unreadable_tables": True, "enable_training_data_load": False})["task_id"]
    api_ok(console_server, "POST", f"data_pipeline/tasks/{task_id}/execute", json={})
    status = wait_finished(console_server, task_id)
    assert status["status"] == "partial_completed", status
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
    tile = page.locator('.tile[data-key="tables_covered"]')
    expect(tile.locator(".tile-value")).to_have_text(re.compile(r"^\d+ / 3$"))      # not 2 / 2
    expect(tile.locator(".tile-note")).to_have_text("另有 1 张表已跳过（见警告）")
    item = page.locator('section[aria-label=警告] li[data-code="TABLES_UNREADABLE"]')
    expect(item.locator(".warning-text")).to_have_text("部分表当前数据库账号无读取权限，已跳过")
    expect(item.locator(".warning-details")).to_contain_text("cannot be read")   # the English details stay


def test_results_of_an_unfinished_task_read_as_words(page, console_server):
    task_id = api_ok(console_server, "POST", "data_pipeline/tasks",
                     json={"task_name": unique("未完成"), "table_names": ["bss_company"]})["task_id"]
    for step in ("ddl_generation", "qa_generation"):
        api_ok(console_server, "POST", f"data_pipeline/tasks/{task_id}/execute",
               json={"execution_mode": "step", "step_name": step})
        wait_finished(console_server, task_id)
        page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
        page.reload()   # the second goto to the same hash would keep the page
        result = page.locator("section.quality")
        expect(result.locator("h2")).to_be_visible()
        text = result.inner_text()
        # no raw JSON dump, no raw status words, keys or English reasons as values
        assert '{"' not in text and "rule_based" not in text and "not_run" not in text, text
        assert "pending after this run" not in text and "did not run" not in text and "rule-based mode" not in text, text
        if step == "ddl_generation":
            expect(result.locator(".quality-note")).to_contain_text("还没有问答对")
        else:
            expect(result.locator('.q-section[data-key="validation"]')).to_contain_text("还没有经过 SQL 验证")
            expect(result.locator('.q-section[data-key="repair"]')).to_contain_text("未运行")


def test_token_form_label_reads_as_a_sentence_on_a_phone(browser, token_server):
    context = browser.new_context(viewport=WIDTHS["390"], locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{token_server.base_url}/#/tasks")
        label = page.locator("#token-form label")
        expect(label).to_be_visible()
        box = label.bounding_box()
        line = float(label.evaluate("n => parseFloat(getComputedStyle(n).lineHeight) || 20"))
        assert box["height"] <= 2 * line + 1, box          # one line (two at most), never one character per line
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    finally:
        context.close()
