"""Database tools API: POST /api/v0/database/tables and /api/v0/database/table/ddl."""
from __future__ import annotations

import json

import pytest

from app_config import load_settings
from citu_app import create_app
from tests.business_roles import reader_url
from tests.ddl_fixture_db import PLANTED, admin_url, fixture_db

DEMO = ["public.bss_business_day_data", "public.bss_car_day_count", "public.bss_company",
        "public.bss_section_route", "public.bss_section_route_area_link", "public.bss_service_area",
        "public.bss_service_area_mapper"]


@pytest.fixture(scope="module")
def fixture_url(app_ctx):
    return reader_url(fixture_db(admin_url(app_ctx)))   # SELECT-only: a superuser URL is refused


def post(client, path, body):
    resp = client.post(f"/api/v0/database/{path}", data=json.dumps(body), content_type="application/json")
    return resp.status_code, resp.get_json()


def test_tables_default_database(client):
    status, body = post(client, "tables", {})
    assert status == 200 and body["success"] and body["message"] == "获取表列表成功"
    data = body["data"]
    assert data["tables"] == DEMO and data["total"] == 7 and data["schemas"] == ["public"]
    assert data["db_connection_info"] == {"database": "highway_db"}
    assert {o["type"] for o in data["objects"]} == {"table"}


def test_tables_mark_what_the_role_may_not_read(client, app_ctx):
    """`objects[].readable`: the console's table picker marks the tables the connecting role may not SELECT."""
    from tests.status_fixture_db import READABLE, UNREADABLE, status_fixture
    _, reader = status_fixture(app_ctx)
    status, body = post(client, "tables", {"db_connection": reader})
    assert status == 200, body
    readable = {o["name"].split(".")[-1]: o["readable"] for o in body["data"]["objects"] if o["type"] == "table"}
    assert {n for n, ok in readable.items() if ok} == set(READABLE)
    assert {n for n, ok in readable.items() if not ok} == set(UNREADABLE)
    _, body = post(client, "tables", {})
    assert all(o["readable"] is True for o in body["data"]["objects"])


def test_tables_pattern_wildcards(client):
    _, body = post(client, "tables", {"table_name_pattern": "bss_service*"})
    assert body["data"]["tables"] == ["public.bss_service_area", "public.bss_service_area_mapper"]
    _, body = post(client, "tables", {"table_name_pattern": "bss_s?ction*", "schema": "public"})
    assert body["data"]["tables"] == ["public.bss_section_route", "public.bss_section_route_area_link"]
    assert body["data"]["table_name_pattern"] == "bss_s?ction*"


def test_tables_other_database_schemas_views(client, fixture_url):
    status, body = post(client, "tables", {"db_connection": fixture_url, "schema": "public, Sales Dept"})
    assert status == 200
    data = body["data"]
    assert '"Sales Dept"."Order"' in data["tables"] and "public.events" in data["tables"]
    assert not any("events_20" in t for t in data["tables"])
    types = {o["name"]: o["type"] for o in data["objects"]}
    assert types["public.customer_view"] == "view" and types["public.status_counts"] == "materialized_view"
    assert data["schemas"] == ["public", "Sales Dept"] and data["db_connection_info"]["database"] == "introspect_fixture"
    _, body = post(client, "tables", {"db_connection": fixture_url, "table_name_pattern": "a_b"})
    assert body["data"]["tables"] == ["public.a_b"]   # `_` is literal


def test_bad_connection_is_scrubbed(client):
    status, body = post(client, "tables", {"db_connection": "postgresql://bob:Sup3rSecretPw@127.0.0.1:1/x"})
    assert status == 400 and body["error"]["code"] == "DATABASE_CONNECTION_ERROR"
    assert "Sup3rSecretPw" not in json.dumps(body)
    status, body = post(client, "table/ddl", {"table": "t", "db_connection": "postgresql://bob:Sup3rSecretPw@127.0.0.1:1/x"})
    assert status == 400 and body["error"]["code"] == "DATABASE_CONNECTION_ERROR"
    assert "Sup3rSecretPw" not in json.dumps(body)


@pytest.mark.parametrize("path, body, param", [
    ("tables", {"db_connection": "not a url"}, "db_connection"),
    ("tables", {"unknown": 1}, "unknown"),
    ("tables", {"schema": " , "}, "schema"),
    ("table/ddl", {}, None),
    ("table/ddl", {"table": "a.b.c"}, "table"),
    ("table/ddl", {"table": "bss_company", "type": "pdf"}, "type"),
    ("table/ddl", {"table": "bss_company", "extra": True}, "extra"),
])
def test_bad_requests(client, path, body, param):
    status, answer = post(client, path, body)
    assert status == 400 and answer["error"]["code"] == "VALIDATION_ERROR"
    if param:
        assert param in answer["error"]["invalid_params"]


