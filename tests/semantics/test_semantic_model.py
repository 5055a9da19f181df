"""The semantic model on a small shop schema in the real embedded PostgreSQL (issue 22): every table kind and
column role, join paths through a bridge and down into lines, the pair rules that depend on them, the editable
round-trip of `semantic_model.json`, and the complexity levels.

The schema lives in its own database, read through a SELECT-only LOGIN role; ddl_generation and qa_generation
run for real (rule-based).
"""
from __future__ import annotations

import json
import logging
import re

import psycopg2
import pytest

from data_pipeline.qa.pairs import latest_pairs_file, read_pairs
from data_pipeline.semantics import MODEL_FILE, complexity, read_model
from data_pipeline.steps import ddl_generation, qa_generation
from data_pipeline.steps.base import StepContext
from data_pipeline.taskfiles.table_list import parse_names
from tests.ddl_fixture_db import admin_url
from tests.qa.fixture_schemas import create_business_db

TABLES = ["region", "customer", "product", "tag", "product_tag", "orders", "order_line", "order_status_log",
          "order_summary"]
SHOP_SQL = """
CREATE TABLE region (region_id serial PRIMARY KEY, region_name varchar(40) NOT NULL);
CREATE TABLE customer (customer_id serial PRIMARY KEY, first_name varchar(40), last_name varchar(40),
  email varchar(80), birth_date date, segment varchar(20), region_id int REFERENCES region, is_vip boolean,
  active smallint, notes text, floor smallint, created_at timestamp, last_update timestamp);
CREATE TABLE product (product_id serial PRIMARY KEY, product_name varchar(60) NOT NULL, list_price numeric(10,2),
  weight_kg numeric(6,2), description text, last_update timestamp);
CREATE TABLE tag (tag_id serial PRIMARY KEY, tag_name varchar(30) NOT NULL);
CREATE TABLE product_tag (product_id int REFERENCES product, tag_id int REFERENCES tag,
  PRIMARY KEY (product_id, tag_id));
CREATE TABLE orders (order_id serial PRIMARY KEY, customer_id int REFERENCES customer,
  billing_region_id int REFERENCES region, order_date date NOT NULL, status varchar(12), shipping_fee numeric(8,2),
  last_update timestamp);
CREATE TABLE order_line (order_id int REFERENCES orders, line_no int, product_id int REFERENCES product,
  unit_price numeric(10,2), quantity int, PRIMARY KEY (order_id, line_no));
CREATE TABLE order_status_log (log_id serial PRIMARY KEY, order_id int REFERENCES orders, status varchar(12),
  changed_at timestamp);
INSERT INTO region (region_name) SELECT 'Region ' || g FROM generate_series(1, 6) g;
INSERT INTO customer (first_name, last_name, email, birth_date, segment, region_id, is_vip, active, notes, floor,
                      created_at, last_update)
SELECT (ARRAY['Ann','Bob','Cem','Dana','Eli'])[g % 5 + 1], (ARRAY['Smith','Jones','Brown','Lee'])[g % 4 + 1],
       'user' || g || '@example.com', date '1970-01-01' + g * 37, (ARRAY['retail','corporate','public'])[g % 3 + 1],
       g % 6 + 1, g % 7 = 0, (g % 4 > 0)::int, 'note ' || g, g % 5, timestamp '2022-06-01' + g * interval '1 day',
       timestamp '2025-01-01'
FROM generate_series(1, 240) g;
INSERT INTO product (product_name, list_price, weight_kg, description, last_update)
SELECT 'Product ' || g, 5 + g % 40, 0.5 + g % 9, 'a fine product number ' || g, timestamp '2025-01-01'
FROM generate_series(1, 80) g;
INSERT INTO tag (tag_name) SELECT 'Tag ' || g FROM generate_series(1, 8) g;
INSERT INTO product_tag SELECT p, t FROM generate_series(1, 80) p, generate_series(1, 8) t WHERE (p + t) % 3 = 0;
INSERT INTO orders (customer_id, billing_region_id, order_date, status, shipping_fee, last_update)
SELECT g % 200 + 1, g % 5 + 1, date '2023-01-01' + g % 700, (ARRAY['open','shipped','returned'])[g % 3 + 1],
       (g % 9) + 0.5, timestamp '2025-01-01'
FROM generate_series(1, 1500) g;
INSERT INTO order_line SELECT o, l, (o * 7 + l * 3) % 70 + 1, 5 + (o + l) % 40, 1 + (o * l) % 4
FROM generate_series(1, 1500) o, generate_series(1, 3) l;
INSERT INTO order_status_log (order_id, status, changed_at)
SELECT g % 1500 + 1, (ARRAY['open','shipped'])[g % 2 + 1], timestamp '2023-01-02' + g * interval '5 hours'
FROM generate_series(1, 3000) g;
CREATE VIEW order_summary AS
  SELECT o.order_id, o.order_date, c.segment, sum(l.unit_price * l.quantity) AS order_amount
  FROM orders o JOIN customer c ON c.customer_id = o.customer_id JOIN order_line l ON l.order_id = o.order_id
  GROUP BY o.order_id, o.order_date, c.segment;
ANALYZE;
"""
BRIDGE = "product_tag"
KEYS = re.compile(r"\b(customer_id|region_id|billing_region_id|product_id|tag_id|order_id|line_no|log_id)\b")


