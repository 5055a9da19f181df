"""Step 3 `sql_validation`: check every pair's SQL on the business database (read-only), repair with the LLM,
clean the pair file, report.

Input: the latest pair file of the task (`pairs.latest_pairs_file`) and, for repair prompts, the task's
`schema_snapshot.json` and `{stem}.ddl` files. Task parameters used: `enable_llm_repair` (default true; repair
also needs a configured LLM — rule-based mode repairs nothing and says so) and `modify_original_file`
(default true).

Outputs (OUTPUT_PATTERNS; the pair file itself and its backups belong to the task's data and are never cleaned):
- `sql_validation_{ts}_report.json`: metadata, summary (seed fields: total_questions, valid_sqls, invalid_sqls,
  success_rate, average_execution_time, repair_stats{attempted,successful,failed}, file_modification_stats) and
  `detailed_results` per pair (pair_id, question, sql, status, error_message, execution_time, row_count,
  repaired_sql, ...). "valid" means executable: status valid or empty; `valid_sqls` counts the original SQL
  before repair, `final_valid_sqls` after;
- `sql_validation_{ts}_summary.log`: the same for humans, with the quality section;
- when `modify_original_file`: the pair file rewritten in place (repaired SQL in, pairs that stay invalid out,
  empty-result pairs kept), after copying the original to `<pair file>.backup` (`.backup.N` when one exists; the
  sidecar likewise), and `file_modifications_{ts}.log` listing every change with its stable pair id;
- `quality_report.json` (data_pipeline/validation/quality.py), also returned in the step summary (-> the task's result).
"""
from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Collection, Optional

from core.db import database_name
from core.errors import FileNotFound, ValidationFailed
from data_pipeline.validation import quality
from data_pipeline.qa.pairs import Pair, latest_pairs_file, read_pairs, sidecar_path, write_pairs
from data_pipeline.schema.model import SNAPSHOT_FILE, load_snapshot
from data_pipeline.validation.check import EMPTY, ERROR, FAILED, REJECTED, TIMEOUT, VALID, CheckResult, SqlChecker
from data_pipeline.validation.repair import REPAIR_PURPOSE, DdlLibrary, RepairOutcome, repair_failing
from data_pipeline.validation.repair_ahead import RepairAhead
from data_pipeline.steps import STEP_OUTPUTS, early_checks, embeddings_ahead
from data_pipeline.steps.base import OutputFile, StepContext, StepResult, StepWarning

STEP = "sql_validation"
OUTPUT_PATTERNS = STEP_OUTPUTS[STEP]  # declared once in data_pipeline/steps/__init__.py
VALIDATE_SHARE, REPAIR_SHARE = 0.75, 0.20      # progress fractions of this step
FAILURES_LISTED = 50                            # failing pairs listed in the summary log
DROPPED_WARN_SHARE = 0.10                       # more non-executable pairs than this share -> a step warning


def _flag(params: dict, name: str, default: bool = True) -> bool:
    value = params.get(name, default)
    return default if value is None else bool(value)


