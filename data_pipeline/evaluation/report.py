"""The evaluation report: figures from per-question scores and outcomes, as JSON and as a Markdown summary. Pure.

`evaluation_report.json` (REPORT_FILE) keys: `retrieval` {verbatim, paraphrase: {n, table_recall{k}, pair_hit{k},
mrr}, by_level{level: {verbatim, paraphrase}}, pair_hit_ceiling, questions[]}; `execution` {status, context and
baseline {n, ex, subset}, lift_points {ex, subset}, by_level, misses[] (every miss: question, gold_sql,
generated_sql, arm, reason)} or {status: not_run, reason}; `holdout`, `paraphrase`, `embedding`, `definitions`.
Rates are 0..1; lifts are percentage points (context minus baseline).
"""
from __future__ import annotations

from typing import Optional, Sequence

from data_pipeline.evaluation.retrieval import K_VALUES, aggregate
from data_pipeline.evaluation.shape import LEVELS

REPORT_FILE = "evaluation_report.json"
SUMMARY_FILE = "evaluation_report.md"
HISTORY_FILE = "evaluation_history.json"   # one headline per run, kept across re-runs (not cleaned)
HISTORY_LIMIT = 50
DEFINITIONS = {
    "table_recall@k": "share of the gold SQL's tables whose DDL is among the first k rows Vanna's get_related_ddl "
                      "returns (same query as POST /vector/search)",
    "pair_hit@k": "one of the first k pairs get_similar_question_sql returns reads the same tables with the same SQL "
                  "skeleton (literals and names masked)",
    "mrr": "mean of 1/rank of the first such pair within the first 10 (0 when none)",
    "own_pair_recall@k": "for a sample of loaded pairs: the pair itself (same SQL) is among the first k pairs "
                         "get_similar_question_sql returns for its own question (verbatim) or a rewording "
                         "(paraphrase) — Vanna #836's complaint, measured",
    "pair_hit_ceiling": "share of the questions for which some loaded pair has the same tables and skeleton",
    "ex": "BIRD execution accuracy: the generated SQL's rows equal the gold's as a multiset (in order when the gold "
          "orders with LIMIT; ties free), numbers within 1e-6, NULL equals only NULL",
    "subset": "defog sql-eval: the gold's columns are among the generated result's columns with the same rows",
    "lift_points": "context minus baseline, in percentage points; baseline = Vanna's prompt with the related DDL "
                   "only (no documentation, no similar pairs)",
}


def retrieval_section(entries: Sequence[dict], ceiling: Optional[float], own: Sequence[dict] = ()) -> dict:
    """entries: {id, level, question, paraphrase, verbatim_score, paraphrase_score} of the held-out questions;
    own: the same for the sample of loaded pairs (scored with retrieval.score_own)."""
    by_level = {}
    for level in LEVELS:
        mine = [e for e in entries if e["level"] == level]
        if mine:
            by_level[level] = {"verbatim": aggregate([e["verbatim_score"] for e in mine]),
                               "paraphrase": aggregate([e["paraphrase_score"] for e in mine])}
    return {"k": list(K_VALUES),
            "verbatim": aggregate([e["verbatim_score"] for e in entries]),
            "paraphrase": aggregate([e["paraphrase_score"] for e in entries]),
            "by_level": by_level, "pair_hit_ceiling": ceiling,
            "questions": [_question_row(e) for e in entries],
            "loaded_pairs": {"verbatim": aggregate([e["verbatim_score"] for e in own]),
                             "paraphrase": aggregate([e["paraphrase_score"] for e in own]),
                             "examples": [_question_row(e) for e in own[:20]]}}


def _question_row(e: dict) -> dict:
    def brief(s: dict) -> dict:
        return {"table_recall@5": round(s["table_recall"][5], 4), "pair_hit@5": bool(s["pair_hit"][5]),
                "first_hit_rank": s["first_hit_rank"], "top_question": s["top_question"]}
    return {"id": e["id"], "level": e["level"], "question": e["question"], "paraphrase": e["paraphrase"],
            "verbatim": brief(e["verbatim_score"]), "reworded": brief(e["paraphrase_score"])}


