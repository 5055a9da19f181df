"""The web console in a real browser against a real server process (see conftest.py).

One journey per test: create a task from the form with tables picked from the demo database, run the complete
workflow and watch the progress reach 100 %, filter and search the logs, preview/download/upload files, list and
filter tasks, cancel a slow second run, and show API errors from the envelope.
"""
from __future__ import annotations

import json
import re
import time
import zipfile
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.e2e.conftest import DOWNLOADS, import_expect

expect = import_expect()

PICKED = ["public.bss_company", "public.bss_service_area", "public.bss_section_route"]
RUN_TIMEOUT_MS = 240_000


def unique(prefix: str) -> str:
    return f"{prefix}_{int(time.time() * 1000) % 10_000_000}"


def create_task_with_form(page, base_url: str, name: str, run_now: bool = True, screenshot=None) -> str:
    """Fill the create form (tables picked from the demo DB) and submit; returns the new task id."""
    page.goto(f"{base_url}/#/create")
    page.get_by_label("任务名称").fill(name)
    page.get_by_label("业务背景").fill("高速公路服务区管理系统")
    page.get_by_label("表名通配符 (* 与 ?)").fill("bss_*")
    page.get_by_role("button", name="查询表").click()
    expect(page.locator("#table-list input[type=checkbox]")).to_have_count(7)  # the seven demo tables
    for table in PICKED:
        page.locator(f'#table-list input[value="{table}"]').check()
    expect(page.get_by_text(f"已选 {len(PICKED)} 张表")).to_be_visible()
    run_box = page.get_by_label("创建后立即执行完整流程")
    run_box.check() if run_now else run_box.uncheck()
    if screenshot:
        page.screenshot(path=str(screenshot), full_page=True)
    page.get_by_role("button", name="创建任务").click()
    page.wait_for_url(re.compile(r"#/tasks/(task_\d{8}_\d{6}(_\d+)?)$"))
    return page.url.rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def finished_task(browser, console_server):
    """One task created from the form and run to the end in the browser; shared by the inspection tests."""
    from tests.e2e.conftest import SCREENS
    SCREENS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    context.set_default_timeout(15000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    name = unique("控制台端到端")
    # the form with the picked tables is saved as the user sees it before submitting
    task_id = create_task_with_form(page, console_server.base_url, name, screenshot=SCREENS / "02_create_form.png")
    # live progress: the header bar moves to 100 % and every step card ends completed
    progress = page.locator(".head-progress [role=progressbar]")
    seen: set[str] = set()
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        seen.add(progress.get_attribute("aria-valuenow") or "")
        if page.locator(".head-status .badge").inner_text() in ("已完成", "失败", "部分完成", "已取消"):
            break
        page.wait_for_timeout(300)
    status = page.locator(".head-status .badge").inner_text()
    page.screenshot(path=str(SCREENS / "03_task_detail_completed.png"), full_page=True)
    assert status == "已完成", f"task ended {status}: {console_server.log_tail()}"
    expect(progress).to_have_attribute("aria-valuenow", "100")
    context.close()
    assert not errors, errors
    return {"task_id": task_id, "name": name, "progress_seen": seen}


def test_create_run_and_watch_progress(page, console_server, finished_task, shot):
    task_id = finished_task["task_id"]
    # the bar was watched moving (not only the final value)
    assert len({v for v in finished_task["progress_seen"] if v}) >= 2, finished_task["progress_seen"]
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
    cards = page.locator(".step-card")
    expect(cards).to_have_count(4)
    for i in range(4):
        expect(cards.nth(i).locator(".badge")).to_have_text("已完成")
        expect(cards.nth(i).locator("dd").nth(2)).not_to_have_text("—")  # a duration is shown
    # executions history lists the complete run
    expect(page.locator("section[aria-label=执行历史] tbody tr").first).to_contain_text(f"{task_id}_step_complete_exec_")
    expect(page.locator("section[aria-label=执行历史] tbody tr").first.locator(".badge")).to_have_text("已完成")
    # the API agrees with what the page shows
    data = console_server.api("GET", f"data_pipeline/tasks/{task_id}")["data"]
    assert data["status"] == "completed" and data["progress"] == 100
    info = console_server.api("GET", f"data_pipeline/tasks/{task_id}/table-list-info")["data"]
    # the three picked tables, whichever spelling (schema.table or table for public) the list keeps
    assert sorted(t.split(".")[-1] for t in info["tables"]) == sorted(t.split(".")[1] for t in PICKED)
    shot(page, "03b_task_detail_overview")


def test_task_list_filters(page, console_server, finished_task, shot):
    page.goto(f"{console_server.base_url}/#/tasks")
    row = page.locator(f'tr[data-task-id="{finished_task["task_id"]}"]')
    expect(row).to_be_visible()
    expect(row.locator(".badge")).to_have_text("已完成")
    expect(row.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "100")
    expect(row.locator(".mini")).to_have_count(4)
    # status + name filters go to GET tasks as query arguments
    page.get_by_label("状态").select_option("completed")
    page.get_by_label("任务名称").fill(finished_task["name"])
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(row).to_be_visible()
    shot(page, "01_task_list_filtered")
    page.get_by_label("状态").select_option("failed")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("td.empty")).to_contain_text("无匹配任务")
    # time range: created after a far-future instant matches nothing; a past start matches the task again
    page.get_by_label("状态").select_option("")
    page.get_by_label("创建时间从").fill("2099-01-01T00:00")
    with page.expect_response(lambda r: "/api/v0/data_pipeline/tasks?" in r.url) as resp_info:
        page.get_by_role("button", name="筛选").click()
    sent = parse_qs(urlsplit(resp_info.value.url).query)
    assert sent["created_time_start"] == ["2099-01-01T00:00:00"] and sent["offset"] == ["0"], sent
    expect(page.locator("td.empty")).to_contain_text("无匹配任务")
    page.get_by_label("创建时间从").fill("2000-01-01T00:00")
    page.get_by_role("button", name="筛选").click()
    expect(row).to_be_visible()
    page.get_by_role("button", name="重置").click()
    expect(row).to_be_visible()


