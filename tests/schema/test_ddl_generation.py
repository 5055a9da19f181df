"""Step ddl_generation on the demo database (rule-based) and on the awkward fixture (LLM stub): files, verbatim
comments, executable DDL and metadata.txt, Markdown shape, PII canary, per-table failure, re-run."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from app_config import load_settings
from core.errors import AppError
from core.llm import make_llm
from data_pipeline.schema.model import load_snapshot
from data_pipeline.steps import ddl_generation
from data_pipeline.steps.base import StepContext
from data_pipeline.taskfiles.table_list import TableRef, parse_names
from tests.business_roles import reader_url
from tests.ddl_fixture_db import PLANTED, admin_url, fetchall, fixture_db, run_sql, scratch_db
from tests.openai_stub import Reply

DEMO = ["bss_business_day_data", "bss_car_day_count", "bss_company", "bss_section_route",
        "bss_section_route_area_link", "bss_service_area", "bss_service_area_mapper"]
FIXTURE = [TableRef("Sales Dept", "Order"), TableRef("销售", "订单明细"), TableRef("public", "customer"),
           TableRef("public", "customer_view"), TableRef("public", "status_counts"), TableRef("public", "events")]


def make_ctx(tmp_path: Path, settings, url: str, refs, llm=None, logger=None) -> StepContext:
    return StepContext(task_id="manual_20250101_000000", task_dir=tmp_path, params={"business_context": "测试系统"},
                       options={}, settings=settings, business_url=url, meta_db=None, tables=list(refs),
                       logger=logger or logging.getLogger("test.ddl"), llm=llm)


def dependency_order(tables) -> list:
    """Tables ordered so that every FK target inside the set comes first."""
    by_key = {(t.schema, t.name): t for t in tables}
    done, out = set(), []

    def visit(t):
        key = (t.schema, t.name)
        if key in done:
            return
        done.add(key)
        for fk in t.foreign_keys:
            target = by_key.get((fk.ref_schema, fk.ref_table))
            if target is not None:
                visit(target)
        out.append(t)
    for t in tables:
        visit(t)
    return out


def execute_outputs(task_dir: Path, url: str) -> list:
    """Run every .ddl file (dependency order) and metadata.txt on `url`; return the snapshot's tables."""
    tables, _ = load_snapshot(task_dir / "schema_snapshot.json")
    for t in dependency_order(tables):
        run_sql(url, (task_dir / f"{t.file_stem}.ddl").read_text(encoding="utf-8"))
    run_sql(url, (task_dir / "metadata.txt").read_text(encoding="utf-8"))
    run_sql(url, (task_dir / "metadata.txt").read_text(encoding="utf-8"))   # idempotent
    return tables


DESCRIPTIONS = """
SELECT n.nspname, c.relname, a.attname, d.description
FROM pg_description d JOIN pg_class c ON c.oid = d.objoid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid
WHERE d.classoid = 'pg_class'::regclass AND n.nspname NOT IN ('pg_catalog', 'information_schema')
"""


def comments_of(url: str) -> dict:
    return {(s, t, col): text for s, t, col, text in fetchall(url, DESCRIPTIONS)}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, settings, business_url):
    task_dir = tmp_path_factory.mktemp("ddl_demo")
    result = ddl_generation.run(make_ctx(task_dir, settings, business_url, parse_names(DEMO)))
    return task_dir, result


def test_demo_outputs_and_summary(demo_run):
    task_dir, result = demo_run
    s = result.summary
    assert (s["tables"], s["succeeded"], s["failed"]) == (7, 7, [])
    assert s["comment_source"] == "rule_based" and s["comments_generated"] > 0 and s["comments_existing"] > 50
    names = sorted(p.name for p in task_dir.iterdir())
    assert names == sorted([f"{t}.ddl" for t in DEMO] + [f"{t}_detail.md" for t in DEMO]
                           + ["metadata.txt", "schema_snapshot.json", "semantic_model.json"])
    assert sorted(o.file_name for o in result.outputs) == names


