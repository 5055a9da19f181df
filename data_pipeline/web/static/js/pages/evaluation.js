// The evaluation step's report (data_pipeline/evaluation, evaluation_report.json) on the task page: headline
// tiles (retrieval verbatim vs reworded, execution accuracy with context vs DDL only), per-level bars and the
// worst misses (question, gold SQL, generated SQL, why). Raw keys stay in tooltips.
import { el, showError } from "../ui.js";
import { fileUrl, getText } from "../api.js";

const REPORT = "evaluation_report.json";
const SUMMARY = "evaluation_report.md";
const LEVELS = { simple: "简单", moderate: "中等", complex: "复杂", "highly complex": "高度复杂" };
const pct = (v) => (typeof v === "number" ? (v * 100).toFixed(1) + "%" : "—");
const points = (v) => (typeof v === "number" ? (v > 0 ? "+" : "") + v.toFixed(1) + " 点" : "—");
const WORST = 10;

function tile(key, label, value) {
  return el("div.tile", { dataset: { key }, title: key }, el("div.tile-value", { text: value }),
            el("div.tile-label", { text: label }));
}

/** Pairs of bars per level: [label, value 0..1] each, one row per (level, series). */
function levelBars(rows, series) {
  if (!rows.length) return el("p.muted", { text: "没有数据" });
  return el("div.bars.eval-bars", { role: "list", "aria-label": "按难度级别" }, rows.flatMap(([level, values]) =>
    series.map(([key, label], i) => {
      const v = values[key];
      const fill = el(`div.bar-fill.series-${i}`);
      fill.style.width = (typeof v === "number" ? Math.max(0, Math.min(1, v)) * 100 : 0).toFixed(1) + "%";
      return el("div.bar-row", { role: "listitem", dataset: { key: `${level}:${key}` } },
        el("div.bar-label", { title: `${level} · ${key}`, text: `${LEVELS[level] || level} · ${label}` }),
        el("div.bar", {}, fill), el("div.bar-value", { text: pct(v) }));
    })));
}

function misses(list) {
  if (!list.length) return el("p.muted", { text: "没有未命中的问题" });
  return el("ol.eval-misses", {}, list.slice(0, WORST).map((m) =>
    el("li", { dataset: { arm: m.arm } },
      el("div", {}, el("span.badge", { title: m.arm, text: m.arm === "context" ? "带检索上下文" : "仅 DDL" }),
         " ", el("span.muted", { text: LEVELS[m.level] || m.level || "" }), " ", m.question,
         m.arm === "context" && m.baseline_ex ? el("span.badge.s-failed", { text: " 仅 DDL 时正确" }) : ""),
      el("div.muted", { text: "原因：" + (m.reason || "—") }),
      el("pre.sql", { title: "gold_sql", text: "标准：" + (m.gold_sql || "") }),
      el("pre.sql", { title: "generated_sql", text: "生成：" + (m.generated_sql || "（无）") }))),
    list.length > WORST ? el("p.muted", { text: `另有 ${list.length - WORST} 个未命中，见完整报告` }) : "");
}