def test_logs_filter_search_and_download(page, console_server, finished_task, shot):
    task_id = finished_task["task_id"]
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}/logs")
    lines = page.locator("#log-view .log-line")
    # the stream replays the whole file, then says the run is over
    expect(page.locator(".log-status")).to_contain_text("当前没有执行中的任务", timeout=20000)
    total = lines.count()
    assert f"共 {total} 条日志" in page.locator(".log-status").inner_text()
    assert total > 5
    steps_seen = set(page.locator("#log-view .log-step").all_inner_texts())
    assert "[ddl_generation]" in steps_seen and "[training_load]" in steps_seen, steps_seen
    # step filter narrows the live view to that step's lines
    page.get_by_label("步骤").select_option("qa_generation")
    expect(lines.first).to_be_visible()
    assert set(page.locator("#log-view .log-step").all_inner_texts()) == {"[qa_generation]"}
    page.get_by_label("步骤").select_option("")
    # level filter: exactly that level (same meaning as the API's `level`)
    all_levels = lines.evaluate_all("ns => ns.map(n => n.dataset.level)")
    page.get_by_label("级别").select_option("INFO")
    expect(lines).to_have_count(all_levels.count("INFO"))
    assert all_levels.count("INFO") > 0
    assert set(lines.evaluate_all("ns => ns.map(n => n.dataset.level)")) == {"INFO"}
    page.get_by_label("级别").select_option("WARNING")
    expect(lines).to_have_count(all_levels.count("WARNING"))
    page.get_by_label("级别").select_option("")
    expect(lines).to_have_count(total)
    # keyword search is answered by POST logs/query
    page.get_by_label("关键词").fill("bss_company")
    with page.expect_response(lambda r: r.url.endswith("/logs/query")) as resp_info:
        page.get_by_role("button", name="搜索").click()
    body = resp_info.value.json()
    assert body["success"], body
    found = page.locator("#log-view .log-line")
    expect(found.first).to_be_visible()
    texts = found.all_inner_texts()
    assert texts and all("bss_company" in t.lower() for t in texts), texts[:5]
    assert set(found.locator("mark").all_inner_texts()) == {"bss_company"}  # the match is highlighted
    expect(page.locator(".log-status")).to_contain_text("搜索结果")
    shot(page, "04_logs_search")
    # download of the whole log file
    with page.expect_download() as dl_info:
        page.get_by_role("link", name="下载日志").click()
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    path = DOWNLOADS / f"{task_id}_data_pipeline.log"
    dl_info.value.save_as(str(path))
    text = path.read_text(encoding="utf-8")
    assert "[ddl_generation]" in text and "bss_company" in text


