// The task's quality report (data_pipeline/validation/quality.py) as sections with small charts: headline
// tiles, validation status counts (stacked bar), coverage gauges, difficulty distribution (bars), duplicates
// and repair. Every label is Chinese with the report's raw key in its tooltip; null means unknown ("—").
import { el } from "../ui.js";
import { keyLabel, labelOf, QUALITY_LABELS, DIFFICULTY_LABELS, VALIDATION_STATUS_LABELS } from "../labels.js";
import { skippedTables } from "../messages.js";

const pct = (v) => (typeof v === "number" ? (v * 100).toFixed(1) + "%" : "—");
const VALIDATION_STATE = { completed: "已完成", not_run: "未运行", outdated: "已过期（问答对文件在验证后被修改）" };

function tile(key, value, note = "") {
  return el("div.tile", { dataset: { key } }, el("div.tile-value", { text: String(value) }),
            el("div.tile-label", {}, keyLabel(key, QUALITY_LABELS)), note ? el("div.tile-note", { text: note }) : "");
}

/** Headline numbers as tiles; null values show "—". Tables a partial run skipped are counted beside the
 *  covered ones (2 / 2 would hide that a third listed table was never read). */
export function qualityTiles(q, warnings = []) {
  const cov = q.coverage || {};
  const comments = q.comments || {};
  const skipped = skippedTables(warnings);
  return el("div.tiles", {},
    tile("pairs_out", q.pairs_out ?? "—"),
    tile("executable_rate", pct(q.executable_rate)),
    tile("executable_rate_after_repair", pct(q.executable_rate_after_repair)),
    tile("non_empty_rate", pct(q.non_empty_rate)),
    tile("tables_covered", cov.tables_total ? `${cov.tables_covered ?? "—"} / ${cov.tables_total + skipped}` : "—",
         skipped ? `另有 ${skipped} 张表已跳过（见警告）` : ""),
    tile("column_comment_coverage", pct(comments.column_comment_coverage)));
}

const NONE_TEXT = { fk_edges_covered: "无外键关系（0 / 0）", existing_comments_kept: "数据库原本没有注释（0 / 0）",
                    tables_with_comment: "无（0 / 0）", columns_with_comment: "无（0 / 0）" };

/** A horizontal gauge: part of whole, as a bar with "part / whole (xx%)". */
export function gauge(key, part, whole, labels = QUALITY_LABELS) {
  const known = typeof part === "number" && typeof whole === "number" && whole > 0;
  const none = whole === 0;   // 0 of 0 is "nothing to cover", not unknown
  const ratio = known ? Math.max(0, Math.min(1, part / whole)) : 0;
  const text = known ? `${part} / ${whole}（${(ratio * 100).toFixed(1)}%）` : none ? NONE_TEXT[key] || "无（0 / 0）" : "未知";
  const fill = el("div.gauge-fill");
  fill.style.width = (ratio * 100).toFixed(1) + "%";
  return el("div.gauge-row", { dataset: { key } }, el("div.gauge-label", {}, keyLabel(key, labels)),
    el("div.gauge", { role: "meter", "aria-label": `${labelOf(key, labels)} ${text}`, "aria-valuemin": "0",
                      "aria-valuemax": String(whole || 0), "aria-valuenow": String(known ? part : 0) }, fill),
    el("div.gauge-text", { text }));
}

/** Counts as one stacked bar with a legend (validation status counts). */
function stackedBar(counts, labels) {
  const entries = Object.entries(counts || {});
  const total = entries.reduce((sum, [, n]) => sum + (Number(n) || 0), 0);
  if (!total) return el("p.muted", { text: "没有计数" });
  const bar = el("div.stack", { role: "img", "aria-label": entries.map(([k, n]) => `${labelOf(k, labels)} ${n}`).join("，") });
  for (const [key, n] of entries) {
    if (!n) continue;
    const part = el(`div.stack-part.c-${key}`, { title: `${labelOf(key, labels)} (${key})：${n}` });
    part.style.width = ((n / total) * 100).toFixed(2) + "%";
    bar.append(part);
  }
  const legend = el("ul.legend", {}, entries.map(([key, n]) =>
    el("li", { dataset: { key } }, el(`span.swatch.c-${key}`), keyLabel(key, labels), el("strong", { text: ` ${n}` }))));
  return el("div", {}, bar, legend);
}

