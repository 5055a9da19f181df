// Task detail: header with live progress, tabs (overview / logs / files). The overview has the four step
// cards, run/cancel controls, executions history and the quality report summary from the task's `result`.
import { API, get, getIfChanged, post, del, taskPath, token } from "../api.js";
import { el, field, checkbox, button, busy, showError, statusBadge, progressBar, fmtTime, fmtDuration, timers,
         toast, confirmInPage, setTitle, STEPS, STEP_LABELS, STEP_STATUS, TASK_STATUS } from "../ui.js";
import { WARNING_TEXT } from "../messages.js";
import { tableListCard, needsTableList } from "./tablelist.js";
import { stepTimeline, continueButton } from "./timeline.js";
import * as logsTab from "./logs.js";
import * as filesTab from "./files.js";
import { summaryTable, paramsTable, findQuality } from "./summary.js";
import { qualityTiles, qualityReport } from "./quality.js";
import { askBox } from "./ask.js";
import { evaluationSection } from "./evaluation.js";

const TABS = [["overview", "概览"], ["logs", "日志"], ["files", "文件"]];

function deleteButton(task) {
  const btn = el("button.btn.small.danger", { type: "button", text: "删除任务",
                                             disabled: task.status === "in_progress" || !!task.current_step });
  btn.addEventListener("click", async () => {
    const vectorsBox = checkbox("同时删除只属于该任务的向量数据（其他任务也加载过的行会保留）", "delete_vectors", false);
    if (!await confirmInPage(btn, `删除任务 ${task.task_id} 及其全部输出文件？此操作不可恢复。`,
                             { confirmText: "确认删除", extra: vectorsBox.wrap })) return;
    const vectors = vectorsBox.input.checked;
    busy(btn, async () => {
      await del(taskPath(task.task_id, vectors ? "?delete_vectors=true" : ""));
      toast(`任务 ${task.task_id} 已删除`, "ok");
      location.hash = "#/tasks";
    });
  });
  return btn;
}

function header(task) {
  setTitle(`${task.task_name || task.task_id}（${TASK_STATUS[task.status] || task.status}）`);
  return el("div.detail-head", {},
    el("div.head-title", {}, el("h1", { text: task.task_name || task.task_id }),
       el("div.muted.mono", { text: `${task.task_id} · ${task.db_name || "默认数据库"} · 创建于 ${fmtTime(task.created_at)}` })),
    el("div.head-status", {}, statusBadge(task.status), durations(task), deleteButton(task)),
    el("div.head-progress", {}, progressBar(task.progress, "任务总进度", task.status)),
    task.error_message ? el(`div.${task.status === "partial_completed" ? "warn-box" : "error-box"}`, { role: "alert" },
      el("strong", { text: task.status === "partial_completed" ? "注意：" : "任务错误：" }), task.error_message) : "");
}

/** The latest run's wall time and, when the task ran more than once, the sum over its runs (separately). */
function durations(task) {
  const has = (v) => v !== null && v !== undefined;
  if (!has(task.duration)) return "";
  const total = has(task.total_duration) && task.total_duration - task.duration > 0.05
    ? ` · 累计 ${fmtDuration(task.total_duration)}` : "";
  return el("span.muted.durations", { text: `本次耗时 ${fmtDuration(task.duration)}${total}` });
}

/** What the run skipped, dropped or could not read: one row per warning, each object a link to its log lines. */
function warningsSection(task) {
  const warnings = task.warnings || [];
  if (!warnings.length) return "";
  const logLink = (name) => el("a.obj", { href: `#/tasks/${encodeURIComponent(task.task_id)}/logs?q=${encodeURIComponent(name)}`,
                                          text: name, title: "查看相关日志" });
  return el("section.card.warnings", { "aria-label": "警告" },
    el("h2", { text: `警告（${warnings.length}）` }),
    el("ul.warning-list", {}, warnings.map((w) => el("li", { dataset: { code: w.code } },
      el("span.badge.s-partial_completed", { text: w.code }), " ",
      el("span.muted", { text: STEP_LABELS[w.step] || w.step || "" }), " ",
      // a Chinese sentence per code; the step's English message stays readable as its details
      el("strong.warning-text", { text: WARNING_TEXT[w.code] || w.message }),
      WARNING_TEXT[w.code] ? el("div.muted.warning-details", { text: w.message }) : "",
      (w.objects || []).length ? el("div.warning-objects", {}, (w.objects || []).map(logLink),
        (w.count || 0) > (w.objects || []).length ? el("span.muted", { text: ` 等共 ${w.count} 个` }) : "") : ""))));
}