def _rates(outcomes: Sequence[dict]) -> dict:
    n = len(outcomes)
    return {"n": n, "ex": round(sum(o["ex"] for o in outcomes) / n, 4) if n else None,
            "subset": round(sum(o["subset"] for o in outcomes) / n, 4) if n else None}


def _lift(context: dict, baseline: dict) -> dict:
    return {m: (round(100 * (context[m] - baseline[m]), 1) if context[m] is not None and baseline[m] is not None
                else None) for m in ("ex", "subset")}


def execution_section(outcomes: Sequence[dict], skipped: Sequence[dict], *, model: Optional[str],
                      max_questions: int, usage: Optional[dict] = None) -> dict:
    arms = {arm: [o for o in outcomes if o["arm"] == arm] for arm in ("context", "baseline")}
    context, baseline = _rates(arms["context"]), _rates(arms["baseline"])
    by_level = {}
    for level in LEVELS:
        c = _rates([o for o in arms["context"] if o["level"] == level])
        b = _rates([o for o in arms["baseline"] if o["level"] == level])
        if c["n"] or b["n"]:
            by_level[level] = {"context": c, "baseline": b, "lift_points": _lift(c, b)}
    baseline_ex = {o["id"]: o["ex"] for o in arms["baseline"]}
    misses = [{k: o.get(k) for k in ("id", "arm", "level", "question", "gold_sql", "generated_sql", "reason",
                                     "subset")}
              for o in outcomes if not o["ex"]]
    # worst first: context misses the baseline got right (the context made it worse), then other context misses
    misses.sort(key=lambda m: (m["arm"] != "context", not (m["arm"] == "context" and baseline_ex.get(m["id"])),
                               m["id"]))
    for m in misses:
        m["baseline_ex"] = baseline_ex.get(m["id"]) if m["arm"] == "context" else None
    return {"status": "completed", "model": model, "questions": context["n"], "max_questions": max_questions,
            "context": context, "baseline": baseline, "lift_points": _lift(context, baseline), "by_level": by_level,
            "misses": misses, "gold_not_runnable": list(skipped), "llm_usage": usage}


def not_run(reason: str) -> dict:
    return {"status": "not_run", "reason": reason}


