"""Step sql_validation on the real demo database (read-only), with the LLM played by the local OpenAI stub."""
from __future__ import annotations

import json
import logging
import re
import threading
import time

import psycopg2
import pytest

from core.errors import FileNotFound
from core.llm import make_llm
from data_pipeline.qa.pairs import Pair, pairs_file_name, read_pairs, sidecar_path, write_pairs
from data_pipeline.schema.model import Column, ForeignKey, Table, save_snapshot
from data_pipeline.validation.check import SqlChecker
from data_pipeline.validation.repair import RepairCandidate, request_repairs
from data_pipeline.steps import sql_validation
from data_pipeline.steps.base import StepContext
from tests.openai_stub import OpenAIStub

GOOD = Pair("有多少家公司？", "SELECT count(*) FROM bss_company", {"difficulty": "aggregate"})
EMPTY = Pair("名称为“不存在”的公司有哪些？", "SELECT company_name FROM bss_company WHERE company_name = '不存在'")
BROKEN = Pair("各公司的服务区数量", "SELECT c.company_name, count(*) FROM bss_company c "
                                   "JOIN bss_service_area a ON a.company_id = c.id GROUP BY c.nme")
MISSING = Pair("服务区名称列表", "SELECT service_area_nam FROM bss_service_area")
HOSTILE = Pair("删除公司表", "DROP TABLE bss_company")
SLOW = Pair("所有营业数据两两组合的数量", "SELECT count(*) FROM bss_business_day_data a, bss_business_day_data b")
FIXES = {  # what a helpful LLM answers, by pair id
    BROKEN.id: "SELECT c.company_name, count(*) FROM bss_company c JOIN bss_service_area a "
               "ON a.company_id = c.id GROUP BY c.company_name",
    MISSING.id: "SELECT service_area_name FROM bss_service_area",
}


def _tables() -> list[Table]:
    company = Table("public", "bss_company", comment="业务支撑系统公司信息表", columns=[
        Column("id", "character varying(32)", False, comment="公司主键ID", is_primary_key=True),
        Column("company_name", "character varying(255)", False, comment="公司名称"),
        Column("company_no", "character varying(255)", False)], primary_key=["id"])
    area = Table("public", "bss_service_area", comment="服务区基础信息表", columns=[
        Column("id", "character varying(32)", False, is_primary_key=True),
        Column("service_area_name", "character varying(255)", False, comment="服务区名称"),
        Column("company_id", "character varying(32)", generated_comment="所属公司")],
        primary_key=["id"], foreign_keys=[ForeignKey("fk_company", ["company_id"], "public", "bss_company", ["id"])])
    return [company, area]


@pytest.fixture()
def task_dir(tmp_path):
    save_snapshot(tmp_path / "schema_snapshot.json", _tables())
    (tmp_path / "bss_company.ddl").write_text(
        "-- 中文名：业务支撑系统公司信息表\ncreate table public.bss_company (\n  id varchar(32) not null, -- 公司主键ID\n"
        "  company_name varchar(255) not null -- 公司名称\n);\n", encoding="utf-8")
    return tmp_path


def _write(task_dir, pairs, ts="20250101_120000"):
    path = task_dir / pairs_file_name("highway_db", ts)
    write_pairs(path, pairs, extra_meta={"generator": "test", "dedupe": {"exact": 2, "template": 1}})
    return path


def _ctx(task_dir, settings, business_url, llm=None, **params):
    return StepContext(task_id="task_20250101_120000", task_dir=task_dir, params=params, options={},
                       settings=settings, business_url=business_url, meta_db=None, tables=[],
                       logger=logging.getLogger("test.sql_validation"), llm=llm)


