// Create task: name, business context, database (default or custom connection), table picker fed by
// POST /database/tables (schema + wildcard search) or a table-list file, options; optionally start at once.
import { post, upload, taskPath } from "../api.js";
import { el, field, checkbox, button, busy, showError, toast } from "../ui.js";

const OPTIONS = [
  ["enable_sql_validation", "启用 SQL 验证", true],
  ["enable_llm_repair", "启用 LLM 修复失败的 SQL", true],
  ["modify_original_file", "验证后修改原始问答文件", true],
  ["enable_training_data_load", "加载训练数据到向量库", true],
  ["backup_vector_tables", "加载前备份向量表", false],
  ["truncate_vector_tables", "加载前清空向量表（会先备份）", false],
  ["enable_evaluation", "加载后评估检索与 SQL 准确率（留出部分问答对，不加载）", false],
  ["allow_unreadable_tables", "跳过当前账号无读取权限的表（否则创建时报错，运行结果为部分完成）", false],
];

/** postgresql://user:password@host:port/database, every part URL-encoded. */
function connectionUrl(c) {
  const auth = c.user ? encodeURIComponent(c.user) + (c.password ? ":" + encodeURIComponent(c.password) : "") + "@" : "";
  return `postgresql://${auth}${c.host}${c.port ? ":" + c.port : ""}/${encodeURIComponent(c.database)}`;
}