function stepCards(task) {
  return el("section.steps-section", { "aria-labelledby": "steps-title" },
    el("h2.sr-only#steps-title", { text: "步骤" }),
    el("div.steps", {}, (task.steps || []).map((s, i) =>
    el(`section.step-card.s-${s.step_status}`, { "aria-label": STEP_LABELS[s.step_name], dataset: { step: s.step_name } },
      el("h3", {}, el("span.step-no", { text: String(i + 1) }), STEP_LABELS[s.step_name] || s.step_name),
      statusBadge(s.step_status, STEP_STATUS),
      s.step_status === "running" && s.progress !== null && s.progress !== undefined ? progressBar(s.progress, "步骤进度") : "",
      el("dl.kv", {},
        el("dt", { text: "开始" }), el("dd", { text: fmtTime(s.started_at) }),
        el("dt", { text: "结束" }), el("dd", { text: fmtTime(s.completed_at) }),
        el("dt", { text: "耗时" }), el("dd", { text: fmtDuration(s.duration) })),
      s.error_message ? el("div.step-error", { role: "alert", text: s.error_message }) : ""))));
}

function runControls(task, refresh) {
  const mode = el("select", { name: "execution_mode" },
    el("option", { value: "complete", text: "完整流程" }),
    [...STEPS, ...("evaluation" in (task.step_status || {}) ? ["evaluation"] : [])].map((s) =>
      el("option", { value: s, text: "单步：" + STEP_LABELS[s] })));
  const force = checkbox("强制执行（跳过依赖检查）", "force_execute", false);
  const clean = checkbox("清理该步骤以前的输出", "clean_previous", true);
  const backup = checkbox("备份向量表", "backup_vector_tables", !!(task.parameters || {}).backup_vector_tables);
  const truncate = checkbox("清空向量表", "truncate_vector_tables", !!(task.parameters || {}).truncate_vector_tables);
  truncate.input.addEventListener("change", () => {
    // the contract: truncate implies backup
    if (truncate.input.checked) backup.input.checked = true;
    backup.input.disabled = truncate.input.checked;
  });
  const errors = el("div.error-slot");
  const next = el("div.continue-slot");
  const runBtn = el("button.btn.primary", { type: "button", text: "执行" });
  const cancelBtn = el("button.btn.danger", { type: "button", text: "取消执行" });
  let current = task;
  const update = (t) => {
    current = t;
    const running = t.status === "in_progress" || !!t.current_step;
    runBtn.disabled = running;
    cancelBtn.disabled = !running;
    next.replaceChildren(continueButton(t, refresh, errors) || "");
  };
  update(task);
  runBtn.addEventListener("click", () => busy(runBtn, async () => {
    const body = { clean_previous: clean.input.checked, force_execute: force.input.checked,
                   backup_vector_tables: backup.input.checked, truncate_vector_tables: truncate.input.checked };
    if (mode.value === "complete") body.execution_mode = "complete";
    else Object.assign(body, { execution_mode: "step", step_name: mode.value });
    const data = await post(taskPath(task.task_id, "/execute"), body);
    toast(`已启动：${data.execution_id || ""}`, "ok");
    await refresh();
  }, errors).then(() => update(current)));
  cancelBtn.addEventListener("click", async () => {
    if (!await confirmInPage(cancelBtn, "确定取消正在执行的任务吗？", { confirmText: "确认取消执行" })) return;
    busy(cancelBtn, async () => {
      await post(taskPath(task.task_id, "/cancel"));
      toast("已请求取消", "ok");
      await refresh();
    }, errors).then(() => update(current));
  });
  const node = el("section.card.run", { "aria-label": "执行控制" }, el("h2", { text: "执行" }),
    el("div.row", {}, field("执行方式", mode).wrap,
       el("div.field.opts", {}, force.wrap, clean.wrap, backup.wrap, truncate.wrap),
       el("div.field.actions", {}, runBtn, cancelBtn)),
    next, errors);
  return { node, update };
}

