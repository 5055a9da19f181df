// Render an arbitrary result object (task `result`, parameters) as a readable key/value table.
import { el } from "../ui.js";

const LABELS = {
  quality: "质量", quality_report: "质量报告", total: "总数", passed: "通过", failed: "失败", success_rate: "成功率",
  valid: "有效", invalid: "无效", repaired: "已修复", removed: "已删除", pairs: "问答对", tables: "表",
  table_count: "表数量", pair_count: "问答对数量", files: "文件", duration: "耗时(秒)", mode: "模式",
  pairs_in: "输入问答对", pairs_out: "输出问答对", executable_rate: "SQL 可执行率",
  executable_rate_after_repair: "修复后可执行率", non_empty_rate: "非空结果率", validation: "SQL 验证",
  repair: "LLM 修复", duplicates: "重复", difficulty: "难度分布", coverage: "覆盖率", attempted: "尝试",
  succeeded: "成功", column_comment_coverage: "字段注释覆盖率", tables_total: "表总数", status: "状态",
  generated_at: "生成时间", pairs_file: "问答对文件", distribution: "分布",
  db_connection: "数据库连接", business_context: "业务背景", task_name: "任务名称", table_list: "表清单",
  vector_db_connection: "向量库连接",
};

function scalar(v, key = "") {
  if (v === null || v === undefined) return "—";
  // fractions in [0, 1] under *_rate / *_coverage keys read better as percentages
  if (typeof v === "number" && /(^|_)(rate|coverage|ratio)(_|$)/.test(key) && v >= 0 && v <= 1) return (v * 100).toFixed(1) + "%";
  if (typeof v === "boolean") return v ? "是" : "否";
  if (typeof v === "number" && !Number.isInteger(v)) return v.toFixed(v < 1 ? 3 : 2);
  return String(v);
}

/** A <dl> of the object's fields; nested objects nest up to `depth`, long arrays are summarised. */
export function summaryTable(obj, depth = 3) {
  if (obj === null || typeof obj !== "object") return el("p", { text: scalar(obj) });
  const dl = el("dl.summary");
  for (const [key, value] of Object.entries(obj)) {
    dl.append(el("dt", { text: LABELS[key] ? `${LABELS[key]} (${key})` : key }));
    let dd;
    if (Array.isArray(value)) {
      const simple = value.every((v) => v === null || typeof v !== "object");
      dd = el("dd", { text: simple && value.length <= 12 ? value.map(scalar).join("，") || "（空）"
                                                          : `${value.length} 项` });
      if (!simple && value.length && depth > 1 && value.length <= 5)
        dd.append(...value.map((v) => summaryTable(v, depth - 1)));
    } else if (value && typeof value === "object") {
      dd = el("dd", {}, depth > 1 ? summaryTable(value, depth - 1) : el("span.mono", { text: JSON.stringify(value) }));
    } else {
      dd = el("dd", { text: scalar(value, key) });
    }
    dl.append(dd);
  }
  return dl;
}

/** The first object under a key mentioning "quality" (searching a few levels deep), else null. */
export function findQuality(result, depth = 3) {
  if (!result || typeof result !== "object" || depth === 0) return null;
  for (const [key, value] of Object.entries(result))
    if (/quality/i.test(key) && value && typeof value === "object") return value;
  for (const value of Object.values(result)) {
    const found = value && typeof value === "object" && !Array.isArray(value) ? findQuality(value, depth - 1) : null;
    if (found) return found;
  }
  return null;
}

const pct = (v) => (typeof v === "number" ? (v * 100).toFixed(1) + "%" : "—");

/** Headline numbers of the quality report (data_pipeline/validation/quality.py) as tiles; null values show "—". */
export function qualityTiles(q) {
  const cov = q.coverage || {};
  const comments = q.comments || {};
  const tiles = [
    ["输出问答对", q.pairs_out ?? "—"],
    ["SQL 可执行率", pct(q.executable_rate)],
    ["修复后可执行率", pct(q.executable_rate_after_repair)],
    ["非空结果率", pct(q.non_empty_rate)],
    ["表覆盖", cov.tables_total ? `${cov.tables_covered ?? "—"} / ${cov.tables_total}` : "—"],
    ["字段注释覆盖率", pct(comments.column_comment_coverage)],
  ];
  return el("div.tiles", {}, tiles.map(([label, value]) =>
    el("div.tile", {}, el("div.tile-value", { text: String(value) }), el("div.tile-label", { text: label }))));
}
