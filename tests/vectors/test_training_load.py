"""Step `training_load` on the real embedded PostgreSQL: rows per the Vanna contract, re-load without duplicates,
per-task counts, validation-report filtering, truncate = backup first + embeddings only, failed load rolls back."""
from __future__ import annotations

import ast
import csv
import json
import os
import re

import pytest

from core.embedding import make_embedder
from core.errors import AppError, VectorBackupFailed
from data_pipeline.qa import pairs as pair_files
from data_pipeline.steps import training_load
from tests.vector_fixtures import (DDL_TEXTS, MD_TEXTS, TRICKY_PAIRS, all_rows, empty_vector_tables, step_context,
                                   write_report, write_task_files)

TASK_A = "task_20250101_000001"
TASK_B = "task_20250101_000002"
ROW_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-(sql|ddl|doc)$")
SUFFIX = {"sql": "sql", "ddl": "ddl", "documentation": "doc"}


@pytest.fixture()
def vec(clean_db):
    empty_vector_tables(clean_db.db)
    yield clean_db
    empty_vector_tables(clean_db.db)


def test_rows_follow_the_vanna_contract(vec):
    write_task_files(vec.task_dir(TASK_A))
    result = training_load.run(step_context(vec, TASK_A))

    assert result.summary["loaded"] == {"sql": 5, "ddl": 2, "documentation": 2}
    assert result.summary["embedding"] == {"model": make_embedder(vec.settings).name,
                                           "dimension": vec.settings.embedding_dimension}
    assert result.summary["pairs"]["rule"] == "no validation report -> all pairs"
    rows = all_rows(vec.db)
    assert len(rows) == 9
    for row in rows:
        assert ROW_ID.match(row["id"]), row["id"]
        assert row["id"].endswith("-" + SUFFIX[row["collection"]])
        assert row["cmetadata"]["id"] == row["id"]
        assert row["cmetadata"]["task_id"] == TASK_A
        assert row["dims"] == vec.settings.embedding_dimension
    sql_docs = sorted(r["document"] for r in rows if r["collection"] == "sql")
    expected = sorted(json.dumps({"question": q, "sql": s}, ensure_ascii=False) for q, s in TRICKY_PAIRS)
    assert sql_docs == expected
    # Vanna reads the document back with ast.literal_eval: every pair must survive it exactly
    assert sorted((d["question"], d["sql"]) for d in map(ast.literal_eval, sql_docs)) == sorted(TRICKY_PAIRS)
    assert sorted(r["document"] for r in rows if r["collection"] == "ddl") == sorted(DDL_TEXTS.values())
    assert sorted(r["document"] for r in rows if r["collection"] == "documentation") == sorted(MD_TEXTS.values())
    # no zero vector: every stored embedding has a positive norm
    assert vec.db.fetchone("SELECT count(*) AS n FROM langchain_pg_embedding "
                           "WHERE vector_norm(embedding) < 1e-6")["n"] == 0
    log = (vec.task_dir(TASK_A) / result.summary["log_file"]).read_text(encoding="utf-8")
    assert "loaded 9 rows" in log and re.match(r"^training_load_\d{8}_\d{6}\.log$", result.summary["log_file"])


def test_reload_does_not_duplicate_and_counts_only_this_task(vec):
    write_task_files(vec.task_dir(TASK_A))
    training_load.run(step_context(vec, TASK_A))
    first = {r["id"] for r in all_rows(vec.db)}
    again = training_load.run(step_context(vec, TASK_A))
    assert {r["id"] for r in all_rows(vec.db)} == first
    assert again.summary["replaced_previous_rows"] == 9

    # task B: one shared pair, one new pair, one new DDL -> A's unique rows stay A's; the shared row is one row
    write_task_files(vec.task_dir(TASK_B), pairs=[TRICKY_PAIRS[0], ("新问题：公司数量", "SELECT count(*) FROM bss_company")])
    for name in list(DDL_TEXTS) + list(MD_TEXTS):
        (vec.task_dir(TASK_B) / name).unlink()
    (vec.task_dir(TASK_B) / "bss_car_day_count.ddl").write_text("create table bss_car_day_count (id int);",
                                                              encoding="utf-8")
    result_b = training_load.run(step_context(vec, TASK_B))
    assert result_b.summary["loaded"] == {"sql": 2, "ddl": 1, "documentation": 0}
    rows = all_rows(vec.db)
    assert len(rows) == 9 + 2
    assert len({r["document"] for r in rows}) == len(rows)      # no document stored twice
    by_task = {}
    for r in rows:
        by_task[r["cmetadata"]["task_id"]] = by_task.get(r["cmetadata"]["task_id"], 0) + 1
    assert by_task == {TASK_A: 8, TASK_B: 3}


