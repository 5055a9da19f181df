// Hash router: #/tasks, #/create, #/tasks/{id}[/overview|logs|files]. Each page module exports render(main, params).
import { get } from "./api.js";
import { el, timers, errorBox } from "./ui.js";
import * as tasksPage from "./pages/tasks.js";
import * as createPage from "./pages/create.js";
import * as detailPage from "./pages/detail.js";

const ROUTES = [
  [/^#?\/?(tasks)?\/?$/, () => [tasksPage, {}], "tasks"],
  [/^#\/create\/?$/, () => [createPage, {}], "create"],
  [/^#\/tasks\/([^/]+)(?:\/(overview|logs|files))?\/?$/, (m) => [detailPage, { taskId: decodeURIComponent(m[1]),
                                                                             tab: m[2] || "overview" }], "tasks"],
];

async function route() {
  timers.clear();
  const main = document.getElementById("main");
  const hash = location.hash || "#/tasks";
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

window.addEventListener("hashchange", async () => {
  await route();
  // keyboard and screen-reader users land on the new page's content
  document.getElementById("main").focus({ preventScroll: true });
});
route();
health();
setInterval(health, 30000);