def test_table_ddl_demo(client):
    status, body = post(client, "table/ddl", {"table": "public.bss_company", "business_context": "管理系统",
                                              "type": "both"})
    assert status == 200 and body["message"] == "获取表DDL成功"
    data = body["data"]
    assert "COMMENT ON TABLE public.bss_company IS '业务支撑系统公司信息表（服务区管理公司）';" in data["ddl"]
    assert data["md"].startswith("## bss_company（业务支撑系统公司信息表（服务区管理公司））\n")
    assert data["table_info"] == {"table_name": "bss_company", "schema_name": "public",
                                  "full_name": "public.bss_company", "comment": "业务支撑系统公司信息表（服务区管理公司）",
                                  "comment_source": "database", "table_type": "table", "field_count": 10,
                                  "row_count": data["table_info"]["row_count"], "row_count_exact": True}
    assert data["table_info"]["row_count"] > 0
    first = data["fields"][0]
    assert (first["column_name"], first["data_type"], first["max_length"], first["is_nullable"],
            first["is_primary_key"], first["comment"]) == ("id", "varchar", 32, False, True, "公司主键ID")
    info = data["generation_info"]
    assert info["has_llm_comments"] is False and info["database"] == "highway_db"
    assert info["business_context"] == "管理系统" and info["output_type"] == "both"


def test_table_ddl_speaks_the_asked_language(client):
    """question_language as a task's: generated comments and the files' labels in English; the database's own
    (Chinese) comments stay as they are; zh (default) keeps the seeds' labels."""
    _, body = post(client, "table/ddl", {"table": "bss_section_route_area_link", "question_language": "en"})
    data = body["data"]
    assert data["generation_info"]["question_language"] == "en"
    assert data["md"].count("Columns:") == 1 and "[generated]" in data["md"] and "字段列表" not in data["md"]
    assert "-- [generated]" in data["ddl"] and "Comment source: " in data["ddl"] and "[生成]" not in data["ddl"]
    _, body = post(client, "table/ddl", {"table": "bss_section_route_area_link"})
    assert body["data"]["generation_info"]["question_language"] == "zh" and "字段列表：" in body["data"]["md"]


def test_table_ddl_types_and_missing(client, fixture_url):
    _, body = post(client, "table/ddl", {"table": "bss_section_route_area_link", "type": "md"})
    assert body["data"]["ddl"] is None and "[生成]" in body["data"]["md"]
    assert body["data"]["table_info"]["comment_source"] == "rule_based"
    status, body = post(client, "table/ddl", {"table": "public.no_such_table"})
    assert status == 404 and body["error"]["code"] == "NOT_FOUND"
    status, body = post(client, "table/ddl", {"table": '"Sales Dept"."Order"', "db_connection": fixture_url,
                                              "type": "ddl"})
    assert status == 200 and 'CREATE TABLE "Sales Dept"."Order" (' in body["data"]["ddl"]
    assert body["data"]["table_info"]["full_name"] == '"Sales Dept"."Order"'


def test_table_ddl_with_llm_masks_pii(settings, fixture_url, openai_stub):
    openai_stub.responder = lambda req: json.dumps({"table_comment": "客户信息", "columns": {"mobile": "手机号码"}},
                                                   ensure_ascii=False)
    llm_app = create_app(settings=load_settings({"data_home": settings.data_home, "log_level": "WARNING",
                                                 "llm_base_url": openai_stub.base_url, "llm_model": "stub"}))
    resp = llm_app.test_client().post("/api/v0/database/table/ddl", json={"table": "customer",
                                                                          "db_connection": fixture_url})
    data = resp.get_json()["data"]
    assert resp.status_code == 200 and data["generation_info"]["has_llm_comments"] is True
    assert data["table_info"]["comment"] == "客户信息"
    assert next(f for f in data["fields"] if f["column_name"] == "mobile")["comment"] == "手机号码"
    sent = openai_stub.sent_text() + "".join(r.prompt_text() for r in openai_stub.requests)
    answer = json.dumps(data, ensure_ascii=False)
    for raw in PLANTED.values():
        assert raw not in sent and raw not in answer, raw