def run(ctx: StepContext) -> StepResult:
    started, ts = time.monotonic(), time.strftime("%Y%m%d_%H%M%S")
    pairs_path = latest_pairs_file(ctx.task_dir)
    if pairs_path is None:
        raise FileNotFound("no question-SQL pair file (qs_*_pair.json) in the task directory; "
                           "run qa_generation first")
    try:
        pairs = read_pairs(pairs_path)
    except (ValueError, OSError) as exc:
        raise ValidationFailed(f"cannot read {pairs_path.name}: {exc}") from None
    pairs, duplicates = _unique_by_id(pairs)
    if duplicates:
        ctx.logger.warning("%d pair(s) repeat an earlier question; validated once, dropped when the file is "
                           "rewritten", len(duplicates))
    snapshot = ctx.task_dir / SNAPSHOT_FILE
    tables = load_snapshot(snapshot)[0] if snapshot.is_file() else []
    s = ctx.settings
    ctx.logger.info("validating %d pairs from %s (EXPLAIN + read-only execution, row cap %d, statement_timeout "
                    "%d ms, %d connections)", len(pairs), pairs_path.name, s.validation_row_cap,
                    s.statement_timeout_ms, s.validation_concurrency)
    repair_mode = repair_mode_of(ctx)
    # the checks qa_generation started in this process (issue 26), else our own: guessed failures first
    early = early_checks.take(ctx) or early_checks.EarlyChecks(ctx)
    ahead = None
    try:
        early.submit(p.sql for p in pairs)
        if repair_mode == "llm":
            ddl = DdlLibrary(ctx.task_dir, tables)
            # qa_generation may have sent the first repairs already (early_checks.send_repairs_ahead)
            ahead = early.ahead or new_repair_ahead(ctx, ddl)
            early.send_ahead(ctx, pairs, ahead)
        checks = _check_all(ctx, early.checker, pairs, early)
        validated_at = time.monotonic()
        # training_load's documents that are final now are embedded while the repair calls are out (issue 26)
        _embed_ahead(ctx, [p for p, c in zip(pairs, checks) if c is not None and c.executable], with_files=True)
        outcomes: dict[str, RepairOutcome] = {}
        if ahead is not None:
            outcomes = _repair(ctx, early.checker, pairs, checks, ddl, ahead, early.guessed_failing)
            _embed_ahead(ctx, [replace(p, sql=outcomes[p.id].repaired_sql) for p in pairs
                               if p.id in outcomes and outcomes[p.id].succeeded])
    finally:
        if ahead is not None:
            unused = ahead.close(wait=not ctx.cancel_event.is_set())
            if ahead.sent:
                ctx.logger.info("repair calls sent while the other pairs were still checked: %d, used %d%s",
                                ahead.sent, ahead.used, f", unused {unused} (a failure found later changed the "
                                                        f"batches)" if unused else "")
        early.close()
    ctx.check_cancelled()
    details = _details(pairs, checks, outcomes)
    modify = _flag(ctx.params, "modify_original_file")
    mod_stats = _rewrite_pairs_file(ctx, pairs_path, pairs, details, duplicates, ts) if modify else \
        {"enabled": False, "file_modified": False, "modified": 0, "deleted": 0, "failed": 0, "backup_file": None,
         "log_file": None}
    ctx.progress(0.97, "writing reports")
    report = _report(ctx, pairs_path, details, outcomes, repair_mode, mod_stats, modify,
                     validation_s=validated_at - started, total_s=time.monotonic() - started)
    report_name = f"sql_validation_{ts}_report.json"
    _write_text(ctx.task_dir / report_name, json.dumps(report, ensure_ascii=False, indent=2))
    quality_report = quality.write_quality_report(ctx.task_dir)
    summary_name = f"sql_validation_{ts}_summary.log"
    _write_text(ctx.task_dir / summary_name, "\n".join(_summary_lines(ctx, report, quality_report)) + "\n")
    sm = report["summary"]
    ctx.logger.info("validation done in %.1f s: %d/%d executable (%.1f%%), %d empty, repaired %d/%d, kept %d, "
                    "removed %d", time.monotonic() - started, sm["valid_sqls"], sm["total_questions"],
                    sm["success_rate"] * 100, sm["status_counts"][EMPTY], sm["repair_stats"]["successful"],
                    sm["repair_stats"]["attempted"], sm["pairs_kept"], mod_stats["deleted"])
    ctx.logger.info("quality: %d -> %d pairs, executable %s, tables covered %s", quality_report["pairs_in"],
                    quality_report["pairs_out"], quality_report["executable_rate"],
                    (quality_report.get("coverage") or {}).get("tables_covered", "unknown"))
    outputs = [OutputFile(summary_name, "log", "SQL验证结果摘要", is_primary=True),
               OutputFile(report_name, "report", "SQL验证详细报告"),
               OutputFile(quality.QUALITY_FILE, "report", "训练数据质量报告")]
    if mod_stats.get("log_file"):
        outputs.append(OutputFile(mod_stats["log_file"], "log", "文件修改记录"))
    summary = {k: sm[k] for k in ("total_questions", "valid_sqls", "invalid_sqls", "success_rate",
                                   "final_valid_sqls", "final_success_rate", "status_counts", "repair_stats",
                                   "pairs_kept", "average_execution_time")}
    summary.update({"pairs_file": pairs_path.name, "repair_mode": repair_mode, "file_modification_stats": mod_stats,
                    "report_file": report_name, "summary_file": summary_name, "duration_s": round(
                        time.monotonic() - started, 2), "quality": quality_report})
    return StepResult(summary=summary, outputs=outputs, warnings=_invalid_pairs_warnings(ctx, details, modify))


