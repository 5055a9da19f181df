"""Ownership: which task loaded which row is recorded in our metadata database, so a second task loading the same
text never takes rows away from the first; `DELETE /tasks/{id}?delete_vectors=true` removes only the rows that
task alone owns (409 while a load/restore writes the store); restores keep the records consistent."""
from __future__ import annotations

import pytest

from data_pipeline.steps import training_load
from data_pipeline.store import vector_owners
from data_pipeline.vectors.target import database_identity
from tests.vector_fixtures import (all_rows, create_database, create_task, step_context, store_rows, TRICKY_PAIRS,
                                   write_task_files)

TASKS = "/api/v0/data_pipeline/tasks"


def _task(client, **params) -> str:
    return create_task(client, "归属测试", **params)


def _load(app_ctx, task_id, pairs=TRICKY_PAIRS, *, ddl=True, **ctx_kw):
    task_dir = app_ctx.task_dir(task_id)
    keep = {p.name: p.read_bytes() for p in task_dir.iterdir() if p.is_file()}
    write_task_files(task_dir, pairs=pairs)
    for name, data in keep.items():          # the API's files (task_config.json ...), not the earlier sources
        if not (task_dir / name).exists():
            (task_dir / name).write_bytes(data)
    if not ddl:
        for p in list(task_dir.glob("*.ddl")) + list(task_dir.glob("bss_*_detail.md")):
            p.unlink()
    params = app_ctx.db.fetchone("SELECT parameters FROM data_pipeline_tasks WHERE id = %s", (task_id,))["parameters"]
    return training_load.run(step_context(app_ctx, task_id, params=params, **ctx_kw))


def _documents(db) -> set[str]:
    return {r["document"] for r in all_rows(db)}


def _delete(client, task_id, flag="true"):
    return client.delete(f"{TASKS}/{task_id}", query_string={"delete_vectors": flag})


def test_second_task_on_the_same_tables_takes_nothing_and_its_delete_keeps_every_row_of_the_first(vclient, app_ctx):
    a, b = _task(vclient), _task(vclient)
    _load(app_ctx, a)
    docs_a = _documents(app_ctx.db)
    assert len(docs_a) == 9
    # B: the same tables and pairs plus one pair and one DDL of its own
    task_dir_b = app_ctx.task_dir(b)
    result_b = _load(app_ctx, b, pairs=TRICKY_PAIRS + [("B 独有的问题", "SELECT 'b'")])
    (task_dir_b / "bss_b_only.ddl").write_text("create table bss_b_only (id int);", encoding="utf-8")
    result_b = training_load.run(step_context(app_ctx, b))
    assert result_b.summary["loaded"] == {"sql": 6, "ddl": 3, "documentation": 2}
    # per-task counts stay true: A still owns all of its 9 rows although B loaded the same texts last
    assert vector_owners.counts(app_ctx.db, "metadata", a) == {"sql": 5, "ddl": 2, "documentation": 2}
    assert vector_owners.counts(app_ctx.db, "metadata", b) == {"sql": 6, "ddl": 3, "documentation": 2}
    assert len(all_rows(app_ctx.db)) == 11

    resp = _delete(vclient, b)
    assert resp.status_code == 200, resp.get_json()
    vectors = resp.get_json()["data"]["vectors"]
    assert vectors == {"vector_store": "metadata database", "vector_rows_deleted": 2, "vector_rows_kept_shared": 9,
                       "vector_stores_not_cleaned": []}
    assert _documents(app_ctx.db) == docs_a                     # every document of A is still there
    assert vector_owners.task_rows(app_ctx.db, "metadata", b) == {}
    assert vector_owners.counts(app_ctx.db, "metadata", a) == {"sql": 5, "ddl": 2, "documentation": 2}

    # A alone now: its delete removes everything it loaded
    resp = _delete(vclient, a)
    assert resp.get_json()["data"]["vectors"]["vector_rows_deleted"] == 9
    assert all_rows(app_ctx.db) == []


def test_reload_drops_only_rows_nobody_else_owns(vclient, app_ctx):
    a, b = _task(vclient), _task(vclient)
    _load(app_ctx, a)
    _load(app_ctx, b, pairs=TRICKY_PAIRS[:1], ddl=False)        # B shares one pair with A
    result = _load(app_ctx, a, pairs=TRICKY_PAIRS[2:])          # A drops pairs 0 and 1
    assert result.summary["replaced_previous_rows"] == 9
    assert result.summary["removed_previous_rows"] == 1 and result.summary["kept_shared_rows"] == 1
    questions = {r["document"] for r in all_rows(app_ctx.db) if r["collection"] == "sql"}
    assert any(TRICKY_PAIRS[0][0] in d for d in questions)       # B's pair stays
    assert not any(TRICKY_PAIRS[1][0] in d for d in questions)   # A's own dropped pair is gone
    assert vector_owners.counts(app_ctx.db, "metadata", a)["sql"] == 3
    assert vector_owners.counts(app_ctx.db, "metadata", b) == {"sql": 1}


def test_a_task_deleted_without_vectors_still_protects_its_rows(vclient, app_ctx):
    a, b = _task(vclient), _task(vclient)
    _load(app_ctx, a)
    _load(app_ctx, b)
    assert _delete(vclient, a, "false").status_code == 200        # rows stay, and stay A's
    assert len(all_rows(app_ctx.db)) == 9
    resp = _delete(vclient, b)
    assert resp.get_json()["data"]["vectors"]["vector_rows_deleted"] == 0
    assert len(all_rows(app_ctx.db)) == 9
    assert "vectors" not in vclient.delete(f"{TASKS}/{_task(vclient)}").get_json()["data"]


