"""LLM_API_KEY, EMBEDDING_API_KEY and API_TOKEN, planted in the service's settings, never leave the places
that need them (the Authorization header of the request they authorise, the executor's environment).

A complete workflow runs in LLM mode through the real executor subprocess: the chat stub and the embedding stub
(tests/openai_stub.py, two real local HTTP servers) each accept only their own key, and the API demands the
token, so a completed run proves all three were in use. Then everything the password canary scans
(tests/secret_scan.py) is scanned for all three: zero hits.
"""
from __future__ import annotations

import logging
import re

import pytest

from citu_app import create_app
from tests.executor_support import BASE, comments_responder, stop_executors, wait_executor_exit, wait_final
from tests.openai_stub import OpenAIStub, Reply
from tests.secret_scan import Scanner, scan_database, scan_task_dir, scan_task_read_endpoints
from tests.vector_fixtures import empty_vector_tables

LLM_KEY = "sk-PLANTEDllm-4f1c9e0b"
EMBEDDING_KEY = "emb-PLANTEDembed-77a2d"
API_TOKEN = "tok-PLANTEDapi-5e3b81"
TABLES = ["bss_company", "bss_service_area"]
EMBEDDING_DIMENSION = 384  # the built-in embedder's: other tests' rows in the shared vector table stay loadable

THEMES = {"themes": [
    {"topic_name": "公司管理", "description": "公司基本信息", "related_tables": ["bss_company"],
     "biz_entities": ["公司"], "biz_metrics": ["公司数量"]},
    {"topic_name": "服务区分布", "description": "服务区与所属公司", "related_tables": ["bss_service_area", "bss_company"],
     "biz_entities": ["服务区"], "biz_metrics": ["服务区数量"]},
]}
PAIRS = {
    "公司管理": [
        {"question": "一共有多少家公司？", "sql": "SELECT COUNT(*) FROM bss_company", "difficulty": "aggregate"},
        {"question": "列出所有公司名称", "sql": "SELECT company_name FROM bss_company ORDER BY company_name",
         "difficulty": "single_table"},
    ],
    "服务区分布": [
        {"question": "每家公司有多少个服务区？", "sql": "SELECT c.company_name, COUNT(a.id) FROM bss_service_area a "
         "JOIN bss_company c ON a.company_id = c.id GROUP BY c.company_name", "difficulty": "join"},
        {"question": "列出所有服务区名称", "sql": "SELECT service_area_name FROM bss_service_area",
         "difficulty": "single_table"},
    ],
}


def llm_answers(request_json: dict):
    """Well-formed answers for each prompt of the workflow (comments, themes, pairs)."""
    prompt = request_json["messages"][-1]["content"]
    if "归纳为最多" in prompt:
        return Reply.of_json(THEMES)
    topic = re.search(r"业务主题：(\S+)", prompt)
    if topic:
        return Reply.of_json(PAIRS[topic.group(1)])
    return comments_responder(request_json)


@pytest.fixture()
def stubs():
    with OpenAIStub(require_api_key=LLM_KEY) as chat, \
            OpenAIStub(require_api_key=EMBEDDING_KEY, embedding_dimension=EMBEDDING_DIMENSION) as embed:
        chat.responder = llm_answers
        yield chat, embed


@pytest.fixture()
def token_client(settings, stubs, clean_db):
    chat, embed = stubs
    planted = settings.model_copy(update={
        "llm_base_url": chat.base_url, "llm_model": "stub-model", "llm_api_key": LLM_KEY, "llm_max_retries": 0,
        "embedding_base_url": embed.base_url, "embedding_model": "stub-embed", "embedding_api_key": EMBEDDING_KEY,
        "api_token": API_TOKEN})
    app = create_app(settings=planted)
    client = app.test_client()
    empty_vector_tables(clean_db.db)
    yield client
    stop_executors(clean_db.db)
    empty_vector_tables(clean_db.db)


@pytest.fixture()
def scanner(caplog):
    caplog.set_level(logging.DEBUG)
    s = Scanner([LLM_KEY, EMBEDDING_KEY, API_TOKEN])
    yield s
    s.check("service log records (caplog)", caplog.text)


def test_llm_embedding_keys_and_api_token_never_leak_from_a_complete_llm_run(token_client, stubs, app_ctx,
                                                                            scanner):
    chat, embed = stubs
    client = token_client
    # the token is enforced (precondition), and a refusal does not echo what was sent
    refused = client.get(BASE, headers={"Authorization": f"Bearer {API_TOKEN}x"})
    assert refused.status_code == 401
    scanner.check("401 answer", refused.data)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {API_TOKEN}"

    created = client.post(BASE, json={"task_name": "key canary", "table_names": TABLES,
                                      "backup_vector_tables": True})
    scanner.check("create response", created.data)
    assert created.status_code == 201, created.get_json()
    task_id = created.get_json()["data"]["task_id"]
    resp = client.post(f"{BASE}/{task_id}/execute", json={"execution_mode": "complete"})
    scanner.check("execute response", resp.data)
    assert resp.status_code == 202, resp.get_json()
    status = wait_final(client, task_id, timeout=240)
    wait_executor_exit(app_ctx.db, resp.get_json()["data"]["execution_id"])  # every write of the run is done
    assert set(status["step_status"].values()) == {"completed"}, (status["error_message"], status["step_status"])
    assert status["status"] in ("completed", "partial_completed"), status["status"]

    # LLM mode really ran, each stub saw its own key (it answers 401 to anything else)
    # themes, then pairs per theme (the demo tables have every comment: no comment call is needed for them)
    assert len(chat.chat_requests) >= 1 + len(THEMES["themes"])
    assert {r.headers.get("Authorization") for r in chat.requests} == {f"Bearer {LLM_KEY}"}
    assert embed.embedding_requests
    assert {r.headers.get("Authorization") for r in embed.requests} == {f"Bearer {EMBEDDING_KEY}"}
    assert EMBEDDING_KEY not in chat.sent_text() and LLM_KEY not in embed.sent_text()
    pair_files = list(app_ctx.task_dir(task_id).glob("qs_*_pair.json"))
    assert len(pair_files) == 1
    assert "每家公司有多少个服务区？" in pair_files[0].read_text(encoding="utf-8")  # the stub's pairs made it through
    vectors = app_ctx.db.fetchone("SELECT count(*) AS n FROM langchain_pg_embedding "
                                  "WHERE vector_dims(embedding) = %s", (EMBEDDING_DIMENSION,))["n"]
    assert vectors > 0

    scan_task_read_endpoints(scanner, client, task_id)
    assert scan_task_dir(scanner, app_ctx.task_dir(task_id)) >= 6
    scan_database(scanner, app_ctx.db, task_id)
    assert scanner.checked > 30
