"""Console journeys of issue 16, each at a laptop width (1366 px) and a phone width (390 px), with screenshots
named `16_<behaviour>_<width>.png` in tests/artifacts/screens/:

- the file preview opens in view (side panel next to the list when wide, a full-screen sheet when narrow),
  closes with Escape and gives the focus back; `.bakN` versions preview too;
- list, detail, files and logs fit a phone: no horizontal page scroll, no button wrapped per character;
- parameters and the quality report carry Chinese labels with the raw key as tooltip; the report is drawn as
  sections with small charts whose numbers are the API's;
- an empty filter result says "无匹配任务" (never "第 0 / 0 页");
- delete and cancel ask in the page (a browser dialog fails the test);
- the Markdown preview builds the same block structure as a CommonMark reference (markdown-it-py).
"""
from __future__ import annotations

import html.parser
import re
import time

import pytest
import requests

from tests.e2e.conftest import SCREENS, import_expect
from tests.optional_deps import import_or_skip

expect = import_expect()

WIDTHS = {"1366": {"width": 1366, "height": 900}, "390": {"width": 390, "height": 844}}
DEMO_TABLES = ["bss_business_day_data", "bss_car_day_count", "bss_company", "bss_section_route",
               "bss_section_route_area_link", "bss_service_area", "bss_service_area_mapper"]
FINAL = ("completed", "partial_completed", "failed", "cancelled")
CJK = re.compile(r"[\u4e00-\u9fff]")


def unique(prefix: str) -> str:
    return f"{prefix}_{int(time.time() * 1000) % 10_000_000}"


def wait_finished(server, task_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = server.api("GET", f"data_pipeline/tasks/{task_id}")["data"]
        if data["status"] in FINAL and not data["current_step"]:
            return data
        time.sleep(0.3)
    raise AssertionError(f"task {task_id} did not finish: {server.log_tail()}")


@pytest.fixture(scope="module")
def done_task(console_server):
    """All seven demo tables run to the end through the API (the form is covered in test_console.py)."""
    created = console_server.api("POST", "data_pipeline/tasks", json={
        "task_name": unique("界面体验"), "business_context": "高速公路服务区管理系统", "table_names": DEMO_TABLES})
    task_id = created["data"]["task_id"]
    assert console_server.api("POST", f"data_pipeline/tasks/{task_id}/execute", json={})["success"]
    data = wait_finished(console_server, task_id)
    assert data["status"] == "completed", data
    # the status is lean by default: the page asks for parameters and results once, so does this fixture
    return console_server.api("GET", f"data_pipeline/tasks/{task_id}?include=parameters,result")["data"]


@pytest.fixture(params=sorted(WIDTHS))
def width(request) -> str:
    return request.param


@pytest.fixture()
def wpage(browser, width):
    """A page at the test's width; a JS error or any browser dialog (alert/confirm) fails the test."""
    context = browser.new_context(viewport=WIDTHS[width], locale="zh-CN", accept_downloads=True)
    context.set_default_timeout(15000)
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda exc: problems.append(f"JS error: {exc}"))

    def on_dialog(dialog):
        problems.append(f"browser dialog: {dialog.message}")
        dialog.dismiss()
    pg.on("dialog", on_dialog)
    yield pg
    context.close()
    assert not problems, problems


def snap(pg, name: str, width: str, full_page: bool = True) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SCREENS / f"16_{name}_{width}.png"), full_page=full_page)


def assert_fits(pg, what: str) -> None:
    """No horizontal scroll of the page, and no visible button taller than two lines (wrapped per character)."""
    overflow = pg.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{what}: the page scrolls sideways by {overflow} px"
    tall = pg.evaluate("""() => [...document.querySelectorAll('.btn, button')]
        .filter(b => b.offsetParent !== null)
        .map(b => [b.textContent.trim(), b.getBoundingClientRect().height, b.getBoundingClientRect().width])
        .filter(([text, h, w]) => h > 44 || (text.length > 1 && w < 24))""")
    assert not tall, f"{what}: buttons wrapped: {tall}"


