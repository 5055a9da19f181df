"""Step 1, `ddl_generation`: read the listed tables, fill missing comments, write DDL, Markdown and metadata.

Outputs in the task directory, per table `{file_stem}.ddl` and `{file_stem}_detail.md` (file_stem is the table
name in `public`, `schema__table` elsewhere), plus `metadata.txt` (a SQL script) and `schema_snapshot.json`
(what later steps read). Existing database comments are kept (PII-shaped substrings masked); missing ones come from the LLM
(`ctx.llm`) or, without one, from the rule-based generator, and are marked as generated. Tables run
concurrently (at most `llm_max_concurrency` at a time); a table that fails is reported in the summary and
the step fails only when every table failed. Files are written atomically under fixed names, so a re-run
replaces them.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Optional

import psycopg2

from core.db import first_line
from core.errors import AppError, TableListMissing
from data_pipeline.schema import access as table_access
from data_pipeline.lexicon.glossary import resolve_language
from data_pipeline.schema import comments
from data_pipeline.schema import introspect as introspection
from data_pipeline.schema.ddl_render import render_ddl, render_md
from data_pipeline.schema.metadata_file import METADATA_FILE, write_metadata_txt
from data_pipeline.schema.model import SNAPSHOT_FILE, Table, save_snapshot
from data_pipeline.schema.time_range import TimeRanges, read_time_ranges
from data_pipeline.semantics import MODEL_FILE, build_semantic_model, read_model, write_model
from data_pipeline.semantics.build import event_time_columns
from data_pipeline.semantics.model import MEASURE_ROLES
from data_pipeline.semantics.render import table_lines
from data_pipeline.semantics.roles import column_role
from data_pipeline.steps import STEP_OUTPUTS, themes_ahead
from data_pipeline.steps.base import OutputFile, StepContext, StepResult, StepWarning

OUTPUT_PATTERNS = STEP_OUTPUTS["ddl_generation"]  # declared once in data_pipeline/steps/__init__.py
RULE_LABEL = "规则生成（未配置大模型）"
DB_LABEL = "数据库原有注释"
_LABELS_EN = {RULE_LABEL: "by rules (no LLM configured)", DB_LABEL: "the database's own comments"}


def generator_label(llm, language: str = "zh") -> str:
    """How missing comments are produced, in words for the outputs."""
    if llm is None:
        return _LABELS_EN[RULE_LABEL] if language == "en" else RULE_LABEL
    model = getattr(llm, "model", "") or "LLM"
    return f"by an LLM ({model})" if language == "en" else f"大模型生成（{model}）"


def table_label(table: Table, generator: str, language: str = "zh") -> str:
    if language == "en":
        own = _LABELS_EN[DB_LABEL]
        return own if table.comment_source == "database" else \
            f"{own}; the missing ones are generated {generator} and marked [generated]"
    return DB_LABEL if table.comment_source == "database" else f"{DB_LABEL}；缺失的由{generator}，已标记 [生成]"


def fill_comments(table: Table, llm, business_context: str, by_name: dict, language: str = "zh") -> int:
    """Generated-comment count; LLM when given, else rule-based, in the task's language. Raises on LLM failure."""
    if llm is None:
        return comments.apply_rule_based(table, by_name, language)
    return comments.apply_llm(table, llm, business_context, by_name, language)


def measure_columns(table: Table) -> set[str]:
    """The columns the semantic model's rule makes measures (before the model and its overrides exist)."""
    return {c.name for c in table.columns if column_role(c, table) in MEASURE_ROLES}


