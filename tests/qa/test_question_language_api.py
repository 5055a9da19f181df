"""The `question_language` task parameter (issue 12): zh by default, en and auto accepted, anything else a 400
in the contract envelope naming the parameter."""
from __future__ import annotations

BASE = "/api/v0/data_pipeline/tasks"


def test_question_language_is_stored_with_zh_as_default(client):
    default = client.post(BASE, json={"table_names": ["bss_company"]}).get_json()["data"]
    assert default["parameters"]["question_language"] == "zh"
    for value in ("en", "auto"):
        resp = client.post(BASE, json={"table_names": ["bss_company"], "question_language": value})
        assert resp.status_code == 201 and resp.get_json()["data"]["parameters"]["question_language"] == value
    nested = client.post(BASE, json={"task_type": "data_workflow",
                                     "parameters": {"table_names": ["bss_company"], "question_language": "en"}})
    assert nested.get_json()["data"]["parameters"]["question_language"] == "en"


def test_an_unknown_question_language_is_a_validation_error(client):
    for value in ("fr", 1, ""):
        resp = client.post(BASE, json={"table_names": ["bss_company"], "question_language": value})
        body = resp.get_json()
        assert resp.status_code == 400 and body["error"]["code"] == "VALIDATION_ERROR", body
        assert "question_language" in str(body["error"])
        assert "Traceback" not in str(body)