def test_delete_vectors_acts_on_the_tasks_own_store(vclient, app_ctx):
    second = create_database(app_ctx, "dp_vectors_owned")
    a = _task(vclient, vector_db_connection=second)
    view = vclient.get(f"{TASKS}/{a}?include=parameters").get_json()["data"]
    assert view["parameters"]["vector_db_connection"].startswith("postgresql://postgres:******@")
    _load(app_ctx, a)
    _load(app_ctx, _task(vclient))                               # same texts in the default store
    assert len(store_rows(second)) == 9 and len(all_rows(app_ctx.db)) == 9
    resp = _delete(vclient, a)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["data"]["vectors"]["vector_store"] == database_identity(second)
    assert store_rows(second) == [] and len(all_rows(app_ctx.db)) == 9


def test_delete_vectors_on_a_store_without_vector_tables_deletes_nothing(vclient, app_ctx):
    """A task that never loaded into its (empty) store: the delete counts nothing and claims nothing deleted; the
    records it still has in a store it no longer points at (VECTOR_DB_URL changed since) are named, not hidden."""
    empty = create_database(app_ctx, "dp_vectors_never_loaded")
    task_id = _task(vclient, vector_db_connection=empty)
    vector_owners.add(app_ctx.db, "an-earlier-store", task_id, [("row-1", "sql")])
    resp = _delete(vclient, task_id)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["data"]["vectors"] == {"vector_store": database_identity(empty), "vector_rows_deleted": 0,
                                                  "vector_rows_kept_shared": 0,
                                                  "vector_stores_not_cleaned": ["an-earlier-store"]}
    vector_owners.remove_task(app_ctx.db, "an-earlier-store", task_id)


def test_delete_vectors_answers_409_while_the_store_is_written(vclient, app_ctx):
    from data_pipeline.store import vector as vector_sql
    a = _task(vclient)
    _load(app_ctx, a)
    with app_ctx.db.connection() as conn, conn.cursor() as cur:
        vector_sql.lock_writers(cur)                   # what a running load or restore holds
        resp = _delete(vclient, a)
    body = resp.get_json()
    assert resp.status_code == 409 and body["error"]["code"] == "TASK_ALREADY_RUNNING", body
    assert body["message"] == "向量表正在写入，请稍后再删除"      # not the generic "任务正在执行中"
    assert len(all_rows(app_ctx.db)) == 9 and vclient.get(f"{TASKS}/{a}").status_code == 200   # nothing deleted
    assert _delete(vclient, a).status_code == 200 and all_rows(app_ctx.db) == []


@pytest.mark.parametrize("flag", ["yes", "TRUE1", ""])
def test_delete_vectors_must_be_a_boolean(vclient, flag):
    resp = _delete(vclient, _task(vclient), flag)
    assert resp.status_code == 400 and resp.get_json()["error"]["invalid_params"] == ["delete_vectors"]


def test_restore_keeps_the_ownership_records_consistent(vclient, app_ctx):
    a, b = _task(vclient), _task(vclient)
    _load(app_ctx, a)
    backup = vclient.post("/api/v0/data_pipeline/vector/backup", json={"task_id": a}).get_json()["data"]
    _load(app_ctx, b, pairs=[("B 之后加的问题", "SELECT 'b'")], ddl=False)
    assert vector_owners.counts(app_ctx.db, "metadata", b) == {"sql": 1}

    resp = vclient.post("/api/v0/data_pipeline/vector/restore", json={"task_id": a, "timestamp": backup["timestamp"]})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["data"]["ownership"] == {"records_removed": 1, "records_added": 0}
    assert vector_owners.task_rows(app_ctx.db, "metadata", b) == {}      # B's row is gone, so is its record
    assert vector_owners.counts(app_ctx.db, "metadata", a) == {"sql": 5, "ddl": 2, "documentation": 2}

    # rows restored into a store whose records were lost get their last loader (cmetadata.task_id) as owner
    app_ctx.db.execute("DELETE FROM data_pipeline_vector_rows")
    resp = vclient.post("/api/v0/data_pipeline/vector/restore", json={"task_id": a, "timestamp": backup["timestamp"]})
    assert resp.get_json()["data"]["ownership"] == {"records_removed": 0, "records_added": 9}
    assert set(vector_owners.task_rows(app_ctx.db, "metadata", a)) == {r["id"] for r in all_rows(app_ctx.db)}


def test_migration_gives_rows_loaded_before_it_their_last_loader(vclient, app_ctx):
    from core.migrate import MIGRATIONS_DIR
    a = _task(vclient)
    _load(app_ctx, a)
    app_ctx.db.execute("DELETE FROM data_pipeline_vector_rows")        # as before migration 003 existed
    app_ctx.db.execute("INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata) "
                       "SELECT 'vanna-own-sql', uuid, array_fill(0.5::real, ARRAY[384])::vector, 'x', "
                       "'{\"id\": \"vanna-own-sql\"}' FROM langchain_pg_collection WHERE name = 'sql'")
    migration = (MIGRATIONS_DIR / "003_vector_ownership.sql").read_text(encoding="utf-8")
    app_ctx.db.execute(migration)
    app_ctx.db.execute(migration)                                       # idempotent
    assert vector_owners.counts(app_ctx.db, "metadata", a) == {"sql": 5, "ddl": 2, "documentation": 2}
    assert vector_owners.owners(app_ctx.db, "metadata", ["vanna-own-sql"]) == {}   # Vanna's own row: nobody's
    assert _delete(vclient, a).get_json()["data"]["vectors"]["vector_rows_deleted"] == 9
    assert [r["id"] for r in all_rows(app_ctx.db)] == ["vanna-own-sql"]