def write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def process_table(table: Table, llm, business_context: str, by_name: dict, known: set, task_dir: Path,
                  generator: str, language: str = "zh") -> dict:
    """Comments + both files for one table; returns its counts."""
    started = time.monotonic()
    generated = fill_comments(table, llm, business_context, by_name, language)
    label = table_label(table, generator, language)
    write_text(task_dir / f"{table.file_stem}.ddl", render_ddl(table, known, source_label=label, language=language))
    write_text(task_dir / f"{table.file_stem}_detail.md",
               render_md(table, source_label=label, language=language, measures=measure_columns(table)))
    existing = (1 if table.comment else 0) + sum(1 for c in table.columns if c.comment)
    return {"columns": len(table.columns), "generated": generated, "existing": existing,
            "pii_columns": sum(1 for c in table.columns if c.pii_kind), "seconds": time.monotonic() - started}


def _log_privacy(log, tables: list[Table]) -> None:
    """One line for operators: how many columns were masked (by kind) and which were withheld as secrets."""
    kinds: dict[str, int] = {}
    secrets = []
    for t in tables:
        for c in t.columns:
            if c.pii_kind == "secret":
                secrets.append(f"{t.qualified}.{c.name}")
            elif c.pii_kind:
                kinds[c.pii_kind] = kinds.get(c.pii_kind, 0) + 1
    log.info("privacy: %d columns masked (%s); %d withheld as secrets, never sampled%s", sum(kinds.values()),
             ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none", len(secrets),
             f" ({', '.join(secrets[:20])}{' ...' if len(secrets) > 20 else ''})" if secrets else "")