@pytest.fixture(scope="module")
def shop_url(app_ctx):
    return create_business_db(admin_url(app_ctx), "semantics_shop", SHOP_SQL, "semantics_reader")


def _ctx(app_ctx, url, task_dir, language="en") -> StepContext:
    return StepContext(task_id="task_20250101_000000", task_dir=task_dir,
                       params={"question_language": language, "business_context": "", "db_name": "shop"},
                       options={}, settings=app_ctx.settings, business_url=url, meta_db=app_ctx.db,
                       tables=parse_names(TABLES), logger=logging.getLogger("test.semantics"))


@pytest.fixture(scope="module")
def shop_run(app_ctx, shop_url, tmp_path_factory):
    task_dir = tmp_path_factory.mktemp("shop_en")
    ctx = _ctx(app_ctx, shop_url, task_dir)
    ddl_generation.run(ctx)
    qa_generation.run(ctx)
    return read_model(task_dir), read_pairs(latest_pairs_file(task_dir)), task_dir


# ------------------------------------------------------------------------------------------- classifier


def test_table_kinds(shop_run):
    model, _, task_dir = shop_run
    kinds = {q.split(".")[1]: t.kind for q, t in model.tables.items()}
    assert kinds == {"region": "lookup", "customer": "entity", "product": "entity", "tag": "lookup",
                     "product_tag": "bridge", "orders": "event", "order_line": "line",
                     "order_status_log": "snapshot", "order_summary": "view"}
    assert model.tables["public.order_summary"].base_tables == ["public.customer", "public.order_line",
                                                                "public.orders"]
    assert json.loads((task_dir / MODEL_FILE).read_text("utf-8"))["version"] == 1


