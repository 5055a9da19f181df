// What an error or a warning means for the person at the console: one Chinese sentence that names the control
// which fixes it (the checkbox, the 表清单 card), never an API field. The API's own English text stays
// available under "技术细节" (errorBox) for operators matching it to a log line.

/** Chinese explanation of an ApiError, or "" when the code has none (the envelope's message is enough). */
export function explainError(err) {
  const code = err && err.code;
  const names = (err && err.invalidParams) || [];
  const list = names.length ? "：" + names.join("、") : "";
  switch (code) {
    case "TABLE_LIST_MISSING":
      return "这个任务还没有表清单。请在概览页的“表清单”卡片中选择表，或上传 .txt 表清单文件，然后再执行。";
    case "STEP_DEPENDENCY_NOT_MET":
      return "前置步骤尚未完成。请先执行前面的步骤，或勾选“强制执行（跳过依赖检查）”后再执行。";
    case "TASK_ALREADY_RUNNING":
      return "该任务正在执行中，请等本次执行结束（或先取消执行）后再试。";
    case "CONCURRENCY_LIMIT_REACHED":
      return "同时执行的任务数已达上限，请等其他任务结束后再试。";
    case "DATABASE_ROLE_TOO_PRIVILEGED":
      return "数据库账号权限过高（超级用户或可读写服务器文件），请改用只读账号连接。";
    case "DATABASE_CONNECTION_ERROR":
      return "无法连接数据库，请检查主机、端口、数据库名、用户名和密码。";
    case "VALIDATION_ERROR":
      if (err.message === "部分表无读取权限")
        return `当前数据库账号无权读取部分表${list}。请授予 SELECT 权限、取消选择这些表，或勾选“跳过当前账号无读取权限的表”` +
               "（执行页勾选“强制执行”也会跳过它们），运行结果将为部分完成。";
      if (err.message === "表不存在") return `这些表在业务数据库中不存在${list}。请从表清单中去掉它们。`;
      return "";
    default:
      return "";
  }
}

/** Chinese text per warning code (the English message stays in the tooltip). */
export const WARNING_TEXT = {
  TABLES_UNREADABLE: "部分表当前数据库账号无读取权限，已跳过",
  TABLES_MISSING: "部分表在业务数据库中不存在，已跳过",
  MATVIEW_UNPOPULATED: "物化视图从未刷新（无数据），已跳过",
  TABLES_SKIPPED: "部分表处理失败，已跳过",
  PAIRS_DROPPED: "部分问答对验证失败，已删除",
  PAIRS_INVALID: "部分问答对不可执行（按设置保留在文件中）",
  PAIRS_NOT_LOADED: "没有加载任何问答对",
  TIME_RANGE_APPROXIMATE: "部分表的业务时间范围未能精确读取，仅为抽样估计",
  VECTOR_STORE_MIXED: "向量库中还有其他业务数据库的数据（混用）",
  STEP_WARNING: "步骤报告了警告",
};

/** The warnings' codes that mean "tables were left out": how many tables a partial run skipped. */
export const SKIPPED_TABLE_CODES = ["TABLES_UNREADABLE", "TABLES_MISSING", "MATVIEW_UNPOPULATED", "TABLES_SKIPPED"];
export function skippedTables(warnings) {
  return (warnings || []).filter((w) => SKIPPED_TABLE_CODES.includes(w.code))
    .reduce((n, w) => n + (Number(w.count) || (w.objects || []).length || 0), 0);
}
