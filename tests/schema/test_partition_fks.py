"""Partitioned tables whose foreign keys are declared on the partitions only (issue 12): the parent carries
them, so it is joined and its edges counted; the partitions are not listed as extra tables."""
from __future__ import annotations

import logging

import pytest

from data_pipeline.qa.pairs import latest_pairs_file, read_pairs
from data_pipeline.schema.introspect import introspect, list_tables
from data_pipeline.steps import ddl_generation, qa_generation
from data_pipeline.steps.base import StepContext
from data_pipeline.taskfiles.table_list import parse_names
from tests.ddl_fixture_db import admin_url
from tests.qa.fixture_schemas import PARTITIONED_SQL, PARTITIONED_TABLES, create_business_db


@pytest.fixture(scope="module")
def partitioned_url(app_ctx):
    return create_business_db(admin_url(app_ctx), "qa_partition_fixture", PARTITIONED_SQL, "qa_partition_reader")


def test_foreign_keys_on_partitions_count_for_the_parent(partitioned_url, settings):
    tables, missing = introspect(partitioned_url, parse_names(PARTITIONED_TABLES), settings, sample=False)
    assert missing == []
    payment = next(t for t in tables if t.name == "payment")
    assert payment.kind == "partitioned_table"
    assert sorted((f.columns, f.ref_table, f.ref_columns) for f in payment.foreign_keys) == [
        (["account_id"], "account", ["account_id"]), (["channel_id"], "channel", ["channel_id"])]
    listed = [t["name"] for t in list_tables(partitioned_url, ["public"], None, settings)]
    assert listed == ["account", "channel", "payment"]              # partitions are not extra tables


def test_the_parent_is_joined_and_its_edges_covered(app_ctx, partitioned_url, tmp_path):
    ctx = StepContext(task_id="task_20250101_000000", task_dir=tmp_path, params={"db_name": "part"}, options={},
                      settings=app_ctx.settings, business_url=partitioned_url, meta_db=app_ctx.db,
                      tables=parse_names(PARTITIONED_TABLES), logger=logging.getLogger("test.partitions"))
    ddl_generation.run(ctx)
    result = qa_generation.run(ctx)
    assert result.summary["fk_edges_total"] == result.summary["fk_edges_covered"] == 2
    # the parent's foreign keys are walked by the model's questions (per account, per channel), not the top-up
    joins = [p for p in read_pairs(latest_pairs_file(tmp_path)) if p.meta["fk_edges"]]
    assert {e for p in joins for e in p.meta["fk_edges"]} == {
        "public.payment(account_id)->public.account(account_id)",
        "public.payment(channel_id)->public.channel(channel_id)"}
    assert not any(p.meta.get("coverage_top_up") for p in joins)
    ddl = (tmp_path / "payment.ddl").read_text(encoding="utf-8")
    assert "FOREIGN KEY (account_id) REFERENCES public.account (account_id)" in ddl
