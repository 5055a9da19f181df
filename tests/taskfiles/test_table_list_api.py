"""Table-list endpoints: upload (.txt, BOM, encodings, limits), JSON forms, info, existence check against the
real demo business database, task parameters updated, refusal while running."""
from __future__ import annotations

import io

import pytest

from app_config import load_settings
from data_pipeline.taskfiles import table_list
from data_pipeline.taskfiles.table_list import TableRef

API = "/api/v0/data_pipeline/tasks"


@pytest.fixture()
def upload_task(client):
    """A task in upload mode (no table list yet)."""
    d = client.post(API, json={"task_name": "tl"}).get_json()["data"]
    return d["task_id"]


def post_file(client, task_id, data: bytes, name="tables.txt", **form):
    return client.post(f"{API}/{task_id}/upload-table-list", data={"file": (io.BytesIO(data), name), **form},
                       content_type="multipart/form-data")


def test_info_without_list(client, upload_task):
    d = client.get(f"{API}/{upload_task}/table-list-info").get_json()["data"]
    assert d["has_table_list"] is False and d["table_count"] == 0 and d["tables"] == []
    r = client.post(f"{API}/{upload_task}/execute", json={})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "TABLE_LIST_MISSING"


def test_upload_txt_with_bom_comments_commas_and_duplicates(client, app_ctx, upload_task):
    text = ("\ufeff# 高速公路服务区\nbss_business_day_data\n-- comment\n\npublic.bss_car_day_count, bss_company\n"
            "BSS_COMPANY  # duplicate after folding\n")
    r = post_file(client, upload_task, text.encode("utf-8"), business_context="高速公路服务区管理系统")
    assert r.status_code == 200, r.data
    d = r.get_json()["data"]
    assert d["tables"] == ["bss_business_day_data", "bss_car_day_count", "bss_company"]
    assert d["table_count"] == 3 and d["file_name"] == "table_list.txt" and d["missing_tables"] == []
    assert d["existence_checked"] is True
    assert d["file_path"] == f"./data_pipeline/training_data/{upload_task}/table_list.txt"
    saved = (app_ctx.task_dir(upload_task) / "table_list.txt").read_text(encoding="utf-8")
    assert saved == "bss_business_day_data\nbss_car_day_count\nbss_company\n"
    task = client.get(f"{API}/{upload_task}?include=parameters").get_json()["data"]
    assert task["parameters"]["file_upload_mode"] is False
    assert task["parameters"]["table_list_file"] == "{task_directory}/table_list.txt"
    assert task["business_context"] == "高速公路服务区管理系统"
    info = client.get(f"{API}/{upload_task}/table-list-info").get_json()["data"]
    assert info["has_table_list"] and info["table_count"] == 3 and info["uploaded_at"]
    assert info["file_size"] == len(saved.encode())


@pytest.mark.parametrize("data,name,code", [
    ("bss_company".encode("utf-16"), "t.txt", "VALIDATION_ERROR"),
    ("表一\n".encode("gbk"), "t.txt", "VALIDATION_ERROR"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "t.txt", "VALIDATION_ERROR"),
    (b"bss_company\n", "t.csv", "UNSUPPORTED_FILE_TYPE"),
    (b"bss_company\n", "t", "UNSUPPORTED_FILE_TYPE"),
    (b"# only comments\n\n", "t.txt", "VALIDATION_ERROR"),
    (b"bss company\n", "t.txt", "VALIDATION_ERROR"),
    (b"a.b.c\n", "t.txt", "VALIDATION_ERROR"),
])
def test_upload_rejections(client, app_ctx, upload_task, data, name, code):
    r = post_file(client, upload_task, data, name)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == code, r.data
    assert "details" in r.get_json()["error"]
    assert not (app_ctx.task_dir(upload_task) / "table_list.txt").exists()


def test_encoding_error_is_explained(client, upload_task):
    r = post_file(client, upload_task, "表一\n".encode("gbk"))
    assert "UTF-8" in r.get_json()["error"]["details"]


def test_line_limit(client, app_ctx, upload_task):
    limit = app_ctx.settings.table_list_max_lines
    r = post_file(client, upload_task, b"bss_company\n" * (limit + 1))
    assert r.status_code == 400 and "lines" in r.get_json()["error"]["details"]


def test_json_forms_seed_002_and_tables(client, upload_task):
    r = client.post(f"{API}/{upload_task}/table-list",
                    json={"table_names": ["bss_business_day_data", "bss_car_day_count", "bss_company"],
                          "business_context": "高速公路服务区管理系统"})
    assert r.status_code == 200 and r.get_json()["data"]["table_count"] == 3
    r = client.post(f"{API}/{upload_task}/table-list", json={"tables": "bss_company, public.bss_section_route"})
    assert r.get_json()["data"]["tables"] == ["bss_company", "bss_section_route"]
    r = client.post(f"{API}/{upload_task}/table-list", json={"tables": ["bss_service_area"]})
    assert r.get_json()["data"]["tables"] == ["bss_service_area"]


@pytest.mark.parametrize("body", [{}, {"table_names": []}, {"table_names": "x"}, {"table_names": [1]},
                                  {"table_names": ["ok", "bad name"]}, {"table_names": ["a"], "extra": 1},
                                  {"table_names": ["bss_company"], "business_context": 5}])
def test_json_validation(client, upload_task, body):
    r = client.post(f"{API}/{upload_task}/table-list", json=body)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_unknown_tables_rejected_with_list_unless_allowed(client, app_ctx, upload_task):
    r = client.post(f"{API}/{upload_task}/table-list", json={"table_names": ["bss_company", "no_such_table",
                                                                              "ods.bss_company"]})
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert "no_such_table" in err["details"] and "ods.bss_company" in err["details"]
    assert err["details"].split(": ", 1)[1].split(", ") == ["no_such_table", "ods.bss_company"]
    assert not (app_ctx.task_dir(upload_task) / "table_list.txt").exists()
    r = client.post(f"{API}/{upload_task}/table-list", json={"table_names": ["bss_company", "no_such_table"],
                                                              "allow_missing": True})
    d = r.get_json()["data"]
    assert r.status_code == 200 and d["missing_tables"] == ["no_such_table"] and "warning" in d
    r = post_file(client, upload_task, b"nope_table\n", allow_missing="false")
    assert r.status_code == 400 and "nope_table" in r.get_json()["error"]["details"]


def test_unreachable_database_saves_with_warning(client, app_ctx):
    bad = "postgresql://nobody:pw@127.0.0.1:1/nowhere"
    task_id = client.post(API, json={"task_name": "offline", "db_connection": bad}).get_json()["data"]["task_id"]
    r = client.post(f"{API}/{task_id}/table-list", json={"table_names": ["anything"]})
    d = r.get_json()["data"]
    assert r.status_code == 200 and d["existence_checked"] is False and "not reachable" in d["warning"]
    assert b"pw@" not in r.data


def test_find_missing_tables_against_demo_db(business_url):
    settings = load_settings({})
    refs = table_list.parse_names(["bss_company", "public.bss_car_day_count", "missing_one", '"BSS_COMPANY"'])
    missing = table_list.find_missing_tables(business_url, refs, settings)
    assert missing == [TableRef("public", "missing_one"), TableRef("public", "BSS_COMPANY")]
    assert table_list.find_missing_tables(business_url, [], settings) == []