def test_demo_existing_comments_kept_verbatim(demo_run, business_url, app_ctx):
    task_dir, _ = demo_run
    original = comments_of(business_url)
    assert original, "the demo database has comments"
    tables, meta = load_snapshot(task_dir / "schema_snapshot.json")
    assert meta["comment_source"] == "rule_based"
    # both kinds occur in the demo, so each branch below is exercised
    assert any(c for (_s, _t, c) in original) and any(c is None for (_s, _t, c) in original)
    assert any(original.get(("public", t.name, c.name)) is None for t in tables for c in t.columns)
    for t in tables:
        ddl = (task_dir / f"{t.file_stem}.ddl").read_text(encoding="utf-8")
        if ("public", t.name, None) in original:
            assert t.comment == original[("public", t.name, None)]
            assert f"COMMENT ON TABLE public.{t.name} IS '{t.comment}';" in ddl
        for c in t.columns:
            db_comment = original.get(("public", t.name, c.name))
            assert c.comment == db_comment
            if db_comment:
                assert f"COMMENT ON COLUMN public.{t.name}.{c.name} IS '{db_comment}';" in ddl
            else:   # generated ones are marked on the line before
                assert c.generated_comment and c.comment_source == "rule_based"
                assert f"-- [生成] {c.name}: 注释为自动生成（规则生成）" in ddl
    with scratch_db(admin_url(app_ctx), "ddl_exec_demo") as url:
        execute_outputs(task_dir, url)
        rebuilt = comments_of(url)
        for key, text in original.items():   # every original comment survives a round trip unchanged
            assert rebuilt[key] == text
        assert fetchall(url, "SELECT count(*) FROM metadata_tables")[0][0] == 7


def test_demo_markdown_shape(demo_run):
    task_dir, _ = demo_run
    md = (task_dir / "bss_company_detail.md").read_text(encoding="utf-8")
    lines = md.splitlines()
    assert lines[0] == "## bss_company（业务支撑系统公司信息表（服务区管理公司））"
    assert lines[2] == "字段列表："
    assert re.search(r"^- id \(varchar\(32\)\) - 公司主键ID \[主键, 非空\] \[示例: [0-9a-f]{32}", md, re.M)
    assert re.search(r"^- company_name \(varchar\(255\)\) - 公司名称 \[非空\] \[示例: ", md, re.M)
    assert "字段补充说明：" in md and "- company_no 取值唯一" in md
    # a blank line before the notes heading, or Markdown reads it as a continuation of the last field bullet
    assert lines[lines.index("字段补充说明：") - 1] == ""
    assert lines[-1] == "注释来源: 数据库原有注释"
    link = (task_dir / "bss_section_route_area_link_detail.md").read_text(encoding="utf-8")
    assert link.splitlines()[0] == "## bss_section_route_area_link（路段路线信息与服务区基础信息的关联表）"
    assert "- service_area_id (varchar(32)) - 服务区基础信息ID（关联 bss_service_area.id） [生成] [主键, 非空]" in link
    assert link.splitlines()[-1] == "注释来源: 数据库原有注释；缺失的由规则生成（未配置大模型），已标记 [生成]"
    day = (task_dir / "bss_business_day_data_detail.md").read_text(encoding="utf-8")
    assert re.search(r"- source_type 为枚举字段，包含取值：\d, \d", day)


def test_rerun_replaces_files(demo_run, settings, business_url):
    task_dir, _ = demo_run
    before = sorted(p.name for p in task_dir.iterdir())
    ddl_generation.run(make_ctx(task_dir, settings, business_url, parse_names(["bss_company"])))
    assert sorted(p.name for p in task_dir.iterdir()) == before   # same names, nothing like bss_company_1.ddl


# ----------------------------------------------------------------------------------------- fixture + LLM stub
@pytest.fixture(scope="module")
def fixture_url(app_ctx):
    return reader_url(fixture_db(admin_url(app_ctx)))   # SELECT-only: a superuser URL is refused


def llm_settings(settings, stub, **extra):
    return load_settings({"data_home": settings.data_home, "llm_base_url": stub.base_url,
                          "llm_model": "stub-model", "llm_max_retries": 0, **extra})


