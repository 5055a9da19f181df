// Task list: filters (status, name, database, time range) and pagination on GET tasks, kept in the URL
// (#/tasks?status=failed&page=2: a reload, a bookmark or the back button keeps them). The list refreshes all the
// time — every 2 s while a listed task runs, every 5 s otherwise, so a run started from the API, the CLI or
// another tab shows up; the refresh revalidates (If-None-Match), so an unchanged page costs a 304 and no re-render.
import { getIfChanged } from "../api.js";
import { el, field, button, statusBadge, progressBar, fmtTime, fmtDuration, showError, timers, setTitle, STEPS,
         STEP_LABELS, STEP_STATUS, TASK_STATUS } from "../ui.js";

const PAGE_SIZE = 10;
const ACTIVE = new Set(["in_progress"]);
const TICK_MS = 1000, BUSY_TICKS = 2, IDLE_TICKS = 5;
const FILTER_KEYS = ["status", "task_name", "db_name", "created_time_start", "created_time_end"];
const state = { page: 1, filters: {} };

/** The list's state from the hash's query (`#/tasks?status=failed&page=2`). */
function readUrl(query) {
  const q = new URLSearchParams(query || "");
  state.filters = Object.fromEntries(FILTER_KEYS.filter((k) => q.get(k)).map((k) => [k, q.get(k)]));
  state.page = Math.max(1, parseInt(q.get("page") || "1", 10) || 1);
}