def run(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    refs = list(ctx.tables)
    if not refs:
        raise TableListMissing("the task has no tables to process: upload a table list first")
    log = ctx.logger
    generator = generator_label(ctx.llm)
    log.info("reading %d tables from the business database", len(refs))
    ctx.progress(0.0, "reading catalog")
    access = table_access.check_tables(ctx.business_url, refs, ctx.settings)
    for r in access.unreadable:
        log.warning("table %s: the role may not read it (no SELECT privilege); skipped", r.qualified)
    for r in access.unpopulated:
        log.warning("materialized view %s has never been refreshed (no data); skipped", r.qualified)
    tables, missing = introspection.introspect(ctx.business_url, access.readable, ctx.settings)
    missing = access.missing + missing   # the second list is a table dropped between the two reads
    read_s = time.monotonic() - started
    log.info("catalog, counts and samples of %d tables read in %.1f s; %d not found, %d not readable, "
             "%d unpopulated", len(tables), read_s, len(missing), len(access.unreadable), len(access.unpopulated))
    _log_privacy(log, tables)
    failed: list[dict] = [{"table": r.qualified, "error": "table or view not found"} for r in missing]
    for r in missing:
        log.error("table %s: not found in the business database", r.qualified)
    skipped = ([{"table": r.qualified, "reason": "not readable by the connecting role"} for r in access.unreadable]
               + [{"table": r.qualified, "reason": "materialized view never refreshed"} for r in access.unpopulated])
    by_name = {(t.schema, t.name): t for t in tables}
    known = set(by_name)
    n = len(tables)
    # generated comments speak the task's question_language (issue 12): zh default, en, auto
    language = resolve_language(ctx.params.get("question_language"), ctx.business_context,
                                [t.comment for t in tables] + [c.comment for t in tables for c in t.columns])
    ranges_ahead = TimeRangesAhead(ctx, tables)     # a database read, while the LLM writes the comments
    done: list[Table] = []
    totals = {"columns": 0, "generated": 0, "existing": 0, "pii_columns": 0}
    workers = ctx.settings.llm_max_concurrency if ctx.llm is not None else 1
    ctx.progress(0.1, f"table 0/{n}")
    with ThreadPoolExecutor(max_workers=max(1, min(workers, n or 1)), thread_name_prefix="ddl") as pool:
        futures = {pool.submit(process_table, t, ctx.llm, ctx.business_context, by_name, known, ctx.task_dir,
                               generator_label(ctx.llm, language), language): t for t in tables}
        for i, future in enumerate(as_completed(futures), start=1):
            table = futures[future]
            try:
                counts = future.result()
            except Exception as exc:  # one table's failure is reported, the others go on
                error = str(exc) if isinstance(exc, AppError) else f"{type(exc).__name__}: {first_line(exc)}"
                failed.append({"table": table.qualified, "error": error})
                log.error("table %d/%d %s failed: %s", i, n, table.qualified, error,
                          exc_info=not isinstance(exc, AppError))   # a bug: keep the traceback for operators
            else:
                done.append(table)
                for k in totals:
                    totals[k] += counts[k]
                log.info("table %d/%d %s: %d columns, %d generated comments, %.1f s", i, n, table.qualified,
                         counts["columns"], counts["generated"], counts["seconds"])
            ctx.progress(0.1 + 0.85 * i / max(n, 1), f"table {i}/{n}")
            if ctx.cancel_event.is_set():
                for f in futures:
                    f.cancel()
                ctx.check_cancelled()
    if not done:
        problems = failed + [{"table": k["table"], "error": k["reason"]} for k in skipped]
        reasons = "; ".join(f"{f['table']}: {f['error']}" for f in problems[:5])
        raise AppError(f"DDL generation failed for every table ({len(problems)}): {reasons}")
    order = {(t.schema, t.name): i for i, t in enumerate(tables)}
    done.sort(key=lambda t: order[(t.schema, t.name)])   # the table list's order, not completion order
    source = _overall_source(done, ctx.llm)
    write_metadata_txt(ctx.task_dir, done, source_label=generator)
    meta = {"generator": generator, "comment_source": source, "business_context": ctx.business_context,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    save_snapshot(ctx.task_dir / SNAPSHOT_FILE, done, meta)
    model_warnings = _write_semantic_model(ctx, done, language, ranges_ahead)
    _document_semantics(ctx, done, language)
    themes_ahead.send(ctx, _theme_messages)   # qa_generation's theme call leaves now if it follows here
    ctx.progress(1.0, f"{len(done)}/{len(refs)} tables done")
    duration = round(time.monotonic() - started, 2)
    summary = {
        "tables": len(refs), "succeeded": len(done), "failed": failed, "skipped": skipped, "columns": totals["columns"],
        "comments_existing": totals["existing"], "comments_generated": totals["generated"],
        "pii_columns": totals["pii_columns"], "comment_source": source, "generator": generator,
        "read_seconds": round(read_s, 2), "duration": duration,
    }
    usage = getattr(ctx.llm, "usage", None)
    if usage is not None and hasattr(usage, "to_dict"):
        summary["llm_usage"] = usage.to_dict()
    log.info("ddl_generation: %d/%d tables, %d columns, %d existing and %d generated comments, %.1f s",
             len(done), len(refs), totals["columns"], totals["existing"], totals["generated"], duration)
    outputs = []
    for t in done:
        outputs.append(OutputFile(f"{t.file_stem}.ddl", "ddl", f"{t.qualified} 建表语句"))
        outputs.append(OutputFile(f"{t.file_stem}_detail.md", "md", f"{t.qualified} 表结构说明"))
    outputs.append(OutputFile(METADATA_FILE, "txt", "表结构元数据摘要（SQL 脚本）", is_primary=True))
    outputs.append(OutputFile(SNAPSHOT_FILE, "json", "表结构快照（供后续步骤读取）"))
    outputs.append(OutputFile(MODEL_FILE, "json", "语义模型（表类型、列角色、关联路径；可编辑）"))
    return StepResult(summary=summary, outputs=outputs,
                      warnings=coverage_warnings(len(refs), access, missing, failed) + model_warnings)


def _theme_messages(ctx: StepContext) -> list[dict]:
    """qa_generation's theme prompt, from the files this step has just written (steps/themes_ahead.py)."""
    from data_pipeline.steps.qa_generation import theme_messages_for   # imported once qa_generation follows
    return theme_messages_for(ctx)


def _write_semantic_model(ctx: StepContext, tables: list[Table], language: str,
                          ahead: Optional["TimeRangesAhead"] = None) -> list[StepWarning]:
    """`semantic_model.json`, built anew; a user's edits in the previous file (its `overrides`) are kept."""
    started = time.monotonic()
    warnings: list[StepWarning] = []
    overrides: dict = {}
    try:
        previous = read_model(ctx.task_dir)
        overrides = previous.overrides if previous is not None else {}
    except ValueError as exc:
        warnings.append(StepWarning("SEMANTIC_MODEL_UNREADABLE", f"the previous {MODEL_FILE} could not be read "
                                    f"and was replaced (its edits are lost): {exc}", [MODEL_FILE]))
    try:
        time_ranges, unread = _event_time_ranges(ctx, tables, overrides, ahead)
        model = build_semantic_model(tables, language, overrides, time_ranges)
    except Exception as exc:      # a bug must not cost the DDL: qa_generation builds the model again
        ctx.logger.error("semantic model not built: %s", first_line(exc), exc_info=True)
        return warnings + [StepWarning("SEMANTIC_MODEL_FAILED", f"{MODEL_FILE} could not be built "
                                       f"({type(exc).__name__}); qa_generation builds it from the snapshot",
                                       [MODEL_FILE])]
    write_model(ctx.task_dir, model)
    warnings += approximate_range_warnings(model, unread)
    kinds: dict[str, int] = {}
    for t in model.tables.values():
        kinds[t.kind] = kinds.get(t.kind, 0) + 1
    ctx.logger.info("semantic model: %s; %d relationships, %d join paths; %d user overrides; %.2f s",
                    ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())), len(model.relationships),
                    len(model.join_paths), len((overrides or {}).get("tables") or {}), time.monotonic() - started)
    return warnings


