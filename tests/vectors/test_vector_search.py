"""Search preview `POST /vector/search`: the rows Vanna would retrieve, in Vanna's order (checked against Vanna's
own PG_VectorStore on the same store), the asked pair first, and every client mistake as a contract envelope."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from data_pipeline.steps import training_load
from tests.optional_deps import import_or_skip
from tests.vector_fixtures import (DDL_TEXTS, TRICKY_PAIRS, create_database, create_task, step_context,
                                   write_task_files)

import_or_skip("vanna.legacy.pgvector", "vanna[pgvector]==2.0.2 from requirements-dev.txt")
from tests.vectors.test_vanna_interop import ReaderOnlyVanna, SameEmbeddings, sqlalchemy_url  # noqa: E402

SEARCH = "/api/v0/data_pipeline/vector/search"
TASKS = "/api/v0/data_pipeline/tasks"


def _task(client, **params) -> str:
    return create_task(client, "试问", **params)


def _pipeline_task(client, app_ctx, tables) -> tuple[str, list]:
    """A task whose files come from the real steps (rule-based generator) on demo tables, loaded."""
    from data_pipeline.qa.pairs import latest_pairs_file, read_pairs
    from data_pipeline.steps import step_module
    from data_pipeline.taskfiles.table_list import parse_names

    task_id = _task(client)
    ctx = replace(step_context(app_ctx, task_id, params={"business_context": "高速公路服务区管理系统",
                                                         "modify_original_file": True}),
                  tables=parse_names(tables))
    for step in ("ddl_generation", "qa_generation", "sql_validation", "training_load"):
        result = step_module(step).run(ctx)
    app_ctx.db.execute("UPDATE data_pipeline_tasks SET result = %s WHERE id = %s",
                       (json.dumps({"steps": {"training_load": result.summary}}), task_id))
    return task_id, read_pairs(latest_pairs_file(app_ctx.task_dir(task_id)))


def _search(client, **body):
    resp = client.post(SEARCH, json=body)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]


def test_the_asked_pair_comes_first_and_the_order_is_vannas(vclient, app_ctx):
    task_id, pairs = _pipeline_task(vclient, app_ctx, ["bss_company", "bss_service_area", "bss_car_day_count",
                                                       "bss_business_day_data"])
    assert len(pairs) >= 10
    vanna = ReaderOnlyVanna(config={"connection_string": sqlalchemy_url(app_ctx.runtime.meta_url),
                                    "embedding_function": SameEmbeddings(training_load_embedder(app_ctx)),
                                    "n_results": 5})
    step = max(1, len(pairs) // 10)
    asked = pairs[::step][:10]
    first_hits = 0
    for pair in asked:
        data = _search(vclient, question=pair.question, task_id=task_id, top_k=5)
        sql_hits = data["results"]["sql"]
        assert [(h["question"], h["sql"]) for h in sql_hits] == \
            [(d["question"], d["sql"]) for d in vanna.get_similar_question_sql(pair.question)]
        assert [h["document"] for h in data["results"]["ddl"]] == vanna.get_related_ddl(pair.question)
        assert [h["document"] for h in data["results"]["documentation"]] == \
            vanna.get_related_documentation(pair.question)
        distances = [h["distance"] for h in sql_hits]
        assert distances == sorted(distances) and len(sql_hits) == 5
        assert all(h["task_ids"] == [task_id] for h in sql_hits)
        first_hits += sql_hits[0]["question"] == pair.question
    assert first_hits >= 9, f"asked pair first for {first_hits} of 10"


def training_load_embedder(app_ctx):
    from core.embedding import make_embedder
    return make_embedder(app_ctx.settings)


def test_search_a_named_store_and_choose_collections(vclient, app_ctx):
    second = create_database(app_ctx, "dp_vectors_search")
    task_id = _task(vclient, vector_db_connection=second)
    write_task_files(app_ctx.task_dir(task_id))
    training_load.run(step_context(app_ctx, task_id, params={"vector_db_connection": second}))

    by_url = _search(vclient, question=TRICKY_PAIRS[0][0], vector_db_connection=second, top_k=2,
                     collections=["sql", "ddl"])
    by_task = _search(vclient, question=TRICKY_PAIRS[0][0], task_id=task_id, top_k=2, collections=["sql", "ddl"])
    assert by_url["results"] == by_task["results"]
    assert set(by_url["results"]) == {"sql", "ddl"} and len(by_url["results"]["sql"]) == 2
    first = by_url["results"]["sql"][0]
    assert (first["question"], first["sql"]) == TRICKY_PAIRS[0] and first["task_ids"] == [task_id]
    assert by_url["results"]["ddl"][0]["document"] in DDL_TEXTS.values() and "question" not in \
        by_url["results"]["ddl"][0]
    assert "postgres:" not in json.dumps(by_url) and by_url["vector_store"].startswith("dp_vectors_search@")
    # the default store holds nothing of it
    assert all(v == [] for v in _search(vclient, question=TRICKY_PAIRS[0][0])["results"].values())


def test_an_embedder_that_does_not_match_the_stored_rows_is_a_400(vclient, app_ctx, settings):
    task_id = _task(vclient)
    write_task_files(app_ctx.task_dir(task_id))
    small = settings.model_copy(update={"embedding_dimension": 64})
    training_load.run(step_context(app_ctx, task_id, settings=small, options={"truncate_vector_tables": True}))
    resp = vclient.post(SEARCH, json={"question": "服务区", "task_id": task_id})
    body = resp.get_json()
    assert resp.status_code == 400 and body["error"]["code"] == "VALIDATION_ERROR", body
    assert "different vector dimensions" in body["error"]["details"] and "64" in body["error"]["details"]

    # the task's load used another model: refused before anything is compared
    app_ctx.db.execute("UPDATE data_pipeline_tasks SET result = %s WHERE id = %s", (json.dumps(
        {"steps": {"training_load": {"embedding": {"model": "openai-compatible:other", "dimension": 384}}}}), task_id))
    body = vclient.post(SEARCH, json={"question": "服务区", "task_id": task_id}).get_json()
    assert body["code"] == 400 and "openai-compatible:other" in body["error"]["details"]


@pytest.mark.parametrize("body, invalid", [
    ({}, None),
    ({"question": ""}, "question"),
    ({"question": "x" * 2001}, "question"),
    ({"question": "q", "top_k": 0}, "top_k"),
    ({"question": "q", "top_k": 51}, "top_k"),
    ({"question": "q", "top_k": "5"}, "top_k"),
    ({"question": "q", "collections": ["sql", "tables"]}, "collections.1"),
    ({"question": "q", "collections": []}, "collections"),
    ({"question": "q", "vector_db_connection": "mysql://u:p@h/db"}, "vector_db_connection"),
    ({"question": "q", "task_id": "task_20000101_000000", "vector_db_connection": "postgresql://u@h/db"}, "task_id"),
    ({"question": "q", "unknown": 1}, "unknown"),
])
def test_search_client_mistakes_are_400_envelopes(vclient, body, invalid):
    resp = vclient.post(SEARCH, json=body)
    data = resp.get_json()
    assert resp.status_code == 400 and data["success"] is False and data["error"]["code"] == "VALIDATION_ERROR", data
    if invalid:
        assert invalid in data["error"]["invalid_params"], data


def test_search_unknown_task_and_unreachable_store(vclient):
    resp = vclient.post(SEARCH, json={"question": "q", "task_id": "task_20000101_000000"})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "TASK_NOT_FOUND"
    resp = vclient.post(SEARCH, json={"question": "q",
                                      "vector_db_connection": "postgresql://u:s3cret-pw@127.0.0.1:1/nowhere"})
    body = resp.get_json()
    assert resp.status_code == 400 and body["error"]["code"] == "DATABASE_CONNECTION_ERROR", body
    assert "s3cret-pw" not in resp.get_data(as_text=True)
    assert body["error"]["invalid_params"] == ["vector_db_connection"]
