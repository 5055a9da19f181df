// Create task: name, business context, question language, database (default or custom connection), vector
// store (default or a URL), table picker fed by POST /database/tables (schema + wildcard search) or a
// table-list file, options; optionally start at once.
import { post, upload, taskPath } from "../api.js";
import { el, field, checkbox, busy, toast, setTitle } from "../ui.js";
import { tablePicker, formError } from "../picker.js";

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

export async function render(main) {
  setTitle("创建任务");
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
  // the default database: null; a custom one: its URL; a custom one with empty host or database: refused
  // (never quietly the default database's tables)
  const getConnection = () => {
    if (!dbCustom.checked) return null;
    if (!conn.host.value.trim() || !conn.database.value.trim())
      throw formError("请填写自定义连接的主机和数据库（或选择“默认业务数据库”）");
    return connectionUrl(Object.fromEntries(Object.entries(conn).map(([k, v]) => [k, v.value.trim()])));
  };

  // the language of the generated questions and comments (task parameter question_language)
  const language = el("select", { name: "question_language" },
    el("option", { value: "zh", text: "中文" }), el("option", { value: "en", text: "英文 (English)" }),
    el("option", { value: "auto", text: "自动（按业务背景和数据库注释判断）" }));
  // the vector store training_load writes: the configured default, or a PostgreSQL URL
  const vecDefault = el("input", { type: "radio", name: "vector_mode", value: "default", checked: true });
  const vecCustom = el("input", { type: "radio", name: "vector_mode", value: "custom" });
  const vecUrl = el("input", { type: "text", name: "vector_db_connection", autocomplete: "off",
                               placeholder: "postgresql://user:password@host:5432/vectors" });
  const vecBox = el("div.vec-url", { hidden: true },
    field("向量库 URL（PostgreSQL + pgvector）", vecUrl, "连接串中的口令不会回显").wrap);
  const syncVec = () => { vecBox.hidden = !vecCustom.checked; };
  vecDefault.addEventListener("change", syncVec);
  vecCustom.addEventListener("change", syncVec);

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
       field("任务名称", name).wrap, field("业务背景", context, "用于生成注释和问题的业务语境").wrap,
       field("问题语言", language, "生成的问题、注释和文件标签使用的语言").wrap),
    el("fieldset", {}, el("legend", { text: "数据库" }),
       el("div.row", {}, el("label.check", {}, dbDefault, " 默认业务数据库"),
          el("label.check", {}, dbCustom, " 自定义连接")),
       connBox, field("数据库名称（显示用）", dbName).wrap),
    el("fieldset", {}, el("legend", { text: "向量库" }),
       el("div.row", {}, el("label.check", {}, vecDefault, " 默认向量库"),
          el("label.check", {}, vecCustom, " 指定向量库连接")),
       vecBox),
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
                     db_name: dbName.value.trim() || undefined, question_language: language.value };
      for (const [key] of OPTIONS) body[key] = opts[key].input.checked;
      const connection = getConnection();
      if (connection) body.db_connection = connection;
      if (vecCustom.checked) {
        if (!vecUrl.value.trim()) throw formError("请填写向量库连接（或选择“默认向量库”）");
        body.vector_db_connection = vecUrl.value.trim();
      }
      if (srcPick.checked) {
        if (!picker.selected.size) throw formError("请至少选择一张表");
        body.table_names = [...picker.selected];
      } else if (!listFile.files.length) {
        throw formError("请选择表清单文件");
      }
      const task = await post("data_pipeline/tasks", body);
      conn.password.value = ""; vecUrl.value = ""; // never kept in the page after submit
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
