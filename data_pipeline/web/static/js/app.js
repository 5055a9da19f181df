// Hash router: #/tasks, #/create, #/tasks/{id}[/overview|logs|files]. Each page module exports render(main, params).
import { authHeaders, setToken, token } from "./api.js";
import { el, timers, errorBox, toast, setTitle } from "./ui.js";
import * as tasksPage from "./pages/tasks.js";
import * as createPage from "./pages/create.js";
import * as detailPage from "./pages/detail.js";

const ROUTES = [
  // the list's filters and page ride in the query: #/tasks?status=failed&page=2
  [/^#?\/?(tasks)?\/?(?:\?(.*))?$/, (m) => [tasksPage, { query: m[2] || "" }], "tasks"],
  [/^#\/create\/?$/, () => [createPage, {}], "create"],
  // `?q=` on the logs tab opens a keyword search (the task page's warning objects link there)
  [/^#\/tasks\/([^/?]+)(?:\/(overview|logs|files))?\/?(?:\?q=([^&]*))?$/, (m) => [detailPage, {
    taskId: decodeURIComponent(m[1]), tab: m[2] || "overview", keyword: m[3] ? decodeURIComponent(m[3]) : "" }], "tasks"],
];

async function route() {
  timers.clear();
  const main = document.getElementById("main");
  const hash = location.hash && location.hash !== "#main" ? location.hash : "#/tasks";
  for (const [pattern, resolve, nav] of ROUTES) {
    const m = hash.match(pattern);
    if (!m) continue;
    const [page, params] = resolve(m);
    document.querySelectorAll("[data-nav]").forEach((a) => {
      if (a.dataset.nav === nav) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    main.replaceChildren();
    try {
      await page.render(main, params);
    } catch (err) {
      main.replaceChildren(errorBox(err, "页面加载失败"));
    }
    return;
  }
  setTitle("页面不存在");
  main.replaceChildren(el("h1", { text: "页面不存在" }), el("p", {}, el("a", { href: "#/tasks", text: "返回任务列表" })));
}

async function health() {
  const slot = document.getElementById("health");
  try {
    const resp = await fetch("/health", { headers: { Accept: "application/json" } });
    const body = await resp.json();
    const up = resp.ok && body.success !== false;
    slot.textContent = up ? "服务正常" : "服务异常";
    slot.className = "health " + (up ? "up" : "down");
  } catch (_) {
    slot.textContent = "服务不可达";
    slot.className = "health down";
  }
}

// With API_TOKEN set, plain links cannot carry the Authorization header: downloads then go through fetch.
document.addEventListener("click", async (ev) => {
  const link = ev.target.closest && ev.target.closest("a[data-download]");
  if (!link || !token()) return;
  ev.preventDefault();
  try {
    const resp = await fetch(link.href, { headers: authHeaders() });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    const url = URL.createObjectURL(await resp.blob());
    const tmp = el("a", { href: url, download: link.getAttribute("download") || "" });
    document.body.append(tmp); tmp.click(); tmp.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) { toast("下载失败：" + err.message, "error"); }
});

// The skip link jumps to the content without touching the route (the router would read "#main" as a page).
document.querySelector(".skip-link")?.addEventListener("click", (ev) => {
  ev.preventDefault();
  const main = document.getElementById("main");
  main.focus();
  main.scrollIntoView({ block: "start" });
});

// A 401 anywhere offers the token form (kept in sessionStorage for this tab only).
window.addEventListener("dp:unauthorized", () => {
  if (document.getElementById("token-form")) return;
  const input = el("input", { type: "password", id: "token-input", autocomplete: "off" });
  const form = el("form.token-form#token-form", { "aria-label": "API 令牌" },
    el("label", { for: "token-input", text: "此服务需要 API 令牌：" }), input,
    el("button.btn.primary", { type: "submit", text: "保存并重试" }));
  form.addEventListener("submit", (e) => { e.preventDefault(); setToken(input.value.trim()); form.remove(); route(); });
  document.querySelector(".topbar").after(form);
  input.focus();
});

window.addEventListener("hashchange", async () => {
  if (location.hash === "#main") return; // a skip link opened without its script (e.g. middle-click): no route
  await route();
  // keyboard and screen-reader users land on the new page's content
  document.getElementById("main").focus({ preventScroll: true });
});
route();
health();
setInterval(health, 30000);
