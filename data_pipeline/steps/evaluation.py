"""Optional step 5, `evaluation`: what the loaded training data does for retrieval and for SQL accuracy.

Runs after training_load (in complete mode only with the task's `enable_evaluation: true`; in step mode when
asked). Inputs: `eval_holdout.json` (the pairs training_load held out and did not load) and the vector store the
task loaded. For each held-out question and a reworded variant of it (data_pipeline.evaluation.paraphrase: LLM
mode with one batched call when an LLM is configured, else rule-based), retrieval exactly as Vanna does it
(data_pipeline.evaluation.retrieval); with an LLM, execution accuracy of at most `eval_max_questions` questions,
twice (Vanna's prompt with the retrieved context, and a DDL-only baseline; data_pipeline.evaluation.accuracy).
Outputs `evaluation_report.json` and `evaluation_report.md`; the quality report links to them.

Refuses (a step error) when the task has nothing loaded or fewer than MIN_HELD_OUT held-out pairs. A failure on
one question (LLM, guard, database) is a miss with its reason, never a failed step.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Optional

from core.errors import StepDependencyNotMet
from data_pipeline.evaluation import holdout as eval_holdout
from data_pipeline.evaluation import paraphrase, report, retrieval
from data_pipeline.evaluation.accuracy import Question, ResultReader, run_questions
from data_pipeline.evaluation.shape import LEVELS, pair_level
from data_pipeline.steps import STEP_OUTPUTS
from data_pipeline.steps.base import OutputFile, StepContext, StepResult

OUTPUT_PATTERNS = STEP_OUTPUTS["evaluation"]  # declared once in data_pipeline/steps/__init__.py
DEFAULT_MAX_QUESTIONS = 50


def loaded_summary(meta_db, task_id: str) -> Optional[dict]:
    """training_load's summary in the task row (None when the row or the summary is missing)."""
    from data_pipeline.store import tasks as task_store
    try:
        row = task_store.get_task(meta_db, task_id)
    except Exception:  # noqa: BLE001 - a CLI run without tracking has no row: the files decide then
        return None
    steps = ((row or {}).get("result") or {}).get("steps") or {}
    summary = steps.get("training_load")
    return summary if isinstance(summary, dict) else None


def _max_questions(params: dict) -> int:
    try:
        value = int(params.get("eval_max_questions") or DEFAULT_MAX_QUESTIONS)
    except (TypeError, ValueError):
        value = DEFAULT_MAX_QUESTIONS
    return max(1, value)


def interleave_levels(entries: list[dict]) -> list[dict]:
    """Round-robin over the levels (hold-out order inside each), so a capped sample keeps every level."""
    queues = {level: [e for e in entries if e["level"] == level] for level in LEVELS}
    queues["other"] = [e for e in entries if e["level"] not in LEVELS]
    out = []
    while any(queues.values()):
        for q in queues.values():
            if q:
                out.append(q.pop(0))
    return out


def make_paraphrases(ctx: StepContext, pairs: list[dict]) -> tuple[dict[str, str], dict]:
    """{id: reworded question} and how they were made (mode, LLM fallbacks)."""
    info = {"mode": "rule_based", "llm_fallbacks": 0}
    by_llm: dict[str, str] = {}
    if ctx.llm is not None:
        info["mode"] = "llm"
        language = paraphrase.language_of(pairs[0]["question"]) if pairs else "zh"
        try:
            by_llm = paraphrase.llm_paraphrases(ctx.llm, pairs, language)
        except Exception as exc:  # noqa: BLE001 - the rule-based wording stands in; the report says so
            from core.secrets import scrub_text
            info["llm_error"] = scrub_text(str(getattr(exc, "details", exc)))[:300]
            ctx.logger.warning(f"paraphrase call failed, rule-based paraphrases used: {info['llm_error']}")
    out = {}
    for p in pairs:
        if p["id"] in by_llm:
            out[p["id"]] = by_llm[p["id"]]
        else:
            out[p["id"]] = paraphrase.rule_paraphrase(p["question"], p.get("template"))
            info["llm_fallbacks"] += int(info["mode"] == "llm")
    return out, info


def loaded_pairs(task_dir, held_ids: set) -> list:
    """The pair file's pairs that were not held out (what training_load loaded, give or take invalid ones)."""
    from data_pipeline.qa import pairs as pair_files
    path = pair_files.latest_pairs_file(task_dir)
    if path is None:
        return []
    try:
        return [p for p in pair_files.read_pairs(path) if p.id not in held_ids]
    except (OSError, ValueError):
        return []