def test_column_roles(shop_run):
    model, _, _ = shop_run
    role = {(q.split(".")[1], n): c.role for q, t in model.tables.items() for n, c in t.columns.items()}
    expected = {
        ("customer", "customer_id"): "identifier", ("customer", "region_id"): "foreign_key",
        ("customer", "email"): "personal", ("customer", "first_name"): "personal",
        ("customer", "birth_date"): "personal_date", ("customer", "segment"): "dimension",
        ("customer", "is_vip"): "flag", ("customer", "active"): "flag", ("customer", "notes"): "free_text",
        ("customer", "floor"): "dimension", ("customer", "created_at"): "audit_time",
        ("customer", "last_update"): "audit_time", ("product", "product_name"): "label",
        ("product", "list_price"): "non_additive_measure", ("product", "description"): "free_text",
        ("orders", "order_date"): "event_time", ("orders", "last_update"): "audit_time",
        ("orders", "shipping_fee"): "additive_measure", ("orders", "status"): "dimension",
        ("order_line", "line_no"): "identifier", ("order_line", "unit_price"): "non_additive_measure",
        ("order_line", "quantity"): "additive_measure", ("region", "region_name"): "label"}
    assert {k: role[k] for k in expected} == expected
    orders = model.tables["public.orders"]
    assert orders.event_time == "order_date"                 # not last_update, an audit time
    assert orders.facts["min_time"] >= "2023-01-01" and orders.facts["max_time"] <= "2024-12-31"
    billing = orders.columns["billing_region_id"]
    assert billing.references == "public.region" and billing.role_name == {"zh": "账单地区", "en": "billing region"}
    assert orders.columns["customer_id"].role_name is None   # says no more than its parent's name
    status = orders.columns["status"]
    assert status.cardinality == 3 and set(status.top_values) == {"open", "shipped", "returned"}
    assert model.tables["public.order_line"].derived_measures[0]["columns"] == ["unit_price", "quantity"]
    customer = model.tables["public.customer"]
    assert customer.label == ["first_name", "last_name"] and not customer.label_unique
    assert customer.columns["email"].personal and customer.columns["email"].pii_kind == "email"


def test_join_paths_cross_bridges_and_go_down_into_lines(shop_run):
    model, _, _ = shop_run
    paths = {(p.source.split(".")[1], p.target.split(".")[1]): p for p in model.join_paths}
    through_bridge = paths[("product", "tag")]
    assert through_bridge.via == ["public.product_tag"] and len(through_bridge.hops) == 2
    assert paths[("order_line", "tag")].via == ["public.product", "public.product_tag"]
    assert ("orders", "product") in paths                   # an order down into its lines, up to the product
    assert all(len(p.hops) <= 4 for p in model.join_paths)
    assert not [p for p in model.join_paths if p.source == f"public.{BRIDGE}"]
    phrase = paths[("order_line", "tag")].phrase
    assert phrase["en"] == "the tag of each order line (through product and product tag)"
    assert phrase["zh"].startswith("订单明细经") and phrase["zh"].endswith("关联的标签")


# ------------------------------------------------------------------------------------------- pair rules


def test_no_sum_or_average_of_a_key(shop_run):
    _, pairs, _ = shop_run
    aggregated = [p.sql for p in pairs if re.search(r"\b(SUM|AVG)\((DISTINCT )?(\w+\.)?\w*_id\)", p.sql)]
    assert aggregated == []
    assert not [p.sql for p in pairs if re.search(r"\b(SUM|AVG)\([^)]*" + KEYS.pattern, p.sql)]


def test_flags_filter_and_are_never_ranked_or_grouped(shop_run):
    _, pairs, _ = shop_run
    grouped = [p.sql for p in pairs if re.search(r"GROUP BY[^\n]*\b(is_vip|active)\b", p.sql)
               or re.search(r"PARTITION BY[^\n]*\b(is_vip|active)\b", p.sql)]
    assert grouped == []
    assert any(re.search(r"is_vip IS TRUE", p.sql) for p in pairs)          # asked about, as a filter


def test_a_bridge_is_never_counted_as_a_thing(shop_run):
    _, pairs, _ = shop_run
    # counting from the bridge itself counts the things on its other end, never its rows
    from_bridge = [p for p in pairs if re.search(rf"\bFROM {BRIDGE}\b", p.sql)]
    assert from_bridge and all("COUNT(DISTINCT" in p.sql and "COUNT(*)" not in p.sql for p in from_bridge)
    assert any(re.search(rf"JOIN {BRIDGE}\b", p.sql) for p in pairs)      # and it is walked through


