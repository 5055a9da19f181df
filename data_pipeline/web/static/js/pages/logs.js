// Log viewer: live follow via the SSE endpoint (EventSource), level filter, keyword search (POST logs/query),
// auto-scroll toggle and download of data_pipeline.log. Falls back to polling when SSE is unavailable.
import { API, get, post, taskPath, token, fileUrl } from "../api.js";
import { el, field, button, busy, showError, timers, checkbox, fmtTime, STEPS, STEP_LABELS } from "../ui.js";

const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
const LINE_RE = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) \[([A-Z]+)\] ([^:\s]+): (?:\[([a-z_]+)\] )?(.*)$/s;
const MAX_LINES = 5000;

/** An SSE payload -> log entry: JSON entry objects, or a raw log line. */
export function toEntry(data) {
  try {
    const obj = JSON.parse(data);
    if (obj && typeof obj === "object") return obj.entry || obj;
  } catch (_) { /* raw line */ }
  const m = String(data).match(LINE_RE);
  return m ? { timestamp: m[1], level: m[2], logger: m[3], step: m[4], message: m[5] }
           : { timestamp: "", level: "INFO", message: String(data) };
}

/** The message with every case-insensitive occurrence of `keyword` in <mark> (text nodes only). */
function highlighted(message, keyword) {
  if (!keyword) return [message];
  const out = [];
  const lower = message.toLowerCase(), needle = keyword.toLowerCase();
  let at = 0;
  for (let i = lower.indexOf(needle); i !== -1; i = lower.indexOf(needle, at)) {
    if (i > at) out.push(message.slice(at, i));
    out.push(el("mark", { text: message.slice(i, i + needle.length) }));
    at = i + needle.length;
  }
  out.push(message.slice(at));
  return out;
}

function line(entry, keyword = "") {
  const level = (entry.level || "INFO").toUpperCase();
  return el(`div.log-line.l-${level}`, { dataset: { level } },
    el("span.log-ts", { text: entry.timestamp || "" }), " ",
    el("span.log-level", { text: level }), " ",
    entry.step ? el("span.log-step", { text: `[${entry.step}]` }) : "", entry.step ? " " : "",
    el("span.log-msg", {}, highlighted(entry.message || "", keyword)));
}

