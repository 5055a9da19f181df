"""The semantic model rendered for people in `metadata_detail.md` (semantics/render.py through qa_generation):
table kinds, labels, measures, event times, column roles and join paths with their phrases, in the run's language.
Rule-based run on the rental fixture of tests/realistic_fixtures.py (real embedded server, SELECT-only role)."""
from __future__ import annotations

import logging

import pytest

from data_pipeline.semantics.model import read_model
from data_pipeline.semantics.render import PATHS_PER_TABLE, render_model
from data_pipeline.steps import ddl_generation, qa_generation
from data_pipeline.steps.base import StepContext
from data_pipeline.taskfiles.table_list import parse_names
from tests.ddl_fixture_db import admin_url
from tests.realistic_fixtures import HOSPITAL, RENTAL, create


def run_both(task_dir, settings, url, tables, language):
    ctx = StepContext(task_id="task_20250101_000000", task_dir=task_dir, params={"question_language": language,
                      "db_name": "fixture"}, options={}, settings=settings, business_url=url, meta_db=None,
                      tables=parse_names(tables), logger=logging.getLogger("test.semantics.render"))
    ddl_generation.run(ctx)
    qa_generation.run(ctx)
    return (task_dir / "metadata_detail.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rental_en(app_ctx, settings, tmp_path_factory):
    task_dir = tmp_path_factory.mktemp("render_rental")
    return task_dir, run_both(task_dir, settings, create(admin_url(app_ctx), RENTAL), RENTAL.tables, "en")


def test_metadata_detail_renders_the_model_after_the_themes(rental_en):
    _, text = rental_en
    head, model = text.split("\n## Semantic model\n")
    assert "# Business themes" in head
    lines = model.splitlines()
    block = lines[lines.index("### payment (payment): event (fact)"):]
    block = block[:block.index("")]
    assert "- Measures: amount (summed)" in block
    # the partitioned payment table's real range (its samples only see the first partition, 2023 H1)
    assert "- Event time: payment_date (2023-01-01 to 2024-12-30)" in block
    roles = next(line for line in block if line.startswith("- Column roles: "))
    assert "customer_id foreign key → customer" in roles and "payment_id identifier" in roles
    assert "### film_actor (film actor): bridge (link)" in lines
    # a join path through both bridges, with its phrase
    assert ("- category → film_category → film → film_actor → actor: the actor of each category (through film "
            "category, film and film actor)") in lines
    assert "last_update audit time (not the time axis)" in model


def test_personal_values_never_rendered(app_ctx, settings, tmp_path):
    text = run_both(tmp_path, settings, create(admin_url(app_ctx), HOSPITAL), HOSPITAL.tables, "zh")
    model = text.split("\n## 语义模型\n")[1]
    assert "### visit（就诊记录）：事件/事实表" in model
    assert "- 度量：registration_fee（求和）、exam_fee（求和）、total_fee（求和）" in model
    assert "is_otc 标志（只作筛选）" in model
    for row in ("王", "李伟", "3301", "139", "浙江省"):        # names, ID numbers, phones, addresses of patients
        assert not any(row in line for line in model.splitlines() if line.startswith("- 列角色：")), row


def test_paths_are_capped_per_table_and_the_rest_counted(rental_en):
    task_dir, _ = rental_en
    model = read_model(task_dir)
    source = max(model.tables, key=lambda q: len(model.paths_from(q)))
    n = len(model.paths_from(source))
    lines = render_model(model, "en")
    walks = [line for line in lines if line.startswith(f"- {source.split('.')[1]} → ")]
    assert len(walks) == min(n, PATHS_PER_TABLE)
    if n > PATHS_PER_TABLE:
        assert f"- {source.split('.')[1]}: {n - PATHS_PER_TABLE} more paths" in lines