def test_files_preview_download_zip_and_upload(page, console_server, finished_task, shot, tmp_path):
    task_id = finished_task["task_id"]
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}/files")
    rows = page.locator("table.files tbody tr")
    expect(rows.first).to_have_attribute("data-file", re.compile(r".+"))
    names = rows.evaluate_all("rs => rs.map(r => r.dataset.file)")
    ddl = next(n for n in names if n.endswith(".ddl"))
    md = next(n for n in names if n.endswith(".md"))
    pair_json = next(n for n in names if n.endswith(".json") and "pair" in n)
    # DDL preview is the raw text
    page.get_by_role("button", name=f"预览 {ddl}").click()
    expect(page.locator("#file-preview pre.code")).to_contain_text("CREATE TABLE")
    # Markdown is rendered (headings / tables as elements, not raw markup)
    page.get_by_role("button", name=f"预览 {md}").click()
    md_view = page.locator("#file-preview .md")
    expect(md_view).to_be_visible()
    assert md_view.locator("h2, h3, table").count() >= 1
    # the pair file reads as questions with their SQL (issue 25); its JSON is pretty-printed one click away and
    # parses back to the server's document
    page.get_by_role("button", name=f"预览 {pair_json}").click()
    expect(page.locator("#file-preview .pairs-view .pair").first).to_be_visible()
    page.locator("#file-preview details.raw-json summary").click()
    pre = page.locator("#file-preview details.raw-json pre.code")
    expect(pre).to_be_visible()
    server_doc = requests.get(f"{console_server.base_url}/api/v0/data_pipeline/tasks/{task_id}/files/{pair_json}",
                              timeout=30).json()
    assert json.loads(pre.inner_text()) == server_doc
    assert "\n  " in pre.inner_text()
    shot(page, "05_files_preview")
    # single download equals the server's bytes
    with page.expect_download() as dl_info:
        page.get_by_role("link", name=f"下载 {ddl}").click()
    got = tmp_path / ddl
    dl_info.value.save_as(str(got))
    raw = requests.get(f"{console_server.base_url}/api/v0/data_pipeline/tasks/{task_id}/files/{ddl}", timeout=30)
    assert got.read_bytes() == raw.content and b"CREATE TABLE" in raw.content
    # zip of the task directory
    with page.expect_download() as zip_info:
        page.get_by_role("link", name="打包下载 (zip)").click()
    zpath = tmp_path / "task.zip"
    zip_info.value.save_as(str(zpath))
    with zipfile.ZipFile(zpath) as zf:
        assert any(n.endswith(ddl) for n in zf.namelist())
    # upload an edited DDL with the backup option: the new content is served, the old one kept as a backup
    edited = raw.content.decode("utf-8") + "\n-- edited in the console\n"
    page.get_by_label("编辑后的文件 (.ddl .md .json .txt .sql .csv)").set_input_files(
        files=[{"name": ddl, "mimeType": "text/plain", "buffer": edited.encode("utf-8")}])
    page.get_by_label("同名文件").select_option("backup")
    page.get_by_role("button", name="上传").click()
    expect(page.locator(".toast.t-ok")).to_be_visible()
    expect(rows).to_have_count(len(names) + 1)
    after = requests.get(f"{console_server.base_url}/api/v0/data_pipeline/tasks/{task_id}/files/{ddl}", timeout=30)
    assert after.text.endswith("-- edited in the console\n")
    shot(page, "05b_files_after_upload")