/** Difficulty distribution as bars scaled to the largest count. */
export function barChart(counts, labels) {
  const entries = Object.entries(counts || {});
  const max = Math.max(1, ...entries.map(([, n]) => Number(n) || 0));
  if (!entries.length) return el("p.muted", { text: "没有数据" });
  return el("div.bars", { role: "list", "aria-label": "难度分布" }, entries.map(([key, n]) => {
    const fill = el("div.bar-fill");
    fill.style.width = (((Number(n) || 0) / max) * 100).toFixed(1) + "%";
    return el("div.bar-row", { role: "listitem", dataset: { key } }, el("div.bar-label", {}, keyLabel(key, labels)),
              el("div.bar", {}, fill), el("div.bar-value", { text: String(n) }));
  }));
}

/** Small key/value list with Chinese labels (raw keys in tooltips). */
function facts(obj, keys, format = {}) {
  return el("dl.facts", {}, keys.filter((k) => obj && obj[k] !== undefined).flatMap((k) => [
    el("dt", {}, keyLabel(k, QUALITY_LABELS)),
    el("dd", { text: format[k] ? format[k](obj[k]) : obj[k] === null ? "—" : Array.isArray(obj[k])
                                                  ? obj[k].join("，") || "无" : String(obj[k]) })]));
}

function section(title, key, ...body) {
  return el("section.q-section", { "aria-label": title, dataset: { key } },
    el("h3", { title: key, text: title }), ...body);
}

const yesNo = (v) => (v === null || v === undefined ? "—" : v ? "是" : "否");

// the report's English words for people: the repair mode and the validation note (raw text in the tooltip)
function repairMode(mode) {
  const m = String(mode || "");
  if (m === "llm") return "大模型修复";
  if (m === "not_run") return "未运行（SQL 验证尚未执行）";
  if (m.startsWith("disabled")) return "已关闭（创建任务时未勾选“LLM 修复失败的 SQL”）";
  if (m.startsWith("none")) return "不修复（规则生成模式，未配置大模型）";
  return m || "—";
}
const VALIDATION_NOTE = { not_run: "这个问答对文件还没有经过 SQL 验证，可执行率未知",
                          outdated: "问答对文件在上次验证后被修改，可执行率未知" };

/** The whole report: sections with charts (replaces the former key/value dump). */
export function qualityReport(q) {
  const v = q.validation || {};
  const cov = q.coverage;
  const com = q.comments;
  const dup = q.duplicates || {};
  const rep = q.repair || {};
  const gen = dup.removed_by_generator;
  const rest = dup.remaining_in_output || {};
  const edges = (cov && cov.missing_fk_edges) || [];
  return el("div.quality-report", {},
    section("SQL 验证结果", "validation",
      el("p", {}, el("span.badge", { title: v.status || "", text: VALIDATION_STATE[v.status] || v.status || "—" }),
         v.note ? el("span.muted", { title: v.note, text: " " + (VALIDATION_NOTE[v.status] || v.note) }) : ""),
      v.status_counts ? stackedBar(v.status_counts, VALIDATION_STATUS_LABELS) : "",
      facts(v, ["pairs_in", "pairs_removed", "pairs_out_file_modified", "report_file"],
            { pairs_out_file_modified: yesNo })),
    section("覆盖率", "coverage",
      cov ? [gauge("tables_covered", cov.tables_covered, cov.tables_total),
             gauge("fk_edges_covered", cov.fk_edges_covered, cov.fk_edges_total)]
          : el("p.muted", { text: q.schema_note || "覆盖率未知" }),
      com ? [gauge("columns_with_comment", com.columns_with_comment, com.columns_total),
             gauge("tables_with_comment", com.tables_with_comment, com.tables_total),
             gauge("existing_comments_kept", com.existing_comments_kept, com.existing_database_comments)] : "",
      cov ? facts({ ...cov, missing_fk_edges: edges.map((e) => (typeof e === "string" ? e : JSON.stringify(e))) },
                  ["missing_tables", "missing_fk_edges"]) : ""),
    section("难度分布", "difficulty", barChart((q.difficulty || {}).distribution, DIFFICULTY_LABELS)),
    section("重复问答对", "duplicates",
      el("dl.facts", {},
        el("dt", {}, keyLabel("removed_by_generator", QUALITY_LABELS)),
        el("dd", { text: gen ? `完全重复 ${gen.exact}，模板重复 ${gen.template}` : "未记录" }),
        el("dt", {}, keyLabel("remaining_in_output", QUALITY_LABELS)),
        el("dd", { text: `完全重复 ${rest.exact ?? "—"}，模板重复 ${rest.template ?? "—"}` }))),
    section("LLM 修复", "repair",
      facts(rep, ["mode", "attempted", "succeeded", "failed", "success_rate"], { success_rate: pct, mode: repairMode })),
    el("p.muted", {}, keyLabel("pairs_file", QUALITY_LABELS), `：${q.pairs_file || "—"} · `,
       keyLabel("generated_at", QUALITY_LABELS), `：${q.generated_at || "—"}`));
}
