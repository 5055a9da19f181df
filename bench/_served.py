"""What the benchmarks that drive the gunicorn-served app share: a fresh data home, the demo tables, task
creation and percentiles.

`fresh_home()` must run before the service's modules are imported (settings and the embedded server read the
environment), so a benchmark starts with:

    from _served import fresh_home
    HOME = fresh_home("dp_bench_status_")
    ...imports of app_config, data_pipeline, tests...
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_TABLES = ["bss_business_day_data", "bss_car_day_count", "bss_company", "bss_section_route",
               "bss_section_route_area_link", "bss_service_area", "bss_service_area_mapper"]
BASE = "/api/v0/data_pipeline/tasks"
# a developer's own settings would point the benchmark at their databases or LLM
_OWN_SETTINGS = ("DATABASE_URL", "BUSINESS_DB_URL", "LLM_BASE_URL", "LLM_MODEL", "API_TOKEN", "TRAINING_DATA_DIR")


def fresh_home(prefix: str) -> Path:
    """A new temporary data home (embedded PostgreSQL + demo database on first use), the project importable."""
    sys.path.insert(0, str(ROOT))
    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["DP_DATA_HOME"] = str(home)
    for var in _OWN_SETTINGS:
        os.environ.pop(var, None)
    return home


def remove_home(home: Path) -> None:
    """After the server stopped: stop the embedded PostgreSQL (this process kept it attached), then its files."""
    import shutil

    from core import embedded_pg
    embedded_pg.detach()
    shutil.rmtree(home, ignore_errors=True)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def create_task(url: str, tables: list[str], **extra) -> str:
    import requests
    resp = requests.post(url + BASE, json={"table_names": tables, "task_name": "bench", **extra}, timeout=60)
    resp.raise_for_status()
    return resp.json()["data"]["task_id"]
