"""Comments for tables and columns that have none in the database: rule-based or by an LLM.

Contract: a comment that exists in the database (`Table.comment`, `Column.comment`) is kept verbatim and never
touched; only missing ones get a `generated_comment`, and `comment_source` records where each came from
(database, llm, rule_based). Nothing here knows a business domain: the rule-based generator reads generic
column-name vocabulary (audit columns, *_id/*_no/*_ts/amount/count/date words), the table's foreign-key
targets and profiled values; unknown abbreviations are said to be unknown rather than guessed.
An LLM failure raises `core.errors.LLMError` for that table; its text never becomes a comment.
"""
from __future__ import annotations

import json
import re
from typing import Optional

from pydantic import BaseModel, Field

from core.errors import LLMError
from data_pipeline.schema import pii
from data_pipeline.schema.model import Column, Table

RULE_BASED = "rule_based"
LLM = "llm"

# generic English words and abbreviations -> Chinese (no domain knowledge: dictionary words only)
WORDS = {
    "id": "ID", "no": "编号", "num": "数量", "code": "编码", "name": "名称", "type": "类型", "kind": "种类",
    "category": "分类", "status": "状态", "state": "状态", "date": "日期", "time": "时间", "ts": "时间",
    "day": "日", "month": "月", "year": "年", "hour": "小时", "week": "周",
    "create": "创建", "created": "创建", "update": "更新", "updated": "更新", "modify": "修改", "modified": "修改",
    "delete": "删除", "deleted": "删除", "by": "人", "user": "用户", "amount": "金额", "amt": "金额",
    "money": "金额", "fee": "费用", "price": "价格", "cost": "成本", "count": "数量", "cnt": "数量",
    "qty": "数量", "quantity": "数量", "total": "总计", "sum": "合计", "avg": "平均", "rate": "比率",
    "ratio": "比例", "percent": "百分比", "desc": "描述", "description": "描述", "remark": "备注", "memo": "备注",
    "note": "备注", "comment": "备注", "version": "版本号", "order": "订单", "pay": "支付", "payment": "支付",
    "company": "公司", "area": "区域", "service": "服务", "route": "路线", "section": "路段", "car": "车辆",
    "vehicle": "车辆", "customer": "客户", "city": "城市", "province": "省份", "district": "区县",
    "address": "地址", "phone": "电话", "mobile": "手机号", "email": "邮箱", "sort": "排序", "seq": "序号",
    "level": "级别", "parent": "上级", "start": "开始", "end": "结束", "begin": "开始", "lat": "纬度",
    "latitude": "纬度", "lng": "经度", "lon": "经度", "longitude": "经度", "position": "位置",
    "location": "位置", "source": "来源", "system": "系统", "branch": "分支", "link": "关联", "map": "映射",
    "mapper": "映射", "mapping": "映射", "info": "信息", "detail": "明细", "data": "数据", "log": "日志",
    "record": "记录", "product": "产品", "goods": "商品", "item": "项目", "shop": "店铺", "store": "门店",
    "dept": "部门", "department": "部门", "org": "组织", "employee": "员工", "staff": "员工", "title": "标题",
    "content": "内容", "url": "链接", "path": "路径", "file": "文件", "image": "图片", "flag": "标志",
    "enabled": "启用", "enable": "启用", "active": "有效", "valid": "有效", "region": "地区", "group": "分组",
    "operator": "操作人", "oper": "操作", "operate": "操作", "owner": "负责人", "tenant": "租户",
    "account": "账户", "balance": "余额", "income": "收入", "revenue": "营收", "profit": "利润",
    "discount": "折扣", "tax": "税额", "unit": "单位", "weight": "重量", "length": "长度", "size": "大小",
    "age": "年龄", "gender": "性别", "sex": "性别", "birthday": "生日", "score": "得分", "grade": "等级",
    "station": "站点", "site": "站点", "road": "道路", "contact": "联系", "person": "人员", "member": "会员",
    "card": "卡", "bank": "银行", "event": "事件", "full": "完整", "home": "家庭", "line": "行",
    "detail": "明细", "channel": "渠道", "platform": "平台", "app": "应用", "device": "设备",
}
AUDIT = {
    ("create", "ts"): "创建时间", ("create", "time"): "创建时间", ("created", "at"): "创建时间",
    ("gmt", "create"): "创建时间", ("created", "by"): "创建人", ("create", "by"): "创建人",
    ("creator",): "创建人", ("update", "ts"): "更新时间", ("update", "time"): "更新时间",
    ("updated", "at"): "更新时间", ("gmt", "modified"): "更新时间", ("updated", "by"): "更新人",
    ("update", "by"): "更新人", ("modifier",): "修改人", ("delete", "ts"): "删除时间（软删除标记）",
    ("delete", "time"): "删除时间（软删除标记）", ("deleted", "at"): "删除时间（软删除标记）",
    ("deleted", "by"): "删除人", ("delete", "by"): "删除人", ("is", "deleted"): "是否删除（软删除标记）",
    ("del", "flag"): "删除标记", ("deleted",): "是否删除（软删除标记）", ("version",): "版本号",
    ("full", "name"): "姓名", ("real", "name"): "姓名", ("id", "card"): "身份证号", ("id", "card", "no"): "身份证号",
}
_CJK = re.compile(r"[\u4e00-\u9fff]")
SUFFIX = {  # last token -> how the column's meaning ends
    "id": "ID", "no": "编号", "code": "编码", "name": "名称", "type": "类型", "status": "状态", "state": "状态",
    "date": "日期", "time": "时间", "ts": "时间", "at": "时间", "count": "数量", "cnt": "数量", "num": "数量",
    "qty": "数量", "amount": "金额", "amt": "金额", "money": "金额", "fee": "费用", "price": "价格",
    "sum": "合计", "total": "总计", "order": "订单数", "rate": "比率", "ratio": "比例", "desc": "描述",
    "remark": "备注", "flag": "标志", "level": "级别", "url": "链接",
}
_PAREN = re.compile(r"[（(].*?[）)]")


