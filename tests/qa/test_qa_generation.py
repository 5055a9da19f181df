"""Step qa_generation end to end: rule-based on the demo database (every SQL runs read-only, coverage holds,
metadata.txt executes) and LLM mode against the local OpenAI stub (failing theme, duplicates, top-up)."""
from __future__ import annotations

import json
import logging
import re

import psycopg2
import pytest

from app_config import load_settings
from core.llm import make_llm
from data_pipeline.qa.pair_quality import compute_coverage
from data_pipeline.qa.pairs import latest_pairs_file, read_pairs
from data_pipeline.schema.model import SNAPSHOT_FILE, load_snapshot
from data_pipeline.validation.check import SqlChecker
from data_pipeline.steps import ddl_generation, qa_generation
from data_pipeline.steps.base import StepContext
from data_pipeline.taskfiles.table_list import parse_names
from tests.openai_stub import OpenAIStub, Reply
from tests.qa.test_sql_synth import DEMO_TABLES


def _ctx(app_ctx, task_dir, settings, llm=None) -> StepContext:
    return StepContext(task_id="task_20250101_000000", task_dir=task_dir, params={"business_context": "测试业务"},
                       options={}, settings=settings, business_url=app_ctx.runtime.business_url,
                       meta_db=app_ctx.db, tables=parse_names(DEMO_TABLES), logger=logging.getLogger("test.qa"),
                       llm=llm)


@pytest.fixture(scope="module")
def ddl_dir(app_ctx, tmp_path_factory):
    """The demo tables through the real ddl_generation step (rule-based), once for this module."""
    task_dir = tmp_path_factory.mktemp("qa_ddl")
    ddl_generation.run(_ctx(app_ctx, task_dir, app_ctx.settings))
    return task_dir


@pytest.fixture()
def task_dir(ddl_dir, tmp_path):
    for f in ddl_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    return tmp_path


def test_rule_based_step_on_demo_db(app_ctx, task_dir, settings):
    result = qa_generation.run(_ctx(app_ctx, task_dir, settings))
    s = result.summary
    assert s["source"] == "rule_based" and s["llm_usage"] is None
    assert s["tables_covered"] == s["tables_total"] == 7 and s["fk_edges_covered"] == s["fk_edges_total"] == 5
    assert s["themes"] >= 2 and s["pairs"] >= 30     # (a one-valued `version` column is no flag to ask about)
    assert all(s["by_difficulty"][d] > 0 for d in ("aggregate", "group_by", "join", "nested_window"))

    pair_file = latest_pairs_file(task_dir)
    assert re.fullmatch(r"qs_highway_db_\d{8}_\d{6}_pair\.json", pair_file.name)
    flat = json.loads(pair_file.read_text(encoding="utf-8"))
    assert all(set(item) == {"question", "sql"} for item in flat) and len(flat) == s["pairs"]
    pairs = read_pairs(pair_file)
    assert all(p.meta["source"] == "rule_based" and p.meta["theme"] and p.meta["difficulty"] for p in pairs)
    sidecar = json.loads(pair_file.with_name(pair_file.name.replace(".json", ".meta.json")).read_text("utf-8"))
    assert sidecar["dedupe"] == s["duplicates_removed"] and sidecar["generator"] == {"generator": "rule_based"}

    tables, _ = load_snapshot(task_dir / SNAPSHOT_FILE)
    assert compute_coverage([p.sql for p in pairs], tables).complete
    with SqlChecker(app_ctx.runtime.business_url, statement_timeout_ms=settings.statement_timeout_ms,
                    lock_timeout_ms=settings.lock_timeout_ms, row_cap=5, concurrency=2) as checker:
        results = checker.check_many([p.sql for p in pairs])
    assert [(p.sql, r.error) for p, r in zip(pairs, results) if not r.executable] == []

    detail = (task_dir / "metadata_detail.md").read_text(encoding="utf-8")
    themes_part = detail.split("\n## 语义模型\n")[0]   # the semantic model follows the themes
    assert "规则生成" in detail and themes_part.count("\n## ") == s["themes"]
    # metadata.txt executes on PostgreSQL and holds the themes (run in a transaction, rolled back)
    script = (task_dir / "metadata.txt").read_text(encoding="utf-8")
    conn = psycopg2.connect(app_ctx.runtime.meta_url)
    try:
        with conn.cursor() as cur:
            cur.execute(script)
            cur.execute("SELECT count(*) FROM metadata")
            assert cur.fetchone()[0] == s["themes"]
    finally:
        conn.rollback()
        conn.close()
    assert {o.file_name for o in result.outputs} >= {pair_file.name, "metadata.txt", "metadata_detail.md"}


