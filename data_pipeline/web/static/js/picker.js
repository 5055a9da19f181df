// The table picker (create form, and the 表清单 card of a task in upload mode): POST /database/tables with a
// schema list and a wildcard, checkboxes for the answer. Tables the connecting role may not read are marked
// (不可读) and start unchecked; views and other kinds are named. `getConnection()` returns the db_connection
// URL, null for the default database, or throws (an incomplete custom connection is refused, never replaced
// by the default database's tables).
import { post } from "./api.js";
import { el, field, button, showError } from "./ui.js";

export function tablePicker(getConnection) {
  const schema = el("input", { type: "text", name: "schema", value: "public", placeholder: "public,ods" });
  const pattern = el("input", { type: "search", name: "table_name_pattern", value: "*", placeholder: "如 bss_*" });
  const list = el("div.table-list#table-list", { role: "group", "aria-label": "可选的表" });
  const count = el("span.muted", { role: "status", "aria-live": "polite", text: "尚未加载" });
  const errors = el("div.error-slot");
  const selected = new Set();
  let unreadable = 0;

  function updateCount(total) {
    count.textContent = `已选 ${selected.size} 张表` + (total !== undefined ? ` / 共 ${total} 个对象` : "")
      + (unreadable ? `（${unreadable} 张当前账号无读取权限）` : "");
  }
  // Each query gets a number; only the newest answer is drawn (a slow earlier search never overwrites it).
  let querySeq = 0;
  async function query() {
    const seq = ++querySeq;
    const body = { schema: schema.value.trim() || "public", table_name_pattern: pattern.value.trim() || "*" };
    reset("查询中…"); // never leave tables of another database (or an earlier search) selectable
    showError(errors, null);
    let data;
    try {
      const conn = getConnection();
      if (conn) body.db_connection = conn;
      data = await post("database/tables", body);
    } catch (err) { if (seq === querySeq) { count.textContent = "查询失败"; showError(errors, err); } return; }
    if (seq !== querySeq) return;
    const info = Object.fromEntries((data.objects || []).map((o) => [o.name, o]));
    unreadable = (data.objects || []).filter((o) => o.readable === false).length;
    list.replaceChildren(...(data.tables || []).map((name) => {
      const o = info[name] || {};
      const box = el("input", { type: "checkbox", value: name, checked: selected.has(name),
                                on: { change: (ev) => { ev.target.checked ? selected.add(name) : selected.delete(name);
                                                        updateCount(data.total); } } });
      const kind = o.type && o.type !== "table" ? el("span.muted", { text: ` (${o.type})` }) : "";
      const locked = o.readable === false
        ? el("span.tag.warn", { text: "不可读", title: "当前数据库账号无 SELECT 权限：选中后需勾选“跳过当前账号无读取权限的表”" }) : "";
      return el(`label.check.table-item${o.readable === false ? ".unreadable" : ""}`, { dataset: { readable: String(o.readable !== false) } },
                box, " ", el("span.mono", { text: name }), kind, locked);
    }));
    if (!(data.tables || []).length) list.append(el("p.muted", { text: "没有匹配的表" }));
    updateCount(data.total);
  }
  const loadBtn = button("查询表", () => query());
  function reset(message = "尚未加载") {
    selected.clear();
    unreadable = 0;
    list.replaceChildren();
    count.textContent = message;
  }
  const setAll = (on) => {
    // 全选 leaves unreadable tables out (the run would skip them anyway)
    list.querySelectorAll("label.table-item").forEach((label) => {
      const b = label.querySelector("input");
      const take = on && label.dataset.readable !== "false";
      b.checked = take; take ? selected.add(b.value) : selected.delete(b.value);
    });
    updateCount();
  };
  pattern.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); query(); } });
  const node = el("div.picker", {},
    el("div.row", {}, field("模式 (schema，逗号分隔)", schema).wrap,
       field("表名通配符 (* 与 ?)", pattern).wrap,
       el("div.field.actions", {}, loadBtn, button("全选", () => setAll(true)), button("清空", () => setAll(false)))),
    errors, count, list);
  return { node, selected, reset, load: query };
}

/** An Error the form shows like an API error (code VALIDATION_ERROR). */
export function formError(message) {
  return Object.assign(new Error(message), { code: "VALIDATION_ERROR" });
}
