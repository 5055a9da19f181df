"""Text renderings of a `Table`: executable PostgreSQL DDL (`{stem}.ddl`) and the seeds' Markdown (`_detail.md`).

DDL contract: the text runs on an empty PostgreSQL database as is, given that the tables it references with
FOREIGN KEYs ran first (`render_ddl(table, known=...)` turns FKs to tables outside `known` into `--` lines).
Every identifier is quoted when it needs to be (upper case, spaces, keywords, non-ASCII). Enum and domain
types are created idempotently before the table; views and materialized views are rendered table-shaped (their
columns), with the original definition in `--` lines, so the file runs without their base tables. Generated
comments are marked by a `-- [生成]` line before their COMMENT ON statement.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional

from data_pipeline.schema.model import Column, Table

# PostgreSQL 16 keywords that are not "unreserved" (pg_get_keywords() catcode R, T, C): always quoted
KEYWORDS = set("""
all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create
current_catalog current_date current_role current_time current_timestamp current_user default deferrable desc
distinct do else end except false fetch for foreign from grant group having in initially intersect into lateral
leading limit localtime localtimestamp not null offset on only or order placing primary references returning
select session_user some symmetric system_user table then to trailing true union unique user using variadic when
where window with authorization binary collation concurrently cross current_schema freeze full ilike inner is
isnull join left like natural notnull outer overlaps right similar tablesample verbose between bigint bit boolean
char character coalesce dec decimal exists extract float greatest grouping inout int integer interval json_array
json_arrayagg json_object json_objectagg least national nchar none normalize nullif numeric out overlay position
precision real row setof smallint substring time timestamp treat trim values varchar xmlattributes xmlconcat
xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable
""".split())
_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")
GENERATED_MARK = "[生成]"
PII_WORDS = {"phone": "电话号码", "id_card": "身份证号", "email": "邮箱", "person_name": "姓名", "address": "地址",
             "card_number": "银行卡号", "iban": "银行账号(IBAN)", "secret": "密码/密钥"}
SENSITIVE_MARK = "敏感字段，未采样 (sensitive, not sampled)"


def privacy_mark(col: Column) -> str:
    """How a column's line says its values are withheld or masked ("" for ordinary columns)."""
    if col.pii_kind == "secret":
        return SENSITIVE_MARK
    if col.pii_kind:
        return f"个人信息: {PII_WORDS.get(col.pii_kind, col.pii_kind)}，已脱敏 (masked)"
    return ""
# defaults that need nothing but the table itself (no sequences, no user functions)
_SAFE_DEFAULT = re.compile(
    r"^(NULL|true|false|-?\d+(\.\d+)?|'(?:[^']|'')*'(::[\w .\"\[\]()]+)*|\(-?\d+(\.\d+)?\)(::[\w .\"]+)*|"
    r"now\(\)|CURRENT_TIMESTAMP|CURRENT_DATE|CURRENT_TIME|LOCALTIMESTAMP|LOCALTIME|CURRENT_USER|"
    r"clock_timestamp\(\)|statement_timestamp\(\)|transaction_timestamp\(\)|gen_random_uuid\(\)|"
    r"\(?(now\(\)|CURRENT_TIMESTAMP)\)?::[\w ]+)$", re.I)


def quote_ident(name: str) -> str:
    """An identifier as PostgreSQL needs it written: bare when lower-case plain and not a keyword, else quoted."""
    if _PLAIN.match(name) and name not in KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def literal(text: str) -> str:
    """A SQL string literal (standard_conforming_strings on): single quotes doubled."""
    return "'" + text.replace("'", "''") + "'"


def _comment_lines(text: str) -> list[str]:
    return ["-- " + line for line in text.splitlines() if line.strip()] or ["--"]


def _column_type(col: Column) -> str:
    if col.type_kind in ("enum", "domain") and col.type_schema and col.type_name:
        suffix = "[]" if col.data_type.endswith("[]") else ""
        return qualified(col.type_schema, col.type_name) + suffix
    return col.data_type


