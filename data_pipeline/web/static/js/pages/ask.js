// 试问: type a question, see what Vanna would retrieve from this task's vector store (POST /vector/search):
// the nearest question-SQL pairs with their SQL, and the DDL / documentation hits, each with its cosine distance.
import { post } from "../api.js";
import { el, busy, showError } from "../ui.js";

const COLLECTION_LABELS = { sql: "问答对", ddl: "DDL", documentation: "文档" };

function mixedWarning(task) {
  const load = ((task.result || {}).steps || {}).training_load || {};
  const w = (load.warnings || []).find((x) => x && x.code === "VECTOR_STORE_MIXED");
  return w ? el("div.error-box", { role: "note" }, el("strong", { text: "向量库混用：" }), w.message) : "";
}

function hitRow(hit, collection) {
  const owners = (hit.task_ids || []).join(", ");
  const meta = el("div.muted.mono", { text: `距离 ${hit.distance.toFixed(4)}${owners ? " · " + owners : ""}` });
  if (collection === "sql") {
    return el("li.ask-hit", {}, el("div", { text: hit.question || hit.document }),
      el("pre.mono", { text: hit.sql || "" }), meta);
  }
  const text = hit.document || "";
  return el("li.ask-hit", {}, el("details", {},
    el("summary", { text: text.split("\n").find((l) => l.trim()) || text.slice(0, 80) }),
    el("pre.mono", { text })), meta);
}

function results(data) {
  return Object.entries(data.results).map(([collection, hits]) =>
    el("div.ask-group", { dataset: { collection } },
      el("h3", { text: `${COLLECTION_LABELS[collection] || collection}（${hits.length}）` }),
      hits.length ? el("ol", {}, hits.map((h) => hitRow(h, collection)))
                  : el("p.muted", { text: "向量库中没有该类数据" })));
}

/** The 试问 card of a task's overview. */
export function askBox(task) {
  const input = el("input", { type: "text", name: "question", maxlength: "2000", placeholder: "输入一个问题，例如：各服务区的营业额",
                              "aria-label": "试问的问题" });
  const topK = el("input", { type: "number", name: "top_k", min: "1", max: "50", value: "5", "aria-label": "返回条数" });
  const btn = el("button.btn.primary", { type: "submit", text: "试问" });
  const errors = el("div.error-slot");
  const out = el("div.ask-results", { "aria-live": "polite" });
  const form = el("form.row", {}, input, topK, btn);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!input.value.trim()) { input.focus(); return; }
    busy(btn, async () => {
      const data = await post("data_pipeline/vector/search",
        { question: input.value.trim(), task_id: task.task_id, top_k: Number(topK.value) || 5 });
      out.replaceChildren(el("p.muted", { text: `向量库 ${data.vector_store} · ${data.embedding.model} · ` +
                                                  `${Math.round(data.search_seconds * 1000)} ms` }), ...results(data));
    }, errors);
  });
  showError(errors, null);
  return el("section.card.ask", { "aria-label": "试问" }, el("h2", { text: "试问" }),
    el("p.muted", { text: "看看这个问题会从向量库检索到哪些问答对、DDL 和文档（与 Vanna 的检索相同）。" }),
    mixedWarning(task), form, errors, out);
}