def _invalid_pairs_warnings(ctx: StepContext, details: list[dict], modified: bool) -> list[StepWarning]:
    """PAIRS_DROPPED (or PAIRS_INVALID when the file was left as it was) when more than DROPPED_WARN_SHARE of the
    pairs are still not executable after repair: below that a few bad guesses are ordinary and only logged."""
    invalid = [d["pair_id"] for d in details if not d["final_valid"]]
    if not details or len(invalid) / len(details) <= DROPPED_WARN_SHARE:
        if invalid:
            ctx.logger.info("%d of %d pairs not executable after repair (at most %.0f%%: no warning)",
                            len(invalid), len(details), DROPPED_WARN_SHARE * 100)
        return []
    share = f"{len(invalid)} of {len(details)} pairs ({len(invalid) / len(details):.0%})"
    if modified:
        return [StepWarning("PAIRS_DROPPED", f"{share} were still not executable after repair and were removed "
                            "from the pair file", invalid)]
    return [StepWarning("PAIRS_INVALID", f"{share} are not executable; they stay in the pair file because "
                        "modify_original_file is false", invalid)]


def _unique_by_id(pairs: list[Pair]) -> tuple[list[Pair], list[Pair]]:
    seen, unique, dupes = set(), [], []
    for p in pairs:
        (dupes if p.id in seen else unique).append(p)
        seen.add(p.id)
    return unique, dupes


def _embed_ahead(ctx: StepContext, pairs: list[Pair], with_files: bool = False) -> None:
    """Request training_load's embeddings of the documents it makes of `pairs`, and `with_files` of the DDL and
    table docs, now (steps/embeddings_ahead.py: only when training_load follows here with a remote embedder)."""
    if not embeddings_ahead.wanted(ctx):
        return
    try:
        from data_pipeline.steps.training_load import file_documents, pair_documents
        docs = (file_documents(ctx.task_dir) if with_files else []) + pair_documents(pairs, "")[0]
    except Exception as exc:  # noqa: BLE001 - an optimisation must not fail the step
        ctx.logger.warning("embeddings not requested ahead: %s", type(exc).__name__)
        return
    embeddings_ahead.send(ctx, [d.document for d in docs])


def repair_mode_of(ctx: StepContext) -> str:
    if not _flag(ctx.params, "enable_llm_repair"):
        return "disabled (enable_llm_repair=false)"
    if ctx.llm is None:
        return "none (rule-based mode: no LLM configured, failing SQL is not repaired)"
    return "llm"


def new_repair_ahead(ctx: StepContext, ddl: Optional[DdlLibrary] = None) -> RepairAhead:
    """The RepairAhead of this step's round 1 (validation/repair_ahead.py): the same LLM, DDL texts, context and
    concurrency as the round, so a call sent ahead has the very prompt the round would send."""
    if ddl is None:
        snapshot = ctx.task_dir / SNAPSHOT_FILE
        ddl = DdlLibrary(ctx.task_dir, load_snapshot(snapshot)[0] if snapshot.is_file() else [])
    return RepairAhead(ctx.llm, ddl, ctx.business_context, ctx.settings.llm_max_concurrency)


