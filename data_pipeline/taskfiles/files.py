"""A task directory's files as clients see them: listing (reconciled with the outputs table), upload of a
modified file, and a streamed zip of the whole directory. No Flask here; callers validate ids with
`file_safety` (every function below goes through it again for names).

Listing decision: top-level regular files, plus the regular files of the allow-listed subdirectories
(`vector_bak/`), which carry `directory: "vector_bak"` and a download URL with `?dir=vector_bak`; file names
themselves never contain `/` (contract). Symlinks and dot files (our temp files) are never listed.

Backups: `overwrite_mode=backup` renames the previous file to `{name}.bak{N}` (N = 1, 2, ... first free), and
backups stay listed (file_type `backup`, same step as the original).
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
import stat
import threading
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Iterator, Optional

from core.errors import FileTooLarge, InvalidFileName, TaskAlreadyRunning, UnsupportedFileType, ValidationFailed
from data_pipeline.semantics.model import MODEL_FILE, read_model
from data_pipeline.semantics.upload import MAX_PROBLEMS, mark_edits, model_problems
from data_pipeline.taskfiles import safety as file_safety
from data_pipeline.steps import output_owner
from data_pipeline.store import outputs as output_store

UPLOAD_TYPES = (".ddl", ".md", ".json", ".txt", ".sql", ".csv")
# written by the service itself: an upload must never replace them
PROTECTED_FILES = ("task_config.json", "data_pipeline.log", "task_result.json", "table_list.txt")
OVERWRITE_MODES = ("backup", "replace", "skip")
_BACKUP_RE = re.compile(r"^(?P<original>.+)\.bak(?P<n>\d+)$")
URL_PREFIX = "/api/v0/data_pipeline/tasks"

_EXT_TYPES = {".ddl": "ddl", ".md": "md", ".json": "json", ".log": "log", ".txt": "txt", ".sql": "sql",
              ".csv": "csv", ".zip": "zip"}
# the step that owns a file, by name, when the outputs table has no row for it: the steps' own declaration
# (data_pipeline.steps.STEP_OUTPUTS, importable without step code), then files a step writes but does not clean
# on a re-run (backups of the pair file and its sidecar, vector backups).
KEPT_FILE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("qs_*_pair.json.backup*", "qa_generation"), ("qs_*_pair.meta.json.backup*", "qa_generation"),
    ("vector_bak/*", "training_load"), ("evaluation_history.json", "evaluation"),
)
DESCRIPTIONS: tuple[tuple[str, str], ...] = (
    ("data_pipeline.log", "任务执行日志"), ("task_config.json", "任务配置"), ("task_result.json", "任务结果"),
    ("table_list.txt", "表清单"), ("qs_*_pair.json", "Question-SQL训练数据对"),
    ("qs_*_pair.meta.json", "Question-SQL对元数据"), ("*.ddl", "DDL建表语句"), ("*_detail.md", "表结构说明文档"),
    ("*.md", "Markdown文档"), ("schema_snapshot.json", "数据库结构快照"), ("semantic_model.json", "语义模型（可编辑）"),
    ("vector_bak/*.csv", "向量表备份"),
    ("sql_validation*", "SQL验证报告"), ("eval_holdout.json", "评估留出的问答对"),
    ("evaluation_report.*", "检索与SQL准确率评估报告"), ("evaluation_history.json", "各嵌入模型的评估结果"),
    ("*.bak*", "备份文件"),
)
# The seed's primary files, in the order a client reading `primary_files[0]` expects: the training data (pair
# file) first, then metadata.txt and the validation summary. The flag is decided by name, as the seed does.
PRIMARY_PATTERNS = ("qs_*_pair.json", "metadata.txt", "sql_validation_*_summary.log")


def primary_rank(rel: str) -> int:
    """Position of a primary file in PRIMARY_PATTERNS; len(PRIMARY_PATTERNS) for every other file."""
    return next((i for i, p in enumerate(PRIMARY_PATTERNS) if fnmatch.fnmatchcase(rel, p)), len(PRIMARY_PATTERNS))


def file_type_of(name: str) -> str:
    if _BACKUP_RE.match(name):
        return "backup"
    return _EXT_TYPES.get(os.path.splitext(name)[1].lower(), "other")


def _match(patterns, rel: str) -> Optional[str]:
    for pattern, value in patterns:
        if fnmatch.fnmatchcase(rel, pattern):
            return value
    return None


def step_of(rel: str) -> Optional[str]:
    """The step that owns a file (by name; a backup `x.bakN` belongs to the step of `x`)."""
    m = _BACKUP_RE.match(rel)
    name = m["original"] if m else rel
    return output_owner(name) or _match(KEPT_FILE_PATTERNS, name)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


HASH_MAX_BYTES = 64 * 1024 * 1024  # larger files (a growing log, big backups) are listed without a hash
_HASH_CACHE: dict[tuple[str, int, int], str] = {}
_HASH_LOCK = threading.Lock()


def sha256_of(path: Path, st: os.stat_result) -> str:
    """sha256 of a file, cached by (path, size, mtime) so repeated listings cost one stat per file."""
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _HASH_LOCK:
        if key in _HASH_CACHE:
            return _HASH_CACHE[key]
    digest = hashlib.sha256()
    with file_safety.open_nofollow(path) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    with _HASH_LOCK:
        if len(_HASH_CACHE) > 10000:
            _HASH_CACHE.clear()
        _HASH_CACHE[key] = digest.hexdigest()
    return _HASH_CACHE[key]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).replace(microsecond=0).isoformat()


def _regular_files(task_dir: Path) -> Iterator[tuple[Optional[str], str, os.stat_result]]:
    """(directory, name, lstat) of listable files: top level plus allow-listed subdirectories."""
    for directory in (None, *file_safety.ALLOWED_SUBDIRS):
        base = task_dir / directory if directory else task_dir
        if directory and (os.path.islink(base) or not base.is_dir()):
            continue
        try:
            entries = list(os.scandir(base))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            yield directory, entry.name, entry.stat(follow_symlinks=False)


def list_files(db, task_id: str, task_dir: Path) -> dict:
    """The contract's file list; rows of the outputs table supply step, description and primary flag."""
    rows = {r["file_name"]: r for r in output_store.list_outputs(db, task_id)}
    files = []
    for directory, name, st in _regular_files(task_dir):
        rel = f"{directory}/{name}" if directory else name
        row = rows.get(rel) or {}
        url = f"{URL_PREFIX}/{task_id}/files/{name}" + (f"?dir={directory}" if directory else "")
        files.append({
            "file_name": name,
            "directory": directory,
            "path": rel,
            "file_type": row.get("file_type") or file_type_of(name),
            "file_size": st.st_size,
            "file_size_human": human_size(st.st_size),
            "created_at": (row.get("created_at") or _iso(st.st_mtime))[:19],
            "modified_at": _iso(st.st_mtime),
            "is_primary": primary_rank(rel) < len(PRIMARY_PATTERNS),
            "description": row.get("description") or _match(DESCRIPTIONS, rel) or "",
            "step": row.get("step_name") or step_of(rel),
            "content_hash": sha256_of(task_dir / rel, st) if st.st_size <= HASH_MAX_BYTES else None,
            "download_url": url,
        })
    files.sort(key=lambda f: (f["directory"] or "", primary_rank(f["path"]), f["file_name"]))
    total = sum(f["file_size"] for f in files)
    return {"task_id": task_id, "files": files, "total_files": len(files), "total_size": total,
            "total_size_human": human_size(total), "directory_exists": task_dir.is_dir()}


