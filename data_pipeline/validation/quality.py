"""The per-task quality report `quality_report.json`: what the generated training data is worth, in numbers.

`build_quality_report(task_dir)` reads only files of the task directory, so any step or the CLI can call it:
- the latest pair file and its sidecar (data_pipeline/qa/pairs.py): pairs out, difficulty (sidecar `difficulty`,
  else `pair_quality.classify_difficulty`), duplicates removed by the generator (sidecar top-level
  `dedupe: {"exact": n, "template": m}` when the generator recorded it) and duplicates still present
  (`pair_quality.dedupe_pairs` over the output); LLM answers dropped by qa_generation, by reason (sidecar
  `llm_rejections`: personal data, the semantic model's rules, invalid SQL; null for an older pair file);
- the newest `sql_validation_*_report.json` made for that same pair file: pairs in, executable and non-empty
  rates, repair success. Without one (validation skipped or not run yet) those numbers are null and
  `validation.status` says "not_run";
- `schema_snapshot.json`: tables and FK edges covered by the output SQL vs total (`pair_quality.compute_coverage`,
  which parses each SQL with sqlglot, so repaired SQL counts as it is now), and comment coverage;
- `schema_snapshot.json` again for `privacy`: one list of the columns whose sample values were masked (by kind,
  with the reason: name, comment, values or the view column they are computed from) and of the columns withheld
  as secrets (never sampled or profiled);
- the `{stem}.ddl` files: an existing database comment counts as kept when its text appears in the table's
  DDL file, verbatim or as a SQL literal with its quotes doubled (without DDL files, when the snapshot still
  carries it as the effective comment).
Rates are fractions in [0, 1] rounded to 4 places; null means unknown, never zero.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Optional

from data_pipeline.qa import pair_quality
from data_pipeline.qa.pairs import latest_pairs_file, read_pairs, sidecar_path
from data_pipeline.schema.ddl_render import literal
from data_pipeline.schema.model import SNAPSHOT_FILE, Table, load_snapshot

QUALITY_FILE = "quality_report.json"
REPORT_GLOB = "sql_validation_*_report.json"
EVALUATION_FILE = "evaluation_report.json"     # written by the optional evaluation step (data_pipeline/evaluation)


def _rate(part: Optional[int], whole: Optional[int]) -> Optional[float]:
    if part is None or not whole:
        return None
    return round(part / whole, 4)


def _read_json(path: Path) -> Optional[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def latest_validation_report(task_dir: Path, pairs_file: Optional[Path]) -> Optional[dict]:
    """The newest validation report whose `metadata.pairs_file` is `pairs_file` (by name), else None.

    A report older than the pair file (the file was uploaded or regenerated after validation) is returned with
    `_outdated: True`; the step itself rewrites the pair file before it writes its report."""
    if pairs_file is None:
        return None
    for path in sorted(Path(task_dir).glob(REPORT_GLOB), key=lambda p: p.name, reverse=True):
        report = _read_json(path)
        if report and report.get("metadata", {}).get("pairs_file") == pairs_file.name:
            outdated = pairs_file.stat().st_mtime > path.stat().st_mtime + 1
            return {**report, "_file": path.name, "_outdated": outdated}
    return None


def _validation_section(report: Optional[dict], pairs_out: int) -> dict:
    if report is not None and report.get("_outdated"):
        return {"status": "outdated", "report_file": report.get("_file"), "pairs_in": None,
                "executable_rate": None, "executable_rate_after_repair": None, "non_empty_rate": None,
                "note": "the pair file changed after the last validation: executability is unknown"}
    if report is None:
        return {"status": "not_run", "pairs_in": None, "executable_rate": None,
                "executable_rate_after_repair": None, "non_empty_rate": None,
                "note": "SQL validation did not run for this pair file: executability is unknown"}
    s = report.get("summary", {})
    total = s.get("total_questions")
    final_executable = s.get("final_valid_sqls")
    return {"status": "completed", "report_file": report.get("_file"), "pairs_in": total,
            "executable_rate": _rate(s.get("valid_sqls"), total),
            "executable_rate_after_repair": _rate(final_executable, total),
            "non_empty_rate": _rate(s.get("final_non_empty"), final_executable),
            "status_counts": s.get("status_counts", {}),
            "pairs_removed": s.get("file_modification_stats", {}).get("deleted", 0),
            "pairs_out_file_modified": s.get("file_modification_stats", {}).get("file_modified", False)}


def _repair_section(report: Optional[dict]) -> dict:
    if report is None or report.get("_outdated"):
        return {"mode": "not_run", "attempted": None, "succeeded": None, "failed": None, "success_rate": None}
    stats = report.get("summary", {}).get("repair_stats", {})
    attempted = stats.get("attempted", 0)
    return {"mode": report.get("metadata", {}).get("repair_mode", "unknown"), "attempted": attempted,
            "succeeded": stats.get("successful", 0), "failed": stats.get("failed", 0),
            "success_rate": _rate(stats.get("successful", 0), attempted)}


def _duplicates_section(pairs: list, sidecar: dict) -> dict:
    remaining = pair_quality.dedupe_pairs(pairs)
    generator = sidecar.get("dedupe") if isinstance(sidecar.get("dedupe"), dict) else None
    return {"removed_by_generator": ({"exact": int(generator.get("exact", 0)),
                                      "template": int(generator.get("template", 0))} if generator else None),
            "remaining_in_output": remaining.counts}


def _rejections_section(sidecar: dict) -> Optional[dict]:
    counts = sidecar.get("llm_rejections")
    if not isinstance(counts, dict):
        return None    # an older pair file: not known
    return {"total": sum(int(v) for v in counts.values()), "by_reason": {k: int(v) for k, v in counts.items()}}


def _difficulty_section(pairs: list) -> dict:
    known = set(pair_quality.DIFFICULTIES)
    from_meta = sum(1 for p in pairs if p.meta.get("difficulty") in known)
    labels = [p.meta["difficulty"] if p.meta.get("difficulty") in known else pair_quality.classify_difficulty(p.sql)
              for p in pairs]
    return {"distribution": pair_quality.count_by_difficulty(labels),
            "source": "metadata" if from_meta == len(pairs) else ("sql" if from_meta == 0 else "metadata+sql")}


def _comment_section(task_dir: Path, tables: list[Table]) -> dict:
    columns = [(t, c) for t in tables for c in t.columns]
    with_comment = sum(1 for _, c in columns if c.effective_comment)
    tables_with_comment = sum(1 for t in tables if t.effective_comment)
    existing = [(t, t.comment) for t in tables if t.comment] + [(t, c.comment) for t, c in columns if c.comment]
    ddl_text: dict[str, Optional[str]] = {}
    for t in tables:
        path = task_dir / f"{t.file_stem}.ddl"
        ddl_text[t.qualified] = path.read_text(encoding="utf-8") if path.is_file() else None
    has_ddl = all(v is not None for v in ddl_text.values()) and bool(tables)
    if has_ddl:
        # verbatim, or as the COMMENT ON statement writes it (quotes doubled inside the SQL literal)
        kept = sum(1 for t, text in existing
                   if text.strip() in ddl_text[t.qualified] or literal(text) in ddl_text[t.qualified])
    else:
        kept = len(existing)  # the snapshot model prefers the database comment over a generated one
    return {"columns_total": len(columns), "columns_with_comment": with_comment,
            "column_comment_coverage": _rate(with_comment, len(columns)),
            "tables_total": len(tables), "tables_with_comment": tables_with_comment,
            "existing_database_comments": len(existing), "existing_comments_kept": kept,
            "kept_checked_against": "ddl_files" if has_ddl else "schema_snapshot"}


def _privacy_section(tables: list[Table]) -> dict:
    """What was masked and why, what was withheld (see schema.pii)."""
    masked, withheld = [], []
    for t in tables:
        for c in t.columns:
            if c.pii_kind:
                item = {"table": t.qualified, "column": c.name, "kind": c.pii_kind, "reason": c.pii_source}
                (withheld if c.pii_kind == "secret" else masked).append(item)
    by_kind: dict[str, int] = {}
    for item in masked:
        by_kind[item["kind"]] = by_kind.get(item["kind"], 0) + 1
    return {"columns_masked": len(masked), "masked_by_kind": dict(sorted(by_kind.items())),
            "columns_withheld_as_secrets": len(withheld), "masked_columns": masked, "withheld_columns": withheld}


def build_quality_report(task_dir: Path, with_evaluation: bool = False) -> dict[str, Any]:
    """The quality report of a task directory as a JSON-ready dict (see the module docstring). With
    `with_evaluation` (the evaluation step completed in the task's current state) it also links
    `evaluation_report.json` with its headline figures (`evaluation`)."""
    task_dir = Path(task_dir)
    pairs_file = latest_pairs_file(task_dir)
    pairs = read_pairs(pairs_file) if pairs_file else []
    sidecar = (_read_json(sidecar_path(pairs_file)) or {}) if pairs_file else {}
    report = latest_validation_report(task_dir, pairs_file)
    snapshot_path = task_dir / SNAPSHOT_FILE
    tables, _ = load_snapshot(snapshot_path) if snapshot_path.is_file() else ([], {})
    validation = _validation_section(report, len(pairs))
    out: dict[str, Any] = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "pairs_file": pairs_file.name if pairs_file else None,
        "pairs_in": validation["pairs_in"] if validation["pairs_in"] is not None else len(pairs),
        "pairs_out": len(pairs),
        "executable_rate": validation["executable_rate"],
        "executable_rate_after_repair": validation["executable_rate_after_repair"],
        "non_empty_rate": validation["non_empty_rate"],
        "validation": validation,
        "repair": _repair_section(report),
        "duplicates": _duplicates_section(pairs, sidecar),
        # LLM answers qa_generation dropped, by reason: invalid_sql, no_task_table, personal_data and the semantic
        # model's rules (aggregated_identifier, summed_non_additive, ranked_flag, bridge_counted, audit_time_axis)
        "llm_rejections": _rejections_section(sidecar),
        "difficulty": _difficulty_section(pairs),
    }
    if tables:
        coverage = pair_quality.compute_coverage((p.sql for p in pairs), tables).as_dict()
        out["coverage"] = {**coverage, "source": "sql (parsed with sqlglot)"}
        out["comments"] = _comment_section(task_dir, tables)
        out["privacy"] = _privacy_section(tables)
    else:
        out["coverage"] = None
        out["comments"] = None
        out["privacy"] = None
        out["schema_note"] = f"{SNAPSHOT_FILE} not found: table, FK and comment coverage unknown"
    if with_evaluation:
        evaluation = _read_json(task_dir / EVALUATION_FILE)
        if isinstance(evaluation, dict) and isinstance(evaluation.get("headline"), dict):
            out["evaluation"] = evaluation["headline"]
    return out


def write_quality_report(task_dir: Path, with_evaluation: bool = False) -> dict[str, Any]:
    """Build the report and write it to `quality_report.json` (temp file, then rename); return it."""
    report = build_quality_report(task_dir, with_evaluation)
    path = Path(task_dir) / QUALITY_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return report


def _pct(value: Optional[float]) -> str:
    return "未知 (unknown)" if value is None else f"{value * 100:.1f}%"


def summary_lines(q: dict[str, Any]) -> list[str]:
    """The quality section of the human-readable summary log."""
    lines = ["质量报告 (quality_report.json)", "-" * 50,
             f"  问答对 输入/输出: {q['pairs_in']} / {q['pairs_out']}",
             f"  可执行率: {_pct(q['executable_rate'])}  (修复后 {_pct(q['executable_rate_after_repair'])})",
             f"  非空结果率: {_pct(q['non_empty_rate'])}"]
    dup = q["duplicates"]
    gen = dup["removed_by_generator"]
    lines.append(f"  重复: 生成阶段已去除 完全重复 {gen['exact']} / 模板重复 {gen['template']}" if gen
                 else "  重复: 生成阶段去重数未记录")
    lines.append(f"        输出中仍存在 完全重复 {dup['remaining_in_output']['exact']} / "
                 f"模板重复 {dup['remaining_in_output']['template']}")
    rejected = q.get("llm_rejections")
    if rejected and rejected["total"]:
        lines.append(f"  大模型答案被丢弃: {rejected['total']} 条（"
                     + "，".join(f"{k} {v}" for k, v in rejected["by_reason"].items()) + "）")
    if q.get("coverage"):
        c = q["coverage"]
        lines.append(f"  表覆盖: {c['tables_covered']}/{c['tables_total']}  外键边覆盖: "
                     f"{c['fk_edges_covered']}/{c['fk_edges_total']}")
        if c["missing_tables"]:
            lines.append(f"    未覆盖的表: {', '.join(c['missing_tables'])}")
    else:
        lines.append("  表/外键覆盖: 未知 (schema_snapshot.json 不存在)")
    dist = q["difficulty"]["distribution"]
    lines.append("  难度分布: " + ", ".join(f"{k}={v}" for k, v in dist.items()))
    r = q["repair"]
    if r["attempted"]:
        lines.append(f"  修复: 尝试 {r['attempted']}, 成功 {r['succeeded']}, 失败 {r['failed']}, "
                     f"成功率 {_pct(r['success_rate'])}  ({r['mode']})")
    else:
        lines.append(f"  修复: 无 ({r['mode']})")
    if q.get("comments"):
        m = q["comments"]
        lines.append(f"  字段注释覆盖: {m['columns_with_comment']}/{m['columns_total']} "
                     f"({_pct(m['column_comment_coverage'])})；保留数据库原有注释 "
                     f"{m['existing_comments_kept']}/{m['existing_database_comments']}")
    p = q.get("privacy")
    if p:
        kinds = ", ".join(f"{k} {n}" for k, n in p["masked_by_kind"].items()) or "无"
        lines.append(f"  隐私: 脱敏字段 {p['columns_masked']} ({kinds})；敏感字段不采样 {p['columns_withheld_as_secrets']}")
    return lines