function executionsTable(executions) {
  if (!executions.length) return el("p.muted", { text: "尚无执行记录" });
  return el("div.table-wrap", {}, el("table.executions.cards-on-phone", {},
    el("thead", {}, el("tr", {}, ["执行 ID", "步骤", "状态", "开始", "结束", "耗时", "错误"]
      .map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, executions.map((e) => el("tr", {},
      el("td.mono.exec-id", { "data-label": "执行 ID", text: e.execution_id }),
      el("td", { "data-label": "步骤", text: STEP_LABELS[e.step_name || e.execution_step] || e.step_name || e.execution_step }),
      el("td", { "data-label": "状态" }, statusBadge(e.status, STEP_STATUS)),
      el("td.nowrap", { "data-label": "开始", text: fmtTime(e.started_at) }),
      el("td.nowrap", { "data-label": "结束", text: fmtTime(e.completed_at) }),
      el("td.nowrap", { "data-label": "耗时", text: fmtDuration(e.duration) }),
      el("td.err-cell", { "data-label": "错误", text: e.error_message || "" }))))));
}

const isEmpty = (v) => v === null || v === undefined || v === ""
  || (typeof v === "object" && Object.values(v).every(isEmpty));

function qualitySection(task) {
  const quality = findQuality(task.result);
  // an unfinished task: say in words which step the numbers wait for (the report's English reason in the tooltip)
  const qaDone = (task.step_status || {}).qa_generation === "completed";
  const notRun = quality && quality.status === "not_run" ? el("p.muted.quality-note", { title: quality.reason || "",
    text: qaDone ? "问答对已生成，SQL 验证尚未运行：执行“SQL 验证”后显示问答对指标。"
                 : "还没有问答对：执行“问答对生成”和“SQL 验证”后显示问答对指标。" }) : "";
  const running = task.status === "in_progress" || !!task.current_step;
  const body = quality
    ? [notRun, qualityTiles(quality, task.warnings), el("details.full-report", { open: true }, el("summary", { text: "完整质量报告" }), qualityReport(quality))]
    : !isEmpty(task.result)
      ? [running ? el("p.muted.result-note", { text: "执行中：以下是已完成步骤的结果，全部完成后显示质量报告" }) : "", summaryTable(task.result)]
      : el("p.muted", { text: running ? "执行中，步骤完成后显示结果" : "任务完成后显示结果摘要" });
  return el("section.card.quality", { "aria-label": "质量报告" },
    el("h2", { text: quality ? "质量报告" : "执行结果" }), ...[body].flat());
}

/** The overview tab: run controls are built once (they keep the user's choices); the rest redraws. */
function overview(box, task, refresh, reload) {
  const steps = el("div.steps-slot"), quality = el("div"), history = el("div"), params = el("div");
  const warnings = el("div.warnings-slot"), tableList = el("div.table-list-slot"), timeline = el("div");
  const evaluation = el("div.evaluation-slot");
  const controls = runControls(task, refresh);
  let listShown = null;
  const ask = askBox(task);
  box.replaceChildren(warnings, tableList, steps, controls.node, quality, evaluation, ask,
    el("section.card", { "aria-label": "步骤时间线" }, el("h2", { text: "步骤时间线" }), timeline),
    el("section.card", { "aria-label": "执行历史" }, el("h2", { text: "执行历史" }), history),
    el("section.card", { "aria-label": "任务参数" }, el("h2", { text: "参数" }), params));
  return async function draw(t) {
    controls.update(t);
    warnings.replaceChildren(warningsSection(t));
    // upload mode: the 表清单 card (kept while the user picks; gone once the list is saved)
    const wants = needsTableList(t);
    if (wants !== listShown) {
      listShown = wants;
      tableList.replaceChildren(wants ? tableListCard(t, reload) : "");
    }
    steps.replaceChildren(stepCards(t));
    timeline.replaceChildren(stepTimeline(t));
    ask.dpUpdate(t);
    quality.replaceChildren(qualitySection(t));
    evaluation.replaceChildren(await evaluationSection(t));
    params.replaceChildren(paramsTable(t.parameters || {}));
    try {
      const data = await get(taskPath(t.task_id, "/executions"));
      history.replaceChildren(executionsTable(data.executions || []));
    } catch (err) { showError(history, err, "加载执行历史失败"); }
  };
}

// what the overview shows: a change in any of these redraws it (the quality tiles follow the run's result)
const viewKey = (t) => JSON.stringify([t.status, t.progress, t.steps, t.current_step, t.error_message, t.warnings,
                                       findQuality(t.result)]);

export async function render(main, { taskId, tab, keyword }) {
  const head = el("div.head-slot");
  const tabs = el("nav.tabs", { "aria-label": "任务详情" }, TABS.map(([key, label]) =>
    el("a", { href: `#/tasks/${encodeURIComponent(taskId)}/${key}`, "aria-current": key === tab ? "page" : undefined,
              text: label })));
  const body = el("div.tab-body");
  const errors = el("div.error-slot");
  main.append(el("p", {}, el("a", { href: "#/tasks", text: "← 返回任务列表" })), head, errors, tabs, body);

  // parameters and result once (and again when a step ends); the live updates are the lean status
  const FULL = "?include=parameters,result";
  let task = await get(taskPath(taskId, FULL));
  let lastKey = "";
  const stepKey = (t) => JSON.stringify([t.status, t.step_status]);
  async function apply(lean) {
    // a step ended or the task's state moved: its result and parameters may have changed too
    const full = stepKey(lean) !== stepKey(task) ? await get(taskPath(taskId, FULL)) : lean;
    task = { ...task, ...full };
    // redraw only when something visible changed (keeps keyboard focus and form choices otherwise);
    // while running, the durations change every tick
    const key = viewKey(task);
    const running = task.status === "in_progress" || !!task.current_step;
    if (key !== lastKey || running) head.replaceChildren(header(task));
    if (key !== lastKey) {
      lastKey = key;
      if (draw) await draw(task);
      if (tabHook) await tabHook(task); // e.g. the file list follows a running task's new outputs
    }
    if (running) follow(); // a run started (here or elsewhere): switch to the event stream
  }
  async function refresh() {
    try {
      const { data, changed } = await getIfChanged(taskPath(taskId));
      showError(errors, null);
      if (changed) await apply(data); // a 304: nothing changed, nothing to fetch or draw
    } catch (err) { showError(errors, err, "刷新任务状态失败"); }
  }
  let tabHook = null;
  let draw = null;
  head.replaceChildren(header(task));
  // parameters changed outside the live stream (e.g. the table list was saved): fetch the full status again
  async function reload() {
    task = { ...task, ...(await get(taskPath(taskId, FULL))) };
    lastKey = viewKey(task);
    head.replaceChildren(header(task));
    if (draw) await draw(task);
  }
  if (tab === "overview") {
    draw = overview(body, task, refresh, reload);
    lastKey = viewKey(task);
    await draw(task);
  }
  else if (tab === "logs") await logsTab.render(body, task, keyword);
  else {
    tabHook = await filesTab.render(body, task);
    lastKey = viewKey(task);
  }
  // live progress: the task's event stream (Server-Sent Events) while it runs; polling with If-None-Match
  // (304s while nothing changes) when EventSource is unavailable, the API needs a token (EventSource cannot
  // send it), or the stream ended (the task went idle)
  let stream = null;
  let applying = Promise.resolve();
  function follow() {
    if (stream || token() || !window.EventSource) return;
    stream = new EventSource(`${API}/${taskPath(taskId, "/events")}`);
    stream.addEventListener("status", (ev) => {
      showError(errors, null);
      const lean = JSON.parse(ev.data);
      // one at a time, in arrival order (apply may fetch the full status first)
      applying = applying.then(() => apply(lean)).catch((err) => showError(errors, err, "刷新任务状态失败"));
    });
    const stop = () => { if (stream) { stream.close(); stream = null; } };
    stream.addEventListener("end", stop);
    stream.onerror = () => { if (stream && stream.readyState === EventSource.CLOSED) stop(); };
    timers.onLeave(stop);
  }
  const active = () => task.status === "in_progress" || !!task.current_step;
  if (active()) follow();
  let ticks = 0;
  timers.every(1500, async () => {
    ticks += 1;
    if (stream) return;
    if (active() || ticks % 3 === 0) await refresh();
  });
}