def test_missing_snapshot_is_a_dependency_error(app_ctx, tmp_path, settings):
    from core.errors import StepDependencyNotMet
    with pytest.raises(StepDependencyNotMet):
        qa_generation.run(_ctx(app_ctx, tmp_path, settings))


# ----------------------------------------------------------------------------------------------- LLM mode

THEMES = {"themes": [
    {"topic_name": "营收分析", "description": "每日营收", "related_tables": ["bss_business_day_data"],
     "biz_entities": ["服务区"], "biz_metrics": ["支付总金额"]},
    {"topic_name": "车流分析", "description": "车流量", "related_tables": ["bss_car_day_count", "bss_service_area",
                                                                   "no_such_table"],
     "biz_entities": ["车型"], "biz_metrics": ["车辆数量"]},
    {"topic_name": "公司管理", "description": "公司与服务区", "related_tables": ["bss_company", "bss_service_area"],
     "biz_entities": ["公司"], "biz_metrics": ["服务区数量"]},
]}
PAIRS = {
    "营收分析": [
        {"question": "2024年支付总金额是多少？", "sql": "SELECT SUM(pay_sum) FROM bss_business_day_data "
         "WHERE oper_date >= '2024-01-01' AND oper_date < '2025-01-01'", "difficulty": "aggregate"},
        # template duplicate of the first (other year): removed
        {"question": "2023年支付总金额是多少？", "sql": "SELECT SUM(pay_sum) FROM bss_business_day_data "
         "WHERE oper_date >= '2023-01-01' AND oper_date < '2024-01-01'", "difficulty": "aggregate"},
        # exact duplicate question: removed
        {"question": "2024年支付总金额是多少？", "sql": "select sum(pay_sum) from bss_business_day_data",
         "difficulty": "aggregate"},
        {"question": "删除数据", "sql": "DELETE FROM bss_business_day_data", "difficulty": "single_table"},
        {"question": "各服务区的订单总数排名？", "sql": "SELECT service_name, SUM(order_sum) AS s, RANK() OVER "
         "(ORDER BY SUM(order_sum) DESC) FROM bss_business_day_data GROUP BY service_name", "difficulty": "window"},
    ],
    "车流分析": [
        {"question": "各服务区的车辆总数？", "sql": "SELECT a.service_area_name, SUM(c.customer_count) FROM "
         "bss_car_day_count c JOIN bss_service_area a ON c.service_area_id = a.id GROUP BY 1", "difficulty": "join"},
        {"question": "各车型的车辆数？", "sql": "SELECT car_type, SUM(customer_count) FROM bss_car_day_count "
         "GROUP BY car_type", "difficulty": "group_by"},
    ],
}


def _responder(req):
    prompt = req["messages"][-1]["content"]
    if "归纳为最多" in prompt:
        return Reply(content="好的，主题如下：\n```json\n" + json.dumps(THEMES, ensure_ascii=False) + "\n```")
    topic = re.search(r"业务主题：(\S+)", prompt).group(1)
    if topic == "公司管理":
        return Reply(status=500)
    return Reply(content=json.dumps(PAIRS[topic], ensure_ascii=False), delay=0.2)


