// The 表清单 card of a task created without tables (upload mode, `file_upload_mode: true`): pick tables from the
// task's database (POST {T}/table-list) or upload a .txt list (POST {T}/upload-table-list). Without it such a
// task could not be run from the console at all.
import { post, upload, taskPath } from "../api.js";
import { el, field, busy, toast } from "../ui.js";
import { tablePicker, formError } from "../picker.js";

/** True while the task still waits for its table list. */
export const needsTableList = (task) => !!(task.parameters || {}).file_upload_mode;

/** The card; `done()` is called after the list was saved (the page then reloads the task). */
export function tableListCard(task, done) {
  const connection = (task.parameters || {}).db_connection || null;
  // the task's own database: its (masked) URL cannot be sent back, so the picker lists the default database
  // only for tasks on the default database; others upload a file or type names
  const picker = tablePicker(() => {
    if (connection) throw formError("该任务使用自定义数据库连接，请上传表清单文件或在下方输入表名");
    return null;
  });
  const names = el("textarea", { name: "table_names", rows: "2", placeholder: "bss_company, public.bss_service_area" });
  const file = el("input", { type: "file", name: "table_list_upload", accept: ".txt,text/plain" });
  const saveBtn = el("button.btn.primary", { type: "button", text: "保存表清单" });
  const errors = el("div.error-slot");
  saveBtn.addEventListener("click", () => busy(saveBtn, async () => {
    if (file.files.length) {
      const fd = new FormData();
      fd.append("file", file.files[0]);
      await upload(taskPath(task.task_id, "/upload-table-list"), fd);
    } else {
      const typed = names.value.split(/[\s,，]+/).map((s) => s.trim()).filter(Boolean);
      const tables = [...new Set([...picker.selected, ...typed])];
      if (!tables.length) throw formError("请选择表、输入表名或选择表清单文件");
      await post(taskPath(task.task_id, "/table-list"), { table_names: tables });
    }
    toast("表清单已保存，可以执行了", "ok");
    await done();
  }, errors));
  const node = el("section.card.table-list-card#table-list-card", { "aria-labelledby": "table-list-title" },
    el("h2#table-list-title", { text: "表清单" }),
    el("p.warn-box", { text: "这个任务还没有表清单，执行前请先选择要处理的表（或上传 .txt 表清单文件）。" }),
    picker.node,
    field("或输入表名（逗号或换行分隔，schema.table 或 table）", names).wrap,
    field("或上传表清单文件 (.txt，每行一个表名)", file).wrap,
    el("div.form-actions", {}, saveBtn), errors);
  if (!connection) picker.load();
  return node;
}
