"""One vector store per Vanna deployment: a task's `vector_db_connection` sends its rows to another database
(tables created there, Vanna reads them), the default store stays byte-for-byte as it was, and a store that gets
rows of a second business database says so (VECTOR_STORE_MIXED)."""
from __future__ import annotations

from dataclasses import replace

import psycopg2
import psycopg2.extensions
import pytest

from core import embedded_pg
from core.errors import ValidationFailed
from data_pipeline.steps import training_load
from data_pipeline.store import vector_owners
from data_pipeline.vectors.target import database_identity
from tests.optional_deps import import_or_skip
from tests.vector_fixtures import (DDL_TEXTS, MD_TEXTS, TRICKY_PAIRS, all_rows, create_database, empty_vector_tables,
                                   step_context, store_rows, write_task_files)

import_or_skip("vanna.legacy.pgvector", "vanna[pgvector]==2.0.2 from requirements-dev.txt")
from tests.vectors.test_vanna_interop import ReaderOnlyVanna, SameEmbeddings, sqlalchemy_url  # noqa: E402

TASK_A = "task_20250104_000001"
TASK_B = "task_20250104_000002"
SECOND = "dp_vectors_second"


@pytest.fixture()
def vec(clean_db):
    empty_vector_tables(clean_db.db)
    yield clean_db
    empty_vector_tables(clean_db.db)


def _default_store_snapshot(db) -> tuple:
    rows = db.fetchall("SELECT id, collection_id::text, embedding::text AS v, document, cmetadata::text AS m "
                       "FROM langchain_pg_embedding ORDER BY id")
    collections = db.fetchall("SELECT uuid::text, name, cmetadata::text AS m FROM langchain_pg_collection ORDER BY 1")
    return rows, collections


def _vanna_on(url, settings):
    from core.embedding import make_embedder
    return ReaderOnlyVanna(config={"connection_string": sqlalchemy_url(url),
                                   "embedding_function": SameEmbeddings(make_embedder(settings)), "n_results": 10})


def test_a_task_with_its_own_store_leaves_the_default_store_untouched(vec):
    second = create_database(vec, SECOND)
    write_task_files(vec.task_dir(TASK_B), pairs=[("默认库里别的任务的问题", "SELECT 1")])
    training_load.run(step_context(vec, TASK_B))
    before = _default_store_snapshot(vec.db)
    assert len(before[0]) == 5

    write_task_files(vec.task_dir(TASK_A))
    params = {"vector_db_connection": second}
    result = training_load.run(step_context(vec, TASK_A, params=params))
    # truncating the task's own store empties that store only
    again = training_load.run(step_context(vec, TASK_A, params=params, options={"truncate_vector_tables": True}))

    assert _default_store_snapshot(vec.db) == before
    assert result.summary["vector_store"] == again.summary["vector_store"] == database_identity(second)
    assert "postgres:" not in result.summary["vector_store"]
    assert again.summary["truncated_rows"] == 9
    rows = store_rows(second)
    assert len(rows) == 9 and {r["cmetadata"]["task_id"] for r in rows} == {TASK_A}
    assert {r["cmetadata"]["business_db"] for r in rows} == {database_identity(vec.runtime.business_url)}
    assert vector_owners.counts(vec.db, database_identity(second), TASK_A) == {"sql": 5, "ddl": 2,
                                                                              "documentation": 2}
    assert vector_owners.counts(vec.db, "metadata", TASK_A) == {}

    # Vanna pointed at the second store reads exactly this task's data, and finds each pair first
    vanna = _vanna_on(second, vec.settings)
    df = vanna.get_training_data()
    assert len(df) == 9
    assert sorted(df[df["training_data_type"] == "sql"]["content"]) == sorted(s for _, s in TRICKY_PAIRS)
    for question, sql in TRICKY_PAIRS:
        assert vanna.get_similar_question_sql(question)[0] == {"question": question, "sql": sql}
    assert sorted(vanna.get_related_ddl("服务区")) == sorted(DDL_TEXTS.values())
    assert sorted(vanna.get_related_documentation("公司")) == sorted(MD_TEXTS.values())