def test_api_errors_are_shown_from_the_envelope(page, console_server, shot):
    page.goto(f"{console_server.base_url}/#/tasks/task_20000101_000000")
    box = page.locator(".error-box").first
    expect(box).to_be_visible()
    expect(box).to_contain_text("TASK_NOT_FOUND")
    # client-side validation: no table picked
    page.goto(f"{console_server.base_url}/#/create")
    expect(page.locator("#table-list input[type=checkbox]").first).to_be_visible()
    page.get_by_role("button", name="创建任务").click()
    expect(page.get_by_role("alert")).to_contain_text("请至少选择一张表")
    # a server-side 400: an unreachable custom connection in the table picker shows message + details
    page.get_by_label("自定义连接").check()
    page.get_by_label("主机").fill("127.0.0.1")
    page.get_by_label("端口").fill("1")
    page.get_by_label("数据库", exact=True).fill("nope")
    page.get_by_label("用户名").fill("someone")
    page.get_by_label("密码").fill("s3cret-pw")
    page.get_by_role("button", name="查询表").click()
    alert = page.locator(".picker .error-box")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("DATABASE_CONNECTION_ERROR")
    # tables listed from the default database are gone: nothing of another database stays selectable
    expect(page.locator("#table-list input[type=checkbox]")).to_have_count(0)
    assert "s3cret-pw" not in page.content()  # the password is never echoed back into the page
    shot(page, "06_error_display")


def test_cancel_a_slow_second_run(page, slow_llm_server, shot):
    base = slow_llm_server.base_url
    # created through the API (the form is covered above); all seven demo tables, every LLM call takes 4 s
    created = slow_llm_server.api("POST", "data_pipeline/tasks", json={
        "task_name": unique("取消测试"), "business_context": "高速公路服务区管理系统",
        "table_names": ["bss_business_day_data", "bss_car_day_count", "bss_company", "bss_section_route",
                        "bss_section_route_area_link", "bss_service_area", "bss_service_area_mapper"]})
    assert created["success"], created
    task_id = created["data"]["task_id"]
    page.goto(f"{base}/#/tasks/{task_id}")
    expect(page.locator(".step-card")).to_have_count(4)
    page.get_by_label("执行方式").select_option("complete")
    page.get_by_role("button", name="执行", exact=True).click()
    cancel = page.get_by_role("button", name="取消执行")
    expect(cancel).to_be_enabled(timeout=10000)
    expect(page.locator(".head-status .badge")).to_have_text("执行中")
    # cancel in the middle of a step (not merely before the executor picked the run up)
    expect(page.locator(".step-card.s-running")).to_have_count(1, timeout=20000)
    shot(page, "07_task_running")
    cancel.click()  # an in-page confirmation, no browser dialog
    page.get_by_role("alertdialog").get_by_role("button", name="确认取消执行").click()
    expect(page.locator(".head-status .badge")).to_have_text("已取消", timeout=30000)
    expect(page.get_by_role("button", name="执行", exact=True)).to_be_enabled()
    expect(cancel).to_be_disabled()
    expect(page.locator("section[aria-label=执行历史] tbody tr").first.locator(".badge")).to_have_text("已取消")
    data = slow_llm_server.api("GET", f"data_pipeline/tasks/{task_id}")["data"]
    assert data["status"] == "cancelled" and data["progress"] < 100
    # the step that was running when the cancel arrived says so; no later step ran
    states = [s["step_status"] for s in data["steps"]]
    assert "cancelled" in states and "completed" not in states[states.index("cancelled"):], states
    shot(page, "08_task_cancelled")


