"""Hostile file names and task ids against every file endpoint: 0 escapes, every answer an error envelope with
INVALID_FILE_NAME / FILE_NOT_FOUND (TASK_NOT_FOUND / VALIDATION_ERROR / NOT_FOUND for bad task ids).

"Escape" is checked three ways: no response carries the content of a planted file outside the task directory
(a secret marker) or of /etc/passwd; no file outside the task directory is created or changed; the task
directory gains no file from a refused request.
"""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest

from data_pipeline.taskfiles import safety as file_safety
from core.errors import FileNotFound, InvalidFileName

API = "/api/v0/data_pipeline/tasks"
OUTSIDE_MARKER = "OUTSIDE_SECRET_MARKER_4711"

HOSTILE_NAMES = [
    "../task_config.json", "../../../../etc/passwd", "..", ".", "/etc/passwd", "//etc/passwd",
    "..\\..\\windows\\win.ini", "C:\\Windows\\win.ini", "C:win.ini", "%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252fetc%252fpasswd", "..%2f..%2foutside.txt", "..%5c..%5cwin.ini", "a\x00.txt",
    "task_config.json\x00.ddl", "\u2215etc\u2215passwd", "\uff0fetc\uff0fpasswd", "\uff0e\uff0e\uff0foutside.txt",
    "..\u2215outside.txt", "\u2024\u2024\u2215outside.txt", "a/../../outside.txt", "vector_bak/../../outside.txt",
    ".hidden", ".task_config.json.tmp", "a" * 300 + ".txt", "é" * 200 + ".ddl", "file\nname.txt",
    "file\rname.txt", "tab\tname.txt", "\u202etxt.exe.ddl", "name.txt ", " name.txt", "name.", "con:stream.txt",
    "a*b.txt", "a?b.txt", "a|b.txt", "<script>.txt", "\\\\server\\share\\x.txt", "~/../outside.txt",
    "....//....//outside.txt", "..;/outside.txt", "%00", "\u200bname.txt", "\ufeffname.txt", "..\\outside.txt",
    "%c0%ae%c0%ae%c0%afoutside.txt", "passwd_link", "inside_link.ddl", "loop_link", "subdir_link",
    "missing.ddl", "",
]
ALLOWED_FILE_ERRORS = {"INVALID_FILE_NAME", "FILE_NOT_FOUND"}


@pytest.fixture()
def hostile_task(client, app_ctx):
    """A task whose directory holds real files plus planted symlinks; a marker file sits outside it."""
    task_id = client.post(API, json={"task_name": "hostile", "table_names": ["bss_company"]}
                          ).get_json()["data"]["task_id"]
    task_dir = app_ctx.task_dir(task_id)
    (task_dir / "real.ddl").write_text("CREATE TABLE t (id int);\n", encoding="utf-8")
    outside = app_ctx.tasks_root / "outside.txt"
    outside.write_text(OUTSIDE_MARKER, encoding="utf-8")
    os.symlink("/etc/passwd", task_dir / "passwd_link")
    os.symlink(task_dir / "real.ddl", task_dir / "inside_link.ddl")
    os.symlink(task_dir / "loop_link", task_dir / "loop_link")
    os.symlink(app_ctx.tasks_root, task_dir / "subdir_link")
    return task_id, task_dir, outside


def snapshot(root: Path) -> dict:
    out = {}
    for dirpath, dirs, names in os.walk(root, followlinks=False):
        for n in names + dirs:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out[p] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def assert_refused(resp, allowed=ALLOWED_FILE_ERRORS, label=""):
    assert resp.status_code in (400, 404), (label, resp.status_code, resp.data[:200])
    body = resp.get_json()
    assert body and body["success"] is False and body["error"]["code"] in allowed, (label, body)
    assert OUTSIDE_MARKER.encode() not in resp.data and b"root:x:" not in resp.data, label


def url_name(name: str) -> str:
    return quote(name, safe="")


def test_corpus_is_large_enough():
    assert len(HOSTILE_NAMES) >= 40


