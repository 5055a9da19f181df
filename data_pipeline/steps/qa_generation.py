"""Step 2, `qa_generation`: business themes, then question–SQL pairs per theme, deduplicated, with coverage.

Inputs (from ddl_generation, in the task directory): `schema_snapshot.json` and the `*_detail.md` docs (read as
they are now, so a user's edits reach the LLM). Two modes, chosen by `ctx.llm`:
- LLM: one theme call, then one call per theme, run concurrently (at most `llm_max_concurrency`); a theme whose
  call fails is reported and skipped; whatever coverage is then missing is topped up with rule-based pairs,
  labelled `source: "rule_based"` in the sidecar.
- rule-based (no LLM configured): FK-cluster themes and SQL-first templates (data_pipeline/qa/synth.py).
Either way: exact and template duplicates are removed and counted, every table and FK edge is covered.

Outputs: `qs_{db}_{YYYYMMDD_HHMMSS}_pair.json` (flat [{question, sql}]) + `.meta.json` sidecar, `metadata.txt`
rewritten with the themes (write_metadata_txt; ddl_generation owns its first version, so it is not in
OUTPUT_PATTERNS), `metadata_detail.md`.
"""
from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import datetime
from pathlib import Path
from typing import Sequence

from core.db import database_name
from core.errors import AppError, LLMError, StepDependencyNotMet, ValidationFailed
from data_pipeline.qa.pair_quality import compute_coverage, count_by_difficulty, dedupe_pairs
from data_pipeline.qa.pairs import Pair, pairs_file_name, write_pairs
from data_pipeline.qa.detail import write_metadata_detail
from data_pipeline.schema.model import SNAPSHOT_FILE, Table, load_snapshot
from data_pipeline.semantics import MODEL_FILE, SemanticModel, build_semantic_model, read_model
from data_pipeline.semantics.build import apply_personal
from data_pipeline.semantics.model import merge_overrides
from data_pipeline.qa.model_pairs import cap_simple, model_pairs
from data_pipeline.qa.model_sql import Schema
from data_pipeline.qa.model_coverage import model_top_up
from data_pipeline.qa.rule_plan import TOP_UP_THEME, add_top_up, coverage_pairs, plan_theme_work
from data_pipeline.steps import STEP_OUTPUTS, early_checks, themes_ahead
from data_pipeline.steps.base import (MAX_WARNING_OBJECTS, OutputFile, StepCancelled, StepContext, StepResult,
                                      StepWarning)
from data_pipeline.qa.themes import Theme, llm_themes, rule_based_themes, theme_messages, theme_tables
from data_pipeline.lexicon.glossary import resolve_language
from data_pipeline.lexicon.vocabulary import display_name, speaking

OUTPUT_PATTERNS = STEP_OUTPUTS["qa_generation"]  # declared once in data_pipeline/steps/__init__.py
THEME_COUNT = 5          # themes asked of the LLM (the seeds' 5 themes x 10 pairs)
PAIRS_PER_THEME = 10
MAX_PAIRS_PER_CALL = 15
REPAIR_SEND_WAIT_S = 1.0   # longest wait for the repair calls sent ahead to leave before the top-up (issue 26)


