"""Files API: listing reconciled with the outputs table, downloads (both URL forms, headers, ranges, 304),
uploads (modes, backups, limits, text checks, outputs rows), and the streamed zip archive."""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from urllib.parse import quote

import pytest

from data_pipeline.taskfiles import files as files_service
from data_pipeline.store import outputs as output_store

API = "/api/v0/data_pipeline/tasks"


@pytest.fixture()
def task(client, app_ctx):
    task_id = client.post(API, json={"task_name": "files", "table_names": ["bss_company"]}
                          ).get_json()["data"]["task_id"]
    return task_id, app_ctx.task_dir(task_id)


def upload(client, task_id, name, data: bytes, mode=None):
    form = {"file": (io.BytesIO(data), name)}
    if mode:
        form["overwrite_mode"] = mode
    return client.post(f"{API}/{task_id}/files", data=form, content_type="multipart/form-data")


def test_list_reconciles_directory_and_outputs_table(client, app_ctx, task):
    task_id, task_dir = task
    pairs = "qs_highway_db_20250627_143052_pair.json"
    (task_dir / pairs).write_text(json.dumps([{"question": "q", "sql": "SELECT 1"}]), encoding="utf-8")
    (task_dir / "db_highway_db.ddl").write_text("CREATE TABLE bss_company (id int);\n", encoding="utf-8")
    (task_dir / "data_pipeline.log").write_text("x" * 2048, encoding="utf-8")
    (task_dir / "metadata.txt").write_text("-- metadata\n", encoding="utf-8")
    (task_dir / "sql_validation_20250627_143052_summary.log").write_text("ok\n", encoding="utf-8")
    (task_dir / "a_first_by_name.ddl").write_text("CREATE TABLE a (id int);\n", encoding="utf-8")
    (task_dir / ".hidden.tmp").write_text("tmp", encoding="utf-8")
    (task_dir / "vector_bak").mkdir()
    (task_dir / "vector_bak" / "langchain_pg_embedding_20250627_143052.csv").write_text("a,b\n", encoding="utf-8")
    output_store.upsert_output(app_ctx.db, task_id=task_id, execution_id=None, step_name="ddl_generation",
                               file_name="db_highway_db.ddl", file_type="ddl", file_size=1,
                               content_hash=None, description="DDL for 1 table", is_primary=True)
    # a row whose file is gone is not listed (the directory is the truth)
    output_store.upsert_output(app_ctx.db, task_id=task_id, execution_id=None, step_name="qa_generation",
                               file_name="gone.json", file_type="json", file_size=1, content_hash=None,
                               description="", is_primary=False)
    d = client.get(f"{API}/{task_id}/files").get_json()["data"]
    by_name = {f["file_name"]: f for f in d["files"]}
    assert set(by_name) == {pairs, "db_highway_db.ddl", "data_pipeline.log", "task_config.json", "table_list.txt",
                            "langchain_pg_embedding_20250627_143052.csv", "metadata.txt", "a_first_by_name.ddl",
                            "sql_validation_20250627_143052_summary.log"}
    # primary as the seed marks it (by name: pair file, metadata.txt, validation summary; a .ddl never, even when
    # an older row said so), and the pair file first: the seed's client downloads primary_files[0]
    primary = [f["file_name"] for f in d["files"] if f["is_primary"]]
    assert primary == [pairs, "metadata.txt", "sql_validation_20250627_143052_summary.log"]
    assert d["files"][0]["file_name"] == pairs
    ddl = by_name["db_highway_db.ddl"]
    assert ddl["description"] == "DDL for 1 table" and not ddl["is_primary"] and ddl["step"] == "ddl_generation"
    assert ddl["file_size"] == len("CREATE TABLE bss_company (id int);\n")  # the file, not the stale row
    assert ddl["content_hash"] == hashlib.sha256((task_dir / "db_highway_db.ddl").read_bytes()).hexdigest()
    assert by_name[pairs]["is_primary"] and by_name[pairs]["step"] == "qa_generation"
    assert by_name[pairs]["file_type"] == "json"
    assert by_name["data_pipeline.log"]["file_size_human"] == "2.0 KB"
    assert by_name["data_pipeline.log"]["file_type"] == "log"
    backup = by_name["langchain_pg_embedding_20250627_143052.csv"]
    assert backup["directory"] == "vector_bak" and backup["step"] == "training_load"
    assert backup["download_url"].endswith("?dir=vector_bak")
    for f in d["files"]:
        assert set(f) >= {"file_name", "file_type", "file_size", "file_size_human", "created_at", "modified_at",
                          "is_primary", "description", "step", "download_url"}
        assert "T" in f["created_at"] and len(f["created_at"]) == 19
    assert d["total_files"] == 9 and d["total_size"] == sum(f["file_size"] for f in d["files"])
    r = client.get(backup["download_url"])
    assert r.status_code == 200 and r.data == b"a,b\n" and r.headers["Content-Type"].startswith("text/csv")
    # clients that build the URL from file_name alone reach it too (top level first, then vector_bak/)
    r = client.get(f"{API}/{task_id}/files/download/langchain_pg_embedding_20250627_143052.csv")
    assert r.status_code == 200 and r.data == b"a,b\n"


