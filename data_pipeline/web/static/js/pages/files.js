// File manager: list with sizes and steps, preview (DDL/SQL/text, Markdown rendered, JSON pretty; `.bakN` and
// `.backup` versions too), download, zip download of the task directory, upload of an edited file (backup /
// replace / skip), upload of an edited semantic model and a re-run of qa_generation against it. The preview
// opens where the user is looking: a side panel next to the list on wide screens, a full-screen sheet on narrow
// ones (CSS decides; see .files-layout in console.css).
import { API, get, post, upload, taskPath, fileUrl, getText } from "../api.js";
import { el, field, button, busy, showError, fmtTime, fmtSize, toast, timers, STEP_LABELS } from "../ui.js";
import { renderMarkdown } from "../markdown.js";

// a backup version (`x.md.bak2`, `qs_…_pair.json.backup`) previews like the file it was made from
const BACKUP_SUFFIX = /\.(bak\d*|backup\d*)$/i;
const PREVIEWABLE = /\.(ddl|sql|md|json|txt|csv|log|jsonl)$/i;
const previewable = (name) => PREVIEWABLE.test(name.replace(BACKUP_SUFFIX, ""));
const withInline = (url) => url + (url.includes("?") ? "&" : "?") + "inline=1";
const PREVIEW_LIMIT = 512 * 1024;

/** A pair file ([{question, sql}, ...]) as a numbered list of questions with their SQL (real line breaks). */
function pairsView(pairs) {
  return el("ol.pairs-view", {}, pairs.map((p) => el("li.pair", {},
    el("div.pair-q", { text: p.question }), el("pre.code.pair-sql", { text: p.sql }))));
}
const isPairs = (v) => Array.isArray(v) && v.length > 0
  && v.every((p) => p && typeof p === "object" && typeof p.question === "string" && typeof p.sql === "string");

function previewNode(fileName, text) {
  const name = fileName.replace(BACKUP_SUFFIX, "");
  const cut = text.length > PREVIEW_LIMIT;
  const body = cut ? text.slice(0, PREVIEW_LIMIT) : text;
  let node;
  if (/\.md$/i.test(name)) node = renderMarkdown(body);
  else if (/\.json$/i.test(name) && !cut) {
    try {
      const value = JSON.parse(body);
      const pretty = el("pre.code", { text: JSON.stringify(value, null, 2) });
      node = isPairs(value)
        ? el("div", {}, el("p.muted", { text: `${value.length} 个问答对` }), pairsView(value),
             el("details.raw-json", {}, el("summary", { text: "原始 JSON" }), pretty))
        : pretty;
    } catch (_) { node = el("pre.code", { text: body }); }
  } else node = el("pre.code", { text: body });
  return el("div", {}, cut ? el("p.muted", { text: `文件较大，仅预览前 ${fmtSize(PREVIEW_LIMIT)}` }) : "", node);
}