def _type_prelude(table: Table) -> list[str]:
    """CREATE TYPE / CREATE DOMAIN for user types, idempotent (several files may need the same type)."""
    lines, seen = [], set()
    for col in table.columns:
        if col.type_kind not in ("enum", "domain") or not col.type_name or (col.type_schema, col.type_name) in seen:
            continue
        seen.add((col.type_schema, col.type_name))
        name = qualified(col.type_schema, col.type_name)
        if col.type_kind == "enum":
            body = f"CREATE TYPE {name} AS ENUM ({', '.join(literal(v) for v in col.enum_values)})"
        else:
            body = f"CREATE DOMAIN {name} AS {col.domain_base_type}" + "".join(f" {c}" for c in col.domain_checks)
        lines.append(f"DO $do$ BEGIN {body}; EXCEPTION WHEN duplicate_object THEN NULL; END $do$;")
    return lines


def _column_line(col: Column) -> tuple[str, list[str]]:
    """The column's definition and `--` notes about what could not be carried over (non-portable defaults)."""
    parts = [quote_ident(col.name), _column_type(col)]
    notes = []
    if col.generated_expr:
        parts.append(f"GENERATED ALWAYS AS ({col.generated_expr}) STORED")
    elif col.identity:
        parts.append("GENERATED ALWAYS AS IDENTITY" if col.identity == "a" else "GENERATED BY DEFAULT AS IDENTITY")
    elif col.default:
        if "nextval(" in col.default and re.match(r"(integer|bigint|smallint)$", col.data_type):
            parts.append("GENERATED BY DEFAULT AS IDENTITY")   # serial: the sequence is not part of the file
            notes.append(f"原默认值 {col.default}")
        elif _SAFE_DEFAULT.match(col.default.strip()):
            parts.append(f"DEFAULT {col.default}")
        else:
            notes.append(f"原默认值 {col.default}")
    if not col.nullable:
        parts.append("NOT NULL")
    return " ".join(parts), notes


def _known(table: Table, known: Optional[set[tuple[str, str]]], schema: str, name: str) -> bool:
    return known is None or (schema, name) in known or (schema, name) == (table.schema, table.name)


def render_ddl(table: Table, known: Optional[set[tuple[str, str]]] = None, *, source_label: str = "") -> str:
    """CREATE TABLE + COMMENT ON statements for `table` (see the module docstring for the contract)."""
    out: list[str] = []
    title = table.effective_comment
    out.append(f"-- 中文名: {title}" if title else f"-- 表: {table.qualified}")
    if table.description:
        out.extend(_comment_lines(f"描述: {table.description}"))
    if table.kind in ("view", "materialized_view"):
        kind = "视图" if table.kind == "view" else "物化视图"
        out.append(f"-- 对象类型: {kind}（以表结构形式给出列定义，便于独立执行；原定义如下）")
        out.extend(_comment_lines(f"CREATE {'MATERIALIZED ' if table.kind != 'view' else ''}VIEW "
                                  f"{qualified(table.schema, table.name)} AS\n{table.view_definition or ''}"))
    if source_label:
        out.append(f"-- 注释来源: {source_label}")
    if table.schema != "public":
        out.append(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(table.schema)};")
    out.extend(_type_prelude(table))
    body: list[str] = []
    trailing: list[str] = []
    for col in table.columns:
        line, notes = _column_line(col)
        if col.pii_kind == "secret":
            notes.append(SENSITIVE_MARK)
        body.append(line)
        trailing.extend(f"-- {col.name}: {n}" for n in notes)
    is_view = table.kind in ("view", "materialized_view")
    if table.primary_key and not is_view:
        body.append(f"PRIMARY KEY ({', '.join(quote_ident(c) for c in table.primary_key)})")
    for uk in table.unique_keys:
        body.append(f"UNIQUE ({', '.join(quote_ident(c) for c in uk)})")
    for check in table.check_constraints:
        body.append(check)
    for fk in table.foreign_keys:
        ref = (f"FOREIGN KEY ({', '.join(quote_ident(c) for c in fk.columns)}) REFERENCES "
               f"{qualified(fk.ref_schema, fk.ref_table)} ({', '.join(quote_ident(c) for c in fk.ref_columns)})")
        if _known(table, known, fk.ref_schema, fk.ref_table):
            body.append(ref)
        else:
            trailing.append(f"-- 外键（被引用表不在本次表清单中）: {ref}")
    partition = f" PARTITION BY {table.partition_key}" if table.partition_key else ""
    out.append(f"CREATE TABLE {qualified(table.schema, table.name)} (")
    out.append(",\n".join("  " + b for b in body))
    out.append(f"){partition};")
    out.extend(trailing)
    out.extend(_comment_statements(table))
    return "\n".join(out) + "\n"


