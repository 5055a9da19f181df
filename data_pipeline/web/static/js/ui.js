// Small DOM helpers and the Chinese labels shared by every page. Text goes in via textContent only.
import { explainError } from "./messages.js";

/** el("div.card#x", {attrs, on: {click}}, ...children) -> HTMLElement. Strings become text nodes. */
export function el(spec, props = {}, ...children) {
  const [tagAndClasses, id] = spec.split("#");
  const [tag, ...classes] = tagAndClasses.split(".");
  const node = document.createElement(tag || "div");
  if (classes.length) node.className = classes.join(" ");
  if (id) node.id = id;
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const STEPS = ["ddl_generation", "qa_generation", "sql_validation", "training_load"];
export const STEP_LABELS = {
  ddl_generation: "DDL/MD 生成", qa_generation: "问答对生成", sql_validation: "SQL 验证",
  training_load: "训练数据加载", evaluation: "检索与准确率评估", complete: "完整流程",
};
export const TASK_STATUS = {
  pending: "待执行", in_progress: "执行中", partial_completed: "部分完成", completed: "已完成",
  failed: "失败", cancelled: "已取消",
};
export const STEP_STATUS = {
  pending: "待执行", running: "执行中", completed: "已完成", failed: "失败", skipped: "已跳过",
  cancelled: "已取消",
};

export function statusBadge(status, labels = TASK_STATUS) {
  return el(`span.badge.s-${status || "unknown"}`, { text: labels[status] || status || "未知" });
}

/** A progress bar; `status` colours it (a failed or cancelled run is not drawn as a blue bar in progress). */
export function progressBar(value, label = "进度", status = "") {
  const pct = Math.max(0, Math.min(100, Number(value) || 0));
  const bar = el(`div.progress${status ? ".p-" + status : ""}`, { role: "progressbar", "aria-label": label, "aria-valuemin": "0",
                                  "aria-valuemax": "100", "aria-valuenow": String(pct) });
  const fill = el("div.progress-fill");
  fill.style.width = pct + "%";
  const word = { failed: "（失败）", cancelled: "（已取消）", partial_completed: "（部分完成）" }[status] || "";
  bar.append(fill, el("span.progress-text", { text: pct + "%" + word }));
  if (word) bar.setAttribute("aria-valuetext", pct + "%" + word);
  return bar;
}

/** The tab's title: the page's subject first, so a row of browser tabs can be told apart. */
export function setTitle(...parts) {
  document.title = [...parts.filter(Boolean), "Data Pipeline 控制台"].join(" · ");
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || seconds === "") return "—";
  const s = Number(seconds);
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + " 秒";
  const m = Math.floor(s / 60), rest = Math.round(s % 60);
  if (m < 60) return `${m} 分 ${rest} 秒`;
  return `${Math.floor(m / 60)} 时 ${m % 60} 分`;
}

export function fmtTime(value) {
  if (!value) return "—";
  return String(value).replace("T", " ").replace(/\.\d+/, "").replace(/([+-]\d\d:\d\d|Z)$/, "");
}

export function fmtSize(bytes) {
  const b = Number(bytes) || 0;
  if (b < 1024) return b + " B";
  if (b < 1024 * 1024) return (b / 1024).toFixed(1) + " KB";
  return (b / 1024 / 1024).toFixed(1) + " MB";
}

/** A clearly visible error block: the envelope's message, its code and error.details. */
export function errorBox(err, title = "操作失败") {
  const box = el("div.error-box", { role: "alert" },
    el("strong", { text: `${title}：${err.message || err}` }));
  if (err.code) box.append(el("span.err-code", { text: ` [${err.code}]` }));
  const explained = explainError(err);
  if (explained) {
    // the Chinese sentence names the control that fixes it; the API's text stays one click away
    box.append(el("div.err-explain", { text: explained }));
    if (err.details) box.append(el("details.err-tech", {}, el("summary", { text: "技术细节" }),
                                   el("div.err-details", { text: err.details })));
    return box;
  }
  if (err.details) box.append(el("div.err-details", { text: err.details }));
  if (err.invalidParams && err.invalidParams.length)
    box.append(el("div.err-details", { text: "相关参数：" + err.invalidParams.join(", ") }));
  return box;
}