# -- files: preview in view, Escape, .bak versions -------------------------------------------------------------
def test_preview_opens_in_view_and_backups_preview(wpage, width, console_server, done_task):
    base, task_id = console_server.base_url, done_task["task_id"]
    md = "bss_service_area_mapper_detail.md"
    original = requests.get(f"{base}/api/v0/data_pipeline/tasks/{task_id}/files/{md}", timeout=30).text
    wpage.goto(f"{base}/#/tasks/{task_id}/files")
    button = wpage.get_by_role("button", name=f"预览 {md}", exact=True)
    button.scroll_into_view_if_needed()
    button.click()
    preview = wpage.locator("#file-preview")
    expect(preview.locator(".md")).to_be_visible()
    expect(preview.get_by_role("heading", name=f"预览：{md}")).to_be_in_viewport()
    box = preview.bounding_box()
    if width == "1366":  # a side panel to the right of the list
        column = wpage.locator(".files-main").bounding_box()
        assert box["x"] > column["x"] + column["width"] - 1, (box, column)
    else:                 # a sheet over the whole screen
        assert box["x"] == 0 and box["width"] == WIDTHS[width]["width"], box
    snap(wpage, "files_preview", width, full_page=False)
    wpage.keyboard.press("Escape")
    expect(preview).to_be_hidden()
    expect(button).to_be_focused()
    # upload an edited version with backup: the old text becomes `.bak1`, and it previews like the .md
    edited = original + "\n补充：界面测试编辑。\n"
    wpage.get_by_label("编辑后的文件 (.ddl .md .json .txt .sql .csv)").set_input_files(
        files=[{"name": md, "mimeType": "text/markdown", "buffer": edited.encode("utf-8")}])
    wpage.get_by_label("同名文件").select_option("backup")
    wpage.get_by_role("button", name="上传").click()
    backups = wpage.locator(f'table.files tr[data-file^="{md}.bak"]')
    expect(backups.first).to_be_visible()
    backup_name = backups.first.get_attribute("data-file")
    wpage.get_by_role("button", name=f"预览 {backup_name}", exact=True).click()
    expect(preview.get_by_role("heading", name=f"预览：{backup_name}")).to_be_in_viewport()
    expect(preview.locator(".md h3").first).to_be_visible()  # rendered as Markdown ("## x" is an h3 here)
    expect(preview.locator(".md")).not_to_contain_text("界面测试编辑")
    title_box = preview.get_by_role("heading", name=f"预览：{backup_name}").bounding_box()
    assert title_box["x"] + title_box["width"] <= WIDTHS[width]["width"], title_box  # the long name wraps
    snap(wpage, "files_preview_backup", width, full_page=False)
    wpage.get_by_role("button", name="关闭预览").click()
    expect(preview).to_be_hidden()


# -- phone layouts ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("page_name,route,ready", [
    ("list", "#/tasks", "table.tasks tbody tr"),
    ("detail", "#/tasks/{id}", "section[aria-label=执行历史] tbody tr"),
    ("files", "#/tasks/{id}/files", "table.files tbody tr[data-file]"),
    ("logs", "#/tasks/{id}/logs", "#log-view .log-line"),
    ("create", "#/create", "#table-list input[type=checkbox]"),
])
def test_pages_fit_the_screen(wpage, width, console_server, done_task, page_name, route, ready):
    wpage.goto(console_server.base_url + "/" + route.format(id=done_task["task_id"]))
    expect(wpage.locator(ready).first).to_be_visible()
    assert_fits(wpage, f"{page_name} at {width} px")
    if width == "390" and page_name in ("list", "files", "detail"):
        # tables turned into cards: each cell carries its column name, the header row is hidden
        table = {"list": "table.tasks", "files": "table.files", "detail": "table.executions"}[page_name]
        expect(wpage.locator(f"{table} thead")).to_be_hidden()
        label = wpage.locator(f"{table} tbody tr td").nth(1).evaluate(
            "td => getComputedStyle(td, '::before').content")
        assert label not in ("none", "normal", '""'), label
    if page_name == "detail":
        exec_id = wpage.locator("td.exec-id").first.bounding_box()
        assert exec_id["width"] > 150, exec_id  # the execution id is not squeezed to a column of characters
    snap(wpage, page_name, width)


