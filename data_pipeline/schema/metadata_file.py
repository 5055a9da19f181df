"""`metadata.txt`: a SQL script (it executes on PostgreSQL) summarising the tables and, later, business themes.

The script creates two tables if missing and upserts rows, so running it twice changes nothing:
    metadata_tables(table_name PK, table_comment, description, column_count, row_estimate, primary_key text[],
                    foreign_keys text[], comment_source, created_at)
    metadata(id serial PK, topic_name UNIQUE, description, related_tables text[], biz_entities text[],
             biz_metrics text[], created_at)            -- the seeds' business-theme table
`ddl_generation` writes it with the tables only; `qa_generation` calls `write_metadata_txt` again with its
themes (same tables), which rewrites the file with both parts.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Iterable, Optional

from data_pipeline.schema.ddl_render import literal
from data_pipeline.schema.model import Table

METADATA_FILE = "metadata.txt"

_TABLES_DDL = """CREATE TABLE IF NOT EXISTS metadata_tables (
  table_name varchar(200) PRIMARY KEY,  -- schema.table
  table_comment text,                   -- 表中文名/注释
  description text,                     -- 表说明
  column_count integer,
  row_estimate bigint,
  primary_key text[],
  foreign_keys text[],                  -- "col -> schema.table(col)"
  comment_source varchar(32),           -- database, llm, rule_based
  created_at timestamp DEFAULT CURRENT_TIMESTAMP
);"""

_THEMES_DDL = """CREATE TABLE IF NOT EXISTS metadata (
  id serial PRIMARY KEY,
  topic_name varchar(100) NOT NULL UNIQUE,  -- 业务主题名称
  description text,                         -- 业务主题说明
  related_tables text[],                    -- 相关表
  biz_entities text[],                      -- 主要业务实体
  biz_metrics text[],                       -- 主要业务指标
  created_at timestamp DEFAULT CURRENT_TIMESTAMP
);"""


def _array(values: Iterable) -> str:
    items = [literal(str(v)) for v in values or []]
    return f"ARRAY[{', '.join(items)}]::text[]"


def _text(value: Optional[str]) -> str:
    return "NULL" if value is None else literal(str(value))


def render_metadata_sql(tables: list[Table], themes: Optional[list[dict]] = None, *, source_label: str = "") -> str:
    """The script text. `themes`: dicts with topic_name, description, related_tables, biz_entities, biz_metrics
    (lists of strings; missing keys are empty)."""
    out = [f"-- metadata.txt: 表结构元数据摘要（{len(tables)} 张表）, 生成于 {datetime.now():%Y-%m-%d %H:%M:%S}"]
    if source_label:
        out.append(f"-- 注释来源: {source_label}")
    out.append(_TABLES_DDL)
    for t in tables:
        fks = [f"{', '.join(f.columns)} -> {f.ref_schema}.{f.ref_table}({', '.join(f.ref_columns)})"
               for f in t.foreign_keys]
        out.append(
            "INSERT INTO metadata_tables (table_name, table_comment, description, column_count, row_estimate, "
            "primary_key, foreign_keys, comment_source) VALUES ("
            f"{literal(t.qualified)}, {_text(t.effective_comment or None)}, {_text(t.description)}, "
            f"{len(t.columns)}, {'NULL' if t.row_estimate is None else int(t.row_estimate)}, "
            f"{_array(t.primary_key)}, {_array(fks)}, {literal(t.comment_source)})\n"
            "ON CONFLICT (table_name) DO UPDATE SET table_comment = EXCLUDED.table_comment, "
            "description = EXCLUDED.description, column_count = EXCLUDED.column_count, "
            "row_estimate = EXCLUDED.row_estimate, primary_key = EXCLUDED.primary_key, "
            "foreign_keys = EXCLUDED.foreign_keys, comment_source = EXCLUDED.comment_source;")
    if themes:
        out.append(_THEMES_DDL)
        for th in themes:
            out.append(
                "INSERT INTO metadata (topic_name, description, related_tables, biz_entities, biz_metrics) VALUES ("
                f"{literal(str(th.get('topic_name') or '')[:100])}, {_text(th.get('description'))}, "
                f"{_array(th.get('related_tables'))}, {_array(th.get('biz_entities'))}, "
                f"{_array(th.get('biz_metrics'))})\n"
                "ON CONFLICT (topic_name) DO UPDATE SET description = EXCLUDED.description, "
                "related_tables = EXCLUDED.related_tables, biz_entities = EXCLUDED.biz_entities, "
                "biz_metrics = EXCLUDED.biz_metrics;")
    return "\n".join(out) + "\n"


def write_metadata_txt(task_dir: Path, tables: list[Table], themes: Optional[list[dict]] = None, *,
                       source_label: str = "") -> Path:
    """Write `{task_dir}/metadata.txt` atomically (replacing any earlier one) and return its path.

    tables: the snapshot's tables (`schema_model.load_snapshot`); themes: None from ddl_generation, or
    qa_generation's list of {topic_name: str, description: str, related_tables: [str], biz_entities: [str],
    biz_metrics: [str]}.
    """
    path = Path(task_dir) / METADATA_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_metadata_sql(tables, themes, source_label=source_label), encoding="utf-8")
    tmp.replace(path)
    return path