class TimeRangesAhead:
    """The event-time min/max read on a thread while the LLM writes the comments (issue 26): they depend on the
    data, not on the comments. The columns are chosen again once the comments are in (a comment may change a
    column's role): a table whose column changed, or that was not read ahead, is read then."""

    def __init__(self, ctx: StepContext, tables: list[Table]):
        try:
            previous = read_model(ctx.task_dir)
        except ValueError:          # _write_semantic_model reports it; no user overrides then
            previous = None
        self.columns = event_time_columns(tables, previous.overrides if previous is not None else {})
        by_q = {t.qualified: t for t in tables}
        wanted = [(by_q[q], c) for q, c in self.columns.items()]
        self._box: dict = {}
        self._thread = threading.Thread(target=self._read, args=(ctx, wanted), name="time_ranges", daemon=True)
        self._thread.start()

    def _read(self, ctx: StepContext, wanted: list[tuple[Table, str]]) -> None:
        try:
            self._box["ranges"] = read_time_ranges(ctx.business_url, wanted, ctx.settings)
        except Exception as exc:  # noqa: BLE001 - raised again where the ranges are used
            self._box["error"] = exc

    def result(self) -> TimeRanges:
        """The ranges read ahead (waits for the read); raises what the read raised."""
        self._thread.join()
        if "error" in self._box:
            raise self._box["error"]
        return self._box["ranges"]


def _event_time_ranges(ctx: StepContext, tables: list[Table], overrides: dict,
                       ahead: Optional[TimeRangesAhead] = None) -> tuple[dict[str, dict], dict[str, str]]:
    """The real min/max of each table's event time (schema.time_range: one bounded read-only statement per
    table), and why each of the others was not read; every table is unread when the database cannot be read now
    (the model then keeps sampled ranges, marked approximate). What `ahead` read for the same column is used."""
    columns = event_time_columns(tables, overrides)
    by_q = {t.qualified: t for t in tables}
    try:
        ranges = TimeRanges()
        todo = columns
        if ahead is not None:
            early = ahead.result()
            todo = {}
            for q, c in columns.items():
                if ahead.columns.get(q) == c and q in early.ranges:
                    ranges.ranges[q] = early.ranges[q]
                elif ahead.columns.get(q) == c and q in early.failed:
                    ranges.failed[q] = early.failed[q]
                else:
                    todo[q] = c
            ranges.seconds = early.seconds
        if todo:
            more = read_time_ranges(ctx.business_url, [(by_q[q], c) for q, c in todo.items()], ctx.settings)
            ranges.ranges.update(more.ranges)
            ranges.failed.update(more.failed)
            ranges.seconds += more.seconds
    except (AppError, psycopg2.Error) as exc:
        reason = str(exc) if isinstance(exc, AppError) else first_line(exc)
        ctx.logger.warning("event time ranges not read (sampled ranges kept, marked approximate): %s", reason)
        return {}, {q: reason for q in columns}
    ctx.logger.info("event time ranges: %d of %d tables read in %.2f s; %d kept from samples (approximate)",
                    len(ranges.ranges), len(columns), ranges.seconds, len(ranges.failed))
    return ranges.ranges, ranges.failed


