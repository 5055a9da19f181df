"""An edited `semantic_model.json` uploaded through the files API (issue 22): bad files answer a 400 envelope that
names the problem and change nothing; a good one is stored (the old one kept as a backup), its body edits are
marked so they survive re-runs, qa_generation re-run by the real executor asks its questions against it, and a
ddl_generation re-run (clean_previous) keeps the edits. Real embedded PostgreSQL, the rental fixture of
tests/realistic_fixtures.py read through a SELECT-only role, no LLM."""
from __future__ import annotations

import copy
import io
import json

import pytest

from data_pipeline.qa.pairs import latest_pairs_file, read_pairs
from data_pipeline.semantics.model import read_model
from tests.ddl_fixture_db import admin_url
from tests.executor_support import wait_final
from tests.realistic_fixtures import RENTAL, create

API = "/api/v0/data_pipeline/tasks"
MODEL = "semantic_model.json"


def upload(client, task_id, data: bytes, name=MODEL):
    return client.post(f"{API}/{task_id}/files", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def run_step(client, task_id, step):
    r = client.post(f"{API}/{task_id}/execute", json={"execution_mode": "step", "step_name": step})
    assert r.status_code == 202, r.get_json()
    status = wait_final(client, task_id, timeout=180)
    assert status["step_status"][step] == "completed", status


@pytest.fixture(scope="module")
def task(app, app_ctx):
    """A task on the rental fixture after ddl_generation and qa_generation (English questions)."""
    app_ctx.db.execute("TRUNCATE data_pipeline_tasks CASCADE")
    client = app.test_client()
    body = {"task_name": "model upload", "table_names": RENTAL.tables, "question_language": "en",
            "db_connection": create(admin_url(app_ctx), RENTAL), "enable_sql_validation": False,
            "enable_training_data_load": False}
    r = client.post(API, json=body)
    assert r.status_code == 201, r.get_json()
    task_id = r.get_json()["data"]["task_id"]
    for step in ("ddl_generation", "qa_generation"):
        run_step(client, task_id, step)
    return client, task_id, app_ctx.task_dir(task_id)


def _drop_payment(m):
    del m["tables"]["public.payment"]


def _drop_column(m):
    del m["tables"]["public.film"]["columns"]["rental_rate"]


def _set(path, value):
    def edit(m):
        node = m
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


@pytest.mark.parametrize("edit,expect", [
    (lambda m: m.clear() or m.update({"tables": []}), "'tables' must be a non-empty object"),
    (_set(["tables", "public.film", "kind"], "fact_table"), "kind 'fact_table' is not one of"),
    (_set(["tables", "public.film", "columns", "length", "role"], "metric"), "role 'metric' is not one of"),
    (_set(["tables", "public.film", "label"], ["film_title"]), "label names 'film_title', not a column"),
    (_set(["tables", "public.payment", "event_time"], "paid_at"), "event_time 'paid_at' is not a column"),
    (_set(["tables", "public.actor", "columns", "first_name", "personal"], "no"), "personal must be true or false"),
    (_set(["overrides"], {"tables": {"public.nope": {"kind": "entity"}}}), "no such table in the model"),
    (_drop_payment, "tables of the task's model are missing"),
    (_drop_column, "lacks columns of the task's model: rental_rate"),
])
def test_a_bad_model_is_refused_with_its_problem_and_nothing_changes(task, edit, expect):
    client, task_id, task_dir = task
    before = (task_dir / MODEL).read_bytes()
    model = json.loads(before)
    edit(model)
    r = upload(client, task_id, json.dumps(model).encode())
    body = r.get_json()
    assert r.status_code == 400 and body["error"]["code"] == "VALIDATION_ERROR", body
    assert expect in body["error"]["details"] and body["error"]["invalid_params"] == ["file"]
    assert "Traceback" not in json.dumps(body)
    assert (task_dir / MODEL).read_bytes() == before
    assert not list(task_dir.glob(f"{MODEL}.bak*"))


def test_not_json_at_all_is_refused(task):
    client, task_id, task_dir = task
    r = upload(client, task_id, b"{\"tables\": ")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_an_edited_model_is_used_by_qa_generation_and_survives_a_ddl_rerun(task):
    client, task_id, task_dir = task
    pairs = read_pairs(latest_pairs_file(task_dir))
    before_district = sum("district" in p.sql for p in pairs)
    assert before_district > 0, "the fixture's address district is asked about before the edit"
    original = client.get(f"{API}/{task_id}/files/{MODEL}").data
    model = json.loads(original)
    edited = copy.deepcopy(model)
    # performers' names are public credits; a district is treated as personal here
    for col in ("first_name", "last_name"):
        edited["tables"]["public.actor"]["columns"][col].update({"role": "label", "personal": False})
    edited["tables"]["public.actor"]["label"] = ["first_name", "last_name"]
    edited["tables"]["public.address"]["columns"]["district"].update({"role": "personal", "personal": True})
    r = upload(client, task_id, json.dumps(edited, ensure_ascii=False).encode())
    assert r.status_code == 200, r.get_json()
    data = r.get_json()["data"]
    assert data["action"] == "backed_up_and_replaced"
    # (the actor's label is already first + last name in the built model: a person's name is the label, used
    # once public; so only the columns are edits)
    assert {"public.actor.first_name", "public.actor.last_name", "public.address.district"} <= \
        set(data["model_edits"])
    assert (task_dir / data["backup_file"]).read_bytes() == original           # nothing lost

    run_step(client, task_id, "qa_generation")
    pairs = read_pairs(latest_pairs_file(task_dir))
    assert not any("district" in p.sql for p in pairs)
    assert any("first_name" in p.sql and "actor" in p.sql for p in pairs)

    run_step(client, task_id, "ddl_generation")                               # clean_previous: the default
    model = read_model(task_dir)
    assert model.column("public.actor", "first_name").personal is False
    assert model.table("public.actor").label == ["first_name", "last_name"]
    assert model.column("public.address", "district").personal is True
