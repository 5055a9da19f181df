"""LLM mode uses the semantic model (issue 22): the pair prompt carries roles, measures, event times, join paths
and the complexity mix; LLM pairs that break the model's rules (an aggregated id or foreign key, a summed price,
a ranked flag, a bridge counted as an entity, an audit time as the axis) are dropped with a reason, like personal
data, and counted in the pair file's sidecar and quality_report.json. Real embedded PostgreSQL (the rental fixture
of tests/realistic_fixtures.py through a SELECT-only role), the LLM is the OpenAI-speaking stub over HTTP."""
from __future__ import annotations

import json
import logging
import re

import pytest

from app_config import load_settings
from core.llm import make_llm
from data_pipeline.qa.model_rules import model_rule_break
from data_pipeline.qa.pairs import latest_pairs_file, read_pairs, sidecar_path
from data_pipeline.semantics.model import read_model
from data_pipeline.steps import ddl_generation, qa_generation
from data_pipeline.steps.base import StepContext
from data_pipeline.taskfiles.table_list import parse_names
from data_pipeline.validation.quality import build_quality_report
from tests.ddl_fixture_db import admin_url
from tests.openai_stub import OpenAIStub, Reply
from tests.realistic_fixtures import RENTAL, create

GOOD = [
    ("2024年每月的支付总金额是多少？", "SELECT date_trunc('month', payment_date) AS month, SUM(amount) AS total FROM payment "
     "WHERE payment_date >= '2024-01-01' AND payment_date < '2025-01-01' GROUP BY 1 ORDER BY 1"),
    ("各电影分类的租赁收入是多少？", "SELECT c.name, SUM(p.amount) AS revenue FROM payment p JOIN rental r ON r.rental_id = "
     "p.rental_id JOIN inventory i ON i.inventory_id = r.inventory_id JOIN film_category fc ON fc.film_id = i.film_id "
     "JOIN category c ON c.category_id = fc.category_id GROUP BY c.name ORDER BY revenue DESC"),
    ("有演员参演记录的电影有多少部？", "SELECT COUNT(DISTINCT film_id) FROM film_actor"),
    ("各评级电影的平均租赁费率是多少？", "SELECT rating, AVG(rental_rate) FROM film GROUP BY rating"),
    ("有效客户有多少位？", "SELECT COUNT(*) FROM customer WHERE active"),
]
BAD = [   # (question, sql, rule)
    ("支付编号的总和是多少？", "SELECT SUM(payment_id) FROM payment", "aggregated_identifier"),
    ("支付的平均客户编号？", "SELECT AVG(p.customer_id) FROM payment p", "aggregated_identifier"),
    ("客户数最多的前5个有效状态？", "SELECT active, COUNT(*) AS n FROM customer GROUP BY active ORDER BY n DESC LIMIT 5",
     "ranked_flag"),
    ("电影演员有多少个？", "SELECT COUNT(*) FROM film_actor", "bridge_counted"),
    ("每月更新的租赁记录数？", "SELECT date_trunc('month', last_update) AS m, COUNT(*) FROM rental GROUP BY 1",
     "audit_time_axis"),
    ("电影租赁费率的总和？", "SELECT SUM(rental_rate) FROM film", "summed_non_additive"),
    ("列出客户的邮箱", "SELECT email FROM customer LIMIT 5", "personal_data"),
]
THEME_TABLES = ["payment", "rental", "inventory", "film", "film_category", "category", "film_actor", "customer"]


@pytest.fixture(scope="module")
def rental_ddl(app_ctx, tmp_path_factory):
    url = create(admin_url(app_ctx), RENTAL)
    task_dir = tmp_path_factory.mktemp("model_rules")
    ddl_generation.run(_ctx(task_dir, app_ctx.settings, url))
    return task_dir, url


def _ctx(task_dir, settings, url, llm=None) -> StepContext:
    return StepContext(task_id="task_20250101_000000", task_dir=task_dir, params={"db_name": "rental"}, options={},
                       settings=settings, business_url=url, meta_db=None, tables=parse_names(RENTAL.tables),
                       logger=logging.getLogger("test.qa.model_rules"), llm=llm)


@pytest.mark.parametrize("question,sql,rule", [b for b in BAD if b[2] != "personal_data"])
def test_each_rule_break_is_found(rental_ddl, question, sql, rule):
    model = read_model(rental_ddl[0])
    assert model_rule_break(sql, model)[0] == rule