def test_validation_report_limits_pairs_unless_file_was_rewritten(vec):
    pairs_path = write_task_files(vec.task_dir(TASK_A))
    ids = [pair_files.pair_id(q) for q, _ in TRICKY_PAIRS]
    write_report(vec.task_dir(TASK_A), {ids[0]: "valid", ids[1]: "error", ids[2]: "empty", ids[3]: "timeout",
                                        ids[4]: "rejected"})
    result = training_load.run(step_context(vec, TASK_A))
    assert result.summary["loaded"]["sql"] == 2
    assert result.summary["pairs"]["pairs_not_executable"] == 3
    loaded = {ast.literal_eval(r["document"])["question"] for r in all_rows(vec.db) if r["collection"] == "sql"}
    assert loaded == {TRICKY_PAIRS[0][0], TRICKY_PAIRS[2][0]}

    # the newest report says validation rewrote the file: what is in it now is what survived
    write_report(vec.task_dir(TASK_A), {ids[0]: "error"}, ts="20250101_120600", file_modified=True)
    result = training_load.run(step_context(vec, TASK_A))
    assert result.summary["loaded"]["sql"] == 5 and "rewritten" in result.summary["pairs"]["rule"]

    # a report about another pair file does not filter this one
    write_report(vec.task_dir(TASK_A), {ids[0]: "error"}, ts="20250101_120700", pairs_file="qs_x_20200101_000000_pair.json")
    assert training_load.run(step_context(vec, TASK_A)).summary["loaded"]["sql"] == 5

    # a pair file replaced after validation (e.g. uploaded) is not judged by the older report
    write_report(vec.task_dir(TASK_A), {ids[0]: "error"}, ts="20250101_120800")
    assert training_load.run(step_context(vec, TASK_A)).summary["loaded"]["sql"] == 0   # only ids[0], invalid
    report = vec.task_dir(TASK_A) / "sql_validation_20250101_120800_report.json"
    os.utime(pairs_path, (report.stat().st_mtime + 60, report.stat().st_mtime + 60))
    result = training_load.run(step_context(vec, TASK_A))
    assert result.summary["loaded"]["sql"] == 5 and "changed after validation" in result.summary["pairs"]["rule"]


def test_truncate_backs_up_first_and_empties_only_embeddings(vec):
    write_task_files(vec.task_dir(TASK_B), pairs=[("别的任务的问题", "SELECT 1")])
    training_load.run(step_context(vec, TASK_B))
    before = {r["id"] for r in all_rows(vec.db)}
    collections_before = vec.db.fetchall("SELECT uuid, name FROM langchain_pg_collection ORDER BY name")

    write_task_files(vec.task_dir(TASK_A))
    result = training_load.run(step_context(vec, TASK_A, options={"truncate_vector_tables": True}))

    backup = result.summary["vector_backup"]
    assert backup is not None and result.summary["truncated_rows"] == len(before)
    emb_file = next(f for f in backup["files"] if f["table"] == "langchain_pg_embedding")
    with open(vec.task_dir(TASK_A) / "vector_bak" / emb_file["file_name"], encoding="utf-8", newline="") as fh:
        backed_up = {row["id"] for row in csv.DictReader(fh)}
    assert backed_up == before and emb_file["rows"] == len(before)
    assert (vec.task_dir(TASK_A) / "vector_bak" / backup["log_file"]).is_file()
    rows = all_rows(vec.db)
    assert {r["cmetadata"]["task_id"] for r in rows} == {TASK_A}       # task B's rows were emptied
    assert vec.db.fetchall("SELECT uuid, name FROM langchain_pg_collection ORDER BY name") == collections_before
    names = {o.file_name for o in result.outputs}
    assert f"vector_bak/{emb_file['file_name']}" in names


def test_backup_only_keeps_rows(vec):
    write_task_files(vec.task_dir(TASK_B), pairs=[("别的任务的问题", "SELECT 1")])
    training_load.run(step_context(vec, TASK_B))
    write_task_files(vec.task_dir(TASK_A))
    result = training_load.run(step_context(vec, TASK_A, params={"backup_vector_tables": True}))
    assert result.summary["vector_backup"]["total_rows"] >= 5 and result.summary["truncated_rows"] is None
    assert {r["cmetadata"]["task_id"] for r in all_rows(vec.db)} == {TASK_A, TASK_B}