export async function render(box, task) {
  const id = task.task_id;
  const errors = el("div.error-slot");
  const summary = el("p.muted", { role: "status" });
  const tbody = el("tbody");
  const preview = el("section.card.preview#file-preview", { "aria-label": "文件预览", hidden: true });
  preview.addEventListener("keydown", (ev) => { if (ev.key === "Escape") { ev.preventDefault(); closePreview(); } });
  const layout = el("div.files-layout");
  let opener = null;

  function closePreview() {
    preview.hidden = true;
    layout.classList.remove("with-preview");
    document.body.classList.remove("sheet-open");
    if (opener && opener.isConnected) opener.focus();
  }
  // Escape closes the preview wherever the focus is (the listener dies with the page)
  const sheet = () => !preview.hidden && window.matchMedia("(max-width: 1099px)").matches;
  const onKey = (ev) => {
    if (ev.key === "Escape" && !preview.hidden && !ev.defaultPrevented) { closePreview(); return; }
    // the phone sheet covers the page: Tab cycles inside it (a modal holds the focus)
    if (ev.key === "Tab" && sheet()) {
      const items = [...preview.querySelectorAll("a[href], button:not([disabled]), [tabindex]:not([tabindex='-1']), summary")]
        .filter((n) => n.offsetParent !== null);
      if (!items.length) return;
      const first = items[0], last = items[items.length - 1];
      const inside = preview.contains(document.activeElement);
      if (ev.shiftKey && (document.activeElement === first || !inside)) { ev.preventDefault(); last.focus(); }
      else if (!ev.shiftKey && (document.activeElement === last || !inside)) { ev.preventDefault(); first.focus(); }
    }
  };
  document.addEventListener("keydown", onKey);
  timers.onLeave(() => document.removeEventListener("keydown", onKey));

  async function show(file, fromButton) {
    const name = file.file_name;
    const url = file.download_url || fileUrl(id, name);
    opener = fromButton || null;
    preview.hidden = false;
    layout.classList.add("with-preview");
    document.body.classList.add("sheet-open"); // narrow screens: the preview is a sheet over the page
    const title = el("h2", { tabindex: "-1", text: `预览：${name}` });
    const head = el("div.preview-head", {}, title,
      el("a.btn", { href: url, download: name, "data-download": "1", text: "下载" }),
      button("关闭预览", closePreview));
    const body = el("div.preview-body", {}, el("p.muted", { text: "加载中…" }));
    preview.replaceChildren(head, body);
    preview.scrollIntoView({ block: "nearest" });
    title.focus({ preventScroll: true });
    try {
      const text = await getText(withInline(url));
      body.replaceChildren(previewNode(name, text));
    } catch (err) { showError(body, err, "预览失败"); }
    preview.scrollTop = 0;
  }

  async function load() {
    try {
      const data = await get(taskPath(id, "/files"));
      showError(errors, null);
      const files = data.files || [];
      summary.textContent = `共 ${data.total_files ?? files.length} 个文件，${data.total_size_human || fmtSize(data.total_size)}`;
      tbody.replaceChildren(...(files.length ? files.map((f) => el("tr", { dataset: { file: f.file_name } },
        el("td.file-cell", { "data-label": "文件" }, el("span.mono.file-name", { text: f.file_name }),
           f.is_primary ? el("span.tag", { text: "主要" }) : "",
           f.description ? el("div.muted", { text: f.description }) : ""),
        el("td", { "data-label": "步骤", text: STEP_LABELS[f.step] || f.step || "—" }),
        el("td", { "data-label": "类型", text: f.file_type || "" }),
        el("td.num", { "data-label": "大小", text: f.file_size_human || fmtSize(f.file_size) }),
        el("td.nowrap", { "data-label": "修改时间", text: fmtTime(f.modified_at || f.created_at) }),
        el("td.actions", { "data-label": "操作" },
           previewable(f.file_name) ? button("预览", (ev) => show(f, ev.currentTarget), "small",
                                             { "aria-label": `预览 ${f.file_name}` }) : "",
           el("a.btn.small", { href: f.download_url || fileUrl(id, f.file_name), download: f.file_name,
                               "data-download": "1", text: "下载", "aria-label": `下载 ${f.file_name}` }))))
        : [el("tr", {}, el("td.empty", { colspan: "6", text: "暂无文件" }))]));
    } catch (err) { showError(errors, err, "加载文件列表失败"); }
  }

  const fileInput = el("input", { type: "file", name: "file", accept: ".ddl,.md,.json,.txt,.sql,.csv" });
  const modeSel = el("select", { name: "overwrite_mode" },
    el("option", { value: "backup", text: "备份原文件后覆盖" }), el("option", { value: "replace", text: "直接覆盖" }),
    el("option", { value: "skip", text: "已存在则跳过" }));
  const upErrors = el("div.error-slot");
  const upBtn = el("button.btn.primary", { type: "submit", text: "上传" });
  const upForm = el("form.upload", { "aria-label": "上传文件" },
    field("编辑后的文件 (.ddl .md .json .txt .sql .csv)", fileInput).wrap, field("同名文件", modeSel).wrap,
    el("div.field.actions", {}, upBtn));
  upForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(upBtn, async () => {
      if (!fileInput.files.length) throw Object.assign(new Error("请选择文件"), { code: "VALIDATION_ERROR" });
      const fd = new FormData();
      fd.append("file", fileInput.files[0]);
      fd.append("overwrite_mode", modeSel.value);
      const data = await upload(taskPath(id, "/files"), fd);
      toast(data.response || `已上传 ${fileInput.files[0].name}`, "ok");
      upForm.reset();
      await load();
    }, upErrors);
  });

  // the semantic model: an edited semantic_model.json (checked by the server: 400 with every problem, nothing
  // changed), then qa_generation re-run against it
  const MODEL = "semantic_model.json";
  const modelInput = el("input", { type: "file", name: "model", accept: ".json" });
  const modelErrors = el("div.error-slot");
  const modelBtn = el("button.btn.primary", { type: "submit", text: "提交语义模型" });
  const rerunBtn = button("按语义模型重新生成问答对", () => busy(rerunBtn, async () => {
    await post(taskPath(id, "/execute"), { execution_mode: "step", step_name: "qa_generation" });
    toast("已开始重新生成问答对（qa_generation）", "ok");
  }, modelErrors));
  const modelForm = el("form.upload", { "aria-label": "上传语义模型" },
    field("编辑后的语义模型 (semantic_model.json)", modelInput,
          "表类型、列角色（如把演员姓名标为公开、把某列标为个人信息）、名称列、事件时间；原文件自动备份").wrap,
    el("div.field.actions", {}, modelBtn, rerunBtn));
  modelForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(modelBtn, async () => {
      if (!modelInput.files.length) throw Object.assign(new Error("请选择文件"), { code: "VALIDATION_ERROR" });
      const fd = new FormData();
      fd.append("file", modelInput.files[0], MODEL); // whatever the local name, it replaces the task's model
      fd.append("overwrite_mode", "backup");
      const data = await upload(taskPath(id, "/files"), fd);
      const edits = data.model_edits || [];
      toast(`语义模型已上传，${edits.length} 处修改会在重新运行后保留`, "ok");
      modelForm.reset();
      await load();
    }, modelErrors);
  });

  layout.append(
    el("div.files-main", {},
      el("div.table-wrap", {}, el("table.files.cards-on-phone", {},
        el("thead", {}, el("tr", {}, ["文件", "步骤", "类型", "大小", "修改时间", "操作"]
          .map((h) => el("th", { scope: "col", text: h })))), tbody)),
      el("section.card", { "aria-label": "上传文件" }, el("h2", { text: "上传编辑后的文件" }), upForm, upErrors),
      el("section.card", { "aria-label": "语义模型" }, el("h2", { text: "语义模型" }),
         el("p.muted", {}, "下载 ", el("a", { href: fileUrl(id, MODEL), download: MODEL, "data-download": "1",
                                             text: MODEL }),
            " 修改后上传，再重新生成问答对；说明见 metadata_detail.md 末尾的“语义模型”一节。"),
         modelForm, modelErrors)),
    preview);
  box.replaceChildren(
    el("div.page-head", {}, el("h2", { text: "输出文件" }),
       el("div.head-actions", {}, button("刷新", load),
          el("a.btn", { href: `${API}/${taskPath(id, "/files/archive")}`, download: `${id}.zip`, "data-download": "1", text: "打包下载 (zip)" }))),
    summary, errors, layout);
  timers.onLeave(() => document.body.classList.remove("sheet-open"));
  await load();
  return () => load(); // called by the detail page when the task's state changes
}