/** Replace the content of a slot with an error box (or clear it when err is null). */
export function showError(slot, err, title) {
  slot.replaceChildren(err ? errorBox(err, title) : "");
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const node = el(`div.toast.t-${kind}`, { text: message });
  box.append(node);
  setTimeout(() => node.remove(), kind === "error" ? 8000 : 4000);
}

/** A labelled form field: returns {wrap, input}. */
export function field(label, input, hint) {
  const id = input.id || ("f_" + Math.random().toString(36).slice(2, 9));
  input.id = id;
  const wrap = el("div.field", {}, el("label", { for: id, text: label }), input);
  if (hint) wrap.append(el("small.hint", { text: hint }));
  return { wrap, input };
}

export function checkbox(label, name, checked = true, hint) {
  const input = el("input", { type: "checkbox", name, checked });
  const wrap = el("label.check", {}, input, " " + label);
  if (hint) wrap.title = hint;
  return { wrap, input };
}

export function button(text, onClick, cls = "", attrs = {}) {
  return el(`button.btn${cls ? "." + cls.split(" ").join(".") : ""}`,
            { type: "button", on: { click: onClick }, ...attrs }, text);
}

/** Run `fn` with the button disabled (no double submit); errors land in `slot`. */
export async function busy(btn, fn, slot) {
  btn.disabled = true;
  btn.setAttribute("aria-busy", "true");
  try {
    if (slot) showError(slot, null);
    return await fn();
  } catch (err) {
    if (slot) showError(slot, err); else toast(`${err.message} ${explainError(err) || err.details || ""}`, "error");
    return undefined;
  } finally {
    btn.disabled = false;
    btn.removeAttribute("aria-busy");
  }
}

/** Timers that die with the page: the router calls clear() on every navigation. */
export const timers = {
  list: [],
  /** Call fn every ms; a tick is skipped while the previous call (a slow request) is still running. */
  every(ms, fn) {
    let running = false;
    const id = setInterval(async () => {
      if (running) return;
      running = true;
      try { await fn(); } finally { running = false; }
    }, ms);
    this.list.push(() => clearInterval(id));
    return id;
  },
  onLeave(fn) { this.list.push(fn); },
  clear() { this.list.splice(0).forEach((f) => { try { f(); } catch (_) { /* ignore */ } }); },
};

/** An in-page confirmation next to `anchor` (no browser dialog): resolves true on 确认, false on 取消/Escape.
 *  The safe choice has the focus, so Enter alone never destroys anything. */
export function confirmInPage(anchor, message, { confirmText = "确认", danger = true, extra = null } = {}) {
  const open = anchor.parentElement && anchor.parentElement.querySelector(":scope > .confirm-bar");
  if (open) { open.querySelector("button").focus(); return Promise.resolve(false); }
  return new Promise((resolve) => {
    // Escape answers "no" wherever the focus went meanwhile (the listener lives as long as the bar)
    const onKey = (ev) => { if (ev.key === "Escape" && bar.isConnected) { ev.preventDefault(); done(false); } };
    const done = (answer) => {
      document.removeEventListener("keydown", onKey, true);
      bar.remove(); anchor.focus?.(); resolve(answer);
    };
    const no = button("取消", () => done(false), "small");
    const yes = button(confirmText, () => done(true), danger ? "small danger-solid" : "small primary");
    const bar = el("div.confirm-bar", { role: "alertdialog", "aria-label": message },
                   el("span.confirm-text", { text: message }), extra || "", el("span.confirm-actions", {}, yes, no));
    document.addEventListener("keydown", onKey, true);
    anchor.after(bar);
    no.focus();
  });
}
