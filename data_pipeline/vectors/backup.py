"""Backup, listing and restore of the vector tables as CSV files under a `vector_bak/` directory.

A backup set is `{table}_{YYYYMMDD_HHMMSS}.csv` for both tables plus `backup_{ts}.log` (rows, bytes, duration
per table). Files are streamed with `COPY ... TO STDOUT` into a hidden temp file and renamed, so a half-written
backup never looks complete. Restore reads a set back in ONE transaction: collections upserted by name,
embeddings replaced (optionally after emptying the table). Client-given names are checked against the backup
pattern and resolved inside the directory before any file is opened.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable, Optional

from core.db import first_line
from core.errors import AppError, FileNotFound, InvalidFileName, ValidationFailed, VectorBackupFailed
from data_pipeline.store import vector as vector_sql

BACKUP_DIR = "vector_bak"
TIMESTAMP_RE = re.compile(r"^\d{8}_\d{6}(_\d{1,3})?$")
CSV_RE = re.compile(r"^(?P<table>langchain_pg_collection|langchain_pg_embedding)"
                    r"_(?P<ts>\d{8}_\d{6}(?:_\d{1,3})?)\.csv$")
_LOG_LINE_RE = re.compile(r"^(?P<table>langchain_pg_\w+): rows=(?P<rows>\d+) bytes=(?P<bytes>\d+)")


class VectorRestoreFailed(AppError):
    """Restoring the vector tables failed."""
    status, code, message, error_type = 500, "VECTOR_BACKUP_FAILED", "向量表恢复失败", "VectorError"


@dataclass
class BackupResult:
    directory: Path
    timestamp: str
    files: list[dict]            # {file_name, table, rows, bytes}
    duration_seconds: float
    log_file: str

    def summary(self) -> dict:
        return {"timestamp": self.timestamp, "files": self.files, "log_file": self.log_file,
                "total_rows": sum(f["rows"] for f in self.files),
                "total_bytes": sum(f["bytes"] for f in self.files),
                "duration_seconds": round(self.duration_seconds, 3)}


def _free_timestamp(directory: Path) -> str:
    """Now as YYYYMMDD_HHMMSS, suffixed _2, _3 ... when a set of that second already exists."""
    base = datetime.now().strftime("%Y%m%d_%H%M%S")
    for n in range(1, 1000):
        ts = base if n == 1 else f"{base}_{n}"
        if not any((directory / f"{t}_{ts}.csv").exists() for t in vector_sql.VECTOR_TABLES):
            return ts
    raise VectorBackupFailed("too many backups in one second")


def backup_with_cursor(cur, directory: Path) -> BackupResult:
    """Write both tables as seen by `cur`'s transaction into `directory` (created if missing)."""
    started = time.perf_counter()
    directory = Path(directory)
    written: list[Path] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        ts = _free_timestamp(directory)
        files, log_lines = [], []
        for table in vector_sql.VECTOR_TABLES:
            t0 = time.perf_counter()
            final = directory / f"{table}_{ts}.csv"
            tmp = directory / f".{final.name}.tmp"
            with open(tmp, "w", encoding="utf-8", newline="") as stream:
                rows = vector_sql.copy_out(cur, table, stream)
            os.replace(tmp, final)
            written.append(final)
            size = final.stat().st_size
            files.append({"file_name": final.name, "table": table, "rows": rows, "bytes": size})
            log_lines.append(f"{table}: rows={rows} bytes={size} duration={time.perf_counter() - t0:.3f}s "
                             f"file={final.name}")
        duration = time.perf_counter() - started
        log_name = f"backup_{ts}.log"
        log_lines.insert(0, f"vector backup {ts} at {datetime.now().isoformat(timespec='seconds')}")
        log_lines.append(f"total: rows={sum(f['rows'] for f in files)} "
                         f"bytes={sum(f['bytes'] for f in files)} duration={duration:.3f}s")
        (directory / log_name).write_text("\n".join(log_lines) + "\n", encoding="utf-8")
    except AppError:
        raise
    except Exception as exc:   # noqa: BLE001 - every cause (disk, permissions, SQL) is one contract error
        for path in written:
            path.unlink(missing_ok=True)
        for tmp in directory.glob(".langchain_pg_*.csv.tmp"):
            tmp.unlink(missing_ok=True)
        raise VectorBackupFailed(f"backing up the vector tables failed: {first_line(exc)}") from None
    return BackupResult(directory, ts, files, duration, log_name)