def own_sample(pairs: list, size: int) -> list[dict]:
    """A deterministic sample of loaded pairs (by a hash of the id), as hold-out-like entries."""
    import hashlib
    ranked = sorted(pairs, key=lambda p: hashlib.sha1(f"own:{p.id}".encode()).hexdigest())[:size]
    return [{"id": p.id, "question": p.question, "sql": p.sql, "level": pair_level(p.sql, p.meta),
             "template": (p.meta or {}).get("template")} for p in ranked]


def run(ctx: StepContext) -> StepResult:
    from data_pipeline.tasks import write_json_atomic
    from data_pipeline.vectors import target as vector_target

    started = time.perf_counter()
    summary_row = loaded_summary(ctx.meta_db, ctx.task_id)
    problem = eval_holdout.evaluable_problem(ctx.task_dir, summary_row,
                                             tracked=summary_row is not None or bool(ctx.execution_id))
    if problem:
        raise StepDependencyNotMet(problem)
    data = eval_holdout.read_holdout(ctx.task_dir)
    pairs = data["pairs"]
    for p in pairs:
        p["id"] = p.get("id") or f"q{pairs.index(p)}"
        p["level"] = p.get("level") if p.get("level") in LEVELS else pair_level(p["sql"], None)
    ctx.logger.info(f"evaluating {len(pairs)} held-out pairs from {eval_holdout.HOLDOUT_FILE}")

    held_ids = {p["id"] for p in pairs}
    kept = loaded_pairs(ctx.task_dir, held_ids)
    own = own_sample(kept, max(len(pairs), 20))
    ctx.progress(0.02, "paraphrasing")
    reworded, para_info = make_paraphrases(ctx, pairs + own)
    ctx.check_cancelled()

    ctx.progress(0.1, "retrieving")
    target = vector_target.for_task(ctx.settings, ctx.meta_db.url, ctx.params)
    asked = pairs + own
    questions = [p["question"] for p in asked] + [reworded[p["id"]] for p in asked]
    t_retrieve = time.perf_counter()
    got, embedding = retrieval.retrieve_all(ctx.settings, ctx.meta_db, target, questions,
                                            check_cancelled=ctx.check_cancelled)
    retrieve_seconds = time.perf_counter() - t_retrieve
    verbatim_all, reworded_all = got[:len(asked)], got[len(asked):]
    verbatim = verbatim_all[:len(pairs)]
    entries = [{"id": p["id"], "level": p["level"], "question": p["question"], "paraphrase": reworded[p["id"]],
                "verbatim_score": retrieval.score(p["sql"], v), "paraphrase_score": retrieval.score(p["sql"], r)}
               for p, v, r in zip(pairs, verbatim, reworded_all[:len(pairs)])]
    own_entries = [{"id": p["id"], "level": p["level"], "question": p["question"], "paraphrase": reworded[p["id"]],
                    "verbatim_score": retrieval.score_own(p["sql"], v),
                    "paraphrase_score": retrieval.score_own(p["sql"], r)}
                   for p, v, r in zip(own, verbatim_all[len(pairs):], reworded_all[len(pairs):])]
    ceiling = retrieval.hit_ceiling([p["sql"] for p in pairs], [p.sql for p in kept])
    retrieval_part = report.retrieval_section(entries, ceiling, own_entries)
    # the store is read as Vanna reads it: another task may have loaded a held-out pair; say so
    leaks = [p["question"] for p, v in zip(pairs, verbatim)
             if any((hit.get("question") or "").strip() == p["question"].strip() for hit in v.sql)]
    retrieval_part["holdout_leaks"] = {"count": len(leaks), "questions": leaks[:20]}
    if leaks:
        ctx.logger.warning(f"{len(leaks)} held-out question(s) are in the vector store anyway (loaded by another "
                           "task into the same store): their verbatim retrieval is not a hold-out measurement")
    own_part = retrieval_part["loaded_pairs"]
    ctx.logger.info("retrieval: table recall@5 verbatim {} / paraphrase {}, pair hit@5 {} / {} ({} held-out "
                    "questions); own pair recall@5 {} / {} ({} loaded pairs); {:.2f}s".format(
                        retrieval_part["verbatim"]["table_recall"]["5"], retrieval_part["paraphrase"]["table_recall"]["5"],
                        retrieval_part["verbatim"]["pair_hit"]["5"], retrieval_part["paraphrase"]["pair_hit"]["5"],
                        len(pairs), own_part["verbatim"]["pair_hit"]["5"], own_part["paraphrase"]["pair_hit"]["5"],
                        len(own), retrieve_seconds))
    ctx.progress(0.3, "retrieval measured")

    max_questions = _max_questions(ctx.params)
    execution = execution_part(ctx, pairs, verbatim, max_questions)

    body = {
        "generated_at": datetime.now().isoformat(timespec="seconds"), "task_id": ctx.task_id,
        "holdout": {"file": eval_holdout.HOLDOUT_FILE, "pairs_total": data.get("pairs_total"),
                    "ratio": data.get("ratio"), "evaluated": len(pairs)},
        "paraphrase": para_info, "embedding": {**embedding, "kind": _embedder_kind(embedding)},
        "retrieval": retrieval_part, "execution": execution, "definitions": report.DEFINITIONS,
        "duration_seconds": round(time.perf_counter() - started, 3),
        "retrieval_seconds": round(retrieve_seconds, 3),
    }
    body["headline"] = report.quality_link(body)   # what the quality report shows of it
    body["holdout"]["pairs_file"] = data.get("pairs_file")
    history = _read_history(ctx.task_dir)
    entry = report.history_entry(body)
    body["embedders"] = report.embedder_comparison(history, entry)
    write_json_atomic(ctx.task_dir / report.HISTORY_FILE,
                      {"runs": (history + [entry])[-report.HISTORY_LIMIT:]})
    write_json_atomic(ctx.task_dir / report.REPORT_FILE, body)
    (ctx.task_dir / report.SUMMARY_FILE).write_text(report.render_markdown(body), encoding="utf-8")
    ctx.progress(1.0, "evaluation report written")
    summary = {**body["headline"], "questions": len(pairs), "paraphrase_mode": para_info["mode"],
               "embedding": body["embedding"], "duration_seconds": body["duration_seconds"]}
    return StepResult(summary=summary, outputs=[
        OutputFile(report.REPORT_FILE, "json", "检索与SQL准确率评估报告", is_primary=True),
        OutputFile(report.SUMMARY_FILE, "md", "评估报告摘要")])


