"""Path safety for every file endpoint: a client's task id and file name never reach outside the task directory.

Order of checks (each before any file-system call that depends on it):
1. the task id matches the contract's pattern (`ids.require_task_id`), so it is a plain directory name;
2. the file name is validated lexically (`validate_file_name`): one path component, no separators (ASCII,
   Windows or Unicode look-alikes, also after percent-decoding), no NUL or control characters, no `..`, no
   leading dot, no drive letter, at most 255 UTF-8 bytes;
3. the joined path is resolved with `os.path.realpath` and must still be inside the resolved task directory,
   and the file itself must not be a symlink (a symlink planted in the directory is refused even when it points
   inside); files are opened with O_NOFOLLOW.

Subdirectories: files produced in `vector_bak/` (vector table backups) are reachable only through the
allow-listed `directory` argument (`?dir=vector_bak`), never through a `/` in the file name.
"""
from __future__ import annotations

import fcntl
import os
import stat
import threading
import time
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Optional
from urllib.parse import unquote

from core.errors import FileNotFound, InvalidFileName
from data_pipeline.ids import require_task_id

MAX_NAME_BYTES = 255
ALLOWED_SUBDIRS = ("vector_bak",)
# separators and their look-alikes: / \ ∕ ⁄ ⧸ ⧹ ／ ＼ ﹨ ∖
_SEPARATORS = set("/\\\u2215\u2044\u29f8\u29f9\uff0f\uff3c\ufe68\u2216")
# characters Windows or shells treat specially; refused so a name means the same everywhere
_RESERVED = set(':*?"<>|')


def _bad(reason: str) -> InvalidFileName:
    return InvalidFileName(f"invalid file name: {reason}", invalid_params=["file_name"])


def validate_file_name(name: object) -> str:
    """Return `name` when it is a safe single path component; raise InvalidFileName (400) otherwise."""
    if not isinstance(name, str) or not name:
        raise _bad("empty")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise _bad(f"longer than {MAX_NAME_BYTES} bytes")
    # the URL layer decoded once; a remaining %xx is a double-encoding attempt or at best ambiguous
    variants = {name, unicodedata.normalize("NFKC", name)}
    decoded = name
    for _ in range(3):
        decoded = unquote(decoded)
        variants.add(decoded)
        variants.add(unicodedata.normalize("NFKC", decoded))
    for text in variants:
        if any(ch in _SEPARATORS for ch in text):
            raise _bad("path separators are not allowed")
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in text):
            raise _bad("control or invisible characters are not allowed")
        if text.startswith(".") or ".." in text:
            raise _bad("names starting with '.' or containing '..' are not allowed")
        if any(ch in _RESERVED for ch in text):
            raise _bad("characters : * ? \" < > | are not allowed")
    if name != name.strip() or name.endswith("."):
        raise _bad("leading/trailing spaces or a trailing dot are not allowed")
    if "%" in name:
        raise _bad("percent-encoded characters are not allowed")
    return name


def validate_subdir(directory: Optional[str]) -> Optional[str]:
    if directory in (None, ""):
        return None
    if directory not in ALLOWED_SUBDIRS:
        raise InvalidFileName(f"dir must be one of: {', '.join(ALLOWED_SUBDIRS)}", invalid_params=["dir"])
    return directory


def task_dir_path(tasks_root: Path, task_id: str) -> Path:
    """The resolved task directory (it may not exist). The id is validated first; a task directory that is a
    symlink is refused (it would move every file operation elsewhere)."""
    require_task_id(task_id)
    root = Path(os.path.realpath(tasks_root))
    candidate = root / task_id
    if os.path.islink(candidate) or Path(os.path.realpath(candidate)) != candidate:
        raise FileNotFound("the task directory is not a plain directory")
    return candidate


def _inside(path: str, base: Path) -> bool:
    base_s = str(base)
    return path == base_s or path.startswith(base_s + os.sep)


def resolve_file(task_dir: Path, file_name: str, directory: Optional[str] = None, *, must_exist: bool = True) -> Path:
    """Validated name -> path of a regular file inside `task_dir` (or its allowed subdirectory).

    Raises InvalidFileName for unsafe names or a resolved path outside the directory (symlink), FileNotFound
    when it must exist and does not (or is not a regular file).
    """
    validate_file_name(file_name)
    directory = validate_subdir(directory)
    base = task_dir / directory if directory else task_dir
    if directory and os.path.islink(base):
        raise _bad("the subdirectory is a symbolic link")
    candidate = base / file_name
    real = os.path.realpath(candidate)
    if os.path.islink(candidate) or not _inside(real, Path(os.path.realpath(task_dir))):
        raise _bad("the name resolves outside the task directory (symbolic links are refused)")
    if real != str(candidate):
        raise _bad("the name does not resolve to itself")
    if must_exist:
        try:
            st = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            raise FileNotFound(f"file {file_name} does not exist in this task") from None
        if not stat.S_ISREG(st.st_mode):
            raise FileNotFound(f"{file_name} is not a regular file")
    return candidate


def resolve_download(task_dir: Path, file_name: str, directory: Optional[str] = None) -> Path:
    """A file to download: `directory` when given; else the top level, then the allow-listed subdirectories
    (so a client that builds URLs from `file_name` alone still reaches `vector_bak/` files)."""
    if directory:
        return resolve_file(task_dir, file_name, directory)
    try:
        return resolve_file(task_dir, file_name)
    except FileNotFound:
        for sub in ALLOWED_SUBDIRS:
            try:
                return resolve_file(task_dir, file_name, sub)
            except (FileNotFound, InvalidFileName):
                continue
        raise


def open_nofollow(path: Path) -> BinaryIO:
    """Open a file for reading without following a symlink at the last component (race-safe final check)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileNotFound(f"file {path.name} does not exist in this task") from None
    except OSError:
        raise _bad("the file cannot be opened safely (symbolic link?)") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileNotFound(f"{path.name} is not a regular file")
    return os.fdopen(fd, "rb")


LOCK_POLL_MAX_S = 0.02  # longest pause between two tries of a held directory lock


@contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive flock on the directory itself: serialises read-modify-write sequences (backup, then
    replace) across threads, greenlets and gunicorn workers on this host.

    Never a blocking flock: under the gevent worker (SERVER_MODEL=gevent) the holder may be another greenlet of
    this very process, paused in a database query inside the lock; a flock that waits in the kernel stops the
    whole process, the holder never resumes, and the worker hangs until gunicorn kills it (WORKER TIMEOUT). So
    the lock is tried without blocking and, while held, retried after `time.sleep` (gevent's under gevent:
    the holder runs meanwhile)."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0))
    try:
        pause = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(pause)
                pause = min(pause * 2, LOCK_POLL_MAX_S)
        yield
    finally:
        os.close(fd)  # releases the lock


def write_bytes_nofollow(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`: write a temp file beside it (O_EXCL|O_NOFOLLOW), then rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.{time.monotonic_ns()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)  # rename replaces a symlink itself, never its target
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