def _pct(x: Optional[float]) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def render_markdown(report: dict) -> str:
    r, e = report["retrieval"], report["execution"]
    lines = [f"# Evaluation of task {report.get('task_id')}", "",
             f"Held out {report['holdout']['evaluated']} of {report['holdout']['pairs_total']} pairs "
             f"(`{report['holdout']['file']}`, ratio {report['holdout']['ratio']}); embedder "
             f"`{report['embedding']['model']}`; paraphrases {report['paraphrase']['mode']}.", "",
             "## Retrieval (as Vanna retrieves)", "",
             "| question wording | n | table recall@1 | @5 | @10 | pair hit@1 | @5 | @10 | MRR |",
             "|---|---|---|---|---|---|---|---|---|"]
    for variant in ("verbatim", "paraphrase"):
        a = r[variant]
        lines.append(f"| {variant} | {a['n']} | " + " | ".join(_pct(a['table_recall'][str(k)]) for k in K_VALUES)
                     + " | " + " | ".join(_pct(a['pair_hit'][str(k)]) for k in K_VALUES)
                     + f" | {a['mrr'] if a['mrr'] is not None else '–'} |")
    own = r.get("loaded_pairs") or {}
    if own.get("verbatim", {}).get("n"):
        lines += ["", "Loaded pairs asked again (is the pair itself retrieved?):", "",
                  "| question wording | n | own pair @1 | @5 | @10 | MRR |", "|---|---|---|---|---|---|"]
        for variant in ("verbatim", "paraphrase"):
            a = own[variant]
            lines.append(f"| {variant} | {a['n']} | " + " | ".join(_pct(a['pair_hit'][str(k)]) for k in K_VALUES)
                         + f" | {a['mrr']} |")
    leaks = (r.get("holdout_leaks") or {}).get("count")
    if leaks:
        lines += ["", f"**{leaks} held-out question(s) were found in the store anyway** (another task loaded them into "
                      "the same vector store): the verbatim figures overstate a true hold-out."]
    lines += ["", f"Pair hit ceiling (a loaded pair of the same shape exists): {_pct(r['pair_hit_ceiling'])}.", "",
              "| level | n | pair hit@5 verbatim | pair hit@5 paraphrase | table recall@5 paraphrase |",
              "|---|---|---|---|---|"]
    for level, v in r["by_level"].items():
        lines.append(f"| {level} | {v['verbatim']['n']} | {_pct(v['verbatim']['pair_hit']['5'])} | "
                     f"{_pct(v['paraphrase']['pair_hit']['5'])} | {_pct(v['paraphrase']['table_recall']['5'])} |")
    lines += ["", "## Execution accuracy", ""]
    if e.get("status") != "completed":
        lines.append(f"Not run: {e.get('reason')}.")
    else:
        lines += [f"{e['questions']} questions, model `{e['model']}`.", "",
                  "| prompt | EX | subset |", "|---|---|---|",
                  f"| with retrieved context | {_pct(e['context']['ex'])} | {_pct(e['context']['subset'])} |",
                  f"| DDL only (baseline) | {_pct(e['baseline']['ex'])} | {_pct(e['baseline']['subset'])} |",
                  f"| lift (points) | {e['lift_points']['ex']} | {e['lift_points']['subset']} |", "",
                  "| level | n | EX context | EX baseline | lift |", "|---|---|---|---|---|"]
        for level, v in e["by_level"].items():
            lines.append(f"| {level} | {v['context']['n']} | {_pct(v['context']['ex'])} | {_pct(v['baseline']['ex'])}"
                         f" | {v['lift_points']['ex']} |")
        if e["misses"]:
            lines += ["", f"### Misses ({len(e['misses'])}, worst first)", ""]
            for m in e["misses"]:
                lines += [f"- **{m['arm']}** [{m['level']}] {m['question']}", f"  - why: {m['reason']}",
                          f"  - gold: `{_one_line(m['gold_sql'])}`",
                          f"  - generated: `{_one_line(m['generated_sql'] or '(none)')}`"]
    lines += ["", "## Definitions", ""] + [f"- **{k}**: {v}" for k, v in DEFINITIONS.items()]
    return "\n".join(lines) + "\n"


def _one_line(sql: str) -> str:
    return " ".join((sql or "").split()).replace("`", "'")[:400]


def quality_link(report: dict) -> dict:
    """What the quality report shows of the evaluation: the files and the headline figures."""
    r, e = report["retrieval"], report["execution"]
    headline = {"report_file": REPORT_FILE, "summary_file": SUMMARY_FILE,
                "table_recall@5": {v: r[v]["table_recall"]["5"] for v in ("verbatim", "paraphrase")},
                "pair_hit@5": {v: r[v]["pair_hit"]["5"] for v in ("verbatim", "paraphrase")},
                "own_pair_recall@5": {v: (r.get("loaded_pairs") or {}).get(v, {}).get("pair_hit", {}).get("5")
                                      for v in ("verbatim", "paraphrase")},
                "execution": e.get("status")}
    if e.get("status") == "completed":
        headline.update(ex_context=e["context"]["ex"], ex_baseline=e["baseline"]["ex"],
                        ex_lift_points=e["lift_points"]["ex"])
    return headline


def history_entry(report: dict) -> dict:
    """What a run leaves in evaluation_history.json: when, which embedder, which hold-out, the headline."""
    holdout = report.get("holdout") or {}
    return {"generated_at": report.get("generated_at"), "embedding": report.get("embedding"),
            "holdout": {"pairs_file": holdout.get("pairs_file"), "evaluated": holdout.get("evaluated")},
            "headline": report.get("headline")}


def embedder_comparison(history: Sequence[dict], current: dict) -> list[dict]:
    """The latest entry per embedding model among runs on the same hold-out as `current` (same pair file and
    size), current first: the console shows them side by side when there are two or more."""
    same = [h for h in history if isinstance(h, dict) and h.get("holdout") == current.get("holdout")]
    latest: dict = {}
    for h in same + [current]:
        model = (h.get("embedding") or {}).get("model")
        latest[model] = h
    current_model = (current.get("embedding") or {}).get("model")
    return [latest[current_model]] + [h for m, h in latest.items() if m != current_model]
