// Run-page helpers next to Airflow's and Dagster's: a step timeline (each step's run as a bar on one time axis)
// and, after a single-step run, a button that continues with the next step.
import { post, taskPath } from "../api.js";
import { el, busy, toast, fmtDuration, fmtTime, STEPS, STEP_LABELS, STEP_STATUS } from "../ui.js";

const ms = (t) => (t ? Date.parse(String(t).replace(" ", "T")) : NaN);

/** Bars for the steps that have started, placed by start time and sized by duration (running: up to now). */
export function stepTimeline(task) {
  const steps = (task.steps || []).filter((s) => Number.isFinite(ms(s.started_at)));
  if (!steps.length) return el("p.muted.timeline-empty", { text: "还没有步骤开始执行" });
  const now = Date.now();
  const span = steps.map((s) => {
    const start = ms(s.started_at);
    const end = Number.isFinite(ms(s.completed_at)) ? ms(s.completed_at)
      : s.duration != null ? start + Number(s.duration) * 1000 : Math.max(start, now);
    return { s, start, end: Math.max(end, start) };
  });
  const t0 = Math.min(...span.map((x) => x.start));
  const total = Math.max(1, Math.max(...span.map((x) => x.end)) - t0);
  return el("ol.timeline", { "aria-label": "步骤时间线" }, span.map(({ s, start, end }) => {
    const bar = el(`div.timeline-bar.s-${s.step_status}`);
    bar.style.marginLeft = (((start - t0) / total) * 100).toFixed(2) + "%";
    bar.style.width = Math.max(0.8, ((end - start) / total) * 100).toFixed(2) + "%";
    const label = `${STEP_LABELS[s.step_name] || s.step_name}：${STEP_STATUS[s.step_status] || s.step_status}，` +
                  `开始 ${fmtTime(s.started_at)}，耗时 ${fmtDuration(s.duration ?? (end - start) / 1000)}`;
    return el("li.timeline-row", { dataset: { step: s.step_name }, title: label },
      el("span.timeline-label", { text: STEP_LABELS[s.step_name] || s.step_name }),
      el("div.timeline-track", { "aria-hidden": "true" }, bar),
      el("span.timeline-time", { text: fmtDuration(s.duration ?? (end - start) / 1000) }),
      el("span.sr-only", { text: label }));
  }));
}

/** The first step still pending after earlier ones finished (a step-mode run stopped there), else null. */
export function nextPendingStep(task) {
  const status = task.step_status || {};
  if (task.status === "in_progress" || task.current_step) return null;
  const done = (st) => st === "completed" || st === "skipped";
  const i = STEPS.findIndex((s) => !done(status[s]));
  if (i <= 0 || status[STEPS[i]] !== "pending") return null;
  return STEPS[i];
}

/** "继续执行下一步" after a single-step run; null when there is nothing to continue. */
export function continueButton(task, refresh, errors) {
  const next = nextPendingStep(task);
  if (!next) return null;
  const btn = el("button.btn.primary.continue-btn", { type: "button", text: `继续执行下一步：${STEP_LABELS[next]}` });
  btn.addEventListener("click", () => busy(btn, async () => {
    const data = await post(taskPath(task.task_id, "/execute"), { execution_mode: "step", step_name: next });
    toast(`已启动：${data.execution_id || ""}`, "ok");
    await refresh();
  }, errors));
  return btn;
}