def translate(tokens: list[str]) -> tuple[str, int]:
    """Tokens -> Chinese words; returns (text, number of tokens not in the vocabulary)."""
    out, unknown = [], 0
    for t in tokens:
        if t in WORDS:
            out.append(WORDS[t])
        else:
            out.append(t)
            unknown += 1
    text = ""
    for part in out:  # keep a space only between two Latin words
        if text and re.match(r"[A-Za-z0-9]", part) and re.search(r"[A-Za-z0-9]$", text):
            text += " "
        text += part
    return text, unknown


def table_label(table: Optional[Table], name: str) -> str:
    """A short Chinese name for a table: its comment without parentheses and a trailing 表, or its name."""
    text = (table.effective_comment if table else "") or name
    text = _PAREN.sub("", text).strip()
    return text[:-1] if text.endswith("表") and len(text) > 1 else text


def _type_word(col: Column) -> str:
    t = col.data_type
    if re.match(r"(numeric|decimal|double|real|money)", t):
        return "数值"
    if re.match(r"(integer|bigint|smallint)", t):
        return "整数"
    if t.startswith(("timestamp", "date", "time")):
        return "时间"
    if t == "boolean":
        return "布尔"
    return "文本"


def _singular(tok: str) -> str:
    return tok[:-1] if tok.endswith("s") and tok[:-1] in WORDS else tok


def _with_values(text: str, col: Column) -> str:
    if col.enum_values:
        return text + f"，可选值：{'、'.join(col.enum_values[:8])}"
    if col.is_enum_like and col.top_values:
        return text + f"，取值如：{'、'.join(tv.value for tv in col.top_values[:6])}"
    return text