def test_failed_load_inside_truncate_leaves_old_rows(vec):
    write_task_files(vec.task_dir(TASK_B), pairs=[("旧数据", "SELECT 1")])
    training_load.run(step_context(vec, TASK_B))
    before = all_rows(vec.db)

    class Cancelled(Exception):
        pass

    ctx = step_context(vec, TASK_A, options={"truncate_vector_tables": True})
    write_task_files(vec.task_dir(TASK_A))
    calls = {"n": 0}

    def cancel_after_rows_are_written():
        # cancellation is checked between embedding batches, between insert pages and before commit:
        # raise at the check before commit, i.e. after the DELETE and every INSERT ran in the transaction
        calls["n"] += 1
        if calls["n"] >= 3:
            raise Cancelled()

    ctx.check_cancelled = cancel_after_rows_are_written
    with pytest.raises(Cancelled):
        training_load.run(ctx)
    assert calls["n"] >= 3
    assert all_rows(vec.db) == before


def test_backup_failure_aborts_before_truncate(vec):
    write_task_files(vec.task_dir(TASK_B), pairs=[("旧数据", "SELECT 1")])
    training_load.run(step_context(vec, TASK_B))
    before = all_rows(vec.db)
    write_task_files(vec.task_dir(TASK_A))
    (vec.task_dir(TASK_A) / "vector_bak").write_text("a file where the backup directory should be")
    with pytest.raises(VectorBackupFailed):
        training_load.run(step_context(vec, TASK_A, options={"truncate_vector_tables": True}))
    assert all_rows(vec.db) == before


def test_dimension_mismatch_is_refused_without_truncate(vec, settings):
    write_task_files(vec.task_dir(TASK_B), pairs=[("旧数据", "SELECT 1")])
    training_load.run(step_context(vec, TASK_B))
    write_task_files(vec.task_dir(TASK_A))
    other = settings.model_copy(update={"embedding_dimension": 64})
    with pytest.raises(AppError, match="dimension"):
        training_load.run(step_context(vec, TASK_A, settings=other))
    # with truncate the table holds one dimension afterwards, so it is allowed
    training_load.run(step_context(vec, TASK_A, settings=other, options={"truncate_vector_tables": True}))
    assert {r["dims"] for r in all_rows(vec.db)} == {64}


def test_nothing_to_load_is_a_clear_error(vec):
    vec.task_dir(TASK_A).mkdir(parents=True)
    with pytest.raises(AppError, match="nothing to load"):
        training_load.run(step_context(vec, TASK_A))


def test_complete_run_through_the_executor_loads_and_truncates(client, app_ctx):
    """The real executor subprocess: complete run with truncate_vector_tables on the execute call."""
    from tests.executor_support import BASE, stop_executors, wait_final
    empty_vector_tables(app_ctx.db)
    try:
        write_task_files(app_ctx.task_dir(TASK_B), pairs=[("别的任务的旧问题", "SELECT 1")])
        training_load.run(step_context(app_ctx, TASK_B))          # rows another task left behind
        resp = client.post(BASE, json={"table_names": ["bss_company"], "task_name": "向量加载"})
        task_id = resp.get_json()["data"]["task_id"]
        resp = client.post(f"{BASE}/{task_id}/execute", json={"execution_mode": "complete",
                                                              "truncate_vector_tables": True})
        assert resp.status_code == 202, resp.get_json()
        status = wait_final(client, task_id, timeout=120)
        assert status["status"] == "completed", (status["error_message"], status["step_status"])
        rows = all_rows(app_ctx.db)
        assert rows and {r["cmetadata"]["task_id"] for r in rows} == {task_id}   # old rows emptied, ours loaded
        counts = {"sql": 0, "ddl": 0, "documentation": 0}
        for r in rows:
            counts[r["collection"]] += 1
        summary = status["result"]["steps"]["training_load"]
        assert summary["truncated_rows"] == 5      # task B's 2 ddl + 2 docs + 1 pair
        assert summary["loaded"] == counts
        assert counts["ddl"] == 1 and counts["documentation"] == 1 and counts["sql"] > 0
        backups = list((app_ctx.task_dir(task_id) / "vector_bak").glob("langchain_pg_embedding_*.csv"))
        assert len(backups) == 1 and "别的任务的旧问题" in backups[0].read_text(encoding="utf-8")
        assert list(app_ctx.task_dir(task_id).glob("training_load_*.log"))
    finally:
        stop_executors(app_ctx.db)
        empty_vector_tables(app_ctx.db)


