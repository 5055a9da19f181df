// 试问: type a question, see what Vanna would retrieve from this task's vector store (POST /vector/search):
// the nearest question-SQL pairs with their SQL, and the DDL / documentation hits, each with its cosine distance.
import { post } from "../api.js";
import { el, busy, showError } from "../ui.js";

const COLLECTION_LABELS = { sql: "问答对", ddl: "DDL", documentation: "文档" };

/** A task whose training_load has not completed has no rows of its own: say so before showing other tasks'. */
function notLoaded(task) {
  if (((task.step_status || {}).training_load) === "completed") return "";
  return el("div.warn-box.ask-not-loaded", { role: "note" },
    el("strong", { text: "该任务尚未把训练数据加载到向量库：" }),
    "检索结果只会来自同一向量库中其他任务加载的数据（标为“其他任务”）。");
}

function mixedWarning(task) {
  const load = ((task.result || {}).steps || {}).training_load || {};
  const w = (load.warnings || []).find((x) => x && x.code === "VECTOR_STORE_MIXED");
  return w ? el("div.error-box", { role: "note" }, el("strong", { text: "向量库混用：" }), w.message) : "";
}

/** Whose row it is, in a few words: this task, this task and others, or only other tasks (ids in the tooltip). */
function ownerText(ids, taskId) {
  const others = ids.filter((id) => id !== taskId).length;
  if (ids.includes(taskId)) return others ? `本任务及其他 ${others} 个任务` : "本任务";
  return ids.length ? `其他任务（${ids.length} 个）` : "来源未记录";
}

function hitRow(hit, collection, taskId) {
  const ids = hit.task_ids || [];
  const meta = el("div.muted", { dataset: { own: String(ids.includes(taskId)) } },
    el("span.mono", { text: `距离 ${hit.distance.toFixed(4)}` }), " · ",
    el("span.owner", { title: ids.join(", "), text: ownerText(ids, taskId) }));
  if (collection === "sql") {
    return el("li.ask-hit", {}, el("div", { text: hit.question || hit.document }),
      el("pre.mono", { text: hit.sql || "" }), meta);
  }
  const text = hit.document || "";
  return el("li.ask-hit", {}, el("details", {},
    el("summary", { text: text.split("\n").find((l) => l.trim()) || text.slice(0, 80) }),
    el("pre.mono", { text })), meta);
}

function results(data, taskId) {
  return Object.entries(data.results).map(([collection, hits]) =>
    el("div.ask-group", { dataset: { collection } },
      el("h3", { text: `${COLLECTION_LABELS[collection] || collection}（${hits.length}）` }),
      hits.length ? el("ol", {}, hits.map((h) => hitRow(h, collection, taskId)))
                  : el("p.muted", { text: "向量库中没有该类数据" })));
}

/** The 试问 card of a task's overview. */
export function askBox(initial) {
  let task = initial;
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
      const store = data.vector_store === "metadata database" ? "默认向量库（元数据库）" : data.vector_store;
      out.replaceChildren(
        el("p.muted", { text: `向量库：${store} · 嵌入模型：${data.embedding.model} · 用时 ` +
                              `${Math.round(data.search_seconds * 1000)} 毫秒` }), ...results(data, task.task_id));
    }, errors);
  });
  showError(errors, null);
  const note = el("div.ask-note-slot", {}, notLoaded(task), mixedWarning(task));
  const node = el("section.card.ask", { "aria-label": "试问" }, el("h2", { text: "试问" }),
    el("p.muted", { text: "看看这个问题会从向量库检索到哪些问答对、DDL 和文档（与 Vanna 的检索相同）。" +
                          "距离是余弦距离：0 表示完全相同，越小越相近；通常 0.3 以内算很接近，0.6 以上关系不大。" }),
    note, form, errors, out);
  // the task moves on (its load completes): the notes follow without clearing the question
  node.dpUpdate = (t) => { task = t; note.replaceChildren(notLoaded(t), mixedWarning(t)); };
  return node;
}