def test_hostile_names_on_download_and_upload(client, hostile_task, app_ctx):
    task_id, task_dir, outside = hostile_task
    before_root = snapshot(app_ctx.tasks_root.parent)
    for name in HOSTILE_NAMES:
        for form in (f"{API}/{task_id}/files/{url_name(name)}", f"{API}/{task_id}/files/download/{url_name(name)}",
                     f"{API}/{task_id}/files/{url_name(name)}?inline=1"):
            assert_refused(client.get(form), label=form)
        for raw in (f"{API}/{task_id}/files/{name}", f"{API}/{task_id}/files/download/{name}"):
            if "\x00" in name or "\n" in name or "\r" in name or "?" in name:
                continue  # not expressible raw in a request line
            resp = client.get(raw)
            if resp.status_code == 404 and resp.get_json()["error"]["code"] == "NOT_FOUND":
                continue  # e.g. "" -> the list route with a trailing slash: no file involved
            assert_refused(resp, label=raw)
        resp = client.post(f"{API}/{task_id}/files", data={"file": (io.BytesIO(b"x"), name or "x")},
                           content_type="multipart/form-data")
        if name in ("", "missing.ddl"):
            continue  # legitimate names: an upload of them may succeed
        # a CR/LF cannot travel inside a multipart header: the part arrives without a name (400 "file required")
        allowed = {"INVALID_FILE_NAME", "UNSUPPORTED_FILE_TYPE"} | (
            {"VALIDATION_ERROR"} if ("\n" in name or "\r" in name) else set())
        assert resp.status_code == 400 and resp.get_json()["error"]["code"] in allowed, (name, resp.data[:200])
        resp = client.post(f"{API}/{task_id}/upload-table-list",
                           data={"file": (io.BytesIO(b"bss_company\n"), name)}, content_type="multipart/form-data")
        assert resp.status_code == 400 and resp.get_json()["error"]["code"] in allowed, (name, resp.data[:200])
    assert outside.read_text(encoding="utf-8") == OUTSIDE_MARKER
    after_root = snapshot(app_ctx.tasks_root.parent)
    changed = {p for p in set(before_root) | set(after_root) if before_root.get(p) != after_root.get(p)}
    # only the two legitimate uploads may have landed, inside the task directory
    assert changed <= {str(task_dir / "missing.ddl"), str(task_dir), str(task_dir / "x")}, changed


def test_protected_service_files_cannot_be_overwritten(client, hostile_task):
    task_id, task_dir, _ = hostile_task
    config = (task_dir / "task_config.json").read_bytes()
    for name in ("task_config.json", "data_pipeline.log", "task_result.json", "table_list.txt"):
        for mode in ("replace", "backup"):
            resp = client.post(f"{API}/{task_id}/files", data={"file": (io.BytesIO(b"{}"), name),
                                                               "overwrite_mode": mode},
                               content_type="multipart/form-data")
            assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "INVALID_FILE_NAME", name
    assert (task_dir / "task_config.json").read_bytes() == config


def test_hostile_subdirectory_argument(client, hostile_task):
    task_id, _, _ = hostile_task
    for d in ("..", "../..", "/etc", "vector_bak/..", "subdir_link", "vector_bak%2f..", ".", "VECTOR_BAK"):
        assert_refused(client.get(f"{API}/{task_id}/files/real.ddl?dir={quote(d, safe='')}"), label=d)


def test_symlinks_are_not_listed_and_not_archived(client, hostile_task):
    task_id, task_dir, _ = hostile_task
    listing = client.get(f"{API}/{task_id}/files").get_json()["data"]
    names = {f["file_name"] for f in listing["files"]}
    assert "real.ddl" in names and not names & {"passwd_link", "inside_link.ddl", "loop_link", "subdir_link"}
    resp = client.get(f"{API}/{task_id}/files/archive")
    assert resp.status_code == 200
    with zipfile.ZipFile(io.BytesIO(resp.data)) as zf:
        members = zf.namelist()
        assert f"{task_id}/real.ddl" in members
        assert all("link" not in m for m in members)
        for m in members:
            content = zf.read(m)
            assert b"root:x:" not in content and OUTSIDE_MARKER.encode() not in content