def answer_for(request: dict) -> Reply:
    """A plausible LLM answer: a comment for every column the prompt asks for."""
    prompt = request["messages"][-1]["content"]
    missing = json.loads(re.search(r"需要生成注释的字段：(\[.*?\])", prompt).group(1))
    if "customer_view" in prompt:   # an apology must never become a comment
        return Reply(content=json.dumps({"table_comment": "抱歉，我无法确定这个表的含义", "columns": {}},
                                        ensure_ascii=False))
    return Reply(content="```json\n" + json.dumps({"table_comment": "生成的表名", "table_description": "生成的说明",
                                                   "columns": {m: f"生成:{m}" for m in missing}},
                                                  ensure_ascii=False) + "\n```")


def test_fixture_with_llm_executes_and_leaks_no_pii(tmp_path, settings, fixture_url, openai_stub, app_ctx, caplog):
    openai_stub.responder = answer_for
    openai_stub.latency = 0.2
    s = llm_settings(settings, openai_stub, llm_max_concurrency=3)
    with make_llm(s) as llm, caplog.at_level(logging.DEBUG):
        result = ddl_generation.run(make_ctx(tmp_path, s, fixture_url, FIXTURE, llm=llm,
                                             logger=logging.getLogger("test.ddl.canary")))
    summary = result.summary
    assert summary["succeeded"] == 6 and summary["failed"] == [] and summary["comment_source"] == "llm"
    assert summary["pii_columns"] >= 5 and summary["llm_usage"]
    assert len(openai_stub.chat_requests) == 6 and 2 <= openai_stub.max_in_flight <= 3
    # canary: no planted raw value in any request, output file or log record
    sent = openai_stub.sent_text() + "\n".join(r.prompt_text() for r in openai_stub.requests)
    outputs = "\n".join(p.read_text(encoding="utf-8") for p in tmp_path.iterdir())
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for raw in PLANTED.values():
        assert raw not in sent and raw not in outputs and raw not in logs, raw
    assert "138****2222" in outputs and "欧阳**" in sent   # masked forms are what travels
    tables, _ = load_snapshot(tmp_path / "schema_snapshot.json")
    by = {t.name: t for t in tables}
    assert by["Order"].comment == "订单行 '原始'注释"    # database comment untouched by the LLM answer
    assert by["Order"].column("CamelCase").generated_comment == "生成:CamelCase"
    assert by["customer_view"].generated_comment != "抱歉，我无法确定这个表的含义"
    assert by["customer"].generated_comment == "生成的表名" and by["customer"].comment_source == "llm"
    assert (tmp_path / "销售__订单明细.ddl").exists() and (tmp_path / "Sales Dept__Order_detail.md").exists()
    with scratch_db(admin_url(app_ctx), "ddl_exec_fixture") as url:
        execute_outputs(tmp_path, url)
        rebuilt = comments_of(url)
        assert rebuilt[("Sales Dept", "Order", None)] == "订单行 '原始'注释"
        assert rebuilt[("销售", "订单明细", "订单号")] == "订单号"
        kinds = dict(fetchall(url, "SELECT relname, relkind::text FROM pg_class WHERE relname IN "
                                   "('events', 'customer_view', 'Order')"))
        assert kinds == {"events": "p", "customer_view": "r", "Order": "r"}
        enum = fetchall(url, "SELECT enum_range(NULL::public.mood)::text")[0][0]
        assert enum == "{happy,sad,ok'ish}"


def test_one_table_failing_does_not_stop_the_others(tmp_path, settings, fixture_url, openai_stub):
    def respond(request):
        if "status_counts" in request["messages"][-1]["content"]:
            return Reply(status=500)
        return answer_for(request)
    openai_stub.responder = respond
    s = llm_settings(settings, openai_stub)
    with make_llm(s) as llm:
        result = ddl_generation.run(make_ctx(tmp_path, s, fixture_url, FIXTURE + [TableRef("public", "gone")],
                                             llm=llm))
    failed = {f["table"]: f["error"] for f in result.summary["failed"]}
    assert set(failed) == {"public.status_counts", "public.gone"} and result.summary["succeeded"] == 5
    assert "500" in failed["public.status_counts"] and not (tmp_path / "status_counts.ddl").exists()
    assert (tmp_path / "customer.ddl").exists() and (tmp_path / "events_detail.md").exists()
    tables, _ = load_snapshot(tmp_path / "schema_snapshot.json")
    assert len(tables) == 5