def test_llm_mode_with_failing_theme_duplicates_and_top_up(app_ctx, task_dir):
    with OpenAIStub() as stub:
        stub.responder = _responder
        settings = load_settings({"data_home": app_ctx.settings.data_home, "llm_base_url": stub.base_url,
                                  "llm_model": "stub-model", "llm_max_retries": 0, "llm_max_concurrency": 2,
                                  "log_level": "WARNING"})
        llm = make_llm(settings)
        result = qa_generation.run(_ctx(app_ctx, task_dir, settings, llm))
        requests_seen = stub.requests
        in_flight = stub.max_in_flight
    s = result.summary
    assert s["source"] == "llm" and s["themes"] == 3
    assert [f["theme"] for f in s["failed_themes"]] == ["公司管理"]
    by_code = {w.code: w for w in result.warnings}
    assert set(by_code) == {"LLM_CALLS_FAILED", "PAIRS_DROPPED"}      # coverage was topped up: not short
    assert by_code["LLM_CALLS_FAILED"].objects[0].startswith("公司管理:")
    assert any("DELETE" in o for o in by_code["PAIRS_DROPPED"].objects)
    assert s["duplicates_removed"]["exact"] >= 1 and s["duplicates_removed"]["template"] >= 1
    assert s["tables_covered"] == s["tables_total"] and s["fk_edges_covered"] == s["fk_edges_total"]
    assert s["pairs_by_source"]["llm"] == 4 and s["coverage_top_up"] == s["pairs_by_source"]["rule_based"] > 0
    assert s["llm_usage"]["calls"] == 4 and s["llm_usage"]["failures"] == 1
    assert in_flight == 2   # theme calls ran concurrently, under the cap

    pairs = read_pairs(latest_pairs_file(task_dir))
    by_q = {p.question: p for p in pairs}
    assert by_q["各服务区的订单总数排名？"].meta["difficulty"] == "nested_window"
    assert by_q["各服务区的车辆总数？"].meta["fk_edges"] == [
        "public.bss_car_day_count(service_area_id)->public.bss_service_area(id)"]
    assert not any("DELETE FROM" in p.sql.upper() for p in pairs)
    assert not any("500" in p.question or "error" in p.question.lower() for p in pairs)
    # the theme prompt carried the tables' Markdown docs (as edited on disk)
    theme_prompt = requests_seen[0].json["messages"][-1]["content"]
    assert "bss_company" in theme_prompt and "测试业务" in theme_prompt
    car_prompt = next(r.json["messages"][-1]["content"] for r in requests_seen
                      if "业务主题：车流分析" in r.json["messages"][-1]["content"])
    assert "public.bss_car_day_count(service_area_id) -> public.bss_service_area(id)" in car_prompt
    assert "bss_business_day_data" not in car_prompt      # only the theme's tables
    detail = (task_dir / "metadata_detail.md").read_text(encoding="utf-8")
    assert "公司管理" in detail and "生成失败" in detail


def test_llm_theme_failure_fails_the_step(app_ctx, task_dir):
    from core.errors import LLMError
    with OpenAIStub() as stub:
        stub.responder = lambda req: Reply(content="抱歉，我无法完成。")
        settings = load_settings({"data_home": app_ctx.settings.data_home, "llm_base_url": stub.base_url,
                                  "llm_model": "stub-model", "llm_max_retries": 0, "log_level": "WARNING"})
        with pytest.raises(LLMError, match="theme discovery failed"):
            qa_generation.run(_ctx(app_ctx, task_dir, settings, make_llm(settings)))
    assert latest_pairs_file(task_dir) is None