def test_symlinked_vector_bak_and_table_list(client, hostile_task, app_ctx):
    task_id, task_dir, outside = hostile_task
    os.symlink(app_ctx.tasks_root, task_dir / "vector_bak")
    assert_refused(client.get(f"{API}/{task_id}/files/outside.txt?dir=vector_bak"))
    listing = client.get(f"{API}/{task_id}/files").get_json()["data"]
    assert all(f["directory"] is None for f in listing["files"])
    (task_dir / "table_list.txt").unlink()
    os.symlink(outside, task_dir / "table_list.txt")
    info = client.get(f"{API}/{task_id}/table-list-info")
    assert info.status_code == 200 and info.get_json()["data"]["has_table_list"] is False
    assert OUTSIDE_MARKER.encode() not in info.data
    resp = client.post(f"{API}/{task_id}/table-list", json={"table_names": ["bss_company"]})
    assert_refused(resp, label="table-list through a symlink")
    assert outside.read_text(encoding="utf-8") == OUTSIDE_MARKER


BAD_TASK_IDS = ["..", "...", "task_2025", "TASK_20250101_000000", "task_20250101_000000 ", "task_20250101_0000001",
                "manual_20250101_000000_x", "task_20250101_000000%00", "%2e%2e", "task_20250101_000000_",
                "a" * 500, "task_20250101_000000%2f..", "..%2f..%2fetc", "\u2215etc"]


@pytest.mark.parametrize("method,suffix", [
    ("get", "/files"), ("get", "/files/real.ddl"), ("get", "/files/download/real.ddl"), ("get", "/files/archive"),
    ("post", "/files"), ("post", "/upload-table-list"), ("post", "/table-list"), ("get", "/table-list-info"),
    ("get", "/logs"), ("post", "/logs/query"), ("get", "/logs/stream")])
def test_bad_task_ids_on_every_endpoint(client, method, suffix):
    for task_id in BAD_TASK_IDS:
        kwargs = {"json": {"table_names": ["bss_company"]}} if suffix == "/table-list" else {}
        resp = getattr(client, method)(f"{API}/{quote(task_id, safe='%')}{suffix}", **kwargs)
        body = resp.get_json()
        assert resp.status_code in (400, 404) and body["success"] is False, (task_id, suffix, resp.data[:200])
        assert body["error"]["code"] in {"VALIDATION_ERROR", "TASK_NOT_FOUND", "NOT_FOUND"}, (task_id, body)
    resp = getattr(client, method)(f"{API}/task_20000101_000000{suffix}",
                                   **({"json": {"table_names": ["x"]}} if suffix == "/table-list" else {}))
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "TASK_NOT_FOUND"


def test_validator_unit_cases(tmp_path):
    for good in ("db_highway_db.ddl", "qs_highway_db_20250627_143052_pair.json", "测试 文件.md", "a.bak1",
                 "bss_company_detail.md"):
        assert file_safety.validate_file_name(good) == good
    for bad in HOSTILE_NAMES:
        if bad in ("passwd_link", "inside_link.ddl", "loop_link", "subdir_link", "missing.ddl"):
            continue
        with pytest.raises(InvalidFileName):
            file_safety.validate_file_name(bad)
    (tmp_path / "ok.txt").write_text("x")
    assert file_safety.resolve_file(tmp_path, "ok.txt") == tmp_path / "ok.txt"
    with pytest.raises(FileNotFound):
        file_safety.resolve_file(tmp_path, "nope.txt")
    os.symlink("/etc/passwd", tmp_path / "link.txt")
    with pytest.raises(InvalidFileName):
        file_safety.resolve_file(tmp_path, "link.txt")
    with pytest.raises(InvalidFileName):
        file_safety.open_nofollow(tmp_path / "link.txt")
