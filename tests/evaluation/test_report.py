"""Report pieces that need no database: the embedder comparison, the hold-out's size and strata, paraphrases."""
from __future__ import annotations

from data_pipeline.evaluation.holdout import choose, holdout_size
from data_pipeline.evaluation.paraphrase import rule_paraphrase
from data_pipeline.evaluation.report import embedder_comparison
from data_pipeline.qa.pairs import Pair


def _entry(model, when, pairs_file="qs_a.json", n=10, recall=0.5):
    return {"generated_at": when, "embedding": {"model": model}, "holdout": {"pairs_file": pairs_file, "evaluated": n},
            "headline": {"table_recall@5": {"verbatim": recall, "paraphrase": recall}}}


def test_embedders_compare_on_the_same_holdout_latest_run_per_model_current_first():
    history = [_entry("hashing", "1"), _entry("minilm", "2", recall=0.9), _entry("minilm", "3", recall=0.8),
               _entry("other", "4", pairs_file="qs_b.json")]
    current = _entry("hashing", "5", recall=0.6)
    got = embedder_comparison(history, current)
    assert [(e["embedding"]["model"], e["generated_at"]) for e in got] == [("hashing", "5"), ("minilm", "3")]
    assert embedder_comparison([], current) == [current]


def test_holdout_size_rules():
    assert holdout_size(10, 0.1) == 1 and holdout_size(19, 0.1) == 2
    assert holdout_size(20, 0.1) == 5 and holdout_size(53, 0.1) == 6
    assert holdout_size(200, 0.05) == 20 and holdout_size(300, 0.1) == 30
    assert holdout_size(10, 0.5) == 5 and holdout_size(1, 0.5) == 0


def test_holdout_is_stratified_deterministic_and_keeps_every_stratum_taught():
    pairs = [Pair(f"q{t}{i}", f"SELECT COUNT(*) FROM t{t}" + (" WHERE a = 1" if i % 2 else ""), {})
             for t in range(4) for i in range(6)] + [Pair("lonely", "SELECT * FROM t9", {})]
    held, kept, strata = choose(pairs, 0.25)
    assert len(held) == 7 and len(held) + len(kept) == len(pairs)
    assert "lonely" in {p.question for p in kept}                   # a stratum's only pair is never held out
    assert all(taken < total for taken, total in strata.values())
    assert {p.id for p in choose(list(reversed(pairs)), 0.25)[0]} == {p.id for p in held}
    assert {int(p.question[1]) for p in held} == {0, 1, 2, 3}          # every table gives its share


def test_rule_paraphrases_reword_templates_and_free_text():
    assert rule_paraphrase("服务区共有多少条记录？") == "一共有多少个服务区？"
    assert rule_paraphrase("How many service areas are there?") == "What is the total number of service areas?"
    assert rule_paraphrase("哪个公司的服务区最多，列出名称") not in ("哪个公司的服务区最多，列出名称", "")
    assert rule_paraphrase("List the total amount of each customer.") == "Show the total money of each client."


def test_levels_follow_pair_lint_and_prefer_the_generators_meta():
    from data_pipeline.evaluation.shape import complexity_level, pair_level
    three_joins = "SELECT a FROM t JOIN u ON u.id = t.u JOIN v ON v.id = u.v JOIN w ON w.id = v.w"
    assert complexity_level(three_joins) == "complex"                      # hard 1 + 3+ joins 1 = 2 < 3
    windowed = ("WITH m AS (SELECT date_trunc('month', d) AS mon, SUM(x) AS s FROM t GROUP BY 1) "
                "SELECT mon, RANK() OVER (ORDER BY s DESC) FROM m")
    assert complexity_level(windowed) == "highly complex"                  # CTE + window + time
    assert complexity_level("SELECT x FROM t WHERE note = 'JOIN (SELECT'") == "moderate"   # literals stripped
    assert complexity_level("SELECT COUNT(*) FROM t") == "simple"
    assert pair_level(three_joins, {"complexity": "simple"}) == "simple"
    assert pair_level(three_joins, {"complexity": "hard"}) == "complex"
