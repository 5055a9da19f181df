"""Where a file may be read from, proven against the mutations that an audit found no test caught (issue 27):
the `table_list.txt` name check for another task's list (with a file that would otherwise parse), a symlinked
sub-directory of `table_lists/` that points outside (only `realpath`, not `abspath`, sees it), a symlinked task
directory (each half of the check), and the separator in `_inside`'s prefix test."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core.errors import FileNotFound, InvalidFileName
from data_pipeline.taskfiles import safety as file_safety

API = "/api/v0/data_pipeline/tasks"
GOOD_LIST = "bss_company\nbss_service_area\n"  # parses: the only reason to refuse it is where it is
OUTSIDE_MARKER = "OUTSIDE_MARKER_27_symlinked_task_dir"


def _create(client, **body) -> "object":
    return client.post(API, json=body)


def _refused(resp) -> bool:
    body = resp.get_json()
    return resp.status_code == 400 and body["error"]["invalid_params"] == ["table_list_file"]


def test_only_a_file_named_table_list_txt_is_read_from_another_task(client, app_ctx):
    first = _create(client, table_names=["bss_company"]).get_json()["data"]["task_id"]
    task_dir = app_ctx.task_dir(first)
    (task_dir / "tables.txt").write_text(GOOD_LIST, encoding="utf-8")
    (task_dir / "vector_bak").mkdir(exist_ok=True)
    (task_dir / "vector_bak" / "table_list.txt").write_text(GOOD_LIST, encoding="utf-8")
    (task_dir / "table_list.txt").write_text(GOOD_LIST, encoding="utf-8")
    accepted = _create(client, table_list_file=str(task_dir / "table_list.txt"))   # the same text parses
    assert accepted.status_code == 201, accepted.get_json()
    copied = app_ctx.task_dir(accepted.get_json()["data"]["task_id"]) / "table_list.txt"
    assert "bss_service_area" in copied.read_text(encoding="utf-8")
    for other in (task_dir / "tables.txt", task_dir / "vector_bak" / "table_list.txt"):
        assert _refused(_create(client, table_list_file=str(other))), other


def test_a_symlinked_sub_directory_of_table_lists_pointing_outside_is_refused(client, settings, tmp_path):
    outside = tmp_path / "outside_lists"
    outside.mkdir()
    (outside / "list.txt").write_text(GOOD_LIST, encoding="utf-8")
    lists = settings.table_lists_dir
    lists.mkdir(parents=True, exist_ok=True)
    real_sub, linked_sub = lists / "real_sub_27", lists / "linked_sub_27"
    real_sub.mkdir(exist_ok=True)
    (real_sub / "list.txt").write_text(GOOD_LIST, encoding="utf-8")
    if os.path.lexists(linked_sub):
        linked_sub.unlink()
    linked_sub.symlink_to(outside, target_is_directory=True)
    try:
        assert _create(client, table_list_file="real_sub_27/list.txt").status_code == 201  # a real one is read
        assert _refused(_create(client, table_list_file="linked_sub_27/list.txt"))
        assert _refused(_create(client, table_list_file=str(linked_sub / "list.txt")))
    finally:
        linked_sub.unlink()
        shutil.rmtree(real_sub)


@pytest.fixture()
def symlinked_task(client, app_ctx, tmp_path):
    """A real task whose directory was replaced by a symlink to a directory outside holding a marker file."""
    task_id = _create(client, table_names=["bss_company"]).get_json()["data"]["task_id"]
    task_dir = app_ctx.task_dir(task_id)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "notes.md").write_text(OUTSIDE_MARKER, encoding="utf-8")
    (outside / "data_pipeline.log").write_text(f"2025-06-27 14:00:00 [INFO] dp: {OUTSIDE_MARKER}\n",
                                               encoding="utf-8")
    shutil.rmtree(task_dir)
    task_dir.symlink_to(outside, target_is_directory=True)
    yield task_id, task_dir
    task_dir.unlink()


def test_a_symlinked_task_directory_is_never_followed(client, symlinked_task):
    task_id, _ = symlinked_task
    for path in (f"{API}/{task_id}/files", f"{API}/{task_id}/files/notes.md", f"{API}/{task_id}/logs",
                 f"{API}/{task_id}/files/archive"):
        resp = client.get(path)
        assert resp.status_code in (400, 404), (path, resp.status_code)
        assert OUTSIDE_MARKER.encode() not in resp.data and resp.get_json()["success"] is False, path


def test_task_dir_path_refuses_each_kind_of_symlink(tmp_path):
    """Both halves of the check on their own: a symlink to a directory (its real path differs) and a symlink
    loop (whose non-strict real path is the link's own path: only `islink` sees it)."""
    root = tmp_path / "tasks"
    root.mkdir()
    (root / "task_20250101_000001").mkdir()
    assert file_safety.task_dir_path(root, "task_20250101_000001") == Path(os.path.realpath(root)) / \
        "task_20250101_000001"
    (root / "task_20250101_000002").symlink_to(root / "task_20250101_000001", target_is_directory=True)
    loop = root / "task_20250101_000003"
    loop.symlink_to(loop)
    assert os.path.realpath(loop) == str(loop)  # the property this case relies on
    for task_id in ("task_20250101_000002", "task_20250101_000003"):
        with pytest.raises(FileNotFound):
            file_safety.task_dir_path(root, task_id)


def test_inside_needs_the_separator_after_the_base():
    base = Path("/srv/tasks/task_20250101_000001")
    assert file_safety._inside(str(base), base)
    assert file_safety._inside(str(base / "a.ddl"), base)
    assert not file_safety._inside(str(base) + "0/a.ddl", base)   # a sibling whose name starts the same
    assert not file_safety._inside(str(base) + "_evil", base)
    assert not file_safety._inside("/srv/tasks", base)


def test_file_name_length_boundary_and_non_text_names():
    assert file_safety.validate_file_name("a" * file_safety.MAX_NAME_BYTES) == "a" * file_safety.MAX_NAME_BYTES
    assert file_safety.validate_file_name("测" * 85) == "测" * 85                   # 255 bytes in UTF-8
    for bad in ("a" * (file_safety.MAX_NAME_BYTES + 1), "测" * 86, 123, b"notes.md", None, ""):
        with pytest.raises(InvalidFileName):
            file_safety.validate_file_name(bad)


def test_resolve_file_refuses_each_way_out_with_its_own_reason(tmp_path):
    """Several checks overlap (a symlink is refused by islink, the inside test and the resolve-to-itself test); each
    one is pinned here by the reason it gives first, so that dropping one of them shows."""
    task = tmp_path / "task"
    (task / "vector_bak").mkdir(parents=True)
    (task / "real.ddl").write_text("x", encoding="utf-8")
    (task / "vector_bak" / "set.json").write_text("{}", encoding="utf-8")
    (task / "adir").mkdir()
    (task / "inside_link.ddl").symlink_to(task / "real.ddl")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "real.ddl").write_text("x", encoding="utf-8")
    assert file_safety.resolve_file(task, "set.json", "vector_bak") == task / "vector_bak" / "set.json"
    assert file_safety.resolve_file(task, "real.ddl") == task / "real.ddl"

    def reason(task_dir, name, directory=None):
        with pytest.raises(InvalidFileName) as caught:
            file_safety.resolve_file(task_dir, name, directory)
        return str(caught.value)
    assert "symbolic links are refused" in reason(task, "inside_link.ddl")
    linked_task = tmp_path / "linked_task"
    linked_task.symlink_to(task, target_is_directory=True)
    assert "does not resolve to itself" in reason(linked_task, "real.ddl")
    shutil.rmtree(task / "vector_bak")
    (task / "vector_bak").symlink_to(outside, target_is_directory=True)
    assert "subdirectory is a symbolic link" in reason(task, "real.ddl", "vector_bak")
    with pytest.raises(FileNotFound):
        file_safety.resolve_file(task, "adir")                          # a directory is not a file
    with pytest.raises(FileNotFound):
        file_safety.open_nofollow(task / "missing.ddl")
    with pytest.raises(FileNotFound):
        file_safety.open_nofollow(task / "adir")


