"""The 试问 box on a task's overview: a question shows the pairs (with SQL), DDL and docs Vanna would retrieve."""
from __future__ import annotations

import re

from data_pipeline.steps import training_load
from tests.e2e.conftest import import_expect
from tests.e2e.test_console import unique
from tests.vector_fixtures import TRICKY_PAIRS, step_context, write_task_files

expect = import_expect()


def test_ask_box_shows_what_vanna_would_retrieve(page, console_server, app_ctx, shot):
    created = console_server.api("POST", "data_pipeline/tasks", json={"task_name": unique("试问"),
                                                                     "table_names": ["bss_company"]})
    task_id = created["data"]["task_id"]
    task_dir = app_ctx.task_dir(task_id)
    config = (task_dir / "task_config.json").read_bytes()
    write_task_files(task_dir)
    (task_dir / "task_config.json").write_bytes(config)
    training_load.run(step_context(app_ctx, task_id))       # the server process reads the same store

    page.goto(f"{console_server.base_url}/#/tasks/{task_id}")
    box = page.locator("section[aria-label=试问]")
    question, sql = TRICKY_PAIRS[0]
    box.get_by_label("试问的问题").fill(question)
    box.get_by_role("button", name="试问").click()
    first_pair = box.locator(".ask-group[data-collection=sql] li").first
    expect(first_pair).to_contain_text(question)
    expect(first_pair.locator("pre")).to_have_text(sql)
    # whose row it is, in words (issue 25: never a list of task ids); the ids stay in the tooltip
    expect(first_pair.locator(".owner")).to_contain_text("本任务")
    expect(first_pair.locator(".owner")).to_have_attribute("title", re.compile(task_id))
    # other tests may have left rows in the default store: ours are among the DDL hits, nearest first
    expect(box.locator(".ask-group[data-collection=ddl] li").first).to_contain_text(re.compile("create table", re.I))
    expect(box.locator(".ask-group[data-collection=documentation] h3")).to_contain_text("文档")
    shot(page, "14_ask_box")
    # an empty question is not sent
    box.get_by_label("试问的问题").fill("  ")
    box.get_by_role("button", name="试问").click()
    expect(first_pair).to_contain_text(question)