def test_create_with_uploaded_table_list(page, console_server, shot):
    page.goto(f"{console_server.base_url}/#/create")
    page.get_by_label("任务名称").fill(unique("上传清单"))
    page.get_by_label("上传表清单文件").check()
    page.get_by_label("表清单文件 (.txt，每行一个 schema.table 或 table)").set_input_files(files=[{
        "name": "tables.txt", "mimeType": "text/plain",
        "buffer": "# 服务区\npublic.bss_service_area\nbss_company\n".encode("utf-8")}])
    page.get_by_label("创建后立即执行完整流程").uncheck()
    page.get_by_role("button", name="创建任务").click()
    page.wait_for_url(re.compile(r"#/tasks/task_\d{8}_\d{6}(_\d+)?$"))
    task_id = page.url.rsplit("/", 1)[-1]
    expect(page.locator(".head-status .badge")).to_have_text("待执行")
    expect(page.get_by_role("button", name="执行", exact=True)).to_be_enabled()
    info = console_server.api("GET", f"data_pipeline/tasks/{task_id}/table-list-info")["data"]
    assert info["has_table_list"] and info["table_count"] == 2, info
    shot(page, "02b_created_from_uploaded_list")


def test_zz_rerun_one_step_then_delete(page, console_server, finished_task, shot):
    """Runs last in this module (it changes the shared task): one step again, then delete from the page."""
    task_id = finished_task["task_id"]
    page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
    history = page.locator("section[aria-label=执行历史] tbody tr")
    expect(history).to_have_count(1)
    page.get_by_label("执行方式").select_option("sql_validation")
    page.get_by_role("button", name="执行", exact=True).click()
    expect(history).to_have_count(2, timeout=30000)
    expect(history.first).to_contain_text(f"{task_id}_step_sql_validation_exec_")
    expect(history.first.locator(".badge")).to_have_text("已完成", timeout=60000)
    # re-running a step resets the later step to pending (contract), and the page shows it
    expect(page.locator('.step-card[data-step="sql_validation"] .badge')).to_have_text("已完成")
    expect(page.locator('.step-card[data-step="training_load"] .badge')).to_have_text("待执行")
    shot(page, "11_single_step_rerun")
    page.get_by_role("button", name="删除任务").click()
    page.get_by_role("alertdialog").get_by_role("button", name="确认删除").click()
    page.wait_for_url("**/#/tasks")
    expect(page.locator(f'tr[data-task-id="{task_id}"]')).to_have_count(0)
    gone = console_server.api("GET", f"data_pipeline/tasks/{task_id}")
    assert gone["error"]["code"] == "TASK_NOT_FOUND"


def test_task_list_refreshes_itself_while_a_task_runs(page, slow_llm_server, shot):
    base = slow_llm_server.base_url
    created = slow_llm_server.api("POST", "data_pipeline/tasks", json={
        "task_name": unique("自动刷新"), "table_names": ["bss_company", "bss_service_area", "bss_car_day_count"]})
    task_id = created["data"]["task_id"]
    started = slow_llm_server.api("POST", f"data_pipeline/tasks/{task_id}/execute", json={})
    assert started["success"], started
    page.goto(f"{base}/#/tasks")
    row = page.locator(f'tr[data-task-id="{task_id}"]')
    expect(row.locator(".badge")).to_have_text("执行中")
    expect(page.locator(".auto-refresh")).to_contain_text("自动刷新")
    # the step badges move too (auto-refresh, no reload)
    expect(row.locator(".mini.s-running")).to_have_count(1, timeout=20000)
    shot(page, "01b_task_list_running")
    # the run ends elsewhere (API cancel, once a step runs); the open page notices by itself
    assert slow_llm_server.api("POST", f"data_pipeline/tasks/{task_id}/cancel")["success"]
    expect(row.locator(".badge")).to_have_text("已取消", timeout=15000)
    expect(page.locator(".auto-refresh")).to_have_text("")
