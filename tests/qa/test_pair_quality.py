"""Pure quality functions: dedupe (exact / template), coverage over FK edges, difficulty classes, themes."""
from __future__ import annotations

from data_pipeline.qa.pair_quality import (classify_difficulty, compute_coverage, coverage_catalog, dedupe_pairs,
                                        fk_edges, question_skeleton, sql_coverage, sql_template)
from data_pipeline.qa.pairs import Pair
from data_pipeline.schema.model import Column, ForeignKey, Table
from data_pipeline.qa.themes import MAX_THEME_TABLES, ThemesAnswer, rule_based_themes, themes_from_answer


def _t(name, *fks, rows=10, comment=None):
    cols = [Column("id", "integer", is_primary_key=True)] + [Column(f"{p}_id", "integer") for p in fks]
    return Table("public", name, comment=comment, columns=cols, primary_key=["id"], row_estimate=rows,
                 foreign_keys=[ForeignKey(f"fk_{name}_{p}", [f"{p}_id"], "public", p, ["id"]) for p in fks])


def test_exact_and_template_duplicates_are_removed_and_counted():
    pairs = [Pair("类型为“A”的订单有多少？", "SELECT count(*) FROM o WHERE k = 'A'"),
             Pair("类型为“A”的订单有多少？", "SELECT 1"),                                # same question
             Pair("订单数量？", "select   COUNT(*) from o where k = 'A';"),            # same SQL up to case/space
             Pair("类型为“B”的订单有多少？", "SELECT count(*) FROM o WHERE k = 'B'"),  # template (both)
             Pair("前5个客户", "SELECT c FROM o ORDER BY v DESC LIMIT 5"),
             Pair("前10个客户是谁", "SELECT c FROM o ORDER BY v DESC LIMIT 10"),         # SQL template
             Pair("各类型的订单数", "SELECT k, count(*) FROM o GROUP BY k")]
    result = dedupe_pairs(pairs)
    assert [p.question for p in result.kept] == ["类型为“A”的订单有多少？", "前5个客户", "各类型的订单数"]
    assert result.counts == {"exact": 2, "template": 2}
    again = dedupe_pairs([Pair("各类型的订单数", "SELECT 2"), Pair("新问题", "SELECT x FROM o")], seen=result)
    assert [p.question for p in again.kept] == ["新问题"] and again.counts == {"exact": 1, "template": 0}


def test_normalisers():
    assert sql_template("SELECT * FROM t WHERE d >= '2024-01-01' AND n > 3.5") == \
        sql_template("select * from t where d>='2023-05-01' and n > 7")
    assert sql_template("SELECT a FROM t1") != sql_template("SELECT a FROM t2")   # digits inside names stay
    assert question_skeleton("2024年5月的收入？") == question_skeleton("2023年12月的收入")
    assert question_skeleton("各区域收入") != question_skeleton("各渠道收入")


def test_coverage_needs_the_join_condition_of_the_edge():
    a, b, link = _t("a"), _t("b"), _t("ab", "a", "b")
    tables = [a, b, link]
    assert [e.key for e in fk_edges(tables)] == ["public.ab(a_id)->public.a(id)", "public.ab(b_id)->public.b(id)"]
    used, edges = sql_coverage("SELECT * FROM ab x JOIN a ON a.id = x.a_id, b", tables)
    assert used == {"public.a", "public.b", "public.ab"} and edges == {"public.ab(a_id)->public.a(id)"}
    _, edges = sql_coverage("SELECT * FROM ab JOIN b ON b_id = b.id", tables)   # unqualified, unambiguous
    assert edges == {"public.ab(b_id)->public.b(id)"}
    catalog = coverage_catalog(tables)    # made once for many statements: the same answers
    assert sql_coverage("SELECT * FROM ab JOIN b ON b_id = b.id", tables, catalog) == ({"public.ab", "public.b"}, edges)
    assert sql_coverage("SELECT * FROM ab JOIN b ON b_id = b.id", [a, b], coverage_catalog([a, b])) == \
        ({"public.b"}, set())     # the catalog is what is asked about: ab unknown there
    cov = compute_coverage(["SELECT count(*) FROM a", "SELECT * FROM ab x JOIN a ON a.id = x.a_id"], tables)
    assert (cov.tables_covered, cov.fk_edges_covered) == (2, 1)
    assert cov.missing_tables == ["public.b"] and cov.missing_fk_edges == ["public.ab(b_id)->public.b(id)"]
    assert not cov.complete
    assert compute_coverage(["not sql at all ((("], tables).tables_covered == 0


