"""Bytecode the executor processes reuse, in a cache the service owns: `{data_home}/cache/pycache`.

Every execution is a new `task_executor.py` process, and a process that may not write bytecode (the machine
sets PYTHONDONTWRITEBYTECODE, a fresh clone has no `__pycache__`, the source tree may be read-only) compiles
every module of the executor and the four steps again at each start: 0.1-0.2 s before the first LLM call
(issue 26). So the executor runs with PYTHONPYCACHEPREFIX pointing into the data home (unless the operator
set a prefix of their own) and may write bytecode there, never into the source tree; and the service fills that
cache at start with one background process that imports what an executor imports (`warm`). Python checks each
cached file against its source's modification time, so an updated checkout is recompiled, never run stale.

Until the first warming has finished (its marker file `.warm` is written last) executors run as before, without
the prefix: with an empty prefix Python would compile the standard library and every package too, since it then
looks for all bytecode there (a first run right after the first start would be slower than without the cache).
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Mapping, Optional

from app_config import PROJECT_ROOT, Settings

PREFIX_VAR = "PYTHONPYCACHEPREFIX"
WARM_MARKER = ".warm"
# what an executor imports on its way through a complete run (the steps are imported on demand by the runner)
EXECUTOR_MODULES = ("data_pipeline.executor.session", "data_pipeline.context", "data_pipeline.steps.ddl_generation",
                    "data_pipeline.steps.qa_generation", "data_pipeline.steps.sql_validation",
                    "data_pipeline.steps.training_load", "data_pipeline.qa.llm", "core.embedding")


def cache_dir(settings: Settings) -> Path:
    return (Path(settings.data_home) / "cache" / "pycache").resolve()


def executor_env(settings: Settings, env: Mapping[str, str]) -> dict[str, str]:
    """`env` for an executor process: bytecode read from and written to the service's cache once it is warm (or
    the operator's own PYTHONPYCACHEPREFIX), whatever PYTHONDONTWRITEBYTECODE says for the source tree."""
    out = dict(env)
    if not out.get(PREFIX_VAR):
        if not (cache_dir(settings) / WARM_MARKER).is_file():
            return out
        out[PREFIX_VAR] = str(cache_dir(settings))
    out.pop("PYTHONDONTWRITEBYTECODE", None)
    return out


def import_executor_modules(marker: Optional[str] = None) -> None:
    """Import every module an executor needs (run inside the warming process, which writes their bytecode), then
    write `marker`: from then on executors use the cache."""
    for name in EXECUTOR_MODULES:
        importlib.import_module(name)
    if marker:
        Path(marker).touch()


def warm(settings: Settings) -> Optional[subprocess.Popen]:
    """Fill the cache in the background (one short process, reaped by a daemon thread); None when it cannot
    start (the executors then compile for themselves: slower, never wrong)."""
    env = {**os.environ, PREFIX_VAR: os.environ.get(PREFIX_VAR) or str(cache_dir(settings))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    marker = cache_dir(settings) / WARM_MARKER
    try:
        Path(env[PREFIX_VAR]).mkdir(parents=True, exist_ok=True)
        marker.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from data_pipeline.executor.bytecode import import_executor_modules "
                                   "as m; m(sys.argv[1])", str(marker)],
            cwd=str(PROJECT_ROOT), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    except OSError:
        return None
    threading.Thread(target=proc.wait, name="reap-bytecode-warm", daemon=True).start()
    return proc