def rule_column_comment(table: Table, col: Column, tables_by_name: dict[tuple[str, str], Table]) -> str:
    if _CJK.search(col.name):
        return _with_values(col.name, col)   # the name is already words a reader understands
    toks = [_singular(t) for t in pii.tokens(col.name)] or [col.name]
    key = tuple(toks)
    if key in AUDIT:
        return AUDIT[key]
    if toks == ["id"]:
        return "主键ID" if col.is_primary_key else "ID"
    fk = next((f for f in table.foreign_keys if col.name in f.columns), None)
    if fk is not None:
        target = tables_by_name.get((fk.ref_schema, fk.ref_table))
        ref_col = fk.ref_columns[fk.columns.index(col.name)]
        return f"{table_label(target, fk.ref_table)}ID（关联 {fk.ref_table}.{ref_col}）" \
            if ref_col == "id" or toks[-1] == "id" else f"关联 {fk.ref_table}.{ref_col}"
    if toks and toks[0] == "is" and len(toks) > 1:
        text, _ = translate(toks[1:])
        return f"是否{text}"
    text, unknown = translate(toks)
    if toks and toks[-1] in SUFFIX and len(toks) > 1:
        text, unknown = translate(toks[:-1])
        text += SUFFIX[toks[-1]]
    if unknown == len(toks):
        # nothing we can translate: say so instead of inventing a meaning
        text = f"{col.name}（{_type_word(col)}字段，含义待确认）"
    return _with_values(text, col)


def rule_table_comment(table: Table, tables_by_name: dict[tuple[str, str], Table]) -> str:
    fk_targets = [table_label(tables_by_name.get((f.ref_schema, f.ref_table)), f.ref_table)
                  for f in table.foreign_keys]
    pk_from_fks = table.primary_key and all(any(c in f.columns for f in table.foreign_keys)
                                            for c in table.primary_key)
    if len(fk_targets) >= 2 and pk_from_fks:
        return f"{'与'.join(dict.fromkeys(fk_targets))}的关联表"
    if _CJK.search(table.name):
        return table.name
    toks = [_singular(t) for t in pii.tokens(table.name)] or [table.name]
    if len(toks) > 1 and toks[0] not in WORDS and len(toks[0]) <= 4 and any(t in WORDS for t in toks[1:]):
        toks = toks[1:]   # a short system prefix such as t_, tb_, ods_: not part of the meaning
    text, unknown = translate(toks)
    kind = {"view": "视图", "materialized_view": "物化视图"}.get(table.kind, "表")
    return f"{text}{kind}" if unknown < len(toks) else f"{table.name}{kind}（含义待确认）"


def describe(table: Table) -> str:
    """A factual one-paragraph description for the md body (counts, keys, relations; no guessing)."""
    label = table_label(table, table.name)
    parts = [f"{table.name}（{label}）" if label != table.name else table.name]
    rows = table.row_estimate
    if rows is not None:
        parts[0] += f"：共{'' if table.row_count_exact else '约'} {rows} 行数据"
    parts.append(f"{len(table.columns)} 个字段")
    if table.primary_key:
        parts.append(f"主键为 {', '.join(table.primary_key)}")
    for fk in table.foreign_keys:
        cols = fk.columns[0] if len(fk.columns) == 1 else f"({', '.join(fk.columns)})"
        parts.append(f"{cols} 关联 {fk.ref_table}({', '.join(fk.ref_columns)})")
    kind = {"view": "（视图）", "materialized_view": "（物化视图）", "partitioned_table": "（分区表）"}
    return "，".join(parts) + kind.get(table.kind, "") + "。"


def apply_rule_based(table: Table, tables_by_name: dict[tuple[str, str], Table]) -> int:
    """Fill every missing comment with a rule-based one; returns how many were generated."""
    generated = 0
    if not table.comment:
        table.generated_comment = rule_table_comment(table, tables_by_name)
        generated += 1
    for col in table.columns:
        if col.comment:
            col.comment_source = "database"
            continue
        if not col.generated_comment:
            col.generated_comment = rule_column_comment(table, col, tables_by_name)
            col.comment_source = RULE_BASED
        generated += 1
    table.description = table.description or describe(table)
    table.comment_source = _source(table, RULE_BASED)
    table.generated_comment_count = generated
    return generated


def _source(table: Table, generator: str) -> str:
    """database when nothing was generated; else the generator (llm/rule_based)."""
    if table.comment and all(c.comment for c in table.columns):
        return "database"
    return generator