def _comment_statements(table: Table) -> list[str]:
    out = []
    name = qualified(table.schema, table.name)
    if table.effective_comment:
        if not table.comment:
            out.append(f"-- {GENERATED_MARK} 表注释为自动生成（{_source_word(table.comment_source)}）")
        out.append(f"COMMENT ON TABLE {name} IS {literal(table.effective_comment)};")
    for col in table.columns:
        if not col.effective_comment:
            continue
        if not col.comment:
            out.append(f"-- {GENERATED_MARK} {col.name}: 注释为自动生成（{_source_word(col.comment_source)}）")
        out.append(f"COMMENT ON COLUMN {name}.{quote_ident(col.name)} IS {literal(col.effective_comment)};")
    return out


def _source_word(source: str) -> str:
    return {"llm": "大模型", "rule_based": "规则生成"}.get(source, source)


# ------------------------------------------------------------------------------------------------ markdown
def short_type(col: Column) -> str:
    t = col.data_type
    t = re.sub(r"^character varying", "varchar", t)
    t = re.sub(r"^character\b", "char", t)
    t = re.sub(r"^timestamp\(?\d?\)? without time zone", "timestamp", t)
    t = re.sub(r"^timestamp\(?\d?\)? with time zone", "timestamptz", t)
    return t


def _values(values: Iterable[str], limit: int) -> str:
    return ", ".join(v.replace("\n", " ") for v in list(values)[:limit])


def render_md(table: Table, *, source_label: str = "") -> str:
    """The seeds' `_detail.md`: `## name（中文名）`, description, field list with type, comment, flags, samples,
    then 字段补充说明 (keys, enum values, generated-comment note)."""
    title = table.effective_comment
    lines = [f"## {table.name}（{title}）" if title else f"## {table.name}"]
    if table.description:
        lines.append(table.description)
    if table.schema != "public":
        lines.append(f"所属模式: {table.schema}")
    lines.append("字段列表：")
    for col in table.columns:
        flags = []
        if col.is_primary_key:
            flags.append("主键")
        if not col.nullable:
            flags.append("非空")
        text = f"- {col.name} ({short_type(col)}) - {col.effective_comment or '（无注释）'}"
        if not col.comment and col.generated_comment:
            text += f" {GENERATED_MARK}"
        if flags:
            text += f" [{', '.join(flags)}]"
        if privacy_mark(col):
            text += f" [{privacy_mark(col)}]"
        samples = [tv.value for tv in col.top_values] if col.is_enum_like and col.top_values else col.samples
        if samples:
            text += f" [示例: {_values(samples, 3)}]"
        lines.append(text)
    notes = _notes(table)
    if notes:
        lines.append("字段补充说明：")
        lines.extend(f"- {n}" for n in notes)
    if source_label:
        lines.append("")
        lines.append(f"注释来源: {source_label}")
    return "\n".join(lines) + "\n"


def _notes(table: Table) -> list[str]:
    notes = []
    if table.primary_key:
        notes.append(f"{', '.join(table.primary_key)} 为主键")
    for uk in table.unique_keys:
        notes.append(f"{', '.join(uk)} 取值唯一")
    for fk in table.foreign_keys:
        notes.append(f"{', '.join(fk.columns)} 关联 {fk.ref_schema}.{fk.ref_table}({', '.join(fk.ref_columns)})")
    for col in table.columns:
        if col.enum_values:
            notes.append(f"{col.name} 为枚举字段，可选值：{_values(col.enum_values, 20)}")
        elif col.is_enum_like and col.top_values:
            notes.append(f"{col.name} 为枚举字段，包含取值：{_values((tv.value for tv in col.top_values), 10)}")
        if col.pii_kind == "secret":
            notes.append(f"{col.name} 为敏感字段（{PII_WORDS['secret']}），不采样、不统计取值 (sensitive, not sampled)")
        elif col.pii_kind:
            notes.append(f"{col.name} 含个人信息（{PII_WORDS.get(col.pii_kind, col.pii_kind)}），示例已脱敏")
    if table.kind in ("view", "materialized_view"):
        notes.append(f"这是一个{'视图' if table.kind == 'view' else '物化视图'}")
    if table.partition_key:
        notes.append(f"分区表，分区键：{table.partition_key}")
    generated = [c.name for c in table.columns if not c.comment and c.generated_comment]
    if generated:
        notes.append(f"标记 {GENERATED_MARK} 的注释为自动生成（数据库中无注释）：{', '.join(generated)}")
    return notes