def test_every_table_failing_fails_the_step(tmp_path, settings, fixture_url, openai_stub):
    openai_stub.responder = lambda request: Reply(status=503)
    s = llm_settings(settings, openai_stub)
    with make_llm(s) as llm, pytest.raises(AppError, match="failed for every table"):
        ddl_generation.run(make_ctx(tmp_path, s, fixture_url, FIXTURE[:2], llm=llm))
    assert not (tmp_path / "schema_snapshot.json").exists()


def test_fixture_rule_based_covers_every_shape(tmp_path, settings, fixture_url, app_ctx):
    result = ddl_generation.run(make_ctx(tmp_path, settings, fixture_url, FIXTURE))
    assert result.summary["succeeded"] == 6 and result.summary["failed"] == []
    tables, _ = load_snapshot(tmp_path / "schema_snapshot.json")
    detail = next(t for t in tables if t.name == "订单明细")
    assert detail.column("明细编号").generated_comment == "明细编号"      # a Chinese name is its own comment
    assert detail.column("level").generated_comment == "级别，可选值：low、mid、high"
    customer = next(t for t in tables if t.name == "customer")
    assert customer.column("company_name").generated_comment == "公司名称"
    assert customer.column("zzz") is None
    outputs = "\n".join(p.read_text(encoding="utf-8") for p in tmp_path.iterdir())
    for raw in PLANTED.values():
        assert raw not in outputs, raw
    with scratch_db(admin_url(app_ctx), "ddl_exec_rules") as url:
        execute_outputs(tmp_path, url)


def test_hostile_table_name_stays_inside_the_task_dir(tmp_path, settings, fixture_url, app_ctx):
    task_dir = tmp_path / "task"
    task_dir.mkdir()
    result = ddl_generation.run(make_ctx(task_dir, settings, fixture_url, [TableRef("public", "../up")]))
    assert result.summary["succeeded"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["task"]
    assert (task_dir / "_.._up.ddl").exists() and (task_dir / "_.._up_detail.md").exists()
    with scratch_db(admin_url(app_ctx), "ddl_exec_hostile") as url:
        execute_outputs(task_dir, url)
        assert fetchall(url, """SELECT attname FROM pg_attribute WHERE attrelid = 'public."../up"'::regclass
                                AND attnum > 0""") == [('a"quote',)]


def test_llm_is_not_called_for_a_fully_commented_table(tmp_path, settings, app_ctx, openai_stub):
    """A table whose table and columns all carry comments: nothing to write, so no LLM call (no wave of latency)."""
    openai_stub.responder = answer_for
    with scratch_db(admin_url(app_ctx), "ddl_full_comments") as url:
        run_sql(url, """CREATE TABLE done (id integer PRIMARY KEY, name varchar(20));
                        COMMENT ON TABLE done IS '已注释表'; COMMENT ON COLUMN done.id IS '主键';
                        COMMENT ON COLUMN done.name IS '名称';
                        CREATE TABLE half (id integer PRIMARY KEY, name varchar(20));
                        COMMENT ON TABLE half IS '半注释表'; COMMENT ON COLUMN half.id IS '主键';""")
        s = llm_settings(settings, openai_stub)
        with make_llm(s) as llm:
            result = ddl_generation.run(make_ctx(tmp_path, s, reader_url(url), parse_names(["done", "half"]), llm=llm))
    assert result.summary["succeeded"] == 2
    prompts = [r.json["messages"][-1]["content"] for r in openai_stub.chat_requests]
    assert len(prompts) == 1 and "half" in prompts[0]
    tables, _ = load_snapshot(tmp_path / "schema_snapshot.json")
    done = next(t for t in tables if t.name == "done")
    assert done.comment_source == "database" and done.comment == "已注释表" and done.description
    assert next(t for t in tables if t.name == "half").column("name").generated_comment == "生成:name"
