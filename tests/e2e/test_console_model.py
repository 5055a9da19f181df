"""The console's semantic-model card on a task's files page, in a real browser against a real server process:
a bad model shows the server's 400 problem and changes nothing; an edited one is uploaded as semantic_model.json
(whatever the local file's name) with its edits marked; the re-run button starts qa_generation, which completes."""
from __future__ import annotations

import json
import time

from tests.e2e.conftest import import_expect

expect = import_expect()


def wait_done(server, task_id: str, step: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = server.api("GET", f"data_pipeline/tasks/{task_id}")["data"]
        if data["current_step"] is None and data["step_status"][step] in ("completed", "failed"):
            return data
        time.sleep(0.3)
    raise AssertionError(f"{step} of {task_id} did not finish")


def test_semantic_model_upload_and_rerun(page, console_server, shot):
    created = console_server.api("POST", "data_pipeline/tasks", json={
        "task_name": "semantic model card", "table_names": ["bss_company", "bss_service_area"]})
    task_id = created["data"]["task_id"]
    console_server.api("POST", f"data_pipeline/tasks/{task_id}/execute",
                       json={"execution_mode": "step", "step_name": "ddl_generation"})
    assert wait_done(console_server, task_id, "ddl_generation")["step_status"]["ddl_generation"] == "completed"
    url = f"{console_server.base_url}/api/v0/data_pipeline/tasks/{task_id}/files/semantic_model.json"
    import requests
    original = requests.get(url, timeout=30).content
    model = json.loads(original)

    page.goto(f"{console_server.base_url}/#/tasks/{task_id}/files")
    card = page.locator("section[aria-label=语义模型]")
    expect(card.get_by_role("link", name="semantic_model.json")).to_be_visible()
    chooser = card.get_by_label("编辑后的语义模型 (semantic_model.json)")
    # a model naming an unknown table kind: the server's problem is shown, the file is unchanged
    bad = json.loads(original)
    bad["tables"]["public.bss_company"]["kind"] = "fact_table"
    chooser.set_input_files(files=[{"name": "my_model.json", "mimeType": "application/json",
                                    "buffer": json.dumps(bad).encode()}])
    card.get_by_role("button", name="提交语义模型").click()
    expect(card.locator(".error-slot")).to_contain_text("kind 'fact_table' is not one of")
    assert requests.get(url, timeout=30).content == original
    # an edited model under another local name replaces the task's model
    column = next(iter(model["tables"]["public.bss_company"]["columns"]))
    model["tables"]["public.bss_company"]["columns"][column]["role"] = "free_text"
    chooser.set_input_files(files=[{"name": "edited.json", "mimeType": "application/json",
                                    "buffer": json.dumps(model, ensure_ascii=False).encode()}])
    card.get_by_role("button", name="提交语义模型").click()
    expect(page.locator(".toast.t-ok")).to_contain_text("1 处修改")
    stored = requests.get(url, timeout=30).json()
    assert stored["tables"]["public.bss_company"]["columns"][column] == {
        **model["tables"]["public.bss_company"]["columns"][column], "edited_by_user": True}
    shot(page, "05c_files_semantic_model")
    card.get_by_role("button", name="按语义模型重新生成问答对").click()
    expect(page.locator(".toast.t-ok").last).to_contain_text("qa_generation")
    assert wait_done(console_server, task_id, "qa_generation")["step_status"]["qa_generation"] == "completed"