/** The state into the URL without a navigation (replaceState fires no hashchange). */
function writeUrl() {
  const q = new URLSearchParams();
  for (const k of FILTER_KEYS) if (state.filters[k]) q.set(k, state.filters[k]);
  if (state.page > 1) q.set("page", String(state.page));
  const hash = "#/tasks" + (q.toString() ? "?" + q : "");
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function stepBadges(stepStatus) {
  return el("div.step-badges", {}, STEPS.map((s) => {
    const st = (stepStatus || {})[s] || "pending";
    return el(`span.mini.s-${st}`, { title: `${STEP_LABELS[s]}：${STEP_STATUS[st] || st}`,
                                     "aria-label": `${STEP_LABELS[s]}：${STEP_STATUS[st] || st}` },
              STEP_LABELS[s]);
  }));
}

function row(task) {
  return el("tr", { dataset: { taskId: task.task_id } },
    el("td.task-cell", { "data-label": "任务" },
       el("a", { href: `#/tasks/${encodeURIComponent(task.task_id)}`, text: task.task_name || task.task_id }),
       el("div.muted.mono", { text: task.task_id })),
    el("td", { "data-label": "状态" }, statusBadge(task.status)),
    el("td.w-progress", { "data-label": "进度" }, progressBar(task.progress, `${task.task_id} 进度`, task.status)),
    el("td", { "data-label": "步骤" }, stepBadges(task.step_status)),
    el("td", { "data-label": "数据库", text: task.db_name || "—" }),
    el("td.nowrap", { "data-label": "创建时间", text: fmtTime(task.created_at) }),
    el("td.nowrap", { "data-label": "耗时", text: fmtDuration(task.duration) }));
}

function toLocalIso(value) { return value ? value + ":00" : undefined; }

export async function render(main, { query } = {}) {
  readUrl(query);
  setTitle(state.page > 1 ? `任务列表 第 ${state.page} 页` : "任务列表");
  const status = el("select", { name: "status" },
    el("option", { value: "", text: "全部" }),
    Object.entries(TASK_STATUS).map(([k, v]) => el("option", { value: k, text: v })));
  const name = el("input", { type: "search", name: "task_name", placeholder: "名称包含…" });
  const db = el("input", { type: "search", name: "db_name", placeholder: "如 highway_db" });
  const start = el("input", { type: "datetime-local", name: "created_time_start" });
  const end = el("input", { type: "datetime-local", name: "created_time_end" });
  const f = state.filters;
  status.value = f.status || ""; name.value = f.task_name || ""; db.value = f.db_name || "";
  start.value = (f.created_time_start || "").slice(0, 16); end.value = (f.created_time_end || "").slice(0, 16);

  const errors = el("div.error-slot");
  const tbody = el("tbody");
  const pager = el("nav.pager", { "aria-label": "分页" });
  const info = el("p.muted", { role: "status", "aria-live": "polite" });
  const auto = el("span.muted.auto-refresh");

  const form = el("form.filters", { role: "search", "aria-label": "任务筛选" },
    field("状态", status).wrap, field("任务名称", name).wrap, field("数据库", db).wrap,
    field("创建时间从", start).wrap, field("创建时间至", end).wrap,
    el("div.field.actions", {}, el("button.btn.primary", { type: "submit", text: "筛选" }),
       button("重置", () => { form.reset(); state.filters = {}; state.page = 1; load(); })));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.filters = { status: status.value || undefined, task_name: name.value.trim() || undefined,
                      db_name: db.value.trim() || undefined, created_time_start: toLocalIso(start.value),
                      created_time_end: toLocalIso(end.value) };
    state.page = 1;
    load();
  });

  main.append(
    el("div.page-head", {}, el("h1", { text: "任务列表" }),
       el("a.btn.primary", { href: "#/create", text: "＋ 创建任务" })),
    form, errors,
    el("div.table-wrap", {}, el("table.tasks.cards-on-phone", {},
      el("caption.sr-only", { text: "数据管道任务" }),
      el("thead", {}, el("tr", {}, ["任务", "状态", "进度", "步骤", "数据库", "创建时间", "耗时"]
        .map((h) => el("th", { scope: "col", text: h })))), tbody)),
    el("div.list-foot", {}, info, auto, pager));

  const filtered = () => Object.values(state.filters).some((v) => v !== undefined && v !== "");
  function emptyRow() {
    const cell = filtered()
      ? el("td.empty", { colspan: "7" }, el("strong", { text: "无匹配任务" }), el("span", { text: "：没有任务符合这些筛选条件。" }),
           button("显示全部任务", () => { form.reset(); state.filters = {}; state.page = 1; load(); }, "small"))
      : el("td.empty", { colspan: "7" }, el("strong", { text: "还没有任务" }), el("span", { text: "。" }),
           el("a.btn.small.primary", { href: "#/create", text: "创建第一个任务" }));
    return el("tr.empty-row", {}, cell);
  }

  let shown = null;  // the list URL this page has rendered (a 304 for another one, or a first one, still renders)
  async function load() {
    writeUrl();
    try {
      const query = new URLSearchParams({ limit: PAGE_SIZE, offset: (state.page - 1) * PAGE_SIZE });
      for (const [k, v] of Object.entries(state.filters)) if (v) query.set(k, v);
      const url = `data_pipeline/tasks?${query}`;
      const { data, changed } = await getIfChanged(url);
      showError(errors, null);
      const tasks = data.tasks || [];
      if (changed || shown !== url) {
        shown = url;
        const total = data.total || 0, pages = Math.ceil(total / PAGE_SIZE);
        tbody.replaceChildren(...(tasks.length ? tasks.map(row) : [emptyRow()]));
        // an empty result says so, never "第 0 / 0 页"
        info.textContent = total ? `共 ${total} 个任务，第 ${state.page} / ${pages} 页`
                               : filtered() ? "无匹配任务" : "还没有任务";
        pager.hidden = !total || (pages <= 1 && state.page <= 1);
        pager.replaceChildren(
          button("上一页", () => { state.page -= 1; load(); }, "", { disabled: state.page <= 1 }),
          button("下一页", () => { state.page += 1; load(); }, "", { disabled: state.page >= pages }));
      }
      running = tasks.some((t) => ACTIVE.has(t.status));
      auto.textContent = running ? "有任务执行中，自动刷新…" : "";
    } catch (err) {
      showError(errors, err, "加载任务列表失败");
    }
  }
  // always refresh (a 304 costs nothing): faster while something on this page runs
  let running = false, ticks = 0;
  timers.every(TICK_MS, async () => {
    ticks += 1;
    if (ticks % (running ? BUSY_TICKS : IDLE_TICKS) === 0) await load();
  });
  await load();
}
