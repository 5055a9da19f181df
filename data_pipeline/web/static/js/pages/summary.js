// Render result objects (step summaries) and the task parameters as readable lists: Chinese labels, the raw
// key in each label's tooltip, values formatted for people (是/否, percentages, placeholders explained).
import { el, STEP_LABELS } from "../ui.js";
import { keyLabel, PARAM_LABELS, QUALITY_LABELS, RESULT_LABELS } from "../labels.js";

function scalar(v, key = "") {
  if (v === null || v === undefined) return "—";
  // fractions in [0, 1] under *_rate / *_coverage keys read better as percentages
  if (typeof v === "number" && /(^|_)(rate|coverage|ratio)(_|$)/.test(key) && v >= 0 && v <= 1) return (v * 100).toFixed(1) + "%";
  if (typeof v === "boolean") return v ? "是" : "否";
  if (typeof v === "number" && !Number.isInteger(v)) return v.toFixed(v < 1 ? 3 : 2);
  return String(v);
}

const LABEL_TABLES = [RESULT_LABELS, STEP_LABELS, QUALITY_LABELS, PARAM_LABELS];

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
      dd = el("dd", {}, depth > 1 ? summaryTable(value, depth - 1, tables) : el("span.mono", { text: JSON.stringify(value) }));
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
