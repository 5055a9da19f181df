"""View lineage: which source columns feed each output column of a view (sqlglot over pg_get_viewdef text)."""
from __future__ import annotations

from data_pipeline.schema import pii
from data_pipeline.schema.view_lineage import SourceColumn, ViewShape, inherited_kinds, output_sources, resolve_views

CUSTOMER_LIST = """ SELECT cu.customer_id AS id,
    (cu.first_name::text || ' '::text) || cu.last_name::text AS name,
    a.postal_code AS "zip code", city.city, cu.store_id AS sid
   FROM customer cu JOIN address a ON cu.address_id = a.address_id JOIN city ON a.city_id = city.city_id;"""
SOURCES = [SourceColumn("public", "customer", c) for c in ("customer_id", "first_name", "last_name", "store_id",
                                                           "address_id")] + \
          [SourceColumn("public", "address", c) for c in ("address_id", "postal_code", "city_id")] + \
          [SourceColumn("public", "city", c) for c in ("city_id", "city")]
COLUMNS = [("id", "integer"), ("name", "text"), ("zip code", "character varying(10)"), ("city", "text"),
           ("sid", "integer")]


def kind(source: SourceColumn):
    return pii.kind_by_meta(source.column, source.comment, source.data_type)[0]


def test_computed_columns_follow_their_sources():
    refs = output_sources(CUSTOMER_LIST, 5)
    assert refs[1] == {("customer", "first_name"), ("customer", "last_name")}
    assert refs[2] == {("address", "postal_code")}
    got = inherited_kinds(CUSTOMER_LIST, COLUMNS, SOURCES, kind)
    assert got == {"name": ("person_name", "view:public.customer.first_name"),
                   "zip code": ("address", "view:public.address.postal_code")}


def test_union_subquery_and_cte_branches_all_count():
    union = ("SELECT c.id, c.note AS who FROM customer c UNION ALL "
             "SELECT 1, x.nm FROM (SELECT s.first_name AS nm FROM staff s) x")
    assert ("staff", "first_name") in output_sources(union, 2)[1]
    cte = "WITH q AS (SELECT upper(last_name) || ', ' || first_name AS who, title FROM staff) SELECT q.who, q.title FROM q"
    sources = [SourceColumn("public", "staff", c) for c in ("first_name", "last_name", "title")]
    got = inherited_kinds(cte, [("who", "text"), ("title", "text")], sources, kind)
    assert got["who"][0] == "person_name" and "title" not in got


def test_unparsable_definition_falls_back_to_the_catalog():
    assert output_sources("SELECT FROM WHERE ((", 2) is None
    sources = [SourceColumn("public", "staff", "first_name"), SourceColumn("public", "staff", "title")]
    got = inherited_kinds("SELECT FROM WHERE ((", [("title", "text"), ("n", "integer"), ("label", "text")], sources,
                          kind)
    assert set(got) == {"title", "label"}   # text columns of a view reading a name: treated as personal
    assert inherited_kinds("SELECT FROM ((", [("x", "text")], [SourceColumn("public", "t", "title")], kind) == {}


def test_views_on_views_resolve_through_the_inner_view():
    views = {("public", "customer_list"): ViewShape("public", "customer_list", CUSTOMER_LIST, COLUMNS, SOURCES),
             ("public", "cities"): ViewShape("public", "cities", "SELECT name AS display, city FROM customer_list",
                                             [("display", "text"), ("city", "text")],
                                             [SourceColumn("public", "customer_list", "name", "v"),
                                              SourceColumn("public", "customer_list", "city", "v")])}
    got = resolve_views(views, kind)
    assert got[("public", "cities")] == {"display": ("person_name", "view:public.customer_list.name")}
