"""Table docs read by people (issue 22, item 4): a composite primary key is listed apart from the foreign keys,
a multi-line comment stays inside its Markdown list item and out of the one-line heading and description, and
quality_report.json counts every kept database comment (also one with a quote in it). Runs ddl_generation
(rule-based) on the real embedded server: the hospital and rental fixtures of tests/realistic_fixtures.py and the
awkward introspection fixture."""
from __future__ import annotations

import logging
import re

import pytest

from data_pipeline.steps import ddl_generation
from data_pipeline.steps.base import StepContext
from data_pipeline.taskfiles.table_list import TableRef, parse_names
from data_pipeline.validation.quality import build_quality_report
from tests.business_roles import reader_url
from tests.ddl_fixture_db import admin_url, run_sql, scratch_db
from tests.realistic_fixtures import HOSPITAL, RENTAL, SALES, create


def run_ddl(task_dir, settings, url, refs, language="zh"):
    ctx = StepContext(task_id="task_20250101_000000", task_dir=task_dir, params={"question_language": language},
                      options={}, settings=settings, business_url=url, meta_db=None, tables=list(refs),
                      logger=logging.getLogger("test.table_docs"))
    return ddl_generation.run(ctx)


@pytest.fixture(scope="module")
def docs(app_ctx, settings, tmp_path_factory):
    """(fixture name, language) -> task directory after ddl_generation."""
    out = {}
    for fx in (RENTAL, SALES, HOSPITAL):
        url = create(admin_url(app_ctx), fx)
        for language in ("zh", "en"):
            task_dir = tmp_path_factory.mktemp(f"{fx.name}_{language}")
            run_ddl(task_dir, settings, url, parse_names(fx.tables), language)
            out[fx.name, language] = task_dir
    return out


def md(docs, fixture, language, table):
    return (docs[fixture, language] / f"{table}_detail.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_composite_primary_key_is_listed_apart_from_the_foreign_keys(docs, language):
    text = md(docs, "rw_rental", language, "film_actor")
    description = text.splitlines()[1]
    pk = {"zh": "主键为 (actor_id, film_id)；", "en": "primary key (actor_id, film_id); "}[language]
    assert pk in description, description
    # the foreign keys follow the key, never inside its column list
    assert description.index(pk) + len(pk) <= description.index("actor_id " + {"zh": "关联", "en": "references"}[language])
    note = {"zh": "- 复合主键：(actor_id, film_id)", "en": "- composite primary key: (actor_id, film_id)"}[language]
    assert note in text.splitlines()
    lines = md(docs, "rw_sales", language, "order_line").splitlines()
    assert ({"zh": "主键为 (order_id, line_no)；", "en": "primary key (order_id, line_no); "}[language] in lines[1])
    single = md(docs, "rw_rental", language, "film").splitlines()[1]
    assert {"zh": "主键为 film_id；", "en": "primary key film_id; "}[language] in single   # one column: no brackets


def test_multi_line_comments_stay_inside_their_markdown_items(docs):
    item = md(docs, "rw_hospital", "zh", "prescription_item").splitlines()
    assert item[0] == "## prescription_item（处方明细）"            # the heading: the comment's first line
    assert "\n" not in item[1] and item[1].startswith("prescription_item（处方明细）：共")
    visit = md(docs, "rw_hospital", "zh", "visit").splitlines()
    i = next(n for n, line in enumerate(visit) if line.startswith("- visit_type "))
    assert visit[i] == "- visit_type (varchar(6)) - 就诊类型："
    assert visit[i + 1].startswith("  门诊、复诊、急诊 [非空]")         # continued inside the item, indented
    for line in visit:                                                  # every line belongs to a block
        assert re.match(r"(## |- |  \S|字段列表：|字段补充说明：|语义模型：|注释来源|visit（|$)", line), line


def test_kept_database_comments_are_counted_right(app_ctx, settings, tmp_path):
    """Two database comments, both kept verbatim in the DDL file: one of them on a column with quotes in it (written
    doubled inside the SQL literal), the other a table comment spanning two lines."""
    with scratch_db(admin_url(app_ctx), "docs_quoted_comments") as admin:
        run_sql(admin, "CREATE TABLE account_status (id integer PRIMARY KEY, state char(1));"
                       "COMMENT ON TABLE account_status IS E'账户状态\\n每个账户一行';"
                       "COMMENT ON COLUMN account_status.state IS '状态（''0''正常 ''1''停用）';")
        run_ddl(tmp_path, settings, reader_url(admin), [TableRef("public", "account_status")])
    ddl = (tmp_path / "account_status.ddl").read_text(encoding="utf-8")
    assert "IS '状态（''0''正常 ''1''停用）';" in ddl and "IS '账户状态\n每个账户一行';" in ddl
    c = build_quality_report(tmp_path)["comments"]
    assert c["kept_checked_against"] == "ddl_files"
    assert (c["existing_comments_kept"], c["existing_database_comments"]) == (2, 2)


def test_hospital_comments_all_kept(docs):
    c = build_quality_report(docs["rw_hospital", "zh"])["comments"]
    assert c["existing_comments_kept"] == c["existing_database_comments"] == 61


@pytest.mark.parametrize("language", ["zh", "en"])
def test_each_table_doc_names_its_kind_label_measures_and_event_time(docs, language):
    zh = language == "zh"
    payment = md(docs, "rw_rental", language, "payment").splitlines()
    assert ("语义模型：" if zh else "Semantic model:") in payment
    assert ("- 表类型：事件/事实表" if zh else "- Kind: event (fact)") in payment
    assert ("- 度量：amount（求和）" if zh else "- Measures: amount (summed)") in payment
    assert any(line.startswith("- 事件时间：payment_date（" if zh else "- Event time: payment_date (")
               for line in payment)
    assert payment[-1].startswith("注释来源" if zh else "Comment source")     # the source line stays last
    bridge = md(docs, "rw_rental", language, "film_actor")
    assert ("- 表类型：关联（桥接）表" if zh else "- Kind: bridge (link)") in bridge
    assert ("- 度量：（无）" if zh else "- Measures: (none)") in bridge
    film = md(docs, "rw_rental", language, "film")
    assert ("- 名称列：title" if zh else "- Label: title") in film
    assert ("replacement_cost（取平均）" if zh else "replacement_cost (averaged)") in film
    visit = md(docs, "rw_hospital", language, "visit")
    assert ("- 事件时间：visit_time（2023-" if zh else "- Event time: visit_time (2023-") in visit
    for measure in ("registration_fee", "exam_fee", "total_fee"):
        assert measure in visit.split("- 度量：" if zh else "- Measures: ")[1].splitlines()[0]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_measure_with_few_values_is_not_called_an_enumeration(docs, language):
    """order_line.quantity holds 1..6 and the semantic model sums it: a measure, not an enumeration (its notes
    would list "values include: 1, 2, 3..."), whatever its distinct count. A smallint code with as few values
    (department.floor_no, 1..6) and a status text stay enumerations."""
    enumeration = "为枚举字段" if language == "zh" else "is an enumeration"
    order_line = md(docs, "rw_sales", language, "order_line")
    assert "quantity" in order_line.split("- 度量：" if language == "zh" else "- Measures: ")[1].splitlines()[0]
    assert f"quantity {enumeration}" not in order_line
    assert f"floor_no {enumeration}" in md(docs, "rw_hospital", language, "department")
    assert f"status {enumeration}" in md(docs, "rw_sales", language, "sales_order")