def _check_all(ctx: StepContext, checker: SqlChecker, pairs: list[Pair],
               early: Optional[early_checks.EarlyChecks] = None) -> list[CheckResult]:
    total, lock, counts = len(pairs), threading.Lock(), Counter()
    every = max(1, min(100, total // 10))

    def on_result(_index: int, result: CheckResult) -> None:
        with lock:
            counts[result.status] += 1
            done = sum(counts.values())
        if done % every == 0 or done == total:
            ctx.progress(VALIDATE_SHARE * done / total, f"pair {done}/{total}")
            ctx.logger.info("pair %d/%d checked (valid %d, empty %d, error %d, timeout %d, rejected %d)", done,
                            total, counts[VALID], counts[EMPTY], counts[ERROR], counts[TIMEOUT], counts[REJECTED])

    results: list[Optional[CheckResult]] = [None] * total
    if early is not None:   # what qa_generation had checked already; the rest joins the same queue
        early.submit(p.sql for p in pairs)
        for i, p in enumerate(pairs):
            found = early.result(p.sql)
            if found is not None:
                results[i] = replace(found)    # a pair of its own, also when two pairs share a SQL text
                on_result(i, results[i])
    rest = [i for i, r in enumerate(results) if r is None]
    for i, result in zip(rest, checker.check_many([pairs[i].sql for i in rest],
                                                  on_result=lambda j, r: on_result(rest[j], r),
                                                  should_stop=ctx.cancel_event.is_set)):
        results[i] = result
    ctx.check_cancelled()
    return results  # type: ignore[return-value]  (no None once not cancelled)


def _repair(ctx: StepContext, checker: SqlChecker, pairs: list[Pair], checks: list[CheckResult],
            ddl: DdlLibrary, ahead: Optional[RepairAhead] = None,
            guessed: Collection[str] = frozenset()) -> dict[str, RepairOutcome]:
    candidates = [early_checks.candidate(p, c) for p, c in zip(pairs, checks) if c.status in FAILED]
    if not candidates:
        return {}
    ctx.logger.info("repairing %d failing SQL with the LLM (up to 2 rounds, batches by pair id)", len(candidates))
    ctx.progress(VALIDATE_SHARE, f"repairing {len(candidates)} SQL")

    def on_round(rnd: int, tried: int, fixed: int) -> None:
        ctx.logger.info("repair round %d: %d tried, %d now executable", rnd, tried, fixed)
        ctx.progress(VALIDATE_SHARE + REPAIR_SHARE * rnd / 2, f"repair round {rnd}")

    return repair_failing(candidates, llm=ctx.llm, check=checker.check_pooled, ddl=ddl,
                          business_context=ctx.business_context, concurrency=ctx.settings.llm_max_concurrency,
                          should_stop=ctx.cancel_event.is_set, on_round=on_round,
                          request=ahead.request if ahead is not None else None, lead=guessed)


def _details(pairs: list[Pair], checks: list[CheckResult],
             outcomes: dict[str, RepairOutcome]) -> list[dict[str, Any]]:
    rows = []
    for i, (p, c) in enumerate(zip(pairs, checks), start=1):
        o = outcomes.get(p.id)
        final = o.check if o is not None and o.succeeded else c
        rows.append({
            "index": i, "pair_id": p.id, "question": p.question, "sql": p.sql, "status": c.status,
            "valid": c.executable, "error_message": c.error or None, "execution_time": c.execution_time,
            "row_count": c.row_count, "row_cap_reached": c.row_cap_reached, "estimated_cost": c.estimated_cost,
            "repair_attempted": o is not None and bool(o.attempts), "repair_successful": bool(o and o.succeeded),
            "repaired_sql": o.repaired_sql if o else None,
            "repair_attempts": [a.to_dict() for a in o.attempts] if o else [],
            "final_status": final.status, "final_valid": final.executable,
            "final_sql": o.repaired_sql if o is not None and o.succeeded else p.sql,
            "final_row_count": final.row_count,
            "final_error": (o.last_error if o is not None and o.attempts and not o.succeeded else c.error) or None,
        })
    return rows


def _backup_path(path: Path) -> Path:
    candidate, n = path.with_name(path.name + ".backup"), 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.backup.{n}")
    return candidate


def _rewrite_pairs_file(ctx: StepContext, path: Path, pairs: list[Pair], details: list[dict],
                        duplicates: list[Pair], ts: str) -> dict[str, Any]:
    """Repaired SQL in, still-invalid pairs (and repeated questions) out; every change logged by pair id."""
    kept, changes = [], []
    for p, d in zip(pairs, details):
        if not d["final_valid"]:
            changes.append(f"DELETED  {p.id}  status={d['final_status']}  error={d['final_error'] or ''}\n"
                           f"  question: {p.question}\n  sql: {_one_line(p.sql)}")
            d["action"] = "removed"
        elif d["repair_successful"]:
            kept.append(Pair(p.question, d["repaired_sql"], {**p.meta, "sql_repaired": True, "original_sql": p.sql}))
            changes.append(f"REPAIRED {p.id}  was={d['status']}  now={d['final_status']}\n  question: {p.question}\n"
                           f"  old: {_one_line(p.sql)}\n  new: {_one_line(d['repaired_sql'])}")
            d["action"] = "repaired"
        else:
            kept.append(p)
            d["action"] = "kept"
    for p in duplicates:
        changes.append(f"DELETED  {p.id}  repeated question (an earlier pair has the same question)\n"
                       f"  question: {p.question}\n  sql: {_one_line(p.sql)}")
    stats: dict[str, Any] = {"enabled": True, "file_modified": False, "modified": sum(
        1 for d in details if d.get("action") == "repaired"), "deleted": sum(
        1 for d in details if d.get("action") == "removed") + len(duplicates), "failed": 0, "backup_file": None}
    log_name = f"file_modifications_{ts}.log"
    header = [f"文件修改记录 {time.strftime('%Y-%m-%d %H:%M:%S')}", f"文件: {path.name}",
              f"修复 {stats['modified']} 条, 删除 {stats['deleted']} 条, 保留 {len(kept)} 条", ""]
    if changes:
        try:
            backup = _backup_path(path)
            shutil.copy2(path, backup)
            side = sidecar_path(path)
            if side.exists():
                shutil.copy2(side, side.with_name(backup.name.replace(path.name, side.name, 1)))
            side_meta = _sidecar_top_level(side)
            side_meta["validation"] = {"validated_at": ts, "removed": stats["deleted"], "repaired": stats["modified"]}
            write_pairs(path, kept, extra_meta=side_meta)
        except (OSError, ValueError) as exc:
            stats["failed"] = len(changes)
            ctx.logger.error("could not rewrite %s: %s", path.name, exc)
            header.append(f"写入失败，原文件未改变: {exc}")
        else:
            stats.update(file_modified=True, backup_file=backup.name)
            header.insert(2, f"备份: {backup.name}")
            ctx.logger.info("%s rewritten: %d repaired, %d removed (backup %s)", path.name, stats["modified"],
                            stats["deleted"], backup.name)
    else:
        header.append("无需修改：所有SQL均可执行且未修复。")
    _write_text(ctx.task_dir / log_name, "\n".join(header + changes) + "\n")
    stats["log_file"] = log_name
    return stats


def _sidecar_top_level(side: Path) -> dict:
    try:
        data = json.loads(side.read_text(encoding="utf-8")) if side.exists() else {}
    except (OSError, ValueError):
        data = {}
    return {k: v for k, v in data.items() if k != "pairs"} if isinstance(data, dict) else {}


def _one_line(sql: Optional[str]) -> str:
    return " ".join((sql or "").split())


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _report(ctx: StepContext, pairs_path: Path, details: list[dict], outcomes: dict[str, RepairOutcome],
            repair_mode: str, mod_stats: dict, modify: bool, *, validation_s: float, total_s: float) -> dict:
    total = len(details)
    counts = Counter(d["status"] for d in details)
    final_counts = Counter(d["final_status"] for d in details)
    valid = counts[VALID] + counts[EMPTY]
    final_valid = final_counts[VALID] + final_counts[EMPTY]
    times = [d["execution_time"] for d in details if d["status"] != REJECTED]
    attempted = sum(1 for o in outcomes.values() if o.attempts)
    succeeded = sum(1 for o in outcomes.values() if o.succeeded)
    rounds = max((len(o.attempts) for o in outcomes.values()), default=0)
    s = ctx.settings
    usage = None
    if repair_mode == "llm" and hasattr(getattr(ctx.llm, "usage", None), "to_dict"):
        # the client may be shared with other steps of the execution: only the repair calls
        usage = (ctx.llm.usage.to_dict().get("by_purpose") or {}).get(REPAIR_PURPOSE)
    return {
        "metadata": {
            "task_id": ctx.task_id, "step": STEP, "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "pairs_file": pairs_path.name, "business_database": database_name(ctx.business_url),
            "method": "sqlglot static check, then EXPLAIN and capped execution in a rolled-back READ ONLY "
                      "transaction",
            "row_cap": s.validation_row_cap, "statement_timeout_ms": s.statement_timeout_ms,
            "lock_timeout_ms": s.lock_timeout_ms, "concurrency": s.validation_concurrency,
            "repair_mode": repair_mode, "modify_original_file": modify,
            "validation_duration_s": round(validation_s, 3), "duration_s": round(total_s, 3),
        },
        "summary": {
            "total_questions": total, "valid_sqls": valid, "invalid_sqls": total - valid,
            "success_rate": _rate(valid, total),
            "status_counts": {k: counts[k] for k in (VALID, EMPTY, ERROR, TIMEOUT, REJECTED)},
            "final_valid_sqls": final_valid, "final_invalid_sqls": total - final_valid,
            "final_success_rate": _rate(final_valid, total), "final_non_empty": final_counts[VALID],
            "final_status_counts": {k: final_counts[k] for k in (VALID, EMPTY, ERROR, TIMEOUT, REJECTED)},
            "average_execution_time": round(sum(times) / len(times), 4) if times else 0.0,
            "total_execution_time": round(sum(times), 3),
            "pairs_per_second": round(total / validation_s, 1) if validation_s > 0 else None,
            "repair_stats": {"attempted": attempted, "successful": succeeded, "failed": attempted - succeeded,
                             "rounds": rounds, "llm_usage": usage},
            "file_modification_stats": mod_stats,
            "pairs_kept": sum(1 for d in details if d.get("action", "kept") != "removed") if modify else total,
        },
        "detailed_results": details,
    }


def _summary_lines(ctx: StepContext, report: dict, quality_report: dict) -> list[str]:
    m, s = report["metadata"], report["summary"]
    c, r, f = s["status_counts"], s["repair_stats"], s["file_modification_stats"]
    lines = [
        "SQL验证报告 (sql_validation)", "=" * 50,
        f"任务: {m['task_id']}", f"输入文件: {m['pairs_file']}", f"业务数据库: {m['business_database']}",
        f"验证时间: {m['generated_at']}  总耗时: {m['duration_s']:.2f} s  "
        f"(验证 {m['validation_duration_s']:.2f} s, {s['pairs_per_second'] or 0} 条/秒)",
        f"方法: 静态检查(sqlglot) + EXPLAIN + 只读事务执行 (行上限 {m['row_cap']}, statement_timeout "
        f"{m['statement_timeout_ms']} ms, 并发连接 {m['concurrency']}), 全部回滚", "",
        "验证结果摘要", "-" * 50,
        f"  总SQL数量: {s['total_questions']}",
        f"  有效SQL(可执行): {s['valid_sqls']}  (有结果 {c[VALID]}, 空结果 {c[EMPTY]})",
        f"  无效SQL: {s['invalid_sqls']}  "
        f"(执行错误 {c[ERROR]}, 超时 {c[TIMEOUT]}, 安全检查拒绝 {c[REJECTED]})",
        f"  成功率: {s['success_rate'] * 100:.1f}%   修复后: {s['final_success_rate'] * 100:.1f}%",
        f"  平均执行耗时: {s['average_execution_time']:.4f} s", "",
        "修复", "-" * 50, f"  模式: {m['repair_mode']}",
        f"  尝试 {r['attempted']}, 成功 {r['successful']}, 失败 {r['failed']}, 轮数 {r['rounds']}", "",
        "文件修改", "-" * 50,
    ]
    if f["enabled"]:
        changed = "是" if f["file_modified"] else "否"
        lines.append(f"  修复 {f['modified']} 条, 删除 {f['deleted']} 条, 文件已修改: {changed}"
                     + (f", 备份: {f['backup_file']}" if f.get("backup_file") else "")
                     + f", 记录: {f['log_file']}")
    else:
        lines.append("  未启用 (modify_original_file=false)：原文件未改动，仅生成报告")
    failing = [d for d in report["detailed_results"] if not d["final_valid"]]
    if failing:
        listed = f"，仅列出前 {FAILURES_LISTED} 条" if len(failing) > FAILURES_LISTED else ""
        lines += ["", f"仍然无效的SQL ({len(failing)} 条{listed})", "-" * 50]
        for d in failing[:FAILURES_LISTED]:
            lines.append(f"  [{d['pair_id']}] {d['final_status']}: {d['final_error'] or ''}")
            lines.append(f"    问题: {d['question']}")
    lines += [""] + quality.summary_lines(quality_report)
    return lines


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
