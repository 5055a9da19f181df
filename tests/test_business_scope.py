"""Issue 23, points 9 and 10: the database tools see business schemas only, and a task id is never given twice.

- `pg_catalog`, `information_schema`, `pg_toast`, `pg_temp_N` (any `pg_` schema): a clear 400 from
  /api/v0/database/tables and /table/ddl, before the business database is read;
- a task deleted in the same second as it was created does not hand its id to the next task
  (data_pipeline_task_ids, sql/migrations/004_task_ids.sql).
"""
from __future__ import annotations

from datetime import datetime

import pytest

from data_pipeline import ids
from data_pipeline.store import tasks as task_store
from tests.executor_support import BASE

DB_API = "/api/v0/database"


@pytest.mark.parametrize("schema", ["pg_catalog", "information_schema", "pg_toast", "pg_temp_3", "pg_toast_temp_1",
                                    "public,pg_catalog", "PG_CATALOG", ["public", "information_schema"]])
def test_listing_system_schemas_is_refused(client, schema):
    resp = client.post(f"{DB_API}/tables", json={"schema": schema})
    answer = resp.get_json()
    assert resp.status_code == 400 and answer["error"]["invalid_params"] == ["schema"], answer
    assert "system schema" in answer["error"]["details"]
    assert "pg_stat_activity" not in resp.get_data(as_text=True)


@pytest.mark.parametrize("table", ["pg_catalog.pg_stat_activity", "information_schema.tables", "pg_toast.pg_toast_2619",
                                   '"pg_catalog"."pg_authid"', "pg_temp_1.t"])
def test_describing_system_tables_is_refused(client, table):
    resp = client.post(f"{DB_API}/table/ddl", json={"table": table})
    answer = resp.get_json()
    assert resp.status_code == 400 and answer["error"]["invalid_params"] == ["table"], answer
    assert "system schema" in answer["error"]["details"]
    assert "datname" not in resp.get_data(as_text=True) and "application_name" not in resp.get_data(as_text=True)


def test_business_schemas_still_answer(client):
    resp = client.post(f"{DB_API}/tables", json={"schema": "public"})
    assert resp.status_code == 200 and "public.bss_company" in resp.get_json()["data"]["tables"]
    assert client.post(f"{DB_API}/table/ddl", json={"table": "public.bss_company"}).status_code == 200


def test_a_deleted_tasks_id_is_never_given_again(client, app_ctx):
    now = datetime(2031, 5, 6, 7, 8, 9)
    first = ids.new_task_id("task", now)
    row = task_store.insert_task(app_ctx.db, task_id=first, task_type="data_workflow", task_name="a", parameters={},
                                 output_directory="x", created_by=None, db_name=None, business_context=None)
    assert row["task_id"] == first
    assert client.delete(f"{BASE}/{first}").status_code == 200
    again = task_store.insert_task(app_ctx.db, task_id=first, task_type="data_workflow", task_name="b",
                                   parameters={}, output_directory="x", created_by=None, db_name=None,
                                   business_context=None)
    assert again is None                                       # the caller moves on to the next suffix


def test_tasks_created_and_deleted_in_one_second_get_distinct_ids(client):
    seen = []
    for _ in range(6):
        task_id = client.post(BASE, json={"task_name": "same second"}).get_json()["data"]["task_id"]
        assert task_id not in seen, seen
        seen.append(task_id)
        assert client.delete(f"{BASE}/{task_id}").status_code == 200