# ----------------------------------------------------------------------------------------------------- LLM
class TableComments(BaseModel):
    """What the LLM answers for one table (prompts/ddl_comments.txt)."""
    table_comment: str = Field("", max_length=200)
    table_description: str = Field("", max_length=1000)
    columns: dict[str, str] = Field(default_factory=dict)


_REFUSAL = re.compile(r"(抱歉|对不起|无法(提供|生成|回答|确定)|作为.{0,6}(AI|模型|助手)|sorry|I cannot|I can't|"
                      r"as an AI)", re.I)


def _usable(text: Optional[str], limit: int = 200) -> Optional[str]:
    """A generated comment, or None when empty, too long or an apology/refusal (never stored as content)."""
    if not isinstance(text, str):
        return None
    text = " ".join(text.split())
    if not text or len(text) > limit or _REFUSAL.search(text):
        return None
    return text


def prompt_payload(table: Table, tables_by_name: Optional[dict[tuple[str, str], Table]] = None) -> str:
    """The table as the LLM sees it, compact (one column per line): structure, existing comments, masked
    samples or frequent values, enum values, referenced tables with their comments."""
    tables_by_name = tables_by_name or {}
    head = {"table": table.qualified, "kind": table.kind, "comment": table.comment, "rows": table.row_estimate,
            "primary_key": table.primary_key,
            "foreign_keys": [{"columns": f.columns, "references": f"{f.ref_schema}.{f.ref_table}",
                              "ref_columns": f.ref_columns,
                              "ref_comment": table_label(tables_by_name.get((f.ref_schema, f.ref_table)), "")
                              or None} for f in table.foreign_keys]}
    lines = [json.dumps(head, ensure_ascii=False), "columns:"]
    for c in table.columns:
        item = {"name": c.name, "type": c.data_type}
        if c.comment:
            item["comment"] = c.comment
        if c.is_primary_key:
            item["primary_key"] = True
        if c.enum_values:
            item["allowed_values"] = c.enum_values[:20]
        elif c.is_enum_like and c.top_values:
            item["frequent_values"] = [tv.value for tv in c.top_values[:10]]
        elif c.samples:
            item["samples"] = c.samples[:3]
        if c.pii_kind:
            item["personal_data"] = c.pii_kind
        lines.append(json.dumps(item, ensure_ascii=False))
    return "\n".join(lines)


def apply_llm(table: Table, llm, business_context: str, tables_by_name: dict[tuple[str, str], Table]) -> int:
    """One chat_json call for the table; missing comments come from the answer (rule-based for any the answer
    leaves out or makes unusable). Returns how many comments were generated; raises LLMError on failure."""
    from core.llm import load_prompt
    missing = [c.name for c in table.columns if not c.comment]
    if table.comment and not missing:
        # every comment is already in the database: a call would write nothing (a whole wave of LLM latency
        # for a description); the rule-based pass keeps the database's comments and describes the table
        return apply_rule_based(table, tables_by_name)
    messages = [
        {"role": "system", "content": load_prompt("ddl_comments_system")},
        {"role": "user", "content": load_prompt(
            "ddl_comments", business_context=business_context or "（未提供）", table_json=prompt_payload(table, tables_by_name),
            missing_columns=json.dumps(missing, ensure_ascii=False),
            need_table_comment="是" if not table.comment else "否（已有注释，保持不变）")},
    ]
    answer: TableComments = llm.chat_json(messages, TableComments, purpose="ddl_comments")
    if not isinstance(answer, TableComments):
        raise LLMError(f"unexpected LLM answer type for {table.qualified}")
    generated = 0
    if not table.comment:
        table.generated_comment = _usable(answer.table_comment) or rule_table_comment(table, tables_by_name)
        generated += 1
    for col in table.columns:
        if col.comment:
            continue
        text = _usable(answer.columns.get(col.name))
        if text:
            col.generated_comment, col.comment_source = text, LLM
        else:
            col.generated_comment = rule_column_comment(table, col, tables_by_name)
            col.comment_source = RULE_BASED
        generated += 1
    table.description = _usable(answer.table_description, 1000) or describe(table)
    table.comment_source = _source(table, LLM)
    table.generated_comment_count = generated
    return generated
