// Render result objects (step summaries) and the task parameters as readable lists: Chinese labels, the raw
// key in each label's tooltip, values formatted for people (是/否, percentages, placeholders explained).
import { el, STEP_LABELS } from "../ui.js";
import { keyLabel, PARAM_LABELS, QUALITY_LABELS, RESULT_LABELS } from "../labels.js";

// status words a step summary carries (unfinished runs show them most)
const VALUE_LABELS = { skipped: "已跳过", not_run: "未运行", pending: "待执行", running: "执行中", completed: "已完成",
                       failed: "失败", cancelled: "已取消", outdated: "已过期", rule_based: "规则生成", llm: "LLM",
                       zh: "中文 (zh)", en: "英文 (en)", auto: "自动 (auto)" };

function scalar(v, key = "") {
  if (v === null || v === undefined) return "—";
  if (typeof v === "string" && VALUE_LABELS[v]) return VALUE_LABELS[v];
  // fractions in [0, 1] under *_rate / *_coverage keys read better as percentages
  if (typeof v === "number" && /(^|_)(rate|coverage|ratio)(_|$)/.test(key) && v >= 0 && v <= 1) return (v * 100).toFixed(1) + "%";
  if (typeof v === "boolean") return v ? "是" : "否";
  if (typeof v === "number" && !Number.isInteger(v)) return v.toFixed(v < 1 ? 3 : 2);
  return String(v);
}

const LABEL_TABLES = [RESULT_LABELS, STEP_LABELS, QUALITY_LABELS, PARAM_LABELS];

/** A small object on one line, labelled: "LLM 0，规则生成 14" (never a raw JSON dump). */
function inlinePairs(obj, tables) {
  const parts = Object.entries(obj).map(([k, v]) =>
    `${VALUE_LABELS[k] || tables.map((t) => t && t[k]).find(Boolean) || k} ${v && typeof v === "object" ? "…" : scalar(v, k)}`);
  return el("span", { text: parts.join("，") || "（空）" });
}

/** A <dl> of the object's fields; nested objects nest up to `depth`, long arrays are summarised. */
export function summaryTable(obj, depth = 3, tables = LABEL_TABLES) {
  if (obj === null || typeof obj !== "object") return el("p", { text: scalar(obj) });
  const dl = el("dl.summary");
  for (const [key, value] of Object.entries(obj)) {
    dl.append(el("dt", {}, keyLabel(key, ...tables)));
    let dd;
    if (Array.isArray(value)) {
      const simple = value.every((v) => v === null || typeof v !== "object");
      dd = el("dd", { text: simple && value.length <= 12 ? value.map((v) => scalar(v)).join("，") || "（空）"
                                                          : `${value.length} 项` });
      if (!simple && value.length && depth > 1 && value.length <= 5)
        dd.append(...value.map((v) => summaryTable(v, depth - 1, tables)));
    } else if (value && typeof value === "object") {
      dd = el("dd", {}, depth > 1 ? summaryTable(value, depth - 1, tables) : inlinePairs(value, tables));
    } else {
      dd = el("dd", { text: scalar(value, key) });
    }
    dl.append(dd);
  }
  return dl;
}

/** A parameter value as a person reads it: the `{task_directory}` placeholder and defaults spelled out. */
function paramValue(key, value) {
  if (key === "table_list_file" && typeof value === "string")
    return value.replace("{task_directory}", "任务目录") + "（建任务时复制进任务目录的表清单）";
  if (key === "db_connection" && (value === null || value === "")) return "默认业务数据库";
  if (key === "file_upload_mode") return value ? "是（尚未上传表清单）" : "否";
  if (key === "vector_db_connection" && (value === null || value === "")) return "默认向量库（VECTOR_DB_URL，未设置时为元数据库）";
  if (key === "question_language") return { zh: "中文", en: "英文", auto: "自动（按业务背景和数据库注释判断）" }[value] || scalar(value, key);
  if (Array.isArray(value)) return value.join("，") || "（空）";
  if (value && typeof value === "object") return JSON.stringify(value);
  return scalar(value, key);
}

/** The task's parameters: every key with its Chinese label (raw key in the tooltip). */
export function paramsTable(params) {
  const entries = Object.entries(params || {});
  if (!entries.length) return el("p.muted", { text: "无参数" });
  return el("dl.summary.params", {}, entries.flatMap(([key, value]) => [
    el("dt", {}, keyLabel(key, PARAM_LABELS)),
    el("dd", { dataset: { key }, text: paramValue(key, value) })]));
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