function tablePicker(getConnection) {
  const schema = el("input", { type: "text", name: "schema", value: "public", placeholder: "public,ods" });
  const pattern = el("input", { type: "search", name: "table_name_pattern", value: "*", placeholder: "如 bss_*" });
  const list = el("div.table-list#table-list", { role: "group", "aria-label": "可选的表" });
  const count = el("span.muted", { role: "status", "aria-live": "polite", text: "尚未加载" });
  const errors = el("div.error-slot");
  const selected = new Set();

  function updateCount(total) {
    count.textContent = `已选 ${selected.size} 张表` + (total !== undefined ? ` / 共 ${total} 个对象` : "");
  }
  // Each query gets a number; only the newest answer is drawn (a slow earlier search never overwrites it).
  let querySeq = 0;
  async function query() {
    const seq = ++querySeq;
    const body = { schema: schema.value.trim() || "public", table_name_pattern: pattern.value.trim() || "*" };
    const conn = getConnection();
    if (conn) body.db_connection = conn;
    reset("查询中…"); // never leave tables of another database (or an earlier search) selectable
    showError(errors, null);
    let data;
    try { data = await post("database/tables", body); }
    catch (err) { if (seq === querySeq) { count.textContent = "查询失败"; showError(errors, err); } return; }
    if (seq !== querySeq) return;
    const types = Object.fromEntries((data.objects || []).map((o) => [o.name, o.type]));
    list.replaceChildren(...(data.tables || []).map((name) => {
      const box = el("input", { type: "checkbox", value: name, checked: selected.has(name),
                                on: { change: (ev) => { ev.target.checked ? selected.add(name) : selected.delete(name);
                                                        updateCount(data.total); } } });
      const kind = types[name] && types[name] !== "table" ? el("span.muted", { text: ` (${types[name]})` }) : "";
      return el("label.check.table-item", {}, box, " ", el("span.mono", { text: name }), kind);
    }));
    if (!(data.tables || []).length) list.append(el("p.muted", { text: "没有匹配的表" }));
    updateCount(data.total);
  }
  const loadBtn = button("查询表", () => query());
  function reset(message = "尚未加载") {
    selected.clear();
    list.replaceChildren();
    count.textContent = message;
  }
  const setAll = (on) => {
    list.querySelectorAll("input[type=checkbox]").forEach((b) => {
      b.checked = on; on ? selected.add(b.value) : selected.delete(b.value);
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

export async function render(main) {
  const errors = el("div.error-slot");
  const name = el("input", { type: "text", name: "task_name", maxlength: "255", placeholder: "如 高速公路服务区训练数据" });
  const context = el("textarea", { name: "business_context", rows: "3", maxlength: "4000",
                                   placeholder: "如 高速公路服务区管理系统" });
  const dbName = el("input", { type: "text", name: "db_name", maxlength: "100", placeholder: "留空则取连接中的库名" });

  // database: the configured default, or a custom connection built from separate fields
  const dbDefault = el("input", { type: "radio", name: "db_mode", value: "default", checked: true });
  const dbCustom = el("input", { type: "radio", name: "db_mode", value: "custom" });
  const conn = {
    host: el("input", { type: "text", name: "db_host", value: "localhost" }),
    port: el("input", { type: "number", name: "db_port", value: "5432", min: "1", max: "65535" }),
    database: el("input", { type: "text", name: "db_database" }),
    user: el("input", { type: "text", name: "db_user", autocomplete: "off" }),
    password: el("input", { type: "password", name: "db_password", autocomplete: "new-password" }),
  };
  const connBox = el("fieldset.conn", { hidden: true }, el("legend", { text: "自定义连接（密码不会回显）" }),
    el("div.row", {}, field("主机", conn.host).wrap, field("端口", conn.port).wrap, field("数据库", conn.database).wrap),
    el("div.row", {}, field("用户名", conn.user).wrap, field("密码", conn.password).wrap));
  const syncDb = () => { connBox.hidden = !dbCustom.checked; picker.reset("数据库已切换，请重新查询表"); };
  dbDefault.addEventListener("change", syncDb);
  dbCustom.addEventListener("change", syncDb);
  const getConnection = () => (dbCustom.checked && conn.host.value && conn.database.value
    ? connectionUrl(Object.fromEntries(Object.entries(conn).map(([k, v]) => [k, v.value.trim()]))) : null);

  // tables: picked from the database, or a .txt table-list file uploaded after creation
  const srcPick = el("input", { type: "radio", name: "table_source", value: "pick", checked: true });
  const srcFile = el("input", { type: "radio", name: "table_source", value: "file" });
  const picker = tablePicker(getConnection);
  const listFile = el("input", { type: "file", name: "table_list_file", accept: ".txt,text/plain" });
  const fileBox = el("div.file-source", { hidden: true },
    field("表清单文件 (.txt，每行一个 schema.table 或 table)", listFile).wrap);
  const syncSrc = () => { picker.node.hidden = !srcPick.checked; fileBox.hidden = !srcFile.checked; };
  srcPick.addEventListener("change", syncSrc);
  srcFile.addEventListener("change", syncSrc);

  const opts = Object.fromEntries(OPTIONS.map(([key, label, on]) => [key, checkbox(label, key, on)]));
  opts.truncate_vector_tables.input.addEventListener("change", (ev) => {
    // the contract: truncate implies backup
    if (ev.target.checked) opts.backup_vector_tables.input.checked = true;
    opts.backup_vector_tables.input.disabled = ev.target.checked;
  });
  const runNow = checkbox("创建后立即执行完整流程", "run_now", true);

  const submit = el("button.btn.primary", { type: "submit", text: "创建任务" });
  const form = el("form.create", { "aria-label": "创建任务", novalidate: true },
    el("fieldset", {}, el("legend", { text: "基本信息" }),
       field("任务名称", name).wrap, field("业务背景", context, "用于生成注释和问题的业务语境").wrap),
    el("fieldset", {}, el("legend", { text: "数据库" }),
       el("div.row", {}, el("label.check", {}, dbDefault, " 默认业务数据库"),
          el("label.check", {}, dbCustom, " 自定义连接")),
       connBox, field("数据库名称（显示用）", dbName).wrap),
    el("fieldset", {}, el("legend", { text: "表" }),
       el("div.row", {}, el("label.check", {}, srcPick, " 从数据库选择"),
          el("label.check", {}, srcFile, " 上传表清单文件")),
       picker.node, fileBox),
    el("fieldset", {}, el("legend", { text: "选项" }),
       el("div.options", {}, OPTIONS.map(([key]) => opts[key].wrap)), runNow.wrap),
    errors,
    el("div.form-actions", {}, submit, el("a.btn", { href: "#/tasks", text: "取消" })));

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(submit, async () => {
      const body = { task_name: name.value.trim() || undefined, business_context: context.value.trim() || undefined,
                     db_name: dbName.value.trim() || undefined };
      for (const [key] of OPTIONS) body[key] = opts[key].input.checked;
      const connection = getConnection();
      if (dbCustom.checked) {
        if (!connection) throw Object.assign(new Error("请填写自定义连接的主机和数据库"), { code: "VALIDATION_ERROR" });
        body.db_connection = connection;
      }
      if (srcPick.checked) {
        if (!picker.selected.size) throw Object.assign(new Error("请至少选择一张表"), { code: "VALIDATION_ERROR" });
        body.table_names = [...picker.selected];
      } else if (!listFile.files.length) {
        throw Object.assign(new Error("请选择表清单文件"), { code: "VALIDATION_ERROR" });
      }
      const task = await post("data_pipeline/tasks", body);
      conn.password.value = ""; // never kept in the page after submit
      const taskId = task.task_id;
      try {
        if (srcFile.checked) {
          const fd = new FormData();
          fd.append("file", listFile.files[0]);
          await upload(taskPath(taskId, "/upload-table-list"), fd);
        }
        if (runNow.input.checked) {
          await post(taskPath(taskId, "/execute"), { execution_mode: "complete" });
          toast(`任务 ${taskId} 已创建并开始执行`, "ok");
        } else {
          toast(`任务 ${taskId} 已创建`, "ok");
        }
      } catch (err) {
        // the task exists: say what failed and continue to its page, where it can be fixed or run
        toast(`任务 ${taskId} 已创建，但${srcFile.checked ? "上传表清单或" : ""}启动执行失败：${err.message} ${err.details || ""}`, "error");
      }
      location.hash = `#/tasks/${encodeURIComponent(taskId)}`;
    }, errors);
  });

  main.append(el("div.page-head", {}, el("h1", { text: "创建任务" })), form);
  picker.load();
}
