"""Helpers shared by the vector-store tests: a synthetic task directory and a StepContext for `training_load`.

The pairs deliberately carry what breaks naive serialisation: Chinese, both quote kinds, backslashes, newlines,
tabs, an emoji and JSON-looking text inside a string.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from data_pipeline.qa import pairs as pair_files
from data_pipeline.steps.base import StepContext

TRICKY_PAIRS = [
    ("查询所有服务区的名称和所属公司", "SELECT service_area_name, company_id FROM bss_service_area WHERE delete_ts IS NULL"),
    ("名字里带单引号 O'Brien 和双引号 \"VIP\" 的服务区有哪些？",
     "SELECT * FROM bss_service_area WHERE service_area_name IN ('O''Brien', '\"VIP\"')"),
    ("反斜杠 C:\\temp\\new 路径出现在哪些记录里", "SELECT id FROM bss_company WHERE company_name LIKE 'C:\\\\temp%'"),
    ("统计每天的微信支付金额\n（按日期排序）",
     "SELECT oper_date,\n       SUM(wx) AS wx_total\nFROM bss_business_day_data\nGROUP BY oper_date\n"
     "ORDER BY oper_date;\t-- 注释 🚗"),
    ("含有 {\"json\": true, \"n\": null} 文本的问题", "SELECT '{\"json\": true, \"n\": null}'::text AS t"),
]
DDL_TEXTS = {
    "bss_service_area.ddl": "-- 中文名: 服务区\ncreate table public.bss_service_area (\n  id varchar(32) not null -- 主键,\n"
                            "  service_area_name varchar(255) -- 服务区名称\n);\n",
    "bss_company.ddl": "-- 中文名: 公司\ncreate table public.bss_company (\n  id varchar(32) not null,\n"
                       "  company_name varchar(255) -- 公司名称 'quoted' \\ backslash\n);\n",
}
MD_TEXTS = {
    "bss_service_area_detail.md": "## bss_service_area（服务区）\n- id (varchar(32)) - 主键\n- service_area_name - 名称\n",
    # a lone "\\." line is COPY's end-of-data marker in text form: the CSV backup must quote it
    "bss_company_detail.md": "## bss_company（公司）\n- company_name (varchar(255)) - 公司名称, \"引号\"\n\\.\n结尾\n",
}


def write_task_files(task_dir: Path, pairs=TRICKY_PAIRS, ts: str = "20250101_120000") -> Path:
    """A task directory with 2 DDL files, 2 Markdown docs and one pair file; returns the pair file path."""
    shutil.rmtree(task_dir, ignore_errors=True)
    task_dir.mkdir(parents=True)
    for name, text in {**DDL_TEXTS, **MD_TEXTS}.items():
        (task_dir / name).write_text(text, encoding="utf-8")
    # qa_generation's theme analysis matches *_detail.md but is not a table document: never loaded
    (task_dir / "metadata_detail.md").write_text("# 业务主题分析详情\n- 主题数：1\n", encoding="utf-8")
    path = task_dir / pair_files.pairs_file_name("highway_db", ts)
    pair_files.write_pairs(path, [pair_files.Pair(q, s) for q, s in pairs])
    return path


def write_report(task_dir: Path, statuses: dict[str, str], ts: str = "20250101_120500", *,
                 pairs_file: str = "qs_highway_db_20250101_120000_pair.json", file_modified: bool = False) -> Path:
    """A validation report shaped like data_pipeline/steps/sql_validation.py's (only the keys the load reads)."""
    path = task_dir / f"sql_validation_{ts}_report.json"
    report = {"metadata": {"pairs_file": pairs_file, "modify_original_file": file_modified},
              "summary": {"file_modification_stats": {"enabled": file_modified, "file_modified": file_modified}},
              "detailed_results": [{"pair_id": pid, "status": st} for pid, st in statuses.items()]}
    path.write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    return path


def step_context(app_ctx, task_id: str, *, options=None, params=None, settings=None) -> StepContext:
    return StepContext(task_id=task_id, task_dir=app_ctx.task_dir(task_id), params=dict(params or {}),
                       options=dict(options or {}), settings=settings or app_ctx.settings,
                       business_url=app_ctx.runtime.business_url, meta_db=app_ctx.db, tables=[],
                       logger=logging.getLogger("test.training_load"))


def empty_vector_tables(db) -> None:
    """Our tests own the vector tables while they run: start from empty embeddings (collections stay) and no
    ownership records."""
    db.execute("DELETE FROM langchain_pg_embedding")
    db.execute("DELETE FROM data_pipeline_vector_rows")


def all_rows(db) -> list[dict]:
    return db.fetchall("SELECT e.id, c.name AS collection, e.document, e.cmetadata, vector_dims(e.embedding) AS dims "
                       "FROM langchain_pg_embedding e JOIN langchain_pg_collection c ON c.uuid = e.collection_id "
                       "ORDER BY e.id")


def create_database(app_ctx, name: str, *, with_vector: bool = True) -> str:
    """Another database on the embedded server (as the superuser), returned as a URL; its vector tables dropped.
    Used as a second vector store: the load must create its tables itself."""
    import psycopg2

    from core import embedded_pg
    admin = psycopg2.connect(app_ctx.runtime.meta_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()
    url = embedded_pg.uri_for(app_ctx.runtime.meta_url, name)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS langchain_pg_embedding, langchain_pg_collection")
            cur.execute("CREATE EXTENSION IF NOT EXISTS vector" if with_vector else "DROP EXTENSION IF EXISTS vector")
    finally:
        conn.close()
    return url


def store_rows(url: str) -> list[dict]:
    """Every row of the store at `url` (same shape as all_rows), read on a fresh connection."""
    from core.db import Database
    db = Database(url, maxconn=1)
    try:
        return all_rows(db)
    finally:
        db.close()


def create_task(client, name: str = "向量测试", **params) -> str:
    """A task created through the API (201 asserted); its id."""
    resp = client.post("/api/v0/data_pipeline/tasks", json={"task_name": name, **params})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["task_id"]