def _report(task_dir):
    [path] = task_dir.glob("sql_validation_*_report.json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture()
def fast_settings(settings):
    return settings.model_copy(update={"statement_timeout_ms": 400, "validation_concurrency": 2})


def test_rule_based_run_classifies_reports_and_cleans_the_file(task_dir, fast_settings, business_url):
    pairs = [GOOD, EMPTY, BROKEN, HOSTILE, SLOW]
    path = _write(task_dir, pairs)
    original = path.read_bytes()
    progress = []
    ctx = _ctx(task_dir, fast_settings, business_url)
    ctx.progress = lambda f, m="": progress.append((f, m))
    result = sql_validation.run(ctx)

    report = _report(task_dir)
    by_id = {d["pair_id"]: d for d in report["detailed_results"]}
    assert by_id[GOOD.id]["status"] == "valid" and by_id[GOOD.id]["row_count"] == 1
    assert by_id[EMPTY.id]["status"] == "empty" and by_id[EMPTY.id]["row_count"] == 0
    assert by_id[BROKEN.id]["status"] == "error" and "c.nme" in by_id[BROKEN.id]["error_message"]
    assert by_id[HOSTILE.id]["status"] == "rejected" and "DROP TABLE" in by_id[HOSTILE.id]["error_message"]
    assert by_id[SLOW.id]["status"] == "timeout" and "statement timeout" in by_id[SLOW.id]["error_message"]
    # a lower bound only (load makes it longer, never shorter): the statement ran until statement_timeout (400 ms)
    assert by_id[SLOW.id]["execution_time"] >= 0.35
    summary = report["summary"]
    assert (summary["total_questions"], summary["valid_sqls"], summary["invalid_sqls"]) == (5, 2, 3)
    assert summary["success_rate"] == 0.4
    assert summary["repair_stats"] == {"attempted": 0, "successful": 0, "failed": 0, "rounds": 0, "llm_usage": None}
    assert "rule-based" in report["metadata"]["repair_mode"]

    # the file: invalid pairs dropped, empty result kept, original backed up byte for byte
    assert (task_dir / (path.name + ".backup")).read_bytes() == original
    assert (task_dir / (sidecar_path(path).name + ".backup")).exists()
    kept = read_pairs(path)
    assert [p.id for p in kept] == [GOOD.id, EMPTY.id]
    assert kept[0].meta["difficulty"] == "aggregate"           # sidecar metadata survives the rewrite
    assert json.loads(sidecar_path(path).read_text(encoding="utf-8"))["generator"] == "test"
    [mod_log] = task_dir.glob("file_modifications_*.log")
    text = mod_log.read_text(encoding="utf-8")
    for removed in (BROKEN, HOSTILE, SLOW):
        assert f"DELETED  {removed.id}" in text
    assert GOOD.id not in text

    summary_log = next(task_dir.glob("sql_validation_*_summary.log")).read_text(encoding="utf-8")
    assert "成功率: 40.0%" in summary_log and "质量报告" in summary_log and "rule-based" in summary_log
    assert result.summary["quality"]["pairs_out"] == 2
    assert result.summary["quality"]["executable_rate"] == 0.4
    assert (task_dir / "quality_report.json").exists()
    assert progress[-1][0] >= 0.75 and any("pair 5/5" in m for _, m in progress)
    assert {o.file_name for o in result.outputs} >= {mod_log.name, "quality_report.json"}


def test_modify_original_file_false_leaves_the_file_alone(task_dir, fast_settings, business_url):
    path = _write(task_dir, [GOOD, HOSTILE])
    before = path.read_bytes(), sidecar_path(path).read_bytes()
    result = sql_validation.run(_ctx(task_dir, fast_settings, business_url, modify_original_file=False))
    assert (path.read_bytes(), sidecar_path(path).read_bytes()) == before
    assert not list(task_dir.glob("*.backup*")) and not list(task_dir.glob("file_modifications_*.log"))
    assert result.summary["file_modification_stats"]["enabled"] is False
    assert result.summary["invalid_sqls"] == 1


def test_second_modifying_run_numbers_its_backup(task_dir, fast_settings, business_url):
    path = _write(task_dir, [GOOD, HOSTILE, MISSING])
    sql_validation.run(_ctx(task_dir, fast_settings, business_url))
    write_pairs(path, [GOOD, MISSING])          # a user uploads a new broken version of the file
    sql_validation.run(_ctx(task_dir, fast_settings, business_url))
    assert (task_dir / (path.name + ".backup")).exists() and (task_dir / (path.name + ".backup.1")).exists()
    assert [p.id for p in read_pairs(path)] == [GOOD.id]


def test_missing_pair_file_is_a_clear_error(task_dir, fast_settings, business_url):
    with pytest.raises(FileNotFound, match="run qa_generation first"):
        sql_validation.run(_ctx(task_dir, fast_settings, business_url))


def _pair_ids(request_json) -> list[str]:
    text = "\n".join(m["content"] for m in request_json["messages"])
    return list(dict.fromkeys(re.findall(r'"pair_id": "(p_[0-9a-f]{12})"', text)))


def test_llm_repair_matches_answers_by_pair_id_and_revalidates(task_dir, fast_settings, business_url):
    path = _write(task_dir, [GOOD, BROKEN, MISSING, HOSTILE])
    rounds = []

    def responder(req):
        ids = _pair_ids(req)
        rounds.append(ids)
        if len(rounds) == 1:   # round 1: answers in reverse order, an unknown id, HOSTILE "repaired" to a write
            repairs = [{"pair_id": "p_000000000000", "sql": "SELECT 1 FROM bss_company"}]
            repairs += [{"pair_id": pid, "sql": FIXES.get(pid, "DELETE FROM bss_company")} for pid in reversed(ids)
                        if pid != MISSING.id]
            repairs.append({"pair_id": MISSING.id, "sql": "SELECT still_wrong FROM bss_service_area"})
        else:                  # round 2: only what still fails (the fix ends with `;` and a comment)
            repairs = [{"pair_id": pid, "sql": FIXES.get(pid) and FIXES[pid] + ";  -- fixed"} for pid in ids]
        return "```json\n" + json.dumps({"repairs": repairs}, ensure_ascii=False) + "\n```"

    with OpenAIStub() as stub:
        stub.responder = responder
        llm_settings = fast_settings.model_copy(update={"llm_base_url": stub.base_url, "llm_model": "stub-model"})
        with make_llm(llm_settings) as llm:
            result = sql_validation.run(_ctx(task_dir, llm_settings, business_url, llm=llm,
                                             business_context="高速公路服务区"))
        prompts = [r.prompt_text() for r in stub.chat_requests]

    assert set(rounds[0]) == {BROKEN.id, MISSING.id, HOSTILE.id}
    assert set(rounds[1]) == {MISSING.id, HOSTILE.id}            # BROKEN was fixed in round 1
    assert len(rounds) == 2                                       # at most 2 rounds
    first = prompts[0]
    assert "create table public.bss_company" in first             # DDL from the step-1 .ddl file
    assert "CREATE TABLE public.bss_service_area" in first        # rendered from the snapshot (no .ddl file)
    assert "c.nme" in first and "高速公路服务区" in first               # the error and the business context
    assert "still_wrong" in prompts[1]                            # round 2 sees its own previous attempt

    report = _report(task_dir)
    by_id = {d["pair_id"]: d for d in report["detailed_results"]}
    assert by_id[BROKEN.id]["repaired_sql"] == FIXES[BROKEN.id] and by_id[BROKEN.id]["final_status"] == "valid"
    assert by_id[MISSING.id]["repaired_sql"] == FIXES[MISSING.id]
    assert [a["status"] for a in by_id[MISSING.id]["repair_attempts"]] == ["error", "valid"]
    assert [a["status"] for a in by_id[HOSTILE.id]["repair_attempts"]] == ["rejected", "no_answer"]
    assert by_id[HOSTILE.id]["repair_successful"] is False
    assert report["summary"]["repair_stats"]["attempted"] == 3
    assert report["summary"]["repair_stats"]["successful"] == 2
    assert report["summary"]["repair_stats"]["llm_usage"]["calls"] == 2          # one batch per round
    assert report["summary"]["final_valid_sqls"] == 3
    assert result.summary["quality"]["repair"]["success_rate"] == round(2 / 3, 4)

    kept = {p.id: p for p in read_pairs(path)}
    assert set(kept) == {GOOD.id, BROKEN.id, MISSING.id}
    assert kept[BROKEN.id].sql == FIXES[BROKEN.id] and kept[BROKEN.id].meta["original_sql"] == BROKEN.sql
    log_text = next(task_dir.glob("file_modifications_*.log")).read_text(encoding="utf-8")
    assert f"REPAIRED {BROKEN.id}" in log_text and f"DELETED  {HOSTILE.id}" in log_text


def test_repair_disabled_sends_nothing_to_the_llm(task_dir, fast_settings, business_url):
    _write(task_dir, [GOOD, BROKEN])
    with OpenAIStub() as stub:
        llm_settings = fast_settings.model_copy(update={"llm_base_url": stub.base_url, "llm_model": "stub-model"})
        with make_llm(llm_settings) as llm:
            result = sql_validation.run(_ctx(task_dir, llm_settings, business_url, llm=llm, enable_llm_repair=False))
        assert stub.chat_requests == []
    assert result.summary["repair_mode"].startswith("disabled")


def test_unusable_llm_answer_fails_the_attempt_not_the_step(task_dir, fast_settings, business_url):
    _write(task_dir, [GOOD, BROKEN])
    with OpenAIStub() as stub:
        stub.responder = lambda req: "I think the query is fine."
        llm_settings = fast_settings.model_copy(update={"llm_base_url": stub.base_url, "llm_model": "stub-model",
                                                        "llm_max_retries": 0})
        with make_llm(llm_settings) as llm:
            result = sql_validation.run(_ctx(task_dir, llm_settings, business_url, llm=llm))
    attempts = {d["pair_id"]: d for d in _report(task_dir)["detailed_results"]}[BROKEN.id]["repair_attempts"]
    assert [a["status"] for a in attempts] == ["llm_error", "llm_error"]
    assert result.summary["repair_stats"] == {**result.summary["repair_stats"], "attempted": 1, "failed": 1}


def test_request_repairs_ignores_position_and_unknown_ids(fast_settings, business_url):
    from data_pipeline.validation.check import CheckResult
    batch = [RepairCandidate(p.id, p.question, p.sql, CheckResult("error", "boom")) for p in (BROKEN, MISSING)]
    with OpenAIStub() as stub:
        stub.script(json.dumps([{"pair_id": MISSING.id, "sql": "SELECT 2"}, {"pair_id": "p_ffffffffffff", "sql": "x"},
                                {"pair_id": BROKEN.id, "sql": "```sql\nSELECT 1\n```"},
                                {"pair_id": BROKEN.id, "sql": "SELECT 3"}]))
        llm_settings = fast_settings.model_copy(update={"llm_base_url": stub.base_url, "llm_model": "stub-model"})
        with make_llm(llm_settings) as llm:
            answers = request_repairs(llm, batch, "-- ddl", "")
    assert answers == {MISSING.id: "SELECT 2", BROKEN.id: "SELECT 1"}


def test_checker_reuses_connections_and_reconnects_after_a_killed_backend(app_ctx, fast_settings, business_url):
    with SqlChecker.from_settings(business_url, fast_settings) as checker:
        results = checker.check_many([GOOD.sql] * 20)
        assert all(r.status == "valid" for r in results)
        assert len(checker._connections) <= fast_settings.validation_concurrency
        admin = psycopg2.connect(app_ctx.runtime.meta_url)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = 'data_pipeline_sql_check'")
            assert cur.fetchone()[0] >= 1
            # wait on the state (the backends are gone), not on a sleep
            deadline = time.monotonic() + 30
            while True:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'data_pipeline_sql_check'")
                if cur.fetchone()[0] == 0:
                    break
                assert time.monotonic() < deadline, "terminated backends still listed after 30 s"
                time.sleep(0.02)
        admin.close()
        again = checker.check_many([GOOD.sql] * 4)
        assert all(r.status == "valid" for r in again)
        assert checker.reconnects >= 1


def test_check_many_stops_when_asked(fast_settings, business_url):
    stop = threading.Event()
    stop.set()
    with SqlChecker.from_settings(business_url, fast_settings) as checker:
        assert checker.check_many([GOOD.sql] * 3, should_stop=stop.is_set) == [None, None, None]


def test_real_rule_based_pipeline_output_validates_and_reports_quality(app_ctx, tmp_path, settings):
    """ddl_generation -> qa_generation (rule-based, all 7 demo tables) -> sql_validation: the generator's SQL all
    executes, and the quality report sees full coverage and every database comment kept."""
    from data_pipeline.steps import ddl_generation, qa_generation
    from data_pipeline.taskfiles.table_list import parse_names
    from tests.qa.test_sql_synth import DEMO_TABLES

    ctx = StepContext(task_id="task_20250101_120000", task_dir=tmp_path, params={"business_context": "高速公路服务区"},
                      options={}, settings=settings, business_url=app_ctx.runtime.business_url, meta_db=app_ctx.db,
                      tables=parse_names(DEMO_TABLES), logger=logging.getLogger("test.pipeline"))
    ddl_generation.run(ctx)
    qa = qa_generation.run(ctx)
    result = sql_validation.run(ctx)
    s = result.summary
    assert s["total_questions"] == qa.summary["pairs"] >= 40
    assert s["status_counts"]["error"] == s["status_counts"]["rejected"] == s["status_counts"]["timeout"] == 0
    assert s["success_rate"] == 1.0 and s["file_modification_stats"]["file_modified"] is False
    q = s["quality"]
    assert q["executable_rate"] == 1.0 and q["pairs_out"] == q["pairs_in"]
    assert q["coverage"]["tables_covered"] == q["coverage"]["tables_total"] == 7
    assert q["coverage"]["fk_edges_covered"] == q["coverage"]["fk_edges_total"] == 5
    assert q["duplicates"]["removed_by_generator"] == qa.summary["duplicates_removed"]  # the step's own count
    assert q["comments"]["existing_comments_kept"] == q["comments"]["existing_database_comments"] > 0
    assert q["comments"]["kept_checked_against"] == "ddl_files"
    assert all(q["difficulty"]["distribution"][d] > 0 for d in ("aggregate", "group_by", "join", "nested_window"))


def test_cancel_during_checks_stops_the_step_without_touching_the_file(task_dir, fast_settings, business_url):
    from data_pipeline.steps.base import StepCancelled
    path = _write(task_dir, [Pair(f"问题{i}", f"SELECT {i} FROM bss_company") for i in range(60)] + [HOSTILE])
    before = path.read_bytes()
    ctx = _ctx(task_dir, fast_settings.model_copy(update={"validation_concurrency": 1}), business_url)
    ctx.progress = lambda fraction, message="": ctx.cancel_event.set()
    with pytest.raises(StepCancelled):
        sql_validation.run(ctx)
    assert path.read_bytes() == before and not list(task_dir.glob("sql_validation_*"))


def test_empty_pair_file_gives_an_empty_report(task_dir, fast_settings, business_url):
    _write(task_dir, [])
    result = sql_validation.run(_ctx(task_dir, fast_settings, business_url))
    assert result.summary["total_questions"] == 0 and result.summary["success_rate"] == 0.0
    assert result.summary["quality"]["pairs_out"] == 0


def test_percent_signs_comments_and_semicolons_reach_the_server_intact(fast_settings, business_url):
    with SqlChecker.from_settings(business_url, fast_settings) as checker:
        like = checker.check("SELECT company_name FROM bss_company WHERE company_name LIKE '%%' || '%' -- any\n;")
        assert like.status == "valid" and like.row_count == 8
        capped = checker.check("SELECT * FROM bss_business_day_data")
        assert capped.row_count == fast_settings.validation_row_cap and capped.row_cap_reached
        assert checker.check("SELECT 1/0 FROM bss_company").error == "division by zero"


def test_repair_keeps_business_connections_within_the_pool_size(app_ctx, task_dir, fast_settings, business_url):
    """Concurrent repair batches re-check through the checker's pool: never more than validation_concurrency
    connections to the business database (counted in pg_stat_activity while the LLM is answering)."""
    broken = [Pair(f"第{i}个问题", f"SELECT nosuch_{i} FROM bss_company") for i in range(15)]
    _write(task_dir, broken)
    admin = psycopg2.connect(app_ctx.runtime.meta_url)
    admin.autocommit = True
    seen, lock = [], threading.Lock()

    def responder(req):
        with lock, admin.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'data_pipeline_sql_check'")
            seen.append(cur.fetchone()[0])
            first_round = len(seen) <= 3
        fix = "SELECT still_nosuch FROM bss_company" if first_round else "SELECT company_name FROM bss_company"
        return json.dumps({"repairs": [{"pair_id": pid, "sql": fix} for pid in _pair_ids(req)]})

    try:
        with OpenAIStub(latency=0.05) as stub:
            stub.responder = responder
            s = fast_settings.model_copy(update={"llm_base_url": stub.base_url, "llm_model": "stub-model",
                                                 "llm_max_concurrency": 3})
            with make_llm(s) as llm:
                result = sql_validation.run(_ctx(task_dir, s, business_url, llm=llm))
            assert stub.max_in_flight >= 2            # batches really ran concurrently
    finally:
        admin.close()
    assert len(seen) == 6 and max(seen) <= fast_settings.validation_concurrency   # 3 batches x 2 rounds
    assert result.summary["repair_stats"]["successful"] == 15


def test_off_schema_repairs_do_not_count_and_hostile_ones_are_reported_rejected(task_dir, fast_settings,
                                                                                business_url):
    _write(task_dir, [MISSING])
    answers = iter(["SELECT 1", "SELECT pg_sleep(600)"])
    with OpenAIStub() as stub:
        stub.responder = lambda req: json.dumps({"repairs": [{"pair_id": MISSING.id, "sql": next(answers)}]})
        s = fast_settings.model_copy(update={"llm_base_url": stub.base_url, "llm_model": "stub-model"})
        with make_llm(s) as llm:
            sql_validation.run(_ctx(task_dir, s, business_url, llm=llm))
    attempts = _report(task_dir)["detailed_results"][0]["repair_attempts"]
    assert [(a["status"], a["execution_time"]) for a in attempts] == [("off_schema", 0.0), ("rejected", 0.0)]