def test_difficulty_classes():
    assert classify_difficulty("SELECT a FROM t WHERE b = 1") == "single_table"
    assert classify_difficulty("SELECT count(*) FROM t") == "aggregate"
    assert classify_difficulty("SELECT k, sum(v) FROM t GROUP BY k") == "group_by"
    assert classify_difficulty("SELECT a.k FROM a JOIN b ON a.id = b.a_id") == "join"
    assert classify_difficulty("SELECT * FROM t WHERE v > (SELECT avg(v) FROM t)") == "nested_window"
    assert classify_difficulty("WITH x AS (SELECT 1) SELECT * FROM x") == "nested_window"
    assert classify_difficulty("SELECT k, rank() OVER (ORDER BY v) FROM t") == "nested_window"


def test_rule_based_themes_cover_every_table_and_edge():
    # a chain of 9 tables (one component, too big for one theme), an isolated big table
    chain = [_t("t0")] + [_t(f"t{i}", f"t{i - 1}") for i in range(1, 9)]
    big = _t("facts", rows=1_000_000, comment="销售明细表")
    tables = chain + [big]
    themes = rule_based_themes(tables)
    assert all(len(th.related_tables) <= MAX_THEME_TABLES + 1 for th in themes)
    listed = {n for th in themes for n in th.related_tables}
    assert listed == {t.name for t in tables}
    for t in chain[1:]:
        parent = t.foreign_keys[0].ref_table
        assert any(t.name in th.related_tables and parent in th.related_tables for th in themes)
    assert any(th.related_tables == ["facts"] and th.topic_name == "销售明细表分析" for th in themes)
    assert len({th.topic_name for th in themes}) == len(themes)
    assert all(th.source == "rule_based" for th in themes)


def test_llm_theme_answer_validation_drops_unknown_tables():
    tables = [_t("orders"), _t("Customers")]
    answer = ThemesAnswer.model_validate({"themes": [
        {"topic_name": "订单", "related_tables": ["orders", "ghost"]},
        {"topic_name": "幽灵", "related_tables": ["ghost"]},
        {"topic_name": "客户", "related_tables": ["public.customers"]}]})
    themes, problems = themes_from_answer(answer, tables)
    assert [(t.topic_name, t.related_tables) for t in themes] == [("订单", ["orders"]), ("客户", ['"Customers"'])]
    assert len(problems) == 2 and all(t.source == "llm" for t in themes)


def test_doc_excerpt_cuts_at_a_line_and_says_so():
    from data_pipeline.qa.prompting import doc_excerpt
    text = "\n".join(f"line {i}" for i in range(100))
    assert doc_excerpt(text, 10_000) == text
    cut = doc_excerpt(text, 50)
    assert cut.endswith("已截断）") and len(cut) < 70 and cut.splitlines()[-2].startswith("line ")


def test_theme_budget_fills_the_concurrency_slots():
    from data_pipeline.steps.qa_generation import MAX_PAIRS_PER_CALL, theme_budget
    for concurrency in range(1, 17):
        themes, pairs = theme_budget(concurrency)
        assert themes >= 3 and pairs <= MAX_PAIRS_PER_CALL and themes * pairs >= 45
    assert theme_budget(4) == (4, 13)          # one round of 4 calls instead of 4 + 1
    assert theme_budget(8) == (5, 10)


def test_docstring_examples_hold():
    import doctest

    from data_pipeline.qa import pair_quality
    result = doctest.testmod(pair_quality)
    assert result.attempted >= 7 and result.failed == 0


def test_self_referencing_fk_is_joined_and_covered():
    from data_pipeline.qa.rule_plan import plan_theme_work, theme_pairs
    emp = Table("public", "employee", comment="员工表", primary_key=["id"], columns=[
        Column("id", "integer", is_primary_key=True), Column("name", "text", comment="姓名"),
        Column("manager_id", "integer", comment="上级"), Column("deleted_at", "timestamp")],
        foreign_keys=[ForeignKey("fk_mgr", ["manager_id"], "public", "employee", ["id"])])
    themes = rule_based_themes([emp])
    work = plan_theme_work(themes, [emp])
    pairs = [p for th in themes for p in theme_pairs(th.topic_name, *work[th.topic_name], [emp])]
    assert compute_coverage([p.sql for p in pairs], [emp]).complete
    join = next(p for p in pairs if p.meta["difficulty"] == "join")
    assert "s.deleted_at IS NULL AND m.deleted_at IS NULL" in join.sql