def _read_history(task_dir) -> list:
    import json
    try:
        runs = json.loads((task_dir / report.HISTORY_FILE).read_text(encoding="utf-8")).get("runs")
    except (OSError, ValueError, AttributeError):
        return []
    return [r for r in runs if isinstance(r, dict)] if isinstance(runs, list) else []


def _embedder_kind(embedding: dict) -> str:
    return "lexical (built-in hashing)" if str(embedding.get("model", "")).startswith("builtin-hashing") \
        else "remote"


def execution_part(ctx: StepContext, pairs: list[dict], verbatim: list, max_questions: int) -> dict:
    """EX with context and with the DDL-only baseline, or not_run without an LLM."""
    if ctx.llm is None:
        return report.not_run("no LLM configured (LLM_BASE_URL / LLM_MODEL): retrieval only")
    chosen = interleave_levels([{**p, "retrieved": v} for p, v in zip(pairs, verbatim)])[:max_questions]
    questions = [Question(p["id"], p["question"], p["sql"], p["level"], p["retrieved"].ddl,
                          p["retrieved"].documentation, p["retrieved"].sql) for p in chosen]
    reader = ResultReader(ctx.business_url, ctx.settings)
    t0 = time.perf_counter()
    try:
        outcomes, skipped = run_questions(
            questions, ctx.llm, reader, concurrency=ctx.settings.llm_max_concurrency,
            progress=lambda done, total: ctx.progress(0.3 + 0.68 * done / max(1, total),
                                                      f"SQL accuracy {done}/{total}"),
            check_cancelled=ctx.check_cancelled)
    finally:
        reader.close()
    usage = ctx.llm.usage.to_dict() if hasattr(ctx.llm, "usage") else None
    part = report.execution_section(outcomes, skipped, model=getattr(ctx.llm, "model", None),
                                    max_questions=max_questions, usage=usage)
    ctx.logger.info(f"execution accuracy: EX {part['context']['ex']} with context vs {part['baseline']['ex']} "
                    f"DDL only over {part['questions']} questions ({len(part['misses'])} misses, "
                    f"{time.perf_counter() - t0:.1f}s)")
    return part