def test_remote_embedder_embeds_whole_documents_and_a_zero_vector_fails_cleanly(vec, openai_stub):
    from tests.openai_stub import Reply
    openai_stub.embedding_dimension = 16
    remote = vec.settings.model_copy(update={"embedding_base_url": openai_stub.base_url,
                                             "embedding_model": "stub-embed", "embedding_batch_size": 4,
                                             "llm_max_retries": 0})
    write_task_files(vec.task_dir(TASK_A))
    result = training_load.run(step_context(vec, TASK_A, settings=remote))
    assert result.summary["embedding"] == {"model": "openai-compatible:stub-embed", "dimension": 16}
    sent = [text for r in openai_stub.embedding_requests for text in r.json["input"]]
    assert sorted(sent) == sorted(r["document"] for r in all_rows(vec.db))    # the whole document, once each
    assert {r["dims"] for r in all_rows(vec.db)} == {16}
    before = all_rows(vec.db)

    # batches are sent concurrently: every one answers zero vectors, whichever arrives first
    openai_stub.embedding_responder = lambda req: Reply(embeddings=[[0.0] * 16] * len(req["input"]))
    with pytest.raises(AppError, match="zero vector"):
        training_load.run(step_context(vec, TASK_A, settings=remote, options={"truncate_vector_tables": True}))
    assert all_rows(vec.db) == before


def _stored(db) -> list[tuple]:
    return db.fetchall("SELECT e.id, e.document, e.embedding::text AS embedding FROM langchain_pg_embedding e "
                       "ORDER BY e.id")


def test_embeddings_requested_during_validation_are_the_ones_stored(vec, openai_stub):
    """steps/embeddings_ahead.py: what sql_validation sends ahead (the files, then pairs) training_load does not
    ask again, and the rows are exactly those of a load that embedded everything itself; a text not sent, or
    whose request failed, is embedded by training_load."""
    from data_pipeline.steps import embeddings_ahead, sql_validation
    from data_pipeline.steps.base import NEXT_STEPS_OPTION
    from tests.executor_support import wait_for
    from tests.openai_stub import Reply
    remote = vec.settings.model_copy(update={"embedding_base_url": openai_stub.base_url,
                                             "embedding_model": "stub-embed", "embedding_batch_size": 4,
                                             "llm_max_retries": 0})
    write_task_files(vec.task_dir(TASK_A))
    training_load.run(step_context(vec, TASK_A, settings=remote))
    alone, asked_alone = _stored(vec.db), len(openai_stub.embedding_requests)
    empty_vector_tables(vec.db)

    validation = step_context(vec, TASK_A, settings=remote, options={NEXT_STEPS_OPTION: ["training_load"]})
    first, rest = TRICKY_PAIRS[:1], TRICKY_PAIRS[1:]
    sql_validation._embed_ahead(validation, [pair_files.Pair(q, s) for q, s in first], with_files=True)
    wait_for(lambda: len(openai_stub.embedding_requests) > asked_alone, 30, what="the embeddings sent ahead")
    sent_ahead = len(openai_stub.embedding_requests)
    training_load.run(step_context(vec, TASK_A, settings=remote))
    assert _stored(vec.db) == alone
    asked_by_the_load = [t for r in openai_stub.embedding_requests[sent_ahead:] for t in r.json["input"]]
    assert sorted(asked_by_the_load) == sorted(json.dumps({"question": q, "sql": s}, ensure_ascii=False)
                                               for q, s in rest)            # only what was not sent
    assert not embeddings_ahead._open

    # a request sent ahead that failed: training_load embeds those texts itself
    empty_vector_tables(vec.db)
    openai_stub.embedding_responder = lambda req: Reply(status=500)
    sql_validation._embed_ahead(validation, [pair_files.Pair(q, s) for q, s in TRICKY_PAIRS], with_files=True)
    ahead = embeddings_ahead._open[(TASK_A, None)]
    q, sql = TRICKY_PAIRS[0]
    assert ahead.vector(json.dumps({"question": q, "sql": sql}, ensure_ascii=False)) is None   # waits: it failed
    openai_stub.embedding_responder = None
    training_load.run(step_context(vec, TASK_A, settings=remote))
    assert _stored(vec.db) == alone

    # nothing is sent when training_load does not follow here, or with the built-in embedder
    before = len(openai_stub.embedding_requests)
    tricky = [pair_files.Pair(q, s) for q, s in TRICKY_PAIRS]
    sql_validation._embed_ahead(step_context(vec, TASK_A, settings=remote), tricky, with_files=True)
    sql_validation._embed_ahead(step_context(vec, TASK_A, options={NEXT_STEPS_OPTION: ["training_load"]}),
                                tricky, with_files=True)
    assert len(openai_stub.embedding_requests) == before and not embeddings_ahead._open