def test_names_with_dots_and_the_subdirectory_error():
    for bad in ("a..b", "x..", ".env"):
        with pytest.raises(InvalidFileName):
            file_safety.validate_file_name(bad)
    with pytest.raises(InvalidFileName) as caught:
        file_safety.validate_subdir("other")
    assert caught.value.invalid_params == ["dir"]


def test_a_symlinked_tasks_root_is_resolved_not_refused(tmp_path):
    """The operator may keep the tasks root behind a symlink: the root is resolved, the task id may not be."""
    (tmp_path / "real_root" / "task_20250101_000001").mkdir(parents=True)
    (tmp_path / "root_link").symlink_to(tmp_path / "real_root", target_is_directory=True)
    assert file_safety.task_dir_path(tmp_path / "root_link", "task_20250101_000001") == \
        Path(os.path.realpath(tmp_path / "real_root")) / "task_20250101_000001"


def test_allowed_path_refuses_odd_input_the_lists_dir_and_non_task_directories(settings, app_ctx, tmp_path):
    from core.errors import ValidationFailed
    from data_pipeline.taskfiles.table_list_server import allowed_path
    lists = settings.table_lists_dir
    lists.mkdir(parents=True, exist_ok=True)
    shared = settings.tasks_root / "shared_lists"                       # under the tasks root, not a task
    shared.mkdir(parents=True, exist_ok=True)
    (shared / "table_list.txt").write_text(GOOD_LIST, encoding="utf-8")
    task_dir = settings.tasks_root / "task_20250101_000027"             # a task whose table_list.txt is a directory
    (task_dir / "table_list.txt").mkdir(parents=True, exist_ok=True)
    (task_dir / "table_list.txt" / "inner.txt").write_text(GOOD_LIST, encoding="utf-8")
    try:
        for given in (5, None, "", "   ", "a\x00b", ".", str(lists), str(shared / "table_list.txt"),
                      str(task_dir / "table_list.txt" / "inner.txt")):
            with pytest.raises(ValidationFailed):
                allowed_path(settings, given)
    finally:
        shutil.rmtree(shared)
        shutil.rmtree(task_dir)


def test_server_table_list_size_encoding_and_line_limits(settings):
    from core.errors import ValidationFailed
    from data_pipeline.taskfiles.table_list_server import read_server_table_list
    small = settings.model_copy(update={"max_upload_mb": 24 / 1048576, "table_list_max_lines": 2})   # 24 bytes
    assert small.max_upload_bytes == 24
    lists = settings.table_lists_dir
    lists.mkdir(parents=True, exist_ok=True)
    files = {"exact_27.txt": b"bss_company\nbss_company\n", "over_27.txt": b"bss_company\nbss_company_x\n",
             "latin_27.txt": b"bss_caf\xe9\n", "three_27.txt": b"a\nb\nc\n"}
    for name, data in files.items():
        (lists / name).write_bytes(data)
    try:
        assert read_server_table_list(small, "exact_27.txt")           # exactly the limit is read
        for name in ("over_27.txt", "latin_27.txt", "three_27.txt"):
            with pytest.raises(ValidationFailed):
                read_server_table_list(small, name)
    finally:
        for name in files:
            (lists / name).unlink()