def test_every_limit_is_stated_and_ranks_enough_groups(shop_run, shop_url):
    _, pairs, _ = shop_run
    conn = psycopg2.connect(shop_url)
    conn.set_session(readonly=True, autocommit=True)
    try:
        for p in pairs:
            m = re.search(r"\bLIMIT (\d+)", p.sql)
            if not m:
                continue
            assert m.group(1) in p.question, p.question
            if "GROUP BY" in p.sql:
                with conn.cursor() as cur:
                    cur.execute(p.sql)
                    assert len(cur.fetchall()) >= int(m.group(1)) / 2, p.question
    finally:
        conn.close()


def test_every_measure_of_a_fact_or_line_is_used(shop_run):
    model, pairs, _ = shop_run
    for q in ("public.orders", "public.order_line"):
        for name in model.tables[q].measures:
            assert any(re.search(rf"(SUM|AVG)\([^)]*\b{name}\b", p.sql) for p in pairs), f"{q}.{name} unused"
    assert any("unit_price * " in p.sql and "quantity)" in p.sql for p in pairs)   # the derived line amount


def test_pairs_have_complexity_and_the_mix_is_not_boilerplate(shop_run):
    _, pairs, task_dir = shop_run
    sidecar = json.loads(latest_pairs_file(task_dir).with_suffix(".meta.json").read_text("utf-8"))
    levels = [m["complexity"] for m in sidecar["pairs"].values()]
    assert len(levels) == len(pairs) and set(levels) <= {"simple", "moderate", "complex", "highly complex"}
    assert sum(lv in ("complex", "highly complex") for lv in levels) >= 0.3 * len(levels)
    assert sum(lv == "simple" for lv in levels) <= 0.15 * len(levels)
    assert sum(p.sql.count("JOIN") >= 2 for p in pairs) >= 0.15 * len(pairs)
    assert not [p.question for p in pairs if re.search(r"\b(\w{3,})\s+\1\b", p.question, re.I)]
    # the last months are counted back from the data's latest date, not today's
    assert any("MAX(order_date)" in p.sql and "INTERVAL" in p.sql for p in pairs)
    # a numeric dimension's value is shown bare, like the SQL compares it
    for p in pairs:
        for value in re.findall(r"\.floor = (\d+)\b", p.sql):
            assert re.search(rf"\b{value}\b", p.question) and f"“{value}”" not in p.question


# ------------------------------------------------------------------------------------------- editable


def test_user_edits_survive_a_rerun_and_reach_the_questions(app_ctx, shop_url, tmp_path):
    ctx = _ctx(app_ctx, shop_url, tmp_path)
    ddl_generation.run(ctx)
    path = tmp_path / MODEL_FILE
    data = json.loads(path.read_text("utf-8"))
    # the customers' names are public here (say, authors' credits); a segment is personal; a kind is corrected
    data["tables"]["public.customer"]["columns"]["first_name"].update(personal=False, edited_by_user=True)
    data["overrides"] = {"tables": {"public.customer": {"columns": {"last_name": {"personal": False},
                                                                    "segment": {"personal": True}}},
                                    "public.order_status_log": {"kind": "event"}}}
    path.write_text(json.dumps(data), "utf-8")

    ddl_generation.run(ctx)                                     # a re-run rebuilds the model and keeps the edits
    model = read_model(tmp_path)
    customer = model.tables["public.customer"]
    assert not customer.columns["first_name"].personal and not customer.columns["last_name"].personal
    assert customer.columns["segment"].personal and customer.columns["segment"].role == "personal"
    assert customer.columns["first_name"].role == "label" and customer.columns["first_name"].edited_by_user
    assert model.tables["public.order_status_log"].kind == "event"
    assert set(model.overrides["tables"]["public.customer"]["columns"]) == {"first_name", "last_name", "segment"}

    qa_generation.run(ctx)
    pairs = read_pairs(latest_pairs_file(tmp_path))
    assert not [p.sql for p in pairs if re.search(r"\bsegment\b", p.sql)]      # now personal: never used
    named = [p for p in pairs if "first_name || ' ' || " in p.sql]
    assert named and all("customer_id" in p.sql for p in named)     # names repeat: grouped with the key too