def backup(db, directory: Path) -> BackupResult:
    """A standalone backup: both tables from one consistent snapshot (REPEATABLE READ, read only)."""
    try:
        with db.connection() as conn:
            conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
            try:
                with conn.cursor() as cur:
                    return backup_with_cursor(cur, directory)
            finally:
                conn.rollback()
                conn.set_session(isolation_level="DEFAULT", readonly="DEFAULT")
    except AppError:
        raise
    except Exception as exc:   # noqa: BLE001
        raise VectorBackupFailed(f"backing up the vector tables failed: {first_line(exc)}") from None


# ------------------------------------------------------------------------------------------------ listing
def _log_counts(path: Path) -> dict[str, int]:
    counts = {}
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            m = _LOG_LINE_RE.match(line)
            if m:
                counts[m["table"]] = int(m["rows"])
    except OSError:
        pass
    return counts


def list_sets(directory: Path) -> list[dict]:
    """Backup sets in one `vector_bak/` directory, newest first (names only, no paths)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    by_ts: dict[str, dict] = {}
    for path in directory.iterdir():
        m = CSV_RE.match(path.name)
        if not m or not path.is_file() or path.is_symlink():
            continue
        entry = by_ts.setdefault(m["ts"], {"timestamp": m["ts"], "files": []})
        stat = path.stat()
        entry["files"].append({"file_name": path.name, "table": m["table"], "file_size": stat.st_size,
                               "modified_at": datetime.fromtimestamp(stat.st_mtime).isoformat(timespec="seconds")})
    out = []
    for ts, entry in by_ts.items():
        log = directory / f"backup_{ts}.log"
        counts = _log_counts(log) if log.is_file() else {}
        for f in entry["files"]:
            f["rows"] = counts.get(f["table"])
        entry["files"].sort(key=lambda f: f["table"])
        entry["log_file"] = log.name if log.is_file() else None
        entry["complete"] = {f["table"] for f in entry["files"]} == set(vector_sql.VECTOR_TABLES)
        entry["total_size"] = sum(f["file_size"] for f in entry["files"])
        entry["created_at"] = datetime.strptime(ts[:15], "%Y%m%d_%H%M%S").isoformat()
        out.append(entry)
    return sorted(out, key=lambda e: e["timestamp"], reverse=True)


# ------------------------------------------------------------------------------------------------ restore
def resolve_files(directory: Path, *, timestamp: Optional[str] = None,
                  file_names: Optional[Iterable[str]] = None) -> dict[str, Path]:
    """{table: path} of the requested backup set; names validated, paths verified inside `directory`."""
    directory = Path(directory)
    if timestamp is not None and file_names:
        raise ValidationFailed("give either a timestamp or file names, not both", invalid_params=["timestamp", "files"])
    if timestamp is not None:
        if not isinstance(timestamp, str) or not TIMESTAMP_RE.fullmatch(timestamp):
            raise InvalidFileName("timestamp must look like YYYYMMDD_HHMMSS", invalid_params=["timestamp"])
        names = [f"{t}_{timestamp}.csv" for t in vector_sql.VECTOR_TABLES]
        optional = {f"{vector_sql.COLLECTION_TABLE}_{timestamp}.csv"}
    else:
        names, optional = list(file_names or []), set()
        if not names:
            raise ValidationFailed("give a timestamp or file names", invalid_params=["timestamp", "files"])
    chosen: dict[str, Path] = {}
    root = directory.resolve()
    for name in names:
        m = CSV_RE.match(name) if isinstance(name, str) else None
        if not m:
            raise InvalidFileName("file names must look like langchain_pg_{collection|embedding}_YYYYMMDD_HHMMSS.csv",
                                  invalid_params=["files"])
        if m["table"] in chosen:
            raise ValidationFailed(f"two files for {m['table']}", invalid_params=["files"])
        path = directory / name
        if not path.is_file():
            if name in optional:
                continue
            raise FileNotFound(f"backup file {name} does not exist")
        resolved = path.resolve()
        if resolved.parent != root or path.is_symlink():
            raise InvalidFileName(f"{name} is not a backup file of this directory", invalid_params=["files"])
        chosen[m["table"]] = resolved
    if vector_sql.EMBEDDING_TABLE not in chosen:
        raise ValidationFailed("the langchain_pg_embedding backup file is required", invalid_params=["files"])
    return chosen


def restore(db, files: dict[str, Path], *, truncate_before_restore: bool = True, wait: bool = True) -> dict:
    """Load a backup set in ONE transaction. Returns counts; any failure leaves the tables as they were."""
    started = time.perf_counter()
    try:
        with db.connection() as conn, conn.cursor() as cur:
            if not vector_sql.lock_writers(cur, wait=wait):
                from core.errors import TaskAlreadyRunning
                raise TaskAlreadyRunning("a training load or restore is writing the vector tables; retry when it ends")
            vector_sql.block_external_writes(cur)
            coll_staging, coll_rows = None, 0
            if vector_sql.COLLECTION_TABLE in files:
                with open(files[vector_sql.COLLECTION_TABLE], encoding="utf-8", newline="") as stream:
                    coll_staging, coll_rows = vector_sql.copy_into_staging(cur, vector_sql.COLLECTION_TABLE, stream)
            with open(files[vector_sql.EMBEDDING_TABLE], encoding="utf-8", newline="") as stream:
                emb_staging, emb_rows = vector_sql.copy_into_staging(cur, vector_sql.EMBEDDING_TABLE, stream)
            added_collections = vector_sql.restore_collections(cur, coll_staging) if coll_staging else 0
            deleted = vector_sql.delete_all_embeddings(cur) if truncate_before_restore else 0
            restored, skipped = vector_sql.restore_embeddings(cur, emb_staging, coll_staging)
            dimensions = vector_sql.distinct_dimensions(cur)
            if len(dimensions) > 1:   # Vanna's cosine search fails on mixed dimensions: refuse, roll back
                raise ValidationFailed(f"the restore would mix embedding dimensions {dimensions}; restore with "
                                       "truncate_before_restore=true", invalid_params=["truncate_before_restore"])
            totals = vector_sql.count_rows(cur)
    except AppError:
        raise
    except Exception as exc:   # noqa: BLE001
        raise VectorRestoreFailed(f"restoring the vector tables failed: {first_line(exc)}") from None
    return {"files": sorted(p.name for p in files.values()), "collection_rows_in_backup": coll_rows,
            "embedding_rows_in_backup": emb_rows, "collections_added": added_collections,
            "embeddings_deleted_before": deleted, "embeddings_restored": restored,
            "embeddings_skipped_without_collection": skipped, "table_rows_after": totals,
            "truncate_before_restore": truncate_before_restore,
            "duration_seconds": round(time.perf_counter() - started, 3)}


# ------------------------------------------------------------------------------------------------ locations
def backup_directory(app_ctx, task_id: Optional[str]) -> Path:
    """`{task_dir}/vector_bak` for a task (validated, must exist), else `{training_data root}/vector_bak`."""
    if task_id is None:
        return app_ctx.tasks_root / BACKUP_DIR
    from data_pipeline.tasks import get_task_or_404
    get_task_or_404(app_ctx, task_id)
    return app_ctx.task_dir(task_id) / BACKUP_DIR


def list_all_sets(app_ctx, task_id: Optional[str] = None) -> list[dict]:
    """Backup sets of one task, or of every task directory plus the standalone directory; newest first."""
    from data_pipeline.ids import is_valid_task_id
    places: list[tuple[Optional[str], Path]] = []
    if task_id is not None:
        places.append((task_id, backup_directory(app_ctx, task_id)))
    else:
        places.append((None, app_ctx.tasks_root / BACKUP_DIR))
        if app_ctx.tasks_root.is_dir():
            places += [(d.name, d / BACKUP_DIR) for d in sorted(app_ctx.tasks_root.iterdir())
                       if d.is_dir() and not d.is_symlink() and is_valid_task_id(d.name)]
    sets = []
    for owner, directory in places:
        for entry in list_sets(directory):
            sets.append({"task_id": owner, "directory": app_ctx.display_path(directory), **entry})
    return sorted(sets, key=lambda e: e["timestamp"], reverse=True)