def test_a_store_fed_by_two_business_databases_warns(vec):
    write_task_files(vec.task_dir(TASK_A))
    first = training_load.run(step_context(vec, TASK_A))
    assert not [w for w in first.warnings if getattr(w, "code", None) == "VECTOR_STORE_MIXED"]
    here = database_identity(vec.runtime.business_url)

    other_business = embedded_pg.uri_for(vec.runtime.business_url, "another_business_db")
    write_task_files(vec.task_dir(TASK_B), pairs=[("另一个库的问题", "SELECT 2")])
    ctx_b = replace(step_context(vec, TASK_B), business_url=other_business)
    result = training_load.run(ctx_b)
    (warning,) = [w for w in result.warnings if getattr(w, "code", None) == "VECTOR_STORE_MIXED"]
    assert warning.objects == [here] and "9 rows" in warning.message
    assert warning.to_dict()["object_count"] == 1
    log = (vec.task_dir(TASK_B) / result.summary["log_file"]).read_text(encoding="utf-8")
    assert "VECTOR_STORE_MIXED: the vector store metadata database already holds 9 rows" in log
    # a re-load of the first database now sees the second one's rows
    again = training_load.run(step_context(vec, TASK_A))
    assert [w.objects for w in again.warnings if getattr(w, "code", None) == "VECTOR_STORE_MIXED"] == \
        [[database_identity(other_business)]]
    # the same database re-loaded alone does not warn
    empty_vector_tables(vec.db)
    training_load.run(step_context(vec, TASK_A))
    assert not [w for w in training_load.run(step_context(vec, TASK_A)).warnings if not isinstance(w, str)]


def test_a_store_without_pgvector_and_without_the_right_to_add_it_is_a_clear_error(vec):
    url = create_database(vec, "dp_vectors_noext", with_vector=False)
    admin = psycopg2.connect(url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dp_vec_writer') THEN "
                    "CREATE ROLE dp_vec_writer LOGIN; END IF; END $$")
        cur.execute('GRANT ALL ON DATABASE "dp_vectors_noext" TO dp_vec_writer')
        cur.execute("GRANT ALL ON SCHEMA public TO dp_vec_writer")
    admin.close()
    as_writer = url.replace("postgres:@", "dp_vec_writer@", 1)
    assert as_writer != url
    write_task_files(vec.task_dir(TASK_A))
    with pytest.raises(ValidationFailed, match=r"lacks the PostgreSQL extension 'vector'") as err:
        training_load.run(step_context(vec, TASK_A, params={"vector_db_connection": as_writer}))
    assert err.value.status == 400 and err.value.invalid_params == ["vector_db_connection"]
    assert vector_owners.task_rows(vec.db, database_identity(url), TASK_A) == {}
    assert all_rows(vec.db) == []


def test_a_complete_run_through_the_executor_loads_into_the_tasks_store_and_never_shows_its_password(client,
                                                                                                    app_ctx):
    """The real executor subprocess: create with vector_db_connection (a password in it), run, check where the rows
    went and that the password is in no answer, file or log line."""
    from tests.executor_support import BASE, stop_executors, wait_final
    second = create_database(app_ctx, "dp_vectors_executor")
    # the embedded server trusts its unix socket, so any password connects: a canary we can look for
    with_password = second.replace("postgres:@", "postgres:vec-Canary-77@", 1)
    assert with_password != second
    empty_vector_tables(app_ctx.db)
    try:
        resp = client.post(BASE, json={"table_names": ["bss_company"], "task_name": "独立向量库",
                                       "vector_db_connection": with_password})
        assert resp.status_code == 201, resp.get_json()
        task_id = resp.get_json()["data"]["task_id"]
        assert client.post(f"{BASE}/{task_id}/execute", json={"execution_mode": "complete"}).status_code == 202
        status = wait_final(client, task_id, timeout=120)
        assert status["status"] == "completed", (status["error_message"], status["step_status"])
        rows = store_rows(second)
        assert rows and {r["cmetadata"]["task_id"] for r in rows} == {task_id}
        assert all_rows(app_ctx.db) == []                    # nothing went to the default store
        summary = status["result"]["steps"]["training_load"]
        assert summary["vector_store"] == database_identity(second)
        assert sum(summary["loaded"].values()) == len(rows)

        seen = [client.get(f"{BASE}/{task_id}?include=parameters,result").get_data(as_text=True),
                client.get(f"{BASE}/{task_id}/logs").get_data(as_text=True),
                client.get(BASE).get_data(as_text=True)]
        seen += [p.read_text(encoding="utf-8", errors="replace") for p in app_ctx.task_dir(task_id).rglob("*")
                 if p.is_file()]
        seen += [r["message"] for r in app_ctx.db.fetchall("SELECT message FROM data_pipeline_task_logs "
                                                          "WHERE task_id = %s", (task_id,))]
        assert not [text[:200] for text in seen if "vec-Canary-77" in text]
        assert "postgres:******@" in seen[0]
    finally:
        stop_executors(app_ctx.db)
        empty_vector_tables(app_ctx.db)