export function evaluationView(taskId, r) {
  const ret = r.retrieval || {}, ex = r.execution || {}, own = ret.loaded_pairs || {};
  const v = ret.verbatim || {}, p = ret.paraphrase || {};
  const tiles = [
    tile("table_recall@5", "表召回@5 原问 / 改写", `${pct((v.table_recall || {})["5"])} / ${pct((p.table_recall || {})["5"])}`),
    tile("pair_hit@5", "同形问答对命中@5 原问 / 改写", `${pct((v.pair_hit || {})["5"])} / ${pct((p.pair_hit || {})["5"])}`),
    tile("own_pair_recall@1", "已加载问答对自召回@1 原问 / 改写",
         `${pct(((own.verbatim || {}).pair_hit || {})["1"])} / ${pct(((own.paraphrase || {}).pair_hit || {})["1"])}`),
  ];
  if (ex.status === "completed") {
    tiles.push(tile("ex", "执行准确率 带上下文 / 仅 DDL", `${pct(ex.context.ex)} / ${pct(ex.baseline.ex)}`),
               tile("lift_points", "提升", points((ex.lift_points || {}).ex)));
  }
  const byLevel = Object.entries(ret.by_level || {}).map(([level, x]) =>
    [level, { verbatim: x.verbatim.pair_hit["5"], paraphrase: x.paraphrase.pair_hit["5"],
              recall: x.paraphrase.table_recall["5"] }]);
  const exLevels = Object.entries(ex.by_level || {}).map(([level, x]) =>
    [level, { context: x.context.ex, baseline: x.baseline.ex }]);
  const embedding = r.embedding || {};
  const embedders = r.embedders || [];
  const compare = embedders.length < 2 ? "" : [el("h3", { text: "嵌入模型对比（同一留出集）" }),
    el("table.embedders", {}, el("thead", {}, el("tr", {}, ["嵌入模型", "表召回@5 原问 / 改写", "自召回@5 原问 / 改写",
                                                               "执行准确率 带上下文", "评估时间"].map((h) => el("th", { text: h })))),
      el("tbody", {}, embedders.map((e) => {
        const h = e.headline || {};
        const tr = h["table_recall@5"] || {}, own = h["own_pair_recall@5"] || {};
        return el("tr", { dataset: { model: (e.embedding || {}).model || "" } },
          el("td", { text: (e.embedding || {}).model || "—" }),
          el("td", { text: `${pct(tr.verbatim)} / ${pct(tr.paraphrase)}` }),
          el("td", { text: `${pct(own.verbatim)} / ${pct(own.paraphrase)}` }),
          el("td", { text: pct(h.ex_context) }), el("td", { text: e.generated_at || "—" }));
      })))];
  return el("section.card.evaluation", { "aria-label": "评估报告" },
    el("h2", { text: "评估报告" }),
    el("p.muted", { text: `留出 ${(r.holdout || {}).evaluated ?? "—"} / ${(r.holdout || {}).pairs_total ?? "—"} 个问答对；`
      + `嵌入模型 ${embedding.model || "—"}（${embedding.kind || ""}）；改写方式 ${(r.paraphrase || {}).mode || "—"}` }),
    el("div.tiles", {}, tiles), compare,
    el("h3", { text: "检索：按难度级别" }),
    levelBars(byLevel, [["verbatim", "命中@5 原问"], ["paraphrase", "命中@5 改写"], ["recall", "表召回@5 改写"]]),
    ex.status === "completed"
      ? [el("h3", { text: "执行准确率：按难度级别" }),
         levelBars(exLevels, [["context", "带上下文"], ["baseline", "仅 DDL"]]),
         el("h3", { text: `最差的未命中（共 ${(ex.misses || []).length} 个）` }), misses(ex.misses || [])]
      : el("p.muted", { text: "执行准确率未运行：" + (ex.reason || "") }),
    el("p", {}, el("a", { href: fileUrl(taskId, REPORT), text: REPORT }), " · ",
       el("a", { href: fileUrl(taskId, SUMMARY, true), target: "_blank", rel: "noopener", text: SUMMARY })));
}

/** The section for the task page, or "" when the evaluation has not completed; fetches the report once per
 *  evaluation result (the summary in the task's result is the cache key). */
const cache = new Map();
export async function evaluationSection(task) {
  if (((task.step_status || {}).evaluation) !== "completed") return "";
  const key = JSON.stringify(((task.result || {}).steps || {}).evaluation || null);
  const id = task.task_id;
  if (!cache.has(id) || cache.get(id).key !== key) {
    const box = el("div");
    try {
      const report = JSON.parse(await getText(fileUrl(id, REPORT, true)));
      box.replaceChildren(evaluationView(id, report));
    } catch (err) { showError(box, err, "加载评估报告失败"); }
    cache.set(id, { key, node: box });
  }
  return cache.get(id).node;
}
