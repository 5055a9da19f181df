"""Quality report (data_pipeline/validation/quality.py): files in a task directory in, numbers out. No database."""
from __future__ import annotations

import json

from data_pipeline.qa.pairs import Pair, pairs_file_name, write_pairs
from data_pipeline.validation.quality import QUALITY_FILE, build_quality_report, summary_lines, write_quality_report
from data_pipeline.schema.model import Column, ForeignKey, Table, save_snapshot

PAIRS = [
    Pair("有多少家公司？", "SELECT count(*) FROM bss_company", {"difficulty": "aggregate"}),
    Pair("各公司的服务区数量", "SELECT c.company_name, count(*) FROM bss_company c JOIN bss_service_area a "
                               "ON a.company_id = c.id GROUP BY c.company_name", {"difficulty": "join"}),
    Pair("类型为“A”的服务区", "SELECT * FROM bss_service_area WHERE service_area_type = 'A'"),
    Pair("类型为“B”的服务区", "SELECT * FROM bss_service_area WHERE service_area_type = 'B'"),   # template duplicate
]


def _tables():
    company = Table("public", "bss_company", comment="公司信息表", columns=[
        Column("id", "varchar(32)", False, comment="公司主键ID"),
        Column("company_name", "varchar(255)", comment="公司名称"),
        Column("company_no", "varchar(255)")])
    area = Table("public", "bss_service_area", columns=[
        Column("id", "varchar(32)", False, comment="服务区ID"),
        Column("company_id", "varchar(32)", generated_comment="所属公司ID"),
        Column("service_area_type", "varchar(50)", generated_comment="服务区类型")],
        foreign_keys=[ForeignKey("fk", ["company_id"], "public", "bss_company", ["id"])])
    link = Table("public", "bss_section_route", columns=[Column("id", "varchar(32)", False)])
    return [company, area, link]


def _task(tmp_path, pairs=PAIRS, ts="20250101_120000"):
    path = tmp_path / pairs_file_name("highway_db", ts)
    write_pairs(path, pairs, extra_meta={"dedupe": {"exact": 3, "template": 2}})
    save_snapshot(tmp_path / "schema_snapshot.json", _tables())
    return path


def test_without_validation_the_rates_are_unknown_not_zero(tmp_path):
    _task(tmp_path)
    q = build_quality_report(tmp_path)
    assert q["validation"]["status"] == "not_run"
    assert q["executable_rate"] is None and q["non_empty_rate"] is None
    assert q["repair"]["attempted"] is None
    assert (q["pairs_in"], q["pairs_out"]) == (4, 4)
    assert q["duplicates"]["removed_by_generator"] == {"exact": 3, "template": 2}
    assert q["duplicates"]["remaining_in_output"] == {"exact": 0, "template": 1}
    cov = q["coverage"]
    assert (cov["tables_covered"], cov["tables_total"]) == (2, 3)
    assert cov["missing_tables"] == ["public.bss_section_route"]
    assert (cov["fk_edges_covered"], cov["fk_edges_total"]) == (1, 1)
    dist = q["difficulty"]["distribution"]
    assert dist["aggregate"] == 1 and dist["join"] == 1 and dist["single_table"] == 2
    assert q["difficulty"]["source"] == "metadata+sql"
    text = "\n".join(summary_lines(q))
    assert "可执行率: 未知" in text and "表覆盖: 2/3" in text


def test_comment_coverage_and_kept_database_comments_checked_against_ddl_files(tmp_path):
    _task(tmp_path)
    (tmp_path / "bss_company.ddl").write_text(
        "-- 公司信息表\ncreate table bss_company (\n id varchar(32) -- 公司主键ID\n, company_name varchar(255) -- 名称\n);",
        encoding="utf-8")   # the DB comment "公司名称" was replaced by the generator: not kept
    (tmp_path / "bss_service_area.ddl").write_text("create table bss_service_area (id varchar(32) -- 服务区ID\n);",
                                                   encoding="utf-8")
    (tmp_path / "bss_section_route.ddl").write_text("create table bss_section_route (id varchar(32));",
                                                    encoding="utf-8")
    c = build_quality_report(tmp_path)["comments"]
    assert (c["columns_with_comment"], c["columns_total"]) == (5, 7)
    assert c["column_comment_coverage"] == round(5 / 7, 4)
    assert c["existing_database_comments"] == 4          # 1 table + 3 column comments from the database
    assert c["existing_comments_kept"] == 3 and c["kept_checked_against"] == "ddl_files"


def _validation_report(pairs_file: str, **summary):
    base = {"total_questions": 5, "valid_sqls": 3, "final_valid_sqls": 4, "final_non_empty": 3,
            "status_counts": {"valid": 2, "empty": 1, "error": 2}, "repair_stats": {"attempted": 2, "successful": 1,
                                                                                   "failed": 1},
            "file_modification_stats": {"deleted": 1, "file_modified": True}}
    return {"metadata": {"pairs_file": pairs_file, "repair_mode": "llm"}, "summary": {**base, **summary}}


def test_rates_come_from_the_validation_report_of_the_same_pair_file(tmp_path):
    path = _task(tmp_path)
    (tmp_path / "sql_validation_20250101_130000_report.json").write_text(
        json.dumps(_validation_report(path.name)), encoding="utf-8")
    (tmp_path / "sql_validation_20250101_140000_report.json").write_text(   # newer, but for another file
        json.dumps(_validation_report("qs_other_20240101_000000_pair.json", valid_sqls=0)), encoding="utf-8")
    q = write_quality_report(tmp_path)
    assert q == json.loads((tmp_path / QUALITY_FILE).read_text(encoding="utf-8"))
    assert q["validation"]["report_file"] == "sql_validation_20250101_130000_report.json"
    assert (q["pairs_in"], q["pairs_out"]) == (5, 4)
    assert q["executable_rate"] == 0.6 and q["executable_rate_after_repair"] == 0.8
    assert q["non_empty_rate"] == 0.75
    assert q["repair"] == {"mode": "llm", "attempted": 2, "succeeded": 1, "failed": 1, "success_rate": 0.5}
    assert "修复: 尝试 2, 成功 1" in "\n".join(summary_lines(q))


def test_empty_task_directory_gives_an_honest_empty_report(tmp_path):
    q = build_quality_report(tmp_path)
    assert q["pairs_file"] is None and q["pairs_out"] == 0
    assert q["coverage"] is None and "schema_snapshot.json" in q["schema_note"]
    assert q["executable_rate"] is None
    summary_lines(q)   # renders without a snapshot or pairs


def test_a_pair_file_changed_after_validation_makes_the_rates_unknown(tmp_path):
    import os
    path = _task(tmp_path)
    report = tmp_path / "sql_validation_20250101_130000_report.json"
    report.write_text(json.dumps(_validation_report(path.name)), encoding="utf-8")
    old = path.stat().st_mtime - 60
    os.utime(report, (old, old))          # the pair file was uploaded a minute after the validation
    q = build_quality_report(tmp_path)
    assert q["validation"]["status"] == "outdated" and q["executable_rate"] is None
    assert q["repair"]["attempted"] is None