def approximate_range_warnings(model, unread: dict[str, str]) -> list[StepWarning]:
    """TIME_RANGE_APPROXIMATE when some table's event-time range in the model comes from the samples only (its
    exact min/max could not be read: timeout, budget, privilege, a foreign table): questions and documents then
    state a range the data may exceed, so the run is not plain `completed`. Read from the model itself, so a
    range the model does not claim (no sampled dates either) raises nothing."""
    approx = [q for q, t in model.tables.items() if t.facts.get("approximate")]
    if not approx:
        return []
    first = approx[0]
    why = unread.get(first, "not read")
    return [StepWarning("TIME_RANGE_APPROXIMATE", f"the exact event-time range of {len(approx)} table(s) could not "
                        f"be read; the sampled range is kept, marked approximate (first: {first}: {why[:200]})",
                        approx)]


def _document_semantics(ctx: StepContext, tables: list[Table], language: str) -> None:
    """Each `_detail.md` again, now naming the table's kind, label, measures and event time from the model."""
    try:
        model = read_model(ctx.task_dir)
    except ValueError:   # just written by this step; nothing to add when it cannot be read
        return
    if model is None:
        return
    generator = generator_label(ctx.llm, language)
    for t in tables:
        sem = model.table(t.qualified)
        write_text(ctx.task_dir / f"{t.file_stem}_detail.md",
                   render_md(t, source_label=table_label(t, generator, language), language=language,
                             semantics=table_lines(model, t.qualified, language),
                             measures=sem.measures if sem else measure_columns(t)))


def coverage_warnings(listed: int, access: table_access.TableAccess, missing: list, failed: list[dict]
                      ) -> list[StepWarning]:
    """What part of the table list has no DDL, one warning per reason (the task then ends partial_completed)."""
    warnings = []
    if missing:
        warnings.append(StepWarning("TABLES_MISSING", f"{len(missing)} of {listed} listed tables do not exist in "
                                    "the business database", [r.qualified for r in missing]))
    if access.unreadable:
        warnings.append(StepWarning(
            "TABLES_UNREADABLE", f"{len(access.unreadable)} of {listed} tables cannot be read by the connecting "
            "role (no SELECT privilege) and were skipped", [r.qualified for r in access.unreadable]))
    if access.unpopulated:
        warnings.append(StepWarning(
            "MATVIEW_UNPOPULATED", f"{len(access.unpopulated)} materialized view(s) were never refreshed and hold "
            "no data; skipped (run REFRESH MATERIALIZED VIEW first)", [r.qualified for r in access.unpopulated]))
    broken = [f for f in failed if f["error"] != "table or view not found"]
    if broken:
        warnings.append(StepWarning("TABLES_SKIPPED", f"{len(broken)} of {listed} tables failed and were skipped "
                                    f"(first: {broken[0]['error'][:200]})", [f["table"] for f in broken]))
    return warnings


def _overall_source(tables: list[Table], llm) -> str:
    if all(t.comment_source == "database" for t in tables):
        return "database"
    return "llm" if llm is not None else "rule_based"