export async function render(box, task, initialKeyword = "") {
  const id = task.task_id;
  const level = el("select", { name: "level" }, el("option", { value: "", text: "全部级别" }),
                   LEVELS.map((l) => el("option", { value: l, text: l })));
  const step = el("select", { name: "step_name" }, el("option", { value: "", text: "全部步骤" }),
                  STEPS.map((s) => el("option", { value: s, text: STEP_LABELS[s] })));
  const keyword = el("input", { type: "search", name: "keyword", placeholder: "关键词…" });
  // one log file holds every run of the task: an execution narrows it to that run's time window
  const execution = el("select", { name: "execution" }, el("option", { value: "", text: "全部执行" }));
  const windows = new Map();
  get(taskPath(id, "/executions")).then((data) => {
    for (const e of data.executions || []) {
      // a single-step run logs its own step and the executor only: the window is whole seconds, so lines of the
      // step that ended in the second this run started are dropped by their tag
      const runStep = e.step_name || e.execution_step;
      windows.set(e.execution_id, { start: fmtTime(e.started_at), end: e.completed_at ? fmtTime(e.completed_at) : undefined,
                                    step: STEPS.includes(runStep) ? runStep : null });
      execution.append(el("option", { value: e.execution_id,
        text: `${fmtTime(e.started_at)} ${STEP_LABELS[e.step_name || e.execution_step] || e.execution_step || ""}` }));
    }
  }).catch(() => { /* the filter stays at 全部执行 */ });
  const autoScroll = checkbox("自动滚动", "auto_scroll", true);
  const view = el("div.log-view#log-view", { role: "log", "aria-live": "off", "aria-label": "任务日志", tabindex: "0" });
  const status = el("span.muted.log-status", { role: "status", "aria-live": "polite" });
  const errors = el("div.error-slot");
  let mode = "live"; // "live" follows the stream; "search" shows query results
  let buffer = [];

  const visible = (e) => (!level.value || (e.level || "").toUpperCase() === level.value)
                         && (!step.value || e.step === step.value);

  function add(entries) {
    let added = 0;
    if (mode === "live") view.querySelector(":scope > p.muted")?.remove(); // the "no logs" placeholder
    for (const e of entries) {
      buffer.push(e);
      if (mode === "live" && visible(e)) { view.append(line(e)); added += 1; }
    }
    if (buffer.length > MAX_LINES) buffer = buffer.slice(-MAX_LINES);
    while (view.childElementCount > MAX_LINES) view.firstChild.remove();
    if (added && autoScroll.input.checked) view.scrollTop = view.scrollHeight;
  }
  function redraw() {
    const shown = buffer.filter(visible);
    view.replaceChildren(...(shown.length ? shown.map((e) => line(e)) : [el("p.muted", { text: "暂无日志" })]));
    if (autoScroll.input.checked) view.scrollTop = view.scrollHeight;
  }

  // The stream replays the file from the start and follows it while an execution runs, then sends `end`.
  // After `end` a watcher reopens it when a new run starts (the replay then rebuilds the view).
  let source = null;
  let watching = false;
  function follow() {
    if (source) source.close();
    if (token() || !window.EventSource) { poll(); return; }
    buffer = [];
    if (mode === "live") redraw();
    source = new EventSource(`${API}/${taskPath(id, "/logs/stream")}?from=start`);
    source.addEventListener("log", (ev) => add([toEntry(ev.data)]));
    source.addEventListener("open", () => { if (mode === "live") status.textContent = "实时跟踪中"; });
    source.addEventListener("end", () => {
      source.close(); source = null;
      if (mode === "live") status.textContent = `当前没有执行中的任务，共 ${buffer.length} 条日志`;  // keep a search's count
      if (mode === "live" && !buffer.length) redraw();
      watch();
    });
    source.addEventListener("error", () => {
      if (!source) return;
      // the browser reconnects by itself; when the stream is closed for good, poll instead
      if (source.readyState === EventSource.CLOSED) { status.textContent = "实时连接断开，改为定时刷新"; poll(); }
      else status.textContent = "重新连接中…";
    });
  }
  timers.onLeave(() => { if (source) source.close(); });
  // After `end`: reopen the stream when a run starts, or when the task changed since (a short run may start
  // and finish between two checks; its lines must still appear).
  const taskKey = (t) => JSON.stringify([t.status, t.updated_at, t.current_step && t.current_step.execution_id]);
  let seenKey = taskKey(task);
  function watch() {
    if (watching) return;
    watching = true;
    timers.every(3000, async () => {
      if (source) return;
      try {
        const t = await get(taskPath(id));
        const key = taskKey(t);
        if (t.status === "in_progress" || t.current_step || key !== seenKey) { seenKey = key; follow(); }
      } catch (_) { /* next tick */ }
    });
  }
  let polling = false;
  async function pollOnce() {
    try {
      const data = await get(taskPath(id, "/logs?limit=1000"));
      buffer = data.logs || [];
      if (mode === "live") redraw();
      status.textContent = `定时刷新：共 ${data.total ?? buffer.length} 条`;
    } catch (err) { showError(errors, err, "加载日志失败"); }
  }
  function poll() {
    if (polling) return;
    polling = true;
    pollOnce();
    timers.every(3000, pollOnce);
  }

  const searchBtn = el("button.btn.primary", { type: "submit", text: "搜索" });
  const form = el("form.log-tools", { role: "search", "aria-label": "日志筛选" },
    field("级别", level).wrap, field("步骤", step).wrap, field("执行", execution).wrap, field("关键词", keyword).wrap,
    el("div.field.actions", {}, searchBtn,
       button("实时跟踪", () => { mode = "live"; keyword.value = ""; redraw(); status.textContent = "实时跟踪中"; }),
       autoScroll.wrap,
       el("a.btn", { href: fileUrl(id, "data_pipeline.log"), download: "data_pipeline.log", "data-download": "1", text: "下载日志" })));
  // level/step filter the live view instantly; a keyword runs a server-side query
  const refilter = () => { if (mode === "live") redraw(); else form.requestSubmit(); };
  level.addEventListener("change", refilter);
  step.addEventListener("change", refilter);
  execution.addEventListener("change", () => {
    if (execution.value) form.requestSubmit();
    else if (!keyword.value.trim()) { mode = "live"; redraw(); status.textContent = `共 ${buffer.length} 条日志`; }
    else form.requestSubmit();
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!keyword.value.trim() && !execution.value && mode === "live") { redraw(); return; }
    busy(searchBtn, async () => {
      mode = "search";
      const win = windows.get(execution.value) || {};
      const body = { page: 1, page_size: 500, keyword: keyword.value.trim() || undefined,
                     level: level.value || undefined, step_name: step.value || undefined, sort_order: "asc",
                     start_time: win.start, end_time: win.end };
      const data = await post(taskPath(id, "/logs/query"), body);
      const all = data.logs || [];
      const logs = win.step ? all.filter((e) => !STEPS.includes(e.step) || e.step === win.step) : all;
      const kw = keyword.value.trim();
      view.replaceChildren(...(logs.length ? logs.map((e) => line(e, kw)) : [el("p.muted", { text: "没有匹配的日志" })]));
      const total = ((data.pagination && data.pagination.total) ?? all.length) - (all.length - logs.length);
      status.textContent = `搜索结果：${total} 条` + (total > logs.length ? `（显示前 ${logs.length} 条）` : "");
    }, errors);
  });

  box.replaceChildren(form, errors, el("div.log-foot", {}, status), view);
  follow();
  if (initialKeyword) { keyword.value = initialKeyword; form.requestSubmit(); }
}
