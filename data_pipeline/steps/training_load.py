"""Step 4, `training_load`: the task's DDL, Markdown docs and validated question-SQL pairs into Vanna's vector
tables (`langchain_pg_collection` / `langchain_pg_embedding`) of the task's vector store: its
`vector_db_connection`, else `VECTOR_DB_URL`, else our metadata database (data_pipeline/vectors/target.py).
Missing tables there are created; rows carry `cmetadata.business_db`, and a store already holding rows of another
business database gets a VECTOR_STORE_MIXED warning (Vanna cannot filter by database).

Documents: one per `*.ddl` file and one per table `*_detail.md` file (raw text; qa_generation's theme analysis
`metadata_detail.md` is not a table document and is not loaded), one per pair of the latest pair file.
Which pairs: when the latest `sql_validation_*_report.json` says the pair file was rewritten
(`modify_original_file`), the file holds only the surviving pairs and all are loaded; otherwise only the pairs the
report marks executable (valid, or ran with an empty result) are loaded; without a report (validation disabled
or skipped) all pairs are loaded. The result says which rule applied.

Embeddings come first (no database connection is held while a remote model answers), then ONE transaction
replaces this task's rows; with `truncate_vector_tables` the same transaction blocks other writers, backs both
tables up to `vector_bak/`, empties `langchain_pg_embedding` and loads, so a failed load leaves the old rows.
Writes `training_load_{ts}.log`; backups under `vector_bak/` are kept across re-runs.
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Optional

import psycopg2

from core.db import first_line
from core.errors import AppError, StepDependencyNotMet
from data_pipeline.evaluation import holdout as eval_holdout
from data_pipeline.qa import pairs as pair_files
from data_pipeline.vectors import backup as vector_backup
from data_pipeline.steps import STEP_OUTPUTS, embeddings_ahead
from data_pipeline.steps.base import OutputFile, StepContext, StepResult, StepWarning
from data_pipeline.store import vector as vector_sql
from data_pipeline.vectors import target as vector_target
from data_pipeline.vectors.store import (COLLECTIONS, TrainingDocument, VectorLoadFailed, question_sql_document,
                                        unique_documents, write_task_rows)

OUTPUT_PATTERNS = STEP_OUTPUTS["training_load"]  # declared once in data_pipeline/steps/__init__.py
STEP = "training_load"
REPORT_GLOB = "sql_validation_*_report.json"
# `*_detail.md` files that are not a table's document (qa_generation's theme analysis)
NOT_TABLE_DOCS = frozenset({"metadata_detail.md"})
EXECUTABLE_STATUSES = ("valid", "empty")


class _RunLog:
    """Lines for `training_load_{ts}.log`, mirrored to the step logger."""

    def __init__(self, ctx: StepContext, path: Path):
        self.ctx, self.path, self.lines = ctx, path, []

    def __call__(self, message: str, level: str = "INFO") -> None:
        getattr(self.ctx.logger, level.lower())(message)
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        self.lines.append(f"{stamp} [{level}] {STEP}: {message}")

    def write(self) -> None:
        from core.secrets import scrub_text
        self.path.write_text(scrub_text("\n".join(self.lines)) + "\n", encoding="utf-8")


def _flag(ctx: StepContext, name: str) -> bool:
    value = ctx.options.get(name)
    return bool(ctx.params.get(name) if value is None else value)


# ----------------------------------------------------------------------------------------------- sources
def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8-sig")


def file_documents(task_dir: Path) -> list[TrainingDocument]:
    """One document per `*.ddl` and per table `*_detail.md` file, raw text, in name order; empty files skipped."""
    docs = []
    for pattern, collection in (("*.ddl", "ddl"), ("*_detail.md", "documentation")):
        for path in sorted(task_dir.glob(pattern)):
            if path.name in NOT_TABLE_DOCS or not path.is_file():
                continue
            text = _read_text(path)
            if text.strip():
                docs.append(TrainingDocument(collection, text, source=path.name))
    return docs


def _latest_report(task_dir: Path) -> Optional[Path]:
    reports = sorted(task_dir.glob(REPORT_GLOB))
    return reports[-1] if reports else None


def select_pairs(task_dir: Path) -> tuple[list[pair_files.Pair], dict]:
    """The pairs to load from the latest pair file, and how they were chosen (see module docstring).

    Reads `sql_validation_*_report.json` as data_pipeline/steps/sql_validation.py writes it: `metadata.pairs_file`,
    `summary.file_modification_stats.file_modified` and `detailed_results[{pair_id, status}]` (status of the SQL
    as it is in the file when the file was not rewritten).
    """
    path = pair_files.latest_pairs_file(task_dir)
    if path is None:
        return [], {"pairs_file": None, "rule": "no pair file"}
    try:
        pairs = pair_files.read_pairs(path)
    except (ValueError, json.JSONDecodeError) as exc:
        raise VectorLoadFailed(f"cannot read {path.name}: {exc}") from None
    info = {"pairs_file": path.name, "pairs_in_file": len(pairs)}
    report_path = _latest_report(task_dir)
    if report_path is None:
        return pairs, {**info, "rule": "no validation report -> all pairs"}
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise VectorLoadFailed(f"cannot read {report_path.name}: {exc}") from None
    info["validation_report"] = report_path.name
    metadata = report.get("metadata") if isinstance(report.get("metadata"), dict) else {}
    summary = report.get("summary") if isinstance(report.get("summary"), dict) else {}
    if metadata.get("pairs_file") not in (None, path.name):
        return pairs, {**info, "rule": "validation report is about another pair file -> all pairs"}
    if path.stat().st_mtime > report_path.stat().st_mtime + 1:
        return pairs, {**info, "rule": "pair file changed after validation (e.g. uploaded) -> all pairs"}
    if (summary.get("file_modification_stats") or {}).get("file_modified") is True:
        return pairs, {**info, "rule": "pair file rewritten by validation -> all pairs"}
    entries = report.get("detailed_results")
    status_by_id = {e["pair_id"]: e["status"] for e in entries or []
                    if isinstance(e, dict) and isinstance(e.get("pair_id"), str) and isinstance(e.get("status"), str)}
    if not status_by_id:
        raise VectorLoadFailed(f"{report_path.name} has no per-pair statuses; cannot tell valid pairs apart")
    kept = [p for p in pairs if status_by_id.get(p.id) in EXECUTABLE_STATUSES]
    return kept, {**info, "rule": "validation report -> executable pairs only (valid or empty result)",
                  "pairs_not_executable": len(pairs) - len(kept)}


def pair_documents(pairs: list[pair_files.Pair], source: str) -> tuple[list[TrainingDocument], int]:
    """One exact Vanna question-SQL document per pair; pairs with an empty question or SQL are skipped."""
    docs, skipped = [], 0
    for p in pairs:
        try:
            text = question_sql_document(p.question, p.sql)
        except ValueError:
            skipped += 1
            continue
        docs.append(TrainingDocument("sql", text, source=source, extra={"pair_id": p.id}))
    return docs, skipped


# ----------------------------------------------------------------------------------------------- run
def embed_all(ctx: StepContext, embedder, docs: list[TrainingDocument], log: _RunLog,
              ahead: Optional[embeddings_ahead.EmbeddingsAhead] = None) -> list:
    """Embed every document's whole text in batches, with progress and cancellation between batches. A text
    sql_validation had embedded already (`ahead`, same embedder) takes that vector."""
    # texts per embed call: every concurrent /embeddings slot gets a batch (core.embedding sends them at once)
    batch = max(1, int(getattr(ctx.settings, "embedding_batch_size", 64))) * max(
        4, int(getattr(ctx.settings, "llm_max_concurrency", 4)))
    vectors: list = [ahead.vector(d.document) if ahead is not None else None for d in docs]
    missing = [i for i, v in enumerate(vectors) if v is None]
    if ahead is not None:
        log(f"{len(docs) - len(missing)} of {len(docs)} documents were embedded during sql_validation")
    for start in range(0, len(missing), batch):
        ctx.check_cancelled()
        chunk = missing[start:start + batch]
        for i, vector in zip(chunk, embedder.embed_documents([docs[i].document for i in chunk])):
            vectors[i] = vector
        done = len(docs) - len(missing) + min(len(missing), start + batch)
        ctx.progress(0.8 * done / max(1, len(docs)), f"embedded {done}/{len(docs)} documents")
    return vectors


def run(ctx: StepContext) -> StepResult:
    from core.embedding import make_embedder

    started = time.perf_counter()
    ts = datetime.now().strftime("%Y%m%d_%H%M%S")
    log_name = f"training_load_{ts}.log"
    log = _RunLog(ctx, ctx.task_dir / log_name)
    truncate = _flag(ctx, "truncate_vector_tables")
    backup = truncate or _flag(ctx, "backup_vector_tables")
    outputs = [OutputFile(log_name, "log", "训练数据加载日志")]
    try:
        docs = file_documents(ctx.task_dir)
        pairs, pair_info = select_pairs(ctx.task_dir)
        # with enable_evaluation a stratified sample is held out (eval_holdout.json) and not loaded
        pairs, holdout = eval_holdout.hold_out_for_load(ctx.task_dir, ctx.params, pairs, pair_info.get("pairs_file"))
        if holdout is not None:
            pair_info["held_out_for_evaluation"] = holdout["held_out"]
        sql_docs, empty_pairs = pair_documents(pairs, pair_info.get("pairs_file") or "")
        docs, duplicates = unique_documents(docs + sql_docs)
        if not docs:
            raise StepDependencyNotMet("nothing to load: no *.ddl, *_detail.md or pair file in the task directory")
        log(f"sources: {sum(d.collection == 'ddl' for d in docs)} ddl, "
            f"{sum(d.collection == 'documentation' for d in docs)} documentation, {len(sql_docs)} pairs "
            f"({pair_info['rule']}"
            + (f"; {holdout['held_out']} held out for evaluation in {holdout['file']}" if holdout else "")
            + f"); {duplicates} duplicate documents dropped, {empty_pairs} empty pairs skipped")

        # what sql_validation embedded for this step in this process, with the embedder it made from these settings
        ahead = embeddings_ahead.take(ctx)
        embedder = ahead.embedder if ahead is not None else make_embedder(ctx.settings)
        log(f"embedding {len(docs)} documents with {embedder.name}")
        t_embed = time.perf_counter()
        try:
            vectors = embed_all(ctx, embedder, docs, log, ahead)
        finally:
            if ahead is not None:
                ahead.close()
        embed_seconds = time.perf_counter() - t_embed
        log(f"embedded {len(vectors)} documents in {embed_seconds:.2f}s (dimension {embedder.dimension})")

        target = vector_target.for_task(ctx.settings, ctx.meta_db.url, ctx.params, ctx.business_url)
        business_db = vector_target.database_identity(ctx.business_url) if ctx.business_url else None
        with vector_target.open_store(target, ctx.meta_db) as store_db:
            if vector_target.ensure_tables(store_db, target):
                log(f"created the vector tables in {target.label}")
            mixed = None if truncate else mixing_warning(store_db, target, business_db)
            stats, backup_info = _write(ctx, log, store_db, target, business_db, docs, vectors, embedder,
                                        backup=backup, truncate=truncate)
        total = sum(stats.counts.values())
        duration = time.perf_counter() - started
        if backup_info:
            outputs += [OutputFile(f"{vector_backup.BACKUP_DIR}/{f['file_name']}", "csv", "向量表备份")
                        for f in backup_info["files"]]
            outputs.append(OutputFile(f"{vector_backup.BACKUP_DIR}/{backup_info['log_file']}", "log",
                                      "向量表备份日志"))
        summary = {
            "loaded": stats.counts, "total_rows": total,
            "embedding": {"model": embedder.name, "dimension": embedder.dimension},
            "vector_store": target.label, "business_db": business_db,
            "pairs": pair_info, "duplicates_dropped": duplicates, "empty_pairs_skipped": empty_pairs,
            "replaced_previous_rows": stats.replaced_task_rows, "removed_previous_rows": stats.removed_rows,
            "kept_shared_rows": stats.kept_shared_rows,
            "vector_backup": backup_info, "truncated_rows": stats.truncated_rows if truncate else None,
            "duration_seconds": round(duration, 3), "embed_seconds": round(embed_seconds, 3),
            "insert_seconds": round(stats.insert_seconds, 3),
            "rows_per_second": round(stats.inserted / duration, 1) if duration > 0 else None,
            "log_file": log_name,
        }
        if holdout is not None:
            summary["evaluation_holdout"] = holdout
            outputs.append(OutputFile(holdout["file"], "json", "评估留出的问答对"))
        log(f"loaded {stats.inserted} rows into {target.label} ("
            + ", ".join(f"{c}={stats.counts[c]}" for c in COLLECTIONS)
            + f"), this task had {stats.replaced_task_rows} rows before: {stats.removed_rows} no longer in its data "
            f"removed, {stats.kept_shared_rows} kept (another task owns them too)"
            + (f", emptied {stats.truncated_rows} rows first" if truncate else "")
            + f"; embed {embed_seconds:.2f}s, insert {stats.insert_seconds:.2f}s, total {duration:.2f}s")
        warnings = [] if stats.counts["sql"] else [
            StepWarning("PAIRS_NOT_LOADED", f"no question-SQL pair was loaded ({pair_info['rule']}); only DDL and "
                        "documentation are in the vector store", [])]
        for warning in warnings:
            log(f"{warning.code}: {warning.message}", "WARNING")
        if mixed is not None:
            log(f"{mixed.code}: {mixed.message}", "WARNING")
            warnings.append(mixed)
        ctx.progress(1.0, "training data loaded")
        return StepResult(summary=summary, outputs=outputs, warnings=warnings)
    except AppError as exc:
        log(f"failed: {exc.details}", "ERROR")
        raise
    except (psycopg2.Error, OSError, UnicodeDecodeError) as exc:
        log(f"failed: {first_line(exc)}", "ERROR")
        raise VectorLoadFailed(f"training load failed: {first_line(exc)}") from None
    finally:
        log.write()


def mixing_warning(store_db, target, business_db: Optional[str]) -> Optional[StepWarning]:
    """VECTOR_STORE_MIXED when the store already holds rows of another business database."""
    if not business_db:
        return None
    with store_db.connection() as conn, conn.cursor() as cur:
        others = {db: n for db, n in vector_sql.business_databases(cur).items() if db != business_db}
    if not others:
        return None
    return StepWarning("VECTOR_STORE_MIXED",
                       f"the vector store {target.label} already holds {sum(others.values())} rows of another "
                       f"business database; Vanna's PG_VectorStore cannot tell databases apart, so give each "
                       "business database its own store (vector_db_connection or VECTOR_DB_URL)",
                       objects=sorted(others))


def _write(ctx: StepContext, log, store_db, target, business_db, docs, vectors, embedder, *, backup: bool,
           truncate: bool):
    """Back up (when asked) and write the rows; returns (LoadStats, backup summary or None)."""
    backup_info = None
    if backup and not truncate:
        backup_info = vector_backup.backup(store_db, ctx.task_dir / vector_backup.BACKUP_DIR).summary()
        log(f"backed up {backup_info['total_rows']} rows ({backup_info['total_bytes']} bytes) to "
            f"{vector_backup.BACKUP_DIR}/ (tables kept)")

    def backup_then_truncate(cur):
        nonlocal backup_info
        backup_info = vector_backup.backup_with_cursor(cur, ctx.task_dir / vector_backup.BACKUP_DIR).summary()
        log(f"backed up {backup_info['total_rows']} rows ({backup_info['total_bytes']} bytes) to "
            f"{vector_backup.BACKUP_DIR}/ before emptying langchain_pg_embedding")

    ctx.progress(0.8, "writing rows")
    stats = write_task_rows(store_db, ctx.meta_db, target.store_key, ctx.task_id, docs, vectors, embedder.dimension,
                            business_db=business_db, truncate=truncate, before_truncate=backup_then_truncate,
                            check_cancelled=ctx.check_cancelled)
    return stats, backup_info