def test_llm_prompts_never_carry_planted_pii(app_ctx, tmp_path):
    """PII canary for this step: ddl (rule-based) then qa in LLM mode on a schema with planted personal data;
    no request to the LLM contains any planted value."""
    from tests.business_roles import reader_url
    from tests.ddl_fixture_db import FIXTURE_SQL, PLANTED, admin_url, recreate, run_sql
    url = recreate(admin_url(app_ctx), "qa_pii_canary")
    run_sql(url, FIXTURE_SQL)
    url = reader_url(url)   # read as a SELECT-only role (a superuser URL is refused)
    base = app_ctx.settings
    ctx = StepContext(task_id="task_20250101_000001", task_dir=tmp_path, params={}, options={}, settings=base,
                      business_url=url, meta_db=app_ctx.db, tables=parse_names(["customer", "events"]),
                      logger=logging.getLogger("test.qa"))
    ddl_generation.run(ctx)
    themes = {"themes": [{"topic_name": "客户", "related_tables": ["customer"]},
                         {"topic_name": "事件", "related_tables": ["events"]}]}
    with OpenAIStub() as stub:
        stub.responder = lambda req: Reply(content=json.dumps(
            themes if "归纳为最多" in req["messages"][-1]["content"] else
            [{"question": "各状态客户数？", "sql": "SELECT status, count(*) FROM customer GROUP BY status"}],
            ensure_ascii=False))
        settings = load_settings({"data_home": base.data_home, "llm_base_url": stub.base_url,
                                  "llm_model": "stub-model", "log_level": "WARNING"})
        ctx.settings, ctx.llm = settings, make_llm(settings)
        qa_generation.run(ctx)
        sent = "\n".join(r.prompt_text() for r in stub.requests)
    assert "customer" in sent and len(stub.requests) == 3
    assert [k for k, v in PLANTED.items() if v in sent] == []


def test_llm_mode_cancel_stops_between_themes(app_ctx, task_dir):
    from data_pipeline.steps.base import StepCancelled
    with OpenAIStub() as stub:
        stub.responder = _responder
        settings = load_settings({"data_home": app_ctx.settings.data_home, "llm_base_url": stub.base_url,
                                  "llm_model": "stub-model", "llm_max_retries": 0, "llm_max_concurrency": 1,
                                  "log_level": "WARNING"})
        ctx = _ctx(app_ctx, task_dir, settings, make_llm(settings))
        ctx.progress = lambda fraction, message="": ctx.cancel_event.set() if "theme 1/" in message else None
        with pytest.raises(StepCancelled):
            qa_generation.run(ctx)
        calls = len(stub.requests)
    assert calls < 4          # the theme call + at most the pair calls already started
    assert latest_pairs_file(task_dir) is None


def test_llm_prompts_and_top_up_speak_the_task_language(app_ctx, task_dir):
    """question_language=en: both LLM prompts ask for English, and the rule-based top-up is English too."""
    def responder(req):
        prompt = req["messages"][-1]["content"]
        if "归纳为最多" in prompt:
            return Reply(content=json.dumps(THEMES, ensure_ascii=False))
        return Reply(content="[]")

    with OpenAIStub() as stub:
        stub.responder = responder
        settings = load_settings({"data_home": app_ctx.settings.data_home, "llm_base_url": stub.base_url,
                                  "llm_model": "stub-model", "llm_max_retries": 0, "log_level": "WARNING"})
        llm = make_llm(settings)
        ctx = _ctx(app_ctx, task_dir, settings, llm)
        ctx.params = {"business_context": "Highway service areas", "question_language": "en"}
        result = qa_generation.run(ctx)
        prompts = [r.json["messages"][-1]["content"] for r in stub.requests]
    assert result.summary["question_language"] == "en" and len(prompts) == 4
    assert all("英文（English）" in p for p in prompts)
    pairs = read_pairs(latest_pairs_file(task_dir))
    assert pairs and all(p.meta.get("coverage_top_up") for p in pairs)
    assert [p.question for p in pairs if re.search(r"[\u4e00-\u9fff]", p.question)] == []