# -- labels and the quality report ------------------------------------------------------------------------------
def test_parameters_and_quality_report_are_labelled_and_charted(wpage, width, console_server, done_task):
    wpage.goto(f"{console_server.base_url}/#/tasks/{done_task['task_id']}")
    params = wpage.locator("section[aria-label=任务参数] dt .key-label")
    expect(params.first).to_be_visible()
    keys = params.evaluate_all("ls => ls.map(l => [l.title, l.textContent])")
    assert {k for k, _ in keys} == set(done_task["parameters"]), keys
    for raw, shown in keys:
        assert shown != raw and CJK.search(shown), (raw, shown)
    assert "{task_directory}" not in wpage.locator("section[aria-label=任务参数]").inner_text()

    quality = done_task["result"]["quality"]
    report = wpage.locator(".quality-report")
    expect(report).to_be_visible()
    for title in ("SQL 验证", "覆盖率", "难度分布", "重复问答对", "LLM 修复"):
        expect(report.get_by_role("region", name=title)).to_be_visible()
    # every label in the report is Chinese, with its raw key as tooltip
    labels = report.locator(".key-label").evaluate_all("ls => ls.map(l => [l.title, l.textContent])")
    assert len(labels) >= 20
    for raw, shown in labels:
        assert raw and CJK.search(shown), (raw, shown)
    # charts carry the API's numbers
    distribution = quality["difficulty"]["distribution"]
    bars = report.locator(".bar-row")
    expect(bars).to_have_count(len(distribution))
    drawn = dict(bars.evaluate_all("rs => rs.map(r => [r.dataset.key, r.querySelector('.bar-value').textContent])"))
    assert drawn == {k: str(v) for k, v in distribution.items()}
    coverage = quality["coverage"]
    tables_gauge = report.locator('.gauge-row[data-key="tables_covered"] [role=meter]')
    expect(tables_gauge).to_have_attribute("aria-valuenow", str(coverage["tables_covered"]))
    expect(tables_gauge).to_have_attribute("aria-valuemax", str(coverage["tables_total"]))
    assert report.locator("[role=meter]").count() >= 4
    legend = dict(report.locator(".legend li").evaluate_all(
        "ls => ls.map(l => [l.dataset.key, l.querySelector('strong').textContent.trim()])"))
    assert legend == {k: str(v) for k, v in quality["validation"]["status_counts"].items()}
    assert_fits(wpage, f"detail with quality report at {width} px")
    report.scroll_into_view_if_needed()
    snap(wpage, "quality_report", width)


# -- empty states -------------------------------------------------------------------------------------------------
def test_empty_filter_result_says_so(wpage, width, console_server, done_task):
    wpage.goto(f"{console_server.base_url}/#/tasks")
    expect(wpage.locator("table.tasks tbody tr[data-task-id]").first).to_be_visible()
    wpage.get_by_label("任务名称").fill(unique("不存在的任务"))
    wpage.get_by_role("button", name="筛选").click()
    expect(wpage.locator("td.empty")).to_contain_text("无匹配任务")
    expect(wpage.get_by_role("status").filter(has_text="无匹配任务")).to_be_visible()
    assert "0 / 0" not in wpage.locator("main").inner_text()
    expect(wpage.get_by_role("navigation", name="分页")).to_be_hidden()
    snap(wpage, "empty_filter", width)
    wpage.get_by_role("button", name="显示全部任务").click()
    expect(wpage.locator("table.tasks tbody tr[data-task-id]").first).to_be_visible()
    expect(wpage.get_by_label("任务名称")).to_have_value("")