def _keep_backup(task_dir: Path, name: str) -> str:
    """Keep the current `name` as the first free `{name}.bak{N}` (a hard link, else a copy); race-safe: an
    N taken meanwhile by a concurrent upload is skipped."""
    n = 1
    while True:
        backup = f"{name}.bak{n}"
        if not os.path.lexists(task_dir / backup):
            try:
                os.link(task_dir / name, task_dir / backup)
                return backup
            except FileExistsError:
                pass
            except OSError:  # no hard links on this file system
                with file_safety.open_nofollow(task_dir / name) as src:
                    try:
                        fd = os.open(task_dir / backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                    except FileExistsError:
                        n += 1
                        continue
                    with os.fdopen(fd, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                return backup
        n += 1


def check_upload_name(file_name: str) -> str:
    file_safety.validate_file_name(file_name)
    if file_name in PROTECTED_FILES:
        hint = " (use upload-table-list for the table list)" if file_name == "table_list.txt" else ""
        raise InvalidFileName(f"{file_name} is written by the service and cannot be replaced{hint}",
                              invalid_params=["file"])
    if os.path.splitext(file_name)[1].lower() not in UPLOAD_TYPES:
        raise UnsupportedFileType(f"allowed file types: {', '.join(UPLOAD_TYPES)}", invalid_params=["file"])
    return file_name


def read_limited(stream, limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(f"the file is larger than {human_size(limit)}", invalid_params=["file"])
    return data


def check_text(data: bytes, file_name: str) -> str:
    """UTF-8 text (a BOM is accepted), no NUL bytes; JSON files must parse."""
    if b"\x00" in data:
        raise ValidationFailed("the file contains binary data (NUL bytes); upload UTF-8 text",
                               invalid_params=["file"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"the file is not UTF-8 text (invalid byte at offset {exc.start}); "
                               "save it as UTF-8 and upload again", invalid_params=["file"]) from None
    if file_name.lower().endswith(".json"):
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"the JSON file does not parse: {exc.msg} at line {exc.lineno}",
                                   invalid_params=["file"]) from None
    return text


def _store_locked(task_dir: Path, file_name: str, data: bytes, overwrite_mode: str):
    """(action, backup name or None, stat) after writing; None when skipped. Call under directory_lock."""
    target = file_safety.resolve_file(task_dir, file_name, must_exist=False)
    exists = os.path.lexists(target)
    if exists and not stat.S_ISREG(os.lstat(target).st_mode):
        raise InvalidFileName("a non-regular file (or symbolic link) has this name", invalid_params=["file"])
    if exists and overwrite_mode == "skip":
        return None
    backup_name, action = None, "created"
    if exists and overwrite_mode == "backup":
        backup_name, action = _keep_backup(task_dir, file_name), "backed_up_and_replaced"
    elif exists:
        action = "replaced"
    file_safety.write_bytes_nofollow(target, data)
    return action, backup_name, os.lstat(target)


def _check_task_quota(db, task_id: str, task_dir: Path, file_name: str, size: int, overwrite_mode: str,
                      quota_bytes: Optional[int]) -> None:
    """413 when the task's uploaded files (with the backup this upload makes) would pass MAX_TASK_UPLOADS_MB."""
    if quota_bytes is None:
        return
    current = os.path.lexists(task_dir / file_name) and os.lstat(task_dir / file_name).st_size or 0
    projected = output_store.uploaded_bytes(db, task_id) + size + (current if overwrite_mode == "backup" else 0)
    if projected > quota_bytes:
        raise FileTooLarge(f"this upload would bring the task's uploaded files to {human_size(projected)}; the "
                           f"limit is {human_size(quota_bytes)} per task (MAX_TASK_UPLOADS_MB)",
                           invalid_params=["file"])


def save_upload(db, *, task_id: str, task_dir: Path, file_name: str, data: bytes, overwrite_mode: str,
                running: bool, quota_bytes: Optional[int] = None) -> dict:
    """Store an uploaded (modified) file and record it in the outputs table. Returns the answer's data."""
    if overwrite_mode not in OVERWRITE_MODES:
        raise ValidationFailed(f"overwrite_mode must be one of {', '.join(OVERWRITE_MODES)}",
                               invalid_params=["overwrite_mode"])
    check_upload_name(file_name)
    if running:
        raise TaskAlreadyRunning("files cannot be replaced while the task is running")
    text = check_text(data, file_name)
    model_edits = None
    if file_name == MODEL_FILE:
        data, model_edits = _checked_model(text, task_dir)
    if not task_dir.is_dir():
        task_dir.mkdir(parents=True, exist_ok=True)
    with file_safety.directory_lock(task_dir):  # backup + replace of one name never interleave
        _check_task_quota(db, task_id, task_dir, file_name, len(data), overwrite_mode, quota_bytes)
        outcome = _store_locked(task_dir, file_name, data, overwrite_mode)
    if outcome is None:
        target = task_dir / file_name
        return {"task_id": task_id, "file_name": file_name, "action": "skipped", "overwrite_mode": overwrite_mode,
                "backup_file": None, "file_size": os.lstat(target).st_size, "step": step_of(file_name)}
    action, backup_name, st = outcome
    digest = hashlib.sha256(data).hexdigest()
    step = step_of(file_name)
    existing = output_store.get_output(db, task_id, file_name)
    row = output_store.upsert_output(
        db, task_id=task_id, execution_id=None, step_name=(existing or {}).get("step_name") or step,
        file_name=file_name, file_type=file_type_of(file_name), file_size=st.st_size, content_hash=digest,
        description=(existing or {}).get("description") or _match(DESCRIPTIONS, file_name) or "用户上传的文件",
        is_primary=primary_rank(file_name) < len(PRIMARY_PATTERNS))
    if backup_name:
        bst = os.lstat(task_dir / backup_name)
        output_store.upsert_output(
            db, task_id=task_id, execution_id=None, step_name=row["step_name"], file_name=backup_name,
            file_type="backup", file_size=bst.st_size, content_hash=None,
            description=f"{file_name} 上传覆盖前的备份", is_primary=False)
    answer = {"task_id": task_id, "file_name": file_name, "action": action, "overwrite_mode": overwrite_mode,
              "backup_file": backup_name, "file_size": st.st_size, "file_type": row["file_type"],
              "step": row["step_name"], "content_hash": digest, "uploaded_at": _iso(st.st_mtime),
              "download_url": f"{URL_PREFIX}/{task_id}/files/{file_name}"}
    if model_edits is not None:
        answer["model_edits"] = model_edits
    return answer


def _checked_model(text: str, task_dir: Path) -> tuple[bytes, list[str]]:
    """An uploaded `semantic_model.json` that can be used (400 with every problem otherwise), its edits against the
    task's current model marked `edited_by_user` (they survive re-runs): (bytes to store, what was marked)."""
    try:
        current = read_model(task_dir) if task_dir.is_dir() else None
    except ValueError:   # the file there now is unreadable: the upload replaces it, nothing to keep
        current = None
    data = json.loads(text)
    problems = model_problems(data, current)
    if problems:
        more = f"; and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
        raise ValidationFailed(f"{MODEL_FILE} cannot be used: {'; '.join(problems[:MAX_PROBLEMS])}{more}",
                               invalid_params=["file"], message="语义模型文件格式不正确")
    marked = mark_edits(data, current)
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"), marked


class _ChunkSink:
    """A write-only, non-seekable sink: zipfile then writes data descriptors, so the zip can be streamed."""

    def __init__(self):
        self.chunks: list[bytes] = []
        self.offset = 0

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def archive_members(task_dir: Path) -> Iterator[tuple[str, Path]]:
    """(relative name, path) of every regular file under the task directory; symlinks never followed."""
    real_root = os.path.realpath(task_dir)
    for root, dirs, names in os.walk(task_dir, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(root, d)))
        for name in sorted(names):
            path = Path(root) / name
            if name.startswith(".") or not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            if not os.path.realpath(path).startswith(real_root + os.sep):
                continue
            yield path.relative_to(task_dir).as_posix(), path


def stream_archive(task_id: str, task_dir: Path, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """Yield a zip (deflated, UTF-8 names, `{task_id}/...`) of the task directory, chunk by chunk."""
    sink = _ChunkSink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for rel, path in archive_members(task_dir):
            try:
                fh = file_safety.open_nofollow(path)
            except Exception:  # vanished or replaced by a symlink meanwhile: leave it out
                continue
            with fh:
                st = os.fstat(fh.fileno())
                info = zipfile.ZipInfo(f"{task_id}/{rel}", datetime.fromtimestamp(st.st_mtime).timetuple()[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(info, "w", force_zip64=st.st_size > (1 << 31)) as dest:
                    for block in iter(lambda: fh.read(chunk_size), b""):
                        dest.write(block)
                        if len(sink.chunks) > 16:
                            yield sink.drain()
            if sink.chunks:
                yield sink.drain()
    if sink.chunks:  # the central directory, written when the ZipFile closes
        yield sink.drain()