@pytest.mark.parametrize("question,sql", GOOD)
def test_pairs_that_keep_the_rules_pass(rental_ddl, question, sql):
    assert model_rule_break(sql, read_model(rental_ddl[0])) is None


def test_no_model_or_unknown_columns_never_drop_a_pair(rental_ddl):
    model = read_model(rental_ddl[0])
    assert model_rule_break("SELECT SUM(payment_id) FROM payment", None) is None
    assert model_rule_break("SELECT SUM(x.payment_id) FROM elsewhere x", model) is None
    assert model_rule_break("SELECT SUM(", model) is None     # not ours to judge: the read-only guard rejects it


def _responder(req):
    prompt = req["messages"][-1]["content"]
    if "归纳为最多" in prompt:
        return Reply(content=json.dumps({"themes": [{
            "topic_name": "租赁经营", "description": "支付、租赁与电影", "related_tables": THEME_TABLES,
            "biz_entities": ["电影"], "biz_metrics": ["支付金额"]}]}, ensure_ascii=False))
    items = [{"question": q, "sql": s, "difficulty": "join"} for q, s in GOOD]
    items += [{"question": q, "sql": s, "difficulty": "aggregate"} for q, s, _ in BAD]
    return Reply(content=json.dumps(items, ensure_ascii=False))


def test_llm_mode_prompts_with_the_model_and_drops_rule_breaking_pairs(app_ctx, rental_ddl):
    task_dir, url = rental_ddl
    with OpenAIStub() as stub:
        stub.responder = _responder
        settings = load_settings({"data_home": app_ctx.settings.data_home, "llm_base_url": stub.base_url,
                                  "llm_model": "stub-model", "llm_max_retries": 0, "log_level": "WARNING"})
        result = qa_generation.run(_ctx(task_dir, settings, url, make_llm(settings)))
        prompts = [r.prompt_text() for r in stub.requests]
    pair_prompt = next(p for p in prompts if "租赁经营" in p and "业务主题：" in p)
    # the theme prompt carries the model too (kinds, measures, event times, paths), without the pairs' mix
    theme_prompt = next(p for p in prompts if "归纳为最多" in p)
    assert re.search(r"- payment: event；可求和度量 amount；事件时间 payment_date \(20\d\d-", theme_prompt)
    assert "- film_actor: bridge" in theme_prompt and "多跳关联路径：" in theme_prompt
    assert "难度分布" not in theme_prompt and "（无语义模型）" not in theme_prompt
    # the model in the prompt: kinds, measures, the event time with its range, flags, audit times, paths, the mix
    assert re.search(r"- payment: event；可求和度量 amount；事件时间 payment_date \(20\d\d-", pair_prompt)
    assert "取平均度量 rental_rate" in pair_prompt and "标志（只作筛选） active" in pair_prompt
    assert "审计时间（不作时间轴） last_update" in pair_prompt and "- film_actor: bridge" in pair_prompt
    assert "多跳关联路径：" in pair_prompt and "难度分布：简单（单表、无分组）不超过 15%" in pair_prompt
    assert "bridge）表不当作实体计数" in pair_prompt
    # only the pairs that keep the rules are kept; each rule break is dropped with its reason
    llm_sql = {p.sql for p in read_pairs(latest_pairs_file(task_dir)) if p.meta.get("source") == "llm"}
    assert llm_sql == {s for _, s in GOOD}
    expected = {"aggregated_identifier": 2, "audit_time_axis": 1, "bridge_counted": 1, "personal_data": 1,
                "ranked_flag": 1, "summed_non_additive": 1}
    assert result.summary["llm_rejections"] == expected
    dropped = next(w for w in result.warnings if w.code == "PAIRS_DROPPED").objects
    for reason in ("SUM over the identifier payment.payment_id", "AVG over the identifier payment.customer_id",
                   "a ranking over the flag customer.active", "counts the rows of the bridge film_actor",
                   "the audit time rental.last_update used as the time axis",
                   "SUM over the non-additive measure film.rental_rate", "personal column customer.email"):
        assert any(reason in d for d in dropped), reason
    sidecar = json.loads(sidecar_path(latest_pairs_file(task_dir)).read_text(encoding="utf-8"))
    assert sidecar["llm_rejections"] == expected
    assert build_quality_report(task_dir)["llm_rejections"] == {"total": 7, "by_reason": expected}