def theme_budget(concurrency: int) -> tuple[int, int]:
    """(themes to ask for, pairs per theme) for about THEME_COUNT x PAIRS_PER_THEME pairs in as few rounds of
    `concurrency` parallel calls as possible: 5 themes on 4 slots take two rounds, the second with one call
    and three idle slots; 4 themes x 13 pairs take one (a call asking for 13 pairs is longer than one asking
    for 10, not twice as long). Never fewer than 3 themes or more than MAX_PAIRS_PER_CALL pairs per call.
    """
    themes = THEME_COUNT
    if 3 <= concurrency < THEME_COUNT:
        themes = concurrency * (THEME_COUNT // concurrency)
    elif concurrency < 3 and THEME_COUNT % concurrency:
        themes = max(3, concurrency * (THEME_COUNT // concurrency))
    pairs = min(MAX_PAIRS_PER_CALL, -(-THEME_COUNT * PAIRS_PER_THEME // themes))
    return themes, pairs


def _load_inputs(task_dir: Path) -> tuple[list[Table], dict[str, str]]:
    path = task_dir / SNAPSHOT_FILE
    if not path.is_file():
        raise StepDependencyNotMet(f"{SNAPSHOT_FILE} not found in the task directory: run ddl_generation first")
    tables, _ = load_snapshot(path)
    if not tables:
        raise StepDependencyNotMet(f"{SNAPSHOT_FILE} lists no tables: run ddl_generation first")
    docs = {}
    for t in tables:
        md = task_dir / f"{t.file_stem}_detail.md"
        if md.is_file():
            docs[display_name(t)] = md.read_text(encoding="utf-8")
    return tables, docs


def _rule_based(ctx: StepContext, tables: list[Table], model: SemanticModel
                ) -> tuple[list[Theme], list[Pair], list[str]]:
    themes = rule_based_themes(tables, ctx.business_context)
    ctx.logger.info(f"rule-based themes: {len(themes)} from the foreign-key graph of {len(tables)} tables")
    work = plan_theme_work(themes, tables)
    schema = Schema(model, tables)
    pairs: list[Pair] = []
    for i, theme in enumerate(themes, 1):
        ctx.check_cancelled()
        started = time.monotonic()
        own, _ = work[theme.topic_name]
        made = model_pairs(schema, [t.qualified for t in own], theme.topic_name, ctx.settings.qa_pairs_per_table)
        pairs.extend(made)
        ctx.progress(0.1 + 0.8 * i / len(themes), f"theme {i}/{len(themes)}: {theme.topic_name}")
        ctx.logger.info(f"theme {i}/{len(themes)} '{theme.topic_name}': {len(made)} pairs "
                        f"in {time.monotonic() - started:.2f}s")
    return themes, pairs, []


def _llm(ctx: StepContext, tables: list[Table], docs: dict[str, str], lang: str, model: SemanticModel
         ) -> tuple[list[Theme], list[Pair], list[str], list[dict]]:
    from data_pipeline.qa.llm import generate_theme_pairs
    started = time.monotonic()
    try:
        theme_count, per_theme = theme_budget(ctx.settings.llm_max_concurrency)
        themes, problems = llm_themes(ctx.llm, tables, docs, ctx.business_context, theme_count, lang, model,
                                      ask=themes_ahead.asker(ctx))   # the call ddl_generation sent, if it did
    except AppError as exc:
        raise LLMError(f"theme discovery failed: {exc.details}") from None
    if not themes:
        raise LLMError("theme discovery returned no theme that names a task table")
    ctx.logger.info(f"LLM themes: {len(themes)} in {time.monotonic() - started:.1f}s")
    ctx.progress(0.1, f"{len(themes)} themes")
    pairs: list[Pair] = []
    failed: list[dict] = []
    done = 0
    workers = max(1, min(ctx.settings.llm_max_concurrency, len(themes)))

    def one_theme(theme: Theme) -> tuple[list[Pair], list[str]]:
        ctx.check_cancelled()    # a queued theme does not start once the execution is being cancelled
        # the SQL guessed to fail is checked while the pairs are analysed: its repair can leave once they are
        return generate_theme_pairs(ctx.llm, theme, tables, docs, ctx.business_context, per_theme, lang, model,
                                    on_guarded=lambda sqls: early_checks.submit(ctx, sqls, guessed_only=True))

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qa_theme") as pool:
        futures = {pool.submit(one_theme, th): (th, time.monotonic()) for th in themes}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            if ctx.cancel_event.is_set():
                for f in pending:
                    f.cancel()
                ctx.check_cancelled()
            for f in finished:
                theme, t0 = futures[f]
                done += 1
                try:
                    made, issues = f.result()
                except StepCancelled:
                    raise
                except AppError as exc:   # LLMError and friends: reported, never content
                    failed.append({"theme": theme.topic_name, "error": exc.details})
                    ctx.logger.warning(f"theme {done}/{len(themes)} '{theme.topic_name}' failed: {exc.details}")
                    continue
                pairs.extend(made)
                early_checks.submit(ctx, [p.sql for p in made])   # checked while the other themes' calls run
                problems.extend(issues)
                ctx.progress(0.1 + 0.8 * done / len(themes), f"theme {done}/{len(themes)}: {theme.topic_name}")
                ctx.logger.info(f"theme {done}/{len(themes)} '{theme.topic_name}': {len(made)} pairs "
                                f"({len(issues)} rejected) in {time.monotonic() - t0:.1f}s")
    if len(failed) == len(themes):
        raise LLMError(f"question generation failed for every theme; first error: {failed[0]['error']}")
    return themes, pairs, problems, failed


def _repairs_ahead(ctx: StepContext, kept: list[Pair]) -> None:
    """The LLM pairs are final and in file order (the top-up only goes after them, and its rule-based SQL is never
    guessed to fail): when sql_validation follows in this process with LLM repair, the repair of those guessed
    and found failing leaves now, not after the top-up, the files, the step switch and the other checks
    (issue 26: the last pair answer -> first repair call gap)."""
    from data_pipeline.steps import sql_validation
    if sql_validation.repair_mode_of(ctx) == "llm":       # (checks exist only when sql_validation follows here)
        sender = early_checks.send_repairs_ahead(ctx, list(kept), lambda: sql_validation.new_repair_ahead(ctx))
        if sender is not None:
            # the top-up that comes next is CPU work that would slow the checks the repair calls wait for: they
            # leave first (a guessed SQL is mostly an unknown column, refused at once by EXPLAIN); a slow one
            # does not hold the step longer than REPAIR_SEND_WAIT_S
            sender.join(REPAIR_SEND_WAIT_S)


def _theme_of(themes: Sequence[Theme], tables: Sequence[Table]) -> dict[str, str]:
    """qualified table -> the first theme that lists it (where a top-up pair is filed)."""
    out: dict[str, str] = {}
    for th in themes:
        for t in theme_tables(th, tables):
            out.setdefault(t.qualified, th.topic_name)
    return out


def step_warnings(ctx: StepContext, coverage, problems: list[str], failed: list[dict],
                  theme_count: int) -> list[StepWarning]:
    """What the run could not do, as StepWarnings (first 20 names + a count; one log line each, never a list
    of thousands of names): coverage short of every table and FK edge, failed LLM themes, dropped LLM items."""
    warnings = []
    if not coverage.complete:
        warnings.append(StepWarning(
            "COVERAGE_SHORT",
            f"{len(coverage.missing_tables)} of {coverage.tables_total} tables and {len(coverage.missing_fk_edges)} "
            f"of {coverage.fk_edges_total} FK edges are not covered by any question-SQL pair",
            coverage.missing_tables + coverage.missing_fk_edges))
    if failed:
        warnings.append(StepWarning(
            "LLM_CALLS_FAILED", f"question generation failed for {len(failed)} of {theme_count} themes; their "
                                f"tables were covered by rule-based pairs where possible",
            [f"{f['theme']}: {f['error']}" for f in failed]))
    if problems:
        warnings.append(StepWarning("PAIRS_DROPPED", f"{len(problems)} LLM answers were rejected (not one read-only "
                                                     f"SELECT, unknown tables, personal data, a rule of the semantic "
                                                     f"model, or a malformed theme)", problems))
    for w in warnings:
        names = ", ".join(w.objects[:MAX_WARNING_OBJECTS])
        more = f" (+{len(w.objects) - MAX_WARNING_OBJECTS} more)" if len(w.objects) > MAX_WARNING_OBJECTS else ""
        ctx.logger.warning(f"{w.code}: {w.message}: {names}{more}")
    return warnings


def run(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    tables, docs = _load_inputs(ctx.task_dir)
    mode = "llm" if ctx.llm is not None else "rule_based"
    lang = question_language(ctx, tables)
    ctx.logger.info(f"qa_generation ({mode}, questions in {lang}) on {len(tables)} tables, {len(docs)} detail docs")
    model = _load_model(ctx, tables, lang)
    early_checks.start(ctx)     # the checks' connections open while the LLM works (sql_validation follows here)
    with speaking(lang):
        return _generate(ctx, tables, docs, mode, lang, started, model)


def theme_messages_for(ctx: StepContext) -> list[dict]:
    """The theme call's messages exactly as `run` builds them in LLM mode, from the task's files (ddl_generation
    sends the call ahead with them: steps/themes_ahead.py). Logs nothing; raises what `run` would raise."""
    tables, docs = _load_inputs(ctx.task_dir)
    lang = question_language(ctx, tables)
    model = _load_model(ctx, tables, lang, quiet=True)
    with speaking(lang):
        return theme_messages(tables, docs, ctx.business_context, theme_budget(ctx.settings.llm_max_concurrency)[0],
                              lang, model)


def _load_model(ctx: StepContext, tables: list[Table], lang: str, quiet: bool = False) -> SemanticModel:
    """The task's `semantic_model.json` as the user left it (built from the snapshot when there is none); its
    personal/public marks are applied to the tables before any question is asked. `quiet`: nothing logged."""
    try:
        model = read_model(ctx.task_dir)
    except ValueError as exc:
        raise ValidationFailed(f"{MODEL_FILE} cannot be used: {exc}; fix or delete it, or re-run ddl_generation",
                               message="语义模型文件无法读取") from None
    if model is None:
        try:
            model = build_semantic_model(tables, lang)
            if not quiet:
                ctx.logger.info(f"no {MODEL_FILE} in the task directory: built from {SNAPSHOT_FILE}")
        except Exception:     # a bug must not cost the questions: the older templates cover every table
            if not quiet:
                ctx.logger.error(f"no {MODEL_FILE} and none could be built: older templates only", exc_info=True)
            model = SemanticModel(language=lang)
    else:
        problems = merge_overrides(model, model.overrides)
        for p in problems[:MAX_WARNING_OBJECTS] if not quiet else ():
            ctx.logger.warning(f"{MODEL_FILE} override not applied: {p}")
    changed = apply_personal(tables, model)
    if changed and not quiet:
        ctx.logger.info(f"{MODEL_FILE}: personal/public marks of {len(changed)} columns applied: "
                        f"{', '.join(changed[:MAX_WARNING_OBJECTS])}")
    return model


def question_language(ctx: StepContext, tables: Sequence[Table]) -> str:
    """The task's `question_language` (zh default, en, auto: from the business context and DB comments)."""
    comments = [t.comment for t in tables] + [c.comment for t in tables for c in t.columns]
    return resolve_language(ctx.params.get("question_language"), ctx.business_context, comments)


def _generate(ctx: StepContext, tables: list[Table], docs: dict[str, str], mode: str, lang: str,
              started: float, model: SemanticModel) -> StepResult:
    ctx.progress(0.0, "themes")
    failed: list[dict] = []
    if ctx.llm is not None:
        themes, raw, problems, failed = _llm(ctx, tables, docs, lang, model)
    else:
        themes, raw, problems = _rule_based(ctx, tables, model)
    dedup = dedupe_pairs(raw)
    if ctx.llm is None:
        dedup.kept[:] = cap_simple(dedup.kept)
    else:
        _repairs_ahead(ctx, dedup.kept)
    coverage = compute_coverage([p.sql for p in dedup.kept], tables)
    top_up = 0
    if not coverage.complete:
        # the top-up is never deduplicated away: it is there because nothing kept covers its table or edge
        theme_of = _theme_of(themes, tables)
        from_model, left_tables, left_edges = model_top_up(Schema(model, tables), coverage.missing_tables,
                                                           coverage.missing_fk_edges, theme_of, TOP_UP_THEME)
        top_up = add_top_up(dedup.kept, from_model + coverage_pairs(tables, sorted(left_tables), sorted(left_edges),
                                                                    theme_of))
        ctx.logger.info(f"coverage top-up: {top_up} rule-based pairs for {len(coverage.missing_tables)} tables "
                        f"and {len(coverage.missing_fk_edges)} FK edges not covered")
        coverage = compute_coverage([p.sql for p in dedup.kept], tables)
    warnings = step_warnings(ctx, coverage, problems, failed, len(themes))
    pairs = dedup.kept
    if not pairs:
        raise AppError("no question-SQL pair could be generated", message="问答对生成失败")

    early_checks.submit(ctx, [p.sql for p in pairs])   # the top-up too, while the files are written
    ctx.progress(0.9, "writing files")
    db = ctx.params.get("db_name") or database_name(ctx.business_url) or "db"
    stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
    pair_file = ctx.task_dir / pairs_file_name(db, stamp)
    by_difficulty = count_by_difficulty(p.meta.get("difficulty") for p in pairs)
    by_source = {s: sum(1 for p in pairs if p.meta.get("source") == s) for s in ("llm", "rule_based")}
    generator = ctx.llm.describe() if ctx.llm is not None else {"generator": "rule_based"}
    from data_pipeline.qa.llm import count_rejections
    rejected = count_rejections(problems)   # LLM answers dropped, by reason (the quality report counts them)
    write_pairs(pair_file, pairs, {"generator": generator, "themes": [t.topic_name for t in themes],
                                   "dedupe": dedup.counts, "coverage": coverage.as_dict(),
                                   "llm_rejections": rejected})
    from data_pipeline.schema.metadata_file import write_metadata_txt
    write_metadata_txt(ctx.task_dir, tables, themes=[t.as_metadata() for t in themes])
    summary = {
        "themes": len(themes), "pairs": len(pairs), "by_difficulty": by_difficulty,
        "duplicates_removed": dedup.counts, "pairs_by_source": by_source, "coverage_top_up": top_up,
        "llm_rejections": rejected,
        "tables_covered": coverage.tables_covered, "tables_total": coverage.tables_total,
        "fk_edges_covered": coverage.fk_edges_covered, "fk_edges_total": coverage.fk_edges_total,
        "source": mode, "question_language": lang, "failed_themes": failed, "pair_file": pair_file.name,
        "llm_usage": ctx.llm.usage.to_dict() if ctx.llm is not None else None,
        "duration_s": round(time.monotonic() - started, 2)}
    write_metadata_detail(ctx.task_dir / "metadata_detail.md", themes, pairs, summary, generator,
                          ctx.business_context)
    ctx.progress(1.0, f"{len(pairs)} pairs")
    ctx.logger.info(f"qa_generation done: {len(pairs)} pairs in {len(themes)} themes, duplicates removed "
                    f"{dedup.counts}, tables {coverage.tables_covered}/{coverage.tables_total}, FK edges "
                    f"{coverage.fk_edges_covered}/{coverage.fk_edges_total}, {summary['duration_s']}s")
    return StepResult(summary, [
        OutputFile(pair_file.name, "json", "Question-SQL训练数据对", is_primary=True),
        OutputFile(pair_file.name[: -len(".json")] + ".meta.json", "json", "问答对元数据（主题、难度、来源）"),
        OutputFile("metadata.txt", "txt", "表结构与业务主题元数据（SQL脚本）"),
        OutputFile("metadata_detail.md", "md", "业务主题分析详情")], warnings)