def test_download_both_forms_headers_and_conditional(client, task):
    task_id, task_dir = task
    name = "服务区_detail.md"
    content = "# 服务区\n".encode("utf-8") * 1000
    (task_dir / name).write_bytes(content)
    for url in (f"{API}/{task_id}/files/{quote(name)}", f"{API}/{task_id}/files/download/{quote(name)}"):
        r = client.get(url)
        assert r.status_code == 200 and r.data == content
        assert r.headers["Content-Type"] == "text/markdown; charset=utf-8"
        cd = r.headers["Content-Disposition"]
        assert cd.startswith("attachment;") and "filename*=UTF-8''" + quote(name, safe="") in cd
        assert 'filename="' in cd and all(ord(c) < 128 for c in cd)
        assert int(r.headers["Content-Length"]) == len(content)
    r = client.get(f"{API}/{task_id}/files/{quote(name)}?inline=1")
    assert r.headers["Content-Disposition"].startswith("inline;")
    etag = r.headers["ETag"]
    assert client.get(f"{API}/{task_id}/files/{quote(name)}", headers={"If-None-Match": etag}).status_code == 304
    part = client.get(f"{API}/{task_id}/files/{quote(name)}", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.data == content[:10]
    kinds = {"a.ddl": "text/plain; charset=utf-8", "a.log": "text/plain; charset=utf-8",
             "a.sql": "text/plain; charset=utf-8", "a.txt": "text/plain; charset=utf-8",
             "a.json": "application/json; charset=utf-8", "a.csv": "text/csv; charset=utf-8",
             "a.zip": "application/zip", "a.ddl.bak2": "text/plain; charset=utf-8",
             "a.bin": "application/octet-stream"}
    for fname, ctype in kinds.items():
        (task_dir / fname).write_bytes(b"x")
        r = client.get(f"{API}/{task_id}/files/{fname}")
        assert r.headers["Content-Type"] == ctype, fname
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = client.get(f"{API}/{task_id}/files/nothing.ddl")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "FILE_NOT_FOUND"


def test_large_file_is_streamed_not_buffered(client, task):
    task_id, task_dir = task
    big = task_dir / "big.csv"
    with open(big, "wb") as fh:
        fh.truncate(30 * 1024 * 1024)
    r = client.get(f"{API}/{task_id}/files/big.csv", buffered=False)
    assert r.status_code == 200 and r.is_streamed and int(r.headers["Content-Length"]) == 30 * 1024 * 1024
    first = next(iter(r.response))
    assert 0 < len(first) < 30 * 1024 * 1024
    r.close()


def test_upload_modes_backups_and_outputs_row(client, app_ctx, task):
    task_id, task_dir = task
    name = "db_highway_db.ddl"
    r = upload(client, task_id, name, b"v1")
    d = r.get_json()["data"]
    assert r.status_code == 200 and d["action"] == "created" and d["step"] == "ddl_generation"
    assert upload(client, task_id, name, b"v2").get_json()["data"]["backup_file"] == f"{name}.bak1"
    assert upload(client, task_id, name, b"v3", "backup").get_json()["data"]["backup_file"] == f"{name}.bak2"
    assert (task_dir / f"{name}.bak1").read_bytes() == b"v1" and (task_dir / f"{name}.bak2").read_bytes() == b"v2"
    d = upload(client, task_id, name, b"v4", "replace").get_json()["data"]
    assert d["action"] == "replaced" and d["backup_file"] is None and not (task_dir / f"{name}.bak3").exists()
    d = upload(client, task_id, name, b"v5", "skip").get_json()["data"]
    assert d["action"] == "skipped" and (task_dir / name).read_bytes() == b"v4"
    row = output_store.get_output(app_ctx.db, task_id, name)
    assert row["step_name"] == "ddl_generation" and row["content_hash"] == hashlib.sha256(b"v4").hexdigest()
    listing = {f["file_name"]: f for f in client.get(f"{API}/{task_id}/files").get_json()["data"]["files"]}
    assert listing[f"{name}.bak1"]["file_type"] == "backup" and listing[f"{name}.bak2"]["step"] == "ddl_generation"
    pairs = "qs_highway_db_20250627_143052_pair.json"
    d = upload(client, task_id, pairs, json.dumps([{"question": "问", "sql": "SELECT 1"}]).encode()).get_json()
    assert d["data"]["step"] == "qa_generation"
    assert output_store.get_output(app_ctx.db, task_id, pairs)["is_primary"] is True


@pytest.mark.parametrize("name,data,code,status", [
    ("x.exe", b"x", "UNSUPPORTED_FILE_TYPE", 400),
    ("x.py", b"x", "UNSUPPORTED_FILE_TYPE", 400),
    ("x.ddl", "中文".encode("gbk"), "VALIDATION_ERROR", 400),
    ("x.txt", b"ab\x00cd", "VALIDATION_ERROR", 400),
    ("x.json", b"{not json", "VALIDATION_ERROR", 400),
])
def test_upload_rejections(client, task, name, data, code, status):
    task_id, task_dir = task
    r = upload(client, task_id, name, data)
    assert r.status_code == status and r.get_json()["error"]["code"] == code
    assert not (task_dir / name).exists()


def test_upload_bom_is_accepted_and_mode_validated(client, task):
    task_id, task_dir = task
    assert upload(client, task_id, "bom.sql", b"\xef\xbb\xbfSELECT 1;").status_code == 200
    r = upload(client, task_id, "bom.sql", b"SELECT 2;", "overwrite")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_ERROR"
    r = client.post(f"{API}/{task_id}/files", data={}, content_type="multipart/form-data")
    assert r.status_code == 400 and r.get_json()["error"]["invalid_params"] == ["file"]


def test_upload_size_limit(app, app_ctx, task):
    task_id, task_dir = task
    limit = app_ctx.settings.max_upload_bytes
    client = app.test_client()
    r = upload(client, task_id, "big.txt", b"a" * (limit + 1))
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "FILE_TOO_LARGE"
    assert not (task_dir / "big.txt").exists()


def test_upload_refused_while_running(client, app_ctx, task):
    task_id, task_dir = task
    app_ctx.db.execute("""INSERT INTO data_pipeline_task_executions (task_id, execution_id, execution_step)
                          VALUES (%s, %s, 'ddl_generation')""", (task_id, f"{task_id}_step_ddl_generation_exec_x"))
    r = upload(client, task_id, "a.ddl", b"x")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "TASK_ALREADY_RUNNING"
    r = client.post(f"{API}/{task_id}/table-list", json={"table_names": ["bss_company"]})
    assert r.status_code == 409


def test_archive_streams_the_whole_directory(client, task):
    task_id, task_dir = task
    (task_dir / "表结构.md").write_text("# 表\n", encoding="utf-8")
    (task_dir / "vector_bak").mkdir()
    (task_dir / "vector_bak" / "langchain_pg_collection_x.csv").write_text("a\n", encoding="utf-8")
    r = client.get(f"{API}/{task_id}/files/archive", buffered=False)
    assert r.status_code == 200 and r.is_streamed and r.headers["Content-Type"] == "application/zip"
    assert f"filename*=UTF-8''{task_id}.zip" in r.headers["Content-Disposition"]
    data = b"".join(r.response)
    r.close()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        names = set(zf.namelist())
        assert {f"{task_id}/表结构.md", f"{task_id}/vector_bak/langchain_pg_collection_x.csv",
                f"{task_id}/task_config.json", f"{task_id}/table_list.txt"} <= names
        info = zf.getinfo(f"{task_id}/表结构.md")
        assert info.flag_bits & 0x800  # UTF-8 name flag
        assert zf.read(f"{task_id}/表结构.md").decode() == "# 表\n"


def test_archive_of_a_large_file_comes_in_chunks(client, task):
    task_id, task_dir = task
    rnd = os.urandom(4 * 1024 * 1024)  # incompressible
    (task_dir / "noise.csv").write_bytes(rnd)
    r = client.get(f"{API}/{task_id}/files/archive", buffered=False)
    chunks = list(r.response)
    r.close()
    assert len([c for c in chunks if c]) > 2
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as zf:
        assert zf.read(f"{task_id}/noise.csv") == rnd


def test_human_size_and_types():
    assert files_service.human_size(0) == "0 B" and files_service.human_size(102400) == "100.0 KB"
    assert files_service.human_size(5 * 1024 ** 3) == "5.0 GB"
    assert files_service.file_type_of("a.DDL") == "ddl" and files_service.file_type_of("a.md.bak3") == "backup"
    assert files_service.step_of("sql_validation_20250627_summary.log") == "sql_validation"
    assert files_service.step_of("qs_db_20250627_143052_pair.json.bak1") == "qa_generation"
    assert files_service.step_of("metadata_detail.md") == "qa_generation"       # literal name beats ddl's glob
    assert files_service.step_of("bss_company_detail.md") == "ddl_generation"
    assert files_service.step_of("qs_db_20250627_143052_pair.meta.json.backup") == "qa_generation"
    assert files_service.step_of("vector_bak/langchain_pg_embedding_20250627_143052.csv") == "training_load"


def test_step_column_of_every_file_a_run_leaves():
    """The file API's step column for each file of a complete run, written out by hand (the same list as
    tests/test_step_outputs.py, where the executor's cleaning is checked against it)."""
    from tests.test_step_outputs import OWNED_FILES, TASK_FILES
    for step, names in OWNED_FILES.items():
        for name in names:
            assert files_service.step_of(name) == step, name
    assert files_service.step_of("qs_highway_db_20250101_120000_pair.meta.json.backup2") == "qa_generation"
    assert files_service.step_of("vector_bak/langchain_pg_collection_20250101_121000.csv") == "training_load"
    for name in TASK_FILES:
        assert files_service.step_of(name) is None, name


def test_concurrent_backup_uploads_keep_every_version(app, task):
    """Eight uploads of the same name at once: no error, every previous version kept under a distinct .bakN."""
    import threading
    task_id, task_dir = task
    upload(app.test_client(), task_id, "race.sql", b"v0")
    results, barrier = [], threading.Barrier(8)

    def one(i):
        barrier.wait()
        results.append(upload(app.test_client(), task_id, "race.sql", f"v{i + 1}".encode()).status_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 8
    versions = {p.read_bytes() for p in task_dir.glob("race.sql*")}
    assert versions == {f"v{i}".encode() for i in range(9)}
    assert not list(task_dir.glob(".race.sql*"))  # no temp file left behind


def test_a_steps_files_are_registered_in_one_transaction(app_ctx, task):
    """Issue 26: a step's dozens of files cost one commit, not one each (every row carries the same xmin)."""
    from data_pipeline.executor.outputs import register_outputs
    from data_pipeline.steps.base import OutputFile
    task_id, task_dir = task
    names = [f"t{i}.ddl" for i in range(5)]
    for name in names:
        (task_dir / name).write_text(f"CREATE TABLE {name[:-4]} (id int);\n", encoding="utf-8")
    declared = [OutputFile(name, "ddl", f"{name} 建表语句", is_primary=True) for name in names]
    registered = register_outputs(app_ctx.db, task_id, None, task_dir, "ddl_generation", declared, ("*.ddl",))
    assert sorted(e["file_name"] for e in registered) == names
    rows = app_ctx.db.fetchall("SELECT file_name, description, content_hash, xmin::text AS tx FROM "
                               "data_pipeline_task_outputs WHERE task_id = %s ORDER BY file_name", (task_id,))
    assert [r["file_name"] for r in rows] == names
    assert all(r["description"].endswith("建表语句") and r["content_hash"] for r in rows)
    assert len({r["tx"] for r in rows}) == 1