# -- in-page confirmations ----------------------------------------------------------------------------------------
def test_cancel_and_delete_confirm_in_the_page(wpage, width, console_server):
    created = console_server.api("POST", "data_pipeline/tasks", json={"task_name": unique("确认"),
                                                                     "table_names": ["bss_company"]})
    task_id = created["data"]["task_id"]
    # demo_delay_s holds the first step running, so there is a run to cancel
    started = console_server.api("POST", f"data_pipeline/tasks/{task_id}/execute", json={"demo_delay_s": 60})
    assert started["success"], started
    try:
        wpage.goto(f"{console_server.base_url}/#/tasks/{task_id}")
        cancel = wpage.get_by_role("button", name="取消执行")
        expect(cancel).to_be_enabled()
        cancel.click()
        ask = wpage.get_by_role("alertdialog")
        expect(ask).to_contain_text("确定取消正在执行的任务吗？")
        expect(ask.get_by_role("button", name="取消", exact=True)).to_be_focused()  # the safe choice has focus
        assert_fits(wpage, f"cancel confirmation at {width} px")
        snap(wpage, "confirm_cancel", width, full_page=False)
        ask.get_by_role("button", name="取消", exact=True).click()   # changed my mind: still running
        expect(ask).to_have_count(0)
        assert console_server.api("GET", f"data_pipeline/tasks/{task_id}")["data"]["status"] == "in_progress"
        cancel.click()
        wpage.get_by_role("alertdialog").get_by_role("button", name="确认取消执行").click()
        expect(wpage.locator(".head-status .badge")).to_have_text("已取消", timeout=30000)
    finally:
        console_server.api("POST", f"data_pipeline/tasks/{task_id}/cancel")
    wait_finished(console_server, task_id)
    delete = wpage.get_by_role("button", name="删除任务")
    expect(delete).to_be_enabled()
    delete.click()
    ask = wpage.get_by_role("alertdialog")
    expect(ask).to_contain_text(f"删除任务 {task_id}")
    snap(wpage, "confirm_delete", width, full_page=False)
    wpage.keyboard.press("Escape")                                     # Escape is "no"
    expect(ask).to_have_count(0)
    assert console_server.api("GET", f"data_pipeline/tasks/{task_id}")["success"]
    delete.click()
    wpage.get_by_role("alertdialog").get_by_role("button", name="确认删除").click()
    wpage.wait_for_url("**/#/tasks")
    assert console_server.api("GET", f"data_pipeline/tasks/{task_id}")["error"]["code"] == "TASK_NOT_FOUND"


# -- Markdown preview vs CommonMark ------------------------------------------------------------------------------
MARKDOWN_CASES = [
    "段落一\n字段列表：\n- a\n- b",                  # a list interrupts a paragraph; soft break kept
    "- a\n- b\n\n- c",                                 # loose list: items become paragraphs
    "1. x\n2. y", "3. x\n4. y",                        # ordered, with its start number
    "text\n2. not a list",                             # only 1. may interrupt a paragraph
    "- a\n  - b\n  - c\n- d",                          # nesting by indentation
    "- a\n\n  para\n- b",                              # a second paragraph inside an item
    "- a\nlazy\n- b",                                  # lazy continuation line
    "- a\n* b",                                        # a new bullet character starts a new list
    "> q1\n> q2\n\n> - x",                             # blockquotes with paragraphs and lists
    "para one\n\npara `two` **b**",
    "- **字段** `x`\n- 说明：*斜体*",
]


class _Structure(html.parser.HTMLParser):
    """Tags and text of an HTML fragment, whitespace between blocks dropped (both renderers' newlines differ)."""

    def __init__(self):
        super().__init__()
        self.out: list[str] = []

    def handle_starttag(self, tag, attrs):
        start = dict(attrs).get("start")
        self.out.append(f"<{tag}{' start=' + start if start else ''}>")

    def handle_endtag(self, tag):
        self.out.append(f"</{tag}>")

    def handle_data(self, data):
        text = re.sub(r"\s+", " ", data).strip()
        if text:
            self.out.append(text)


def structure(fragment: str) -> list[str]:
    parser = _Structure()
    parser.feed(fragment)
    return parser.out


def test_markdown_preview_matches_commonmark(page, console_server, done_task):
    markdown_it = import_or_skip("markdown_it", "pip install -r requirements-dev.txt")
    reference = markdown_it.MarkdownIt("commonmark")
    page.goto(f"{console_server.base_url}/#/tasks")
    render = """async (text) => (await import('/console/static/js/markdown.js')).renderMarkdown(text).innerHTML"""
    for case in MARKDOWN_CASES:
        assert structure(page.evaluate(render, case)) == structure(reference.render(case)), case
    # a generated table doc: "字段列表：" stays on its own line above the field list
    page.goto(f"{console_server.base_url}/#/tasks/{done_task['task_id']}/files")
    page.get_by_role("button", name="预览 bss_company_detail.md", exact=True).click()
    para = page.locator("#file-preview .md p").filter(has_text="字段列表：")
    assert "字段列表：" in para.inner_text().splitlines()
    expect(page.locator("#file-preview .md ul").first.locator("> li").first).to_contain_text("id (")
    snap(page, "markdown_preview", "1366", full_page=False)