def test_backup_and_restore_endpoints_act_on_a_named_store(client, app_ctx):
    url = create_database(app_ctx, "dp_vectors_api")
    empty_vector_tables(app_ctx.db)
    base = "/api/v0/data_pipeline/vector"
    # the store has no tables yet: backup creates them and backs up nothing
    resp = client.post(f"{base}/backup", json={"vector_db_connection": url})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["data"]["total_rows"] == 0 and store_rows(url) == []

    write_task_files(app_ctx.task_dir(TASK_A))
    training_load.run(step_context(app_ctx, TASK_A, params={"vector_db_connection": url}))
    loaded = store_rows(url)
    data = client.post(f"{base}/backup", json={"vector_db_connection": url}).get_json()["data"]
    assert data["vector_store"] == database_identity(url) and data["total_rows"] == len(loaded) + 3
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM langchain_pg_embedding")
    conn.close()
    resp = client.post(f"{base}/restore", json={"vector_db_connection": url, "timestamp": data["timestamp"]})
    assert resp.status_code == 200, resp.get_json()
    assert store_rows(url) == loaded and all_rows(app_ctx.db) == []
    assert resp.get_json()["data"]["ownership"] == {"records_removed": 0, "records_added": 0}

    both = client.post(f"{base}/backup", json={"vector_db_connection": url, "task_id": TASK_A}).get_json()
    assert both["code"] == 400 and set(both["error"]["invalid_params"]) == {"task_id", "vector_db_connection"}
    bad = client.post(f"{base}/backup", json={"vector_db_connection": "http://x/y"}).get_json()
    assert bad["code"] == 400 and bad["error"]["invalid_params"] == ["vector_db_connection"]


def _business_spellings(app_ctx) -> list[str]:
    """The demo business database as a superuser could name it for a store: URL spellings that differ."""
    sock = psycopg2.extensions.parse_dsn(app_ctx.runtime.business_url)["host"]
    return [app_ctx.runtime.business_url,
            f"postgresql://postgres@/highway_db?host={sock}/",                 # a trailing slash on the socket path
            f"postgresql://postgres@/x?host={sock}&dbname=highway_db&port=5432"]


def _vector_tables_in_business_db(app_ctx) -> list:
    conn = psycopg2.connect(embedded_pg.uri_for(app_ctx.runtime.meta_url, "highway_db"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT relname FROM pg_class WHERE relname LIKE 'langchain_pg_%' UNION ALL "
                        "SELECT extname FROM pg_extension WHERE extname = 'vector'")
            return cur.fetchall()
    finally:
        conn.close()


def test_the_business_database_is_never_a_vector_store(client, app_ctx):
    """Refused by server identity (system identifier + database) once connected, whatever the spelling."""
    for url in _business_spellings(app_ctx):
        for path, body in (("backup", {"vector_db_connection": url}),
                           ("search", {"vector_db_connection": url, "question": "服务区"})):
            resp = client.post(f"/api/v0/data_pipeline/vector/{path}", json=body)
            answer = resp.get_json()
            assert resp.status_code == 400 and answer["error"]["invalid_params"] == ["vector_db_connection"], answer
            assert "never writes" in answer["error"]["details"]
    # a task naming it is created (no connection is made then) and its load step refuses it the same way
    write_task_files(app_ctx.task_dir(TASK_A))
    for url in _business_spellings(app_ctx):
        with pytest.raises(ValidationFailed, match="never writes"):
            training_load.run(step_context(app_ctx, TASK_A, params={"vector_db_connection": url}))
    other = app_ctx.settings.model_copy(update={"vector_db_url": _business_spellings(app_ctx)[1]})
    with pytest.raises(ValidationFailed, match="never writes"):
        training_load.run(step_context(app_ctx, TASK_A, settings=other))
    assert _vector_tables_in_business_db(app_ctx) == []


def test_the_vector_db_url_setting_moves_the_default_store(vec):
    from app_config import ConfigError, load_settings
    url = create_database(vec, "dp_vectors_setting")
    write_task_files(vec.task_dir(TASK_A))
    moved = vec.settings.model_copy(update={"vector_db_url": url})
    result = training_load.run(step_context(vec, TASK_A, settings=moved))
    assert result.summary["vector_store"] == database_identity(url)
    assert len(store_rows(url)) == 9 and all_rows(vec.db) == []
    # a task's own vector_db_connection still wins over the setting
    write_task_files(vec.task_dir(TASK_B))
    result = training_load.run(step_context(vec, TASK_B, settings=moved,
                                            params={"vector_db_connection": vec.runtime.meta_url}))
    assert result.summary["vector_store"] == "metadata database"
    with pytest.raises(ConfigError, match="VECTOR_DB_URL"):
        load_settings({"vector_db_url": "host=localhost dbname=x"}, environ={})
