"""Introspection on a fixture database with the awkward shapes, and on the demo database."""
from __future__ import annotations

import pytest

from data_pipeline.schema.introspect import introspect, like_pattern, list_tables
from data_pipeline.taskfiles.table_list import TableRef, parse_names
from tests.business_roles import reader_url
from tests.ddl_fixture_db import PLANTED, admin_url, fixture_db

ALL = [TableRef("Sales Dept", "Order"), TableRef("销售", "订单明细"), TableRef("public", "customer"),
       TableRef("public", "customer_view"), TableRef("public", "status_counts"), TableRef("public", "events")]


@pytest.fixture(scope="module")
def fixture_url(app_ctx):
    return reader_url(fixture_db(admin_url(app_ctx)))   # SELECT-only: a superuser URL is refused


@pytest.fixture(scope="module")
def described(fixture_url, settings):
    return introspect(fixture_url, ALL + [TableRef("public", "no_such_table")], settings)


def by_name(tables, name):
    return next(t for t in tables if t.name == name)


def test_missing_and_order(described):
    tables, missing = described
    assert [t.name for t in tables] == [r.name for r in ALL]
    assert missing == [TableRef("public", "no_such_table")]


def test_quoted_identifiers_composite_keys_and_comments(described):
    tables, _ = described
    order = by_name(tables, "Order")
    assert order.schema == "Sales Dept" and order.kind == "table"
    assert order.comment == "订单行 '原始'注释"  # verbatim, quotes included
    assert [c.name for c in order.columns] == ["Order ID", "Line No", "select", "CamelCase", "amount", "feeling",
                                               "created_at"]
    assert order.primary_key == ["Order ID", "Line No"]
    assert order.column("Order ID").is_primary_key and not order.column("select").is_primary_key
    assert order.column("select").comment == "选择标记" and order.column("CamelCase").comment is None
    assert order.column("CamelCase").max_length == 20 and order.column("CamelCase").default == "'x'::character varying"
    assert any("Line No" in c for c in order.check_constraints)
    detail = by_name(tables, "订单明细")
    assert detail.schema == "销售" and detail.comment is None
    (fk,) = detail.foreign_keys
    assert (fk.columns, fk.ref_schema, fk.ref_table, fk.ref_columns) == (
        ["订单号", "行号"], "Sales Dept", "Order", ["Order ID", "Line No"])
    assert detail.column("明细编号").default.startswith("nextval(")
    assert detail.file_stem == "销售__订单明细"


def test_enum_and_domains(described):
    tables, _ = described
    order = by_name(tables, "Order")
    feeling = order.column("feeling")
    assert feeling.type_kind == "enum" and feeling.enum_values == ["happy", "sad", "ok'ish"]
    assert (feeling.type_schema, feeling.type_name) == ("public", "mood") and not feeling.nullable
    amount = order.column("amount")
    assert amount.type_kind == "domain" and amount.domain_base_type == "numeric(12,2)"
    assert amount.domain_checks == ["CHECK ((VALUE > (0)::numeric))"]
    level = by_name(tables, "订单明细").column("level")
    assert level.type_kind == "domain" and level.enum_values == ["low", "mid", "high"] and level.max_length == 10


def test_views_matviews_partitioned(described):
    tables, _ = described
    view = by_name(tables, "customer_view")
    assert view.kind == "view" and "FROM customer" in view.view_definition
    assert [c.name for c in view.columns] == ["id", "full_name", "status"]
    mv = by_name(tables, "status_counts")
    assert mv.kind == "materialized_view" and mv.row_estimate == 3 and mv.row_count_exact
    events = by_name(tables, "events")
    assert events.kind == "partitioned_table" and events.partition_key == "RANGE (day)"
    assert events.row_estimate == 200 and events.row_count_exact and events.primary_key == ["id", "day"]
    assert events.column("id").identity == ""
    assert by_name(tables, "customer").column("id").identity == "a"


