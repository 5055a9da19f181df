"""Row building (pure) and backup -> restore round trips on the real embedded PostgreSQL."""
from __future__ import annotations

import json

import pytest

from core.errors import FileNotFound, InvalidFileName, ValidationFailed
from data_pipeline.vectors import backup as vector_backup
from data_pipeline.steps import training_load
from data_pipeline.vectors.store import (TrainingDocument, VectorLoadFailed, build_rows, document_id,
                                        question_sql_document, unique_documents, checked_vector)
from tests.vector_fixtures import all_rows, empty_vector_tables, step_context, write_task_files

TASK_A = "task_20250102_000001"


@pytest.fixture()
def vec(clean_db):
    empty_vector_tables(clean_db.db)
    yield clean_db
    empty_vector_tables(clean_db.db)


# ------------------------------------------------------------------------------------------ pure row rules
def test_question_sql_document_is_exactly_vannas_json():
    assert question_sql_document("多少'个\"", "SELECT '\\n'\n") == \
        json.dumps({"question": "多少'个\"", "sql": "SELECT '\\n'\n"}, ensure_ascii=False)
    for q, s in (("", "SELECT 1"), ("q", "  "), (None, "SELECT 1")):
        with pytest.raises(ValueError):
            question_sql_document(q, s)


def test_ids_are_deterministic_and_suffixed_per_collection():
    assert document_id("sql", "x") == document_id("sql", "x")
    assert document_id("sql", "x") != document_id("sql", "y")
    assert document_id("ddl", "x").endswith("-ddl") and document_id("documentation", "x").endswith("-doc")
    assert document_id("ddl", "x")[:36] != document_id("documentation", "x")[:36]
    kept, dropped = unique_documents([TrainingDocument("ddl", "a"), TrainingDocument("ddl", "a", source="other"),
                                      TrainingDocument("documentation", "a")])
    assert len(kept) == 2 and dropped == 1


def test_zero_or_wrong_vectors_are_never_built():
    assert checked_vector([0.5, -0.25]) == [0.5, -0.25]
    for bad in ([0.0, 0.0], [], [float("nan"), 1.0], [float("inf"), 1.0]):
        with pytest.raises(ValueError):
            checked_vector(bad)
    doc = TrainingDocument("ddl", "create table t (id int)", source="t.ddl")
    ids = {"ddl": "00000000-0000-0000-0000-000000000001"}
    with pytest.raises(VectorLoadFailed, match="zero"):
        build_rows("task_x", [doc], [[0.0, 0.0]], ids, 2)
    with pytest.raises(VectorLoadFailed, match="dimension"):
        build_rows("task_x", [doc], [[1.0, 0.0, 0.0]], ids, 2)
    with pytest.raises(VectorLoadFailed, match="vectors for"):
        build_rows("task_x", [doc], [], ids, 2)
    (row,) = build_rows("task_x", [doc], [[1.0, 0.0]], ids, 2)
    assert json.loads(row[4]) == {"id": row[0], "task_id": "task_x", "source": "t.ddl"}


# ------------------------------------------------------------------------------------------ backup / restore
def test_backup_then_restore_round_trip(vec, tmp_path):
    write_task_files(vec.task_dir(TASK_A))
    training_load.run(step_context(vec, TASK_A))
    original = all_rows(vec.db)
    vectors = vec.db.fetchall("SELECT id, embedding::text AS v FROM langchain_pg_embedding ORDER BY id")

    result = vector_backup.backup(vec.db, tmp_path / "vector_bak")
    assert {f["table"]: f["rows"] for f in result.files}["langchain_pg_embedding"] == len(original)
    assert not list((tmp_path / "vector_bak").glob(".*.tmp"))

    # a second backup in the same second gets its own name
    second = vector_backup.backup(vec.db, tmp_path / "vector_bak")
    assert second.timestamp != result.timestamp

    sets = vector_backup.list_sets(tmp_path / "vector_bak")
    assert [s["timestamp"] for s in sets][:2] == sorted([result.timestamp, second.timestamp], reverse=True)
    assert all(s["complete"] for s in sets)
    assert {f["rows"] for f in sets[0]["files"] if f["table"] == "langchain_pg_embedding"} == {len(original)}

    empty_vector_tables(vec.db)
    vec.db.execute("INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata) "
                   "SELECT 'stray-doc', uuid, '[1,2]', 'stray', '{\"id\": \"stray-doc\"}' "
                   "FROM langchain_pg_collection WHERE name = 'documentation'")
    files = vector_backup.resolve_files(tmp_path / "vector_bak", timestamp=result.timestamp)
    report = vector_backup.restore(vec.db, files, truncate_before_restore=True)
    assert report["embeddings_restored"] == len(original) and report["embeddings_deleted_before"] == 1
    assert all_rows(vec.db) == original
    assert vec.db.fetchall("SELECT id, embedding::text AS v FROM langchain_pg_embedding ORDER BY id") == vectors

    # without truncation: restored rows are replaced in place, other rows stay
    vec.db.execute("INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata) "
                   "SELECT 'keep-doc', uuid, array_fill(0.5::real, ARRAY[384])::vector, 'keep', "
                   "'{\"id\": \"keep-doc\"}' "
                   "FROM langchain_pg_collection WHERE name = 'documentation'")
    report = vector_backup.restore(vec.db, files, truncate_before_restore=False)
    assert report["table_rows_after"]["langchain_pg_embedding"] == len(original) + 1