def test_without_edits_personal_names_are_never_grouped(shop_run):
    _, pairs, _ = shop_run
    assert not [p.sql for p in pairs if re.search(r"\b(first_name|last_name|email|birth_date)\b", p.sql)]


def test_an_unreadable_model_fails_the_step_with_its_reason(app_ctx, shop_url, tmp_path):
    ctx = _ctx(app_ctx, shop_url, tmp_path)
    ddl_generation.run(ctx)
    (tmp_path / MODEL_FILE).write_text("{not json", "utf-8")
    with pytest.raises(Exception) as err:
        qa_generation.run(ctx)
    assert MODEL_FILE in str(err.value) and "valid JSON" in str(err.value)
    result = ddl_generation.run(ctx)                            # a re-run replaces it and says so
    assert [w.code for w in result.warnings] == ["SEMANTIC_MODEL_UNREADABLE"]
    assert read_model(tmp_path) is not None


# ------------------------------------------------------------------------------------------- complexity


@pytest.mark.parametrize("sql, level", [
    ("SELECT COUNT(*) FROM orders", "simple"),
    ("SELECT status, COUNT(*) FROM orders GROUP BY status", "moderate"),
    ("SELECT COUNT(*) FROM orders WHERE status = 'open'", "moderate"),
    ("SELECT r.region_name, COUNT(*) FROM orders o JOIN region r ON r.region_id = o.billing_region_id "
     "GROUP BY 1", "moderate"),
    ("SELECT t.tag_name, COUNT(*) FROM product p JOIN product_tag pt ON pt.product_id = p.product_id "
     "JOIN tag t ON t.tag_id = pt.tag_id GROUP BY 1", "complex"),
    ("SELECT status FROM orders GROUP BY status HAVING COUNT(*) > 10", "complex"),
    ("SELECT COUNT(*) FROM orders WHERE note = 'a JOIN b JOIN c (SELECT'", "moderate"),   # literals are blanked
    ("WITH m AS (SELECT date_trunc('month', order_date) AS month, SUM(shipping_fee) AS v FROM orders GROUP BY 1) "
     "SELECT month, v - LAG(v) OVER (ORDER BY month) FROM m", "highly complex"),
    ("SELECT a FROM x JOIN y ON 1=1 JOIN z ON 1=1 JOIN w ON 1=1 WHERE CASE WHEN a THEN 1 END = 1", "highly complex"),
])
def test_complexity_levels(sql, level):
    assert complexity(sql) == level


def test_overrides_that_cannot_apply_are_named_and_change_nothing():
    """merge_overrides alone: an unknown kind or role is refused and reported, the rest of the entry applies; a
    label given as one string becomes a list; a table or column no longer there is reported."""
    from data_pipeline.semantics.model import ColumnSemantics, SemanticModel, TableSemantics, merge_overrides
    model = SemanticModel(tables={"public.t": TableSemantics(columns={"c": ColumnSemantics(role="dimension"),
                                                                      "d": ColumnSemantics(role="dimension")})})
    problems = merge_overrides(model, {"tables": {
        "public.t": {"kind": "cube", "label": "c", "columns": {"c": {"role": "measure", "role_name": {"en": "x"}},
                                                               "d": {"role": "flag"}, "gone": {"role": "flag"}}},
        "public.gone": {"kind": "event"}}})
    assert problems == ["public.t: unknown kind 'cube'", "public.t.c: unknown role 'measure'",
                        "public.t.gone: not in the model", "public.gone: not in the model"]
    t = model.tables["public.t"]
    assert t.kind == "entity" and t.label == ["c"] and t.edited_by_user
    assert t.columns["c"].role == "dimension" and t.columns["c"].role_name == {"en": "x"}
    assert t.columns["c"].edited_by_user                      # its role_name applied
    assert t.columns["d"].role == "flag" and t.columns["d"].edited_by_user