def test_samples_profiles_and_pii_masking(described, settings):
    tables, _ = described
    customer = by_name(tables, "customer")
    assert customer.row_estimate == 40 and customer.row_count_exact
    kinds = {c.name: c.pii_kind for c in customer.columns}
    assert kinds == {"id": None, "full_name": "person_name", "mobile": "phone", "email": "email",
                     "id_card": "id_card", "home_address": "address", "note": None, "company_name": None,
                     "service_area_name": None, "status": None}
    assert customer.column("mobile").samples == ["139****6032"]
    assert customer.column("full_name").samples == ["欧阳**"]
    assert customer.column("email").samples == ["c***@example.org"]
    assert customer.column("home_address").samples == ["浙江省杭州市****"]
    assert customer.column("id_card").samples == [PLANTED["id_card"][:4] + "*" * 10 + PLANTED["id_card"][-4:]]
    assert customer.column("note").samples == ["请联系 138****2222 处理"]
    status = customer.column("status")   # analysed table: profile from pg_stats
    assert status.is_enum_like and status.distinct_count == 3
    assert sorted(v.value for v in status.top_values) == ["active", "closed", "frozen"]
    assert all(len(c.samples) <= settings.sample_rows for t in tables for c in t.columns)
    text = repr(tables)
    for raw in PLANTED.values():
        assert raw not in text, raw


def test_profile_without_stats(described):
    tables, _ = described
    kind = by_name(tables, "events").column("kind")   # never analysed: bounded read of the table
    assert kind.is_enum_like and kind.distinct_count == 4
    assert sum(v.count for v in kind.top_values) == 200
    for name in ("id", "day"):   # primary key columns are no enum candidates: not read for a profile
        column = by_name(tables, "events").column(name)
        assert column.distinct_count is None and column.top_values == [] and not column.is_enum_like


def test_demo_database(business_url, settings):
    refs = parse_names(["bss_company", "bss_business_day_data", "bss_section_route_area_link"])
    tables, missing = introspect(business_url, refs, settings)
    assert not missing
    company, day, link = tables
    assert company.comment == "业务支撑系统公司信息表（服务区管理公司）"
    assert company.column("company_name").comment == "公司名称" and company.unique_keys == [["company_no"]]
    assert day.row_estimate > 50_000 and 0 < len(day.column("wx").samples) <= settings.sample_rows
    assert link.primary_key == ["section_route_id", "service_area_id"] and len(link.foreign_keys) == 2
    assert day.column("source_type").is_enum_like
    assert len(set(day.column("oper_date").samples)) > 1   # samples spread over pages, not one block
    (cars,), _ = introspect(business_url, parse_names(["bss_car_day_count"]), settings, sample=False)
    assert cars.row_estimate > 100_000 and not cars.row_count_exact   # big: the estimate, no count(*)


def test_like_pattern_escapes():
    assert like_pattern("bss_*") == "bss\\_%"
    assert like_pattern("100%?") == "100\\%_"


def test_list_tables(fixture_url, settings):
    items = list_tables(fixture_url, ["public", "Sales Dept"], None, settings)
    names = [(i["schema"], i["name"], i["type"]) for i in items]
    assert ("public", "events", "partitioned_table") in names
    assert not any(n.startswith("events_") for _, n, _ in names)   # partitions are not listed
    assert ("public", "customer_view", "view") in names and ("public", "status_counts", "materialized_view") in names
    assert ("Sales Dept", "Order", "table") in names and not any(s == "销售" for s, _, _ in names)
    assert [i["name"] for i in list_tables(fixture_url, ["public"], "a_b", settings)] == ["a_b"]
    assert [i["name"] for i in list_tables(fixture_url, ["public"], "a?b", settings)] == ["a_b", "axb"]
    assert [i["name"] for i in list_tables(fixture_url, ["public"], "100%*", settings)] == ["100%_done"]
    assert [i["name"] for i in list_tables(fixture_url, ["public"], "CUST*", settings)] == ["customer",
                                                                                             "customer_view"]


def test_statement_timeout_degrades_to_catalog_only(fixture_url, settings):
    """Reading a view that sleeps hits statement_timeout: counts, samples and profiles are skipped, the
    catalog still comes back (and the other table in the same call is complete)."""
    fast = settings.model_copy(update={"statement_timeout_ms": 200})
    tables, missing = introspect(fixture_url, [TableRef("public", "slow_view"), TableRef("public", "customer")],
                                 fast)
    slow, customer = tables
    assert not missing and [c.name for c in slow.columns] == ["waited", "kind"]
    assert slow.row_estimate is None and all(not c.samples for c in slow.columns)
    assert customer.row_estimate == 40 and customer.column("status").samples


def test_percent_in_a_table_name_is_not_a_placeholder(fixture_url, settings):
    tables, missing = introspect(fixture_url, [TableRef("public", "100%_done")], settings)
    assert missing == [] and [c.name for c in tables[0].columns] == ["x"]
    assert tables[0].row_count_exact is True