def test_restore_maps_rows_to_a_recreated_collection_by_name(vec, tmp_path):
    write_task_files(vec.task_dir(TASK_A))
    training_load.run(step_context(vec, TASK_A))
    count = len(all_rows(vec.db))
    result = vector_backup.backup(vec.db, tmp_path)
    # someone dropped and re-created the collections (Vanna/LangChain do that with a new uuid4)
    vec.db.execute("DELETE FROM langchain_pg_collection")
    vec.db.execute("INSERT INTO langchain_pg_collection (uuid, name) VALUES "
                   "(gen_random_uuid(), 'sql'), (gen_random_uuid(), 'ddl'), (gen_random_uuid(), 'documentation')")
    report = vector_backup.restore(vec.db, vector_backup.resolve_files(tmp_path, timestamp=result.timestamp))
    assert report["embeddings_restored"] == count and report["collections_added"] == 0
    assert len(all_rows(vec.db)) == count      # every row joins a collection of the right name
    assert all(r["id"].endswith({"sql": "-sql", "ddl": "-ddl", "documentation": "-doc"}[r["collection"]])
               for r in all_rows(vec.db))


def test_failed_restore_changes_nothing(vec, tmp_path):
    write_task_files(vec.task_dir(TASK_A))
    training_load.run(step_context(vec, TASK_A))
    before = all_rows(vec.db)
    result = vector_backup.backup(vec.db, tmp_path)
    emb = tmp_path / f"langchain_pg_embedding_{result.timestamp}.csv"
    emb.write_text(emb.read_text(encoding="utf-8") + "broken,row\n", encoding="utf-8")
    with pytest.raises(vector_backup.VectorRestoreFailed):
        vector_backup.restore(vec.db, vector_backup.resolve_files(tmp_path, timestamp=result.timestamp))
    assert all_rows(vec.db) == before


@pytest.mark.parametrize("kwargs, error", [
    ({"timestamp": "../../etc"}, InvalidFileName),
    ({"timestamp": "20250101_000000; DROP"}, InvalidFileName),
    ({"file_names": ["../langchain_pg_embedding_20250101_000000.csv"]}, InvalidFileName),
    ({"file_names": ["passwd"]}, InvalidFileName),
    ({"file_names": ["langchain_pg_embedding_20250101_000000.csv"]}, FileNotFound),
    ({"timestamp": "20250101_000000"}, FileNotFound),
    ({}, ValidationFailed),
    ({"timestamp": "20250101_000000", "file_names": ["langchain_pg_embedding_20250101_000000.csv"]},
     ValidationFailed),
])
def test_resolve_files_rejects_bad_names(tmp_path, kwargs, error):
    with pytest.raises(error):
        vector_backup.resolve_files(tmp_path, **kwargs)


def test_symlinked_backup_file_is_refused(tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text("id\n")
    (tmp_path / "bak").mkdir()
    (tmp_path / "bak" / "langchain_pg_embedding_20250101_000000.csv").symlink_to(outside)
    with pytest.raises(InvalidFileName):
        vector_backup.resolve_files(tmp_path / "bak", file_names=["langchain_pg_embedding_20250101_000000.csv"])


def test_restore_refuses_to_mix_dimensions(vec, tmp_path):
    write_task_files(vec.task_dir(TASK_A))
    training_load.run(step_context(vec, TASK_A))
    result = vector_backup.backup(vec.db, tmp_path)
    files = vector_backup.resolve_files(tmp_path, timestamp=result.timestamp)
    empty_vector_tables(vec.db)
    vec.db.execute("INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata) "
                   "SELECT 'small-doc', uuid, '[1,2]', 'small', '{\"id\": \"small-doc\"}' "
                   "FROM langchain_pg_collection WHERE name = 'documentation'")
    with pytest.raises(ValidationFailed, match="mix embedding dimensions"):
        vector_backup.restore(vec.db, files, truncate_before_restore=False)
    assert [r["id"] for r in all_rows(vec.db)] == ["small-doc"]
    assert vector_backup.restore(vec.db, files)["embeddings_deleted_before"] == 1
