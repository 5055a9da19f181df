"""The executor's start (issue 26): its bytecode cache (under the data home, filled at service start, never in the
source tree) and what it loads in the background (step code, the database attach)."""
from __future__ import annotations

import sys
from pathlib import Path

import app_config
from app_config import PROJECT_ROOT, load_settings
from data_pipeline.executor import bytecode, launcher
from data_pipeline.steps import ddl_generation


def cached_file(prefix: Path, source: str) -> Path:
    """Where Python keeps the bytecode of `source` under PYTHONPYCACHEPREFIX=prefix."""
    src = Path(source).resolve()
    return prefix / src.parent.relative_to(src.anchor) / f"{src.stem}.{sys.implementation.cache_tag}.pyc"


def test_executor_env_points_bytecode_into_the_data_home_and_lets_the_executor_write_it(tmp_path):
    settings = load_settings({"data_home": tmp_path}, environ={})
    cold = {"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/bin"}
    assert bytecode.executor_env(settings, cold) == cold     # not warmed yet: executors run as before
    bytecode.cache_dir(settings).mkdir(parents=True)
    (bytecode.cache_dir(settings) / bytecode.WARM_MARKER).touch()
    env = bytecode.executor_env(settings, {"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/bin"})
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path.resolve() / "cache" / "pycache")
    assert "PYTHONDONTWRITEBYTECODE" not in env and env["PATH"] == "/bin"
    own = bytecode.executor_env(settings, {"PYTHONPYCACHEPREFIX": "/srv/pyc"})   # the operator's choice stands
    assert own["PYTHONPYCACHEPREFIX"] == "/srv/pyc"


def test_a_spawned_executor_writes_its_bytecode_into_the_cache_not_the_source_tree(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")    # as on the shared machine
    monkeypatch.delenv("PYTHONPYCACHEPREFIX", raising=False)
    settings = load_settings({"data_home": tmp_path}, environ={})
    source_cache = PROJECT_ROOT / "__pycache__"
    existed = source_cache.exists()
    bytecode.cache_dir(settings).mkdir(parents=True)
    (bytecode.cache_dir(settings) / bytecode.WARM_MARKER).touch()    # as after the service's first warming
    task_id = "task_20250101_000000"
    # a mismatched execution id: the executor imports its modules, then refuses the arguments (exit code 2)
    proc = launcher.spawn_executor(settings, tmp_path / task_id, task_id=task_id,
                                   execution_id="task_20250102_000000_step_complete_x", mode="complete", step=None)
    assert proc.wait(120) == 2
    assert cached_file(bytecode.cache_dir(settings), app_config.__file__).is_file()
    assert source_cache.exists() == existed


def test_warm_compiles_the_steps_before_any_execution(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONPYCACHEPREFIX", raising=False)
    settings = load_settings({"data_home": tmp_path}, environ={})
    proc = bytecode.warm(settings)
    assert proc is not None and proc.wait(120) == 0
    assert cached_file(bytecode.cache_dir(settings), ddl_generation.__file__).is_file()
    assert (bytecode.cache_dir(settings) / bytecode.WARM_MARKER).is_file()    # executors use it from now on


def _fresh_python(code: str, env=None) -> str:
    import subprocess
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(PROJECT_ROOT), capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


def test_the_executor_loads_step_code_in_the_background_before_the_step_needs_it():
    """Issue 26: the first step's code loads while the executor attaches (task_executor.preload_first_step), the
    later steps' while the first step waits for the LLM (runner.prefetch_step_modules): in a fresh process."""
    out = _fresh_python(
        "import sys; from data_pipeline import task_executor as t; from data_pipeline.executor import runner\n"
        "print('data_pipeline.steps.sql_validation' in sys.modules)\n"
        "t.preload_first_step('step', 'sql_validation').join(60)\n"
        "runner.prefetch_step_modules(['training_load']).join(60)\n"
        "print('data_pipeline.steps.sql_validation' in sys.modules, 'data_pipeline.steps.training_load' in sys.modules)")
    assert out.splitlines() == ["False", "True True"]


def test_the_executor_attaches_to_the_database_while_it_imports(settings):
    """task_executor.attach_in_background resolves the databases in a thread; build_context then reuses them."""
    import os
    from app_config import settings_env
    out = _fresh_python(
        "from app_config import get_settings; from core import runtime; from data_pipeline import task_executor as t\n"
        "print(runtime._cached is None)\n"
        "t.attach_in_background(get_settings()).join(60)\n"
        "cached = runtime._cached\n"
        "from data_pipeline.context import build_context\n"
        "ctx = build_context(get_settings(), bootstrap=False, maxconn=1)\n"
        "print(cached is not None and ctx.runtime is cached, bool(cached.meta_url))", env={**os.environ,
                                                                                       **settings_env(settings)})
    assert out.splitlines() == ["True", "True True"]
