"""Configuration, migrations, the embedded server's bookkeeping and the demo business database."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg2
import pytest

from app_config import ConfigError, PROJECT_ROOT, load_settings, settings_env
from core import embedded_pg
from core.db import Database, database_name, is_postgres_url
from core.migrate import MIGRATIONS_DIR, migrate
from core.secrets import mask_secrets, mask_url, scrub_text

DEMO_TABLES = {"bss_business_day_data", "bss_car_day_count", "bss_company", "bss_section_route",
               "bss_section_route_area_link", "bss_service_area", "bss_service_area_mapper"}


def test_settings_from_environment_and_errors():
    s = load_settings(environ={"PORT": "9001", "MAX_CONCURRENT_TASKS": "3", "DP_DATA_HOME": "/tmp/x",
                               "LLM_BASE_URL": "http://h/v1", "LLM_MODEL": "m", "DEBUG": "true"})
    assert s.port == 9001 and s.max_concurrent_tasks == 3 and s.debug is True and s.llm_enabled
    assert str(s.tasks_root) == "/tmp/x/data_pipeline/training_data"
    assert load_settings(environ={}).max_concurrent_tasks == 1
    with pytest.raises(ConfigError, match="PORT"):
        load_settings(environ={"PORT": "not-a-port"})
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        load_settings(environ={"LOG_LEVEL": "loud"})
    env = settings_env(s)
    assert load_settings(environ=env) == s  # a child process reads exactly the same settings


def test_migrations_are_idempotent(app_ctx):
    assert migrate(app_ctx.db) == []
    applied = {r["version"] for r in app_ctx.db.fetchall("SELECT version FROM data_pipeline_schema_migrations")}
    assert applied == {p.stem for p in MIGRATIONS_DIR.glob("[0-9][0-9][0-9]_*.sql")}
    tables = {r["table_name"] for r in app_ctx.db.fetchall(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert {"data_pipeline_tasks", "data_pipeline_task_executions", "data_pipeline_task_logs",
            "data_pipeline_task_outputs", "langchain_pg_collection", "langchain_pg_embedding"} <= tables


def test_one_running_execution_per_task_is_a_database_fact(clean_db):
    db = clean_db.db
    db.execute("INSERT INTO data_pipeline_tasks (id) VALUES ('task_20200101_000000')")
    ins = ("INSERT INTO data_pipeline_task_executions (task_id, execution_id, execution_step, status) "
           "VALUES ('task_20200101_000000', %s, 'ddl_generation', %s)")
    db.execute(ins, ("e1", "running"))
    db.execute(ins, ("e0", "completed"))
    with pytest.raises(psycopg2.errors.UniqueViolation):
        db.execute(ins, ("e2", "running"))
    with pytest.raises(psycopg2.errors.CheckViolation):
        db.execute("UPDATE data_pipeline_tasks SET status = 'running'")


def test_demo_database_tables_and_rows(business_url):
    assert database_name(business_url) == "highway_db"
    with psycopg2.connect(business_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT c.relname, c.reltuples::bigint, obj_description(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'")
        rows = {r[0]: r for r in cur.fetchall()}
        assert set(rows) == DEMO_TABLES
        counts = {}
        for t in DEMO_TABLES:
            cur.execute(f"SELECT count(*) FROM {t}")
            counts[t] = cur.fetchone()[0]
        assert counts["bss_service_area"] == 100
        assert counts["bss_business_day_data"] > 50_000 and counts["bss_car_day_count"] > 100_000
        cur.execute("SELECT min(oper_date), max(oper_date) FROM bss_business_day_data")
        lo, hi = cur.fetchone()
        assert (hi - lo).days >= 700
        # some tables carry Chinese comments, some don't; soft-deleted rows and NULLs exist
        assert rows["bss_company"][2] and not rows["bss_section_route_area_link"][2]
        assert not rows["bss_service_area_mapper"][2]
        cur.execute("SELECT count(*) FILTER (WHERE delete_ts IS NOT NULL), count(*) FILTER "
                    "(WHERE service_position IS NULL), count(DISTINCT service_state) FROM bss_service_area")
        deleted, null_pos, states = cur.fetchone()
        assert deleted > 0 and null_pos > 0 and 2 <= states <= 5
        # deterministic: the same rows on every machine. Expected values written out by hand (row i: id =
        # md5('area' || i), name from 10 cities x 10 suffixes, number 1000 + i), computed once with
        # Python's hashlib outside the database - not recomputed here with the generator's own formula
        cur.execute("SELECT id, service_area_name, service_area_no FROM bss_service_area ORDER BY id LIMIT 5")
        assert cur.fetchall() == [
            ("0006c5e727223e4434423bfa12ea0dc8", "上饶岭下服务区", "1088"),
            ("001e4c260b8f65b8ba097f1879d6b693", "南城港口服务区", "1092"),
            ("00f5b6ac587ddeb217669c591584fca5", "上饶南服务区", "1038"),
            ("05c09d7a0d4b9e260997f7305227bd03", "抚州北服务区", "1049"),
            ("06b16b1f35ae86b92dc53b7ec2f7630c", "庐山湖口服务区", "1061"),
        ]
        cur.execute("SELECT md5(string_agg(service_area_name || service_area_no, ',' ORDER BY id)) "
                    "FROM bss_service_area")
        assert cur.fetchone()[0] == "0585a16ad1201694f9490e8ba90e9e9b"


def test_demo_database_reader_cannot_write(business_url):
    with psycopg2.connect(business_url) as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.Error):
            cur.execute("DELETE FROM bss_company")


def test_prune_dead_pids(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".handle_pids.json").write_text(json.dumps([os.getppid(), dead.pid]))
    assert embedded_pg.prune_dead_pids(tmp_path) == [dead.pid]
    assert json.loads((tmp_path / ".handle_pids.json").read_text()) == [os.getppid()]


def test_embedded_server_uri_and_attached_pids(settings, app_ctx):
    assert app_ctx.runtime.embedded
    pids = json.loads((settings.pgdata / ".handle_pids.json").read_text())
    assert os.getpid() in pids
    assert embedded_pg.uri_for("postgresql://postgres:@/postgres?host=/s", "x") == "postgresql://postgres:@/x?host=/s"


def test_masking_helpers():
    assert mask_url("postgresql://u:p%40ss@h:5432/db") == "postgresql://u:******@h:5432/db"
    assert mask_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert "hunter2" not in scrub_text("failed for postgresql://a:hunter2@x/y and password=hunter2")
    assert "tok" not in scrub_text("Authorization: Bearer tok.en-123")
    masked = mask_secrets({"db_connection": "postgresql://a:b@c/d", "api_key": "k", "nested": [{"password": "p"}]})
    assert masked == {"db_connection": "postgresql://a:******@c/d", "api_key": "******",
                      "nested": [{"password": "******"}]}
    assert is_postgres_url("postgresql://a@b/c") and not is_postgres_url("http://a/b") and \
        not is_postgres_url("postgresql://a@b")


def test_pool_survives_a_broken_connection(app_ctx):
    db = Database(app_ctx.runtime.meta_url, maxconn=1)
    pid = db.fetchone("SELECT pg_backend_pid() AS pid")["pid"]
    app_ctx.db.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(psycopg2.Error):
        db.fetchone("SELECT 1 AS one")
    assert db.fetchone("SELECT 1 AS one") == {"one": 1}  # the dead connection was discarded
    db.close()


def test_project_layout_is_the_users_shape():
    for name in ("citu_app.py", "app_config.py", "data_pipeline", "core", "sql", "tests", "requirements.txt",
                 "README.md"):
        assert (PROJECT_ROOT / name).exists(), name
