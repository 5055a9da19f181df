// Chinese labels for the raw keys the API returns (task parameters, step summaries, the quality report).
// Pages show the label and keep the raw key in a tooltip (`keyLabel`), so an operator can still match a value
// to the API field or to quality_report.json.
import { el } from "./ui.js";

export const PARAM_LABELS = {
  task_name: "任务名称", db_name: "数据库名称", db_connection: "数据库连接", business_context: "业务背景",
  table_list_file: "表清单文件", file_upload_mode: "等待上传表清单", created_by: "创建者",
  enable_sql_validation: "执行 SQL 验证", enable_llm_repair: "LLM 修复失败的 SQL",
  modify_original_file: "验证后改写问答对文件", enable_training_data_load: "加载训练数据到向量库",
  backup_vector_tables: "加载前备份向量表", truncate_vector_tables: "加载前清空向量表",
  table_names: "表名", tables: "表", question_language: "问题语言", vector_db_connection: "向量库连接",
  allow_unreadable_tables: "允许跳过无读取权限的表",
  enable_evaluation: "加载后评估检索与 SQL 准确率", eval_holdout_ratio: "评估留出比例", eval_max_questions: "评估最多提问数",
};

export const QUALITY_LABELS = {
  generated_at: "生成时间", pairs_file: "问答对文件", pairs_in: "输入问答对", pairs_out: "输出问答对",
  executable_rate: "SQL 可执行率", executable_rate_after_repair: "修复后可执行率", non_empty_rate: "非空结果率",
  validation: "SQL 验证", repair: "LLM 修复", duplicates: "重复问答对", difficulty: "难度", coverage: "覆盖率",
  comments: "注释", schema_note: "说明", status: "状态", report_file: "报告文件", note: "说明",
  status_counts: "结果计数", pairs_removed: "删除的问答对", pairs_out_file_modified: "已改写问答对文件",
  mode: "模式", attempted: "尝试修复", succeeded: "修复成功", failed: "修复失败", success_rate: "修复成功率",
  removed_by_generator: "生成阶段已去除", remaining_in_output: "输出中仍存在", exact: "完全重复",
  template: "模板重复", distribution: "分布", source: "来源", tables_total: "表总数", tables_covered: "已覆盖表",
  missing_tables: "未覆盖的表", fk_edges_total: "外键关系总数", fk_edges_covered: "已覆盖外键关系",
  missing_fk_edges: "未覆盖的外键关系", columns_total: "字段总数", columns_with_comment: "有注释的字段",
  column_comment_coverage: "字段注释覆盖率", tables_with_comment: "有注释的表",
  existing_database_comments: "数据库原有注释", existing_comments_kept: "保留的原有注释",
  kept_checked_against: "保留情况核对依据",
  privacy: "隐私保护", columns_masked: "已脱敏字段数", columns_withheld_as_secrets: "未采样的敏感字段数",
  masked_by_kind: "按类型的脱敏字段", masked_columns: "已脱敏字段", withheld_columns: "未采样的敏感字段",
  table: "表", column: "字段", kind: "类型", reason: "原因",
};

export const RESULT_LABELS = {
  steps: "步骤", quality: "质量报告", execution_id: "执行 ID", execution_mode: "执行方式",
  execution_step: "执行步骤", execution_outcome: "执行结果", execution_duration: "执行耗时(秒)",
  finished_at: "结束时间", output_files: "输出文件", duration: "耗时(秒)", duration_s: "耗时(秒)",
  duration_seconds: "耗时(秒)", tables: "表", columns: "字段", pairs: "问答对", themes: "主题",
  generator: "生成方式", succeeded: "成功", failed: "失败", pii_columns: "敏感字段", comment_source: "注释来源",
  comments_existing: "原有注释", comments_generated: "生成的注释", read_seconds: "读取耗时(秒)",
  pair_file: "问答对文件", pairs_file: "问答对文件", llm_usage: "LLM 用量", by_difficulty: "难度分布",
  failed_themes: "失败的主题", coverage_top_up: "补充覆盖的问答对", pairs_by_source: "问答对来源",
  duplicates_removed: "去除的重复", loaded: "已加载", log_file: "日志文件", embedding: "嵌入模型",
  total_rows: "总行数", embed_seconds: "嵌入耗时(秒)", insert_seconds: "写入耗时(秒)",
  vector_backup: "向量表备份", truncated_rows: "清空的行数", rows_per_second: "每秒行数",
  duplicates_dropped: "丢弃的重复", empty_pairs_skipped: "跳过的空结果问答对",
  replaced_previous_rows: "替换的旧行", warnings: "警告", summary_file: "摘要文件", report_file: "报告文件",
  valid_sqls: "有效 SQL", invalid_sqls: "无效 SQL", pairs_kept: "保留的问答对", repair_mode: "修复方式",
  repair_stats: "修复统计", total_questions: "问题总数", final_valid_sqls: "最终有效 SQL",
  final_success_rate: "最终成功率", average_execution_time: "平均执行耗时(秒)",
  file_modification_stats: "文件修改统计", status_counts: "结果计数", success_rate: "成功率", rule: "规则",
  pairs_in_file: "文件中的问答对", validation_report: "验证报告", pairs_not_executable: "不可执行的问答对",
  model: "模型", dimension: "维度", ddl: "DDL", sql: "问答对", documentation: "文档", rounds: "修复轮数",
  successful: "成功", deleted: "已删除", modified: "已修改", enabled: "启用", backup_file: "备份文件",
  file_modified: "文件已修改", source: "来源",
};

export const DIFFICULTY_LABELS = {
  single_table: "单表查询", aggregate: "聚合", group_by: "分组", join: "多表关联", nested_window: "嵌套/窗口",
};

export const VALIDATION_STATUS_LABELS = {
  valid: "有效", empty: "结果为空", error: "执行错误", timeout: "超时", rejected: "被拒绝",
};

/** The label of a raw key (first table that knows it), else the key itself. */
export function labelOf(key, ...tables) {
  for (const table of tables) if (table && table[key]) return table[key];
  return key;
}

/** <span title="raw_key">中文标签</span>: the label shown, the API's key in the tooltip. */
export function keyLabel(key, ...tables) {
  const label = labelOf(key, ...tables);
  return el("span.key-label", { title: key, dataset: { key }, text: label });
}
