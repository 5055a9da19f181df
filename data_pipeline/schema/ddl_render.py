"""Text renderings of a `Table`: executable PostgreSQL DDL (`{stem}.ddl`) and the seeds' Markdown (`_detail.md`).

DDL contract: the text runs on an empty PostgreSQL database as is, given that the tables it references with
FOREIGN KEYs ran first (`render_ddl(table, known=...)` turns FKs to tables outside `known` into `--` lines).
Every identifier is quoted when it needs to be (upper case, spaces, keywords, non-ASCII). Enum and domain
types are created idempotently before the table; views and materialized views are rendered table-shaped (their
columns), with the original definition in `--` lines, so the file runs without their base tables. Generated
comments are marked by a `-- [生成]` line before their COMMENT ON statement.

Both files speak the task's language (`language`: zh, the seeds' format, or en): an English schema asked about in
English gets "Columns:", "primary key", "[generated]", not Chinese labels around English comments.
"""
from __future__ import annotations

import re
from typing import Collection, Iterable, Optional, Sequence

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
             "card_number": "银行卡号", "iban": "银行账号(IBAN)", "birth_date": "出生日期（只保留年份）",
             "secret": "密码/密钥"}
PII_WORDS_EN = {"phone": "phone number", "id_card": "national ID", "email": "e-mail", "person_name": "person name",
                "address": "address", "card_number": "card number", "iban": "bank account (IBAN)",
                "birth_date": "birth date (year kept)", "secret": "password/secret"}
SENSITIVE_MARK = "敏感字段，未采样 (sensitive, not sampled)"

# every label of both files: key -> (zh, en)
WORDS: dict[str, tuple[str, str]] = {
    "generated": (GENERATED_MARK, "[generated]"),
    "sensitive": (SENSITIVE_MARK, "sensitive, not sampled"),
    "personal": ("个人信息: {kind}，已脱敏 (masked)", "personal data: {kind}, masked"),
    "title": ("-- 中文名: {title}", "-- Name: {title}"),
    "table": ("-- 表: {name}", "-- Table: {name}"),
    "description": ("描述: {text}", "Description: {text}"),
    "view": ("视图", "view"),
    "matview": ("物化视图", "materialized view"),
    "object_kind": ("-- 对象类型: {kind}（以表结构形式给出列定义，便于独立执行；原定义如下）",
                    "-- Object type: {kind} (columns given as a table so the file runs on its own; the original "
                    "definition follows)"),
    "source": ("注释来源: {label}", "Comment source: {label}"),
    "old_default": ("原默认值 {default}", "original default {default}"),
    "fk_outside": ("-- 外键（被引用表不在本次表清单中）: {ref}", "-- Foreign key (the referenced table is not in this "
                   "table list): {ref}"),
    "generated_table": ("-- {mark} 表注释为自动生成（{source}）", "-- {mark} table comment generated ({source})"),
    "generated_column": ("-- {mark} {column}: 注释为自动生成（{source}）", "-- {mark} {column}: comment generated "
                         "({source})"),
    "llm": ("大模型", "LLM"),
    "rule_based": ("规则生成", "rule-based"),
    "heading": ("## {name}（{title}）", "## {name} ({title})"),
    "schema": ("所属模式: {schema}", "Schema: {schema}"),
    "columns": ("字段列表：", "Columns:"),
    "primary_key": ("主键", "primary key"),
    "not_null": ("非空", "not null"),
    "no_comment": ("（无注释）", "(no comment)"),
    "samples": ("示例: {values}", "e.g. {values}"),
    "notes": ("字段补充说明：", "Notes:"),
    "is_primary_key": ("{columns} 为主键", "{columns}: primary key"),
    "is_composite_key": ("复合主键：({columns})", "composite primary key: ({columns})"),
    "is_unique": ("{columns} 取值唯一", "{columns}: unique"),
    "references": ("{columns} 关联 {ref}", "{columns} references {ref}"),
    "enum_declared": ("{column} 为枚举字段，可选值：{values}", "{column} is an enumeration, allowed values: {values}"),
    "enum_seen": ("{column} 为枚举字段，包含取值：{values}", "{column} is an enumeration, values include: {values}"),
    "secret_note": ("{column} 为敏感字段（{kind}），不采样、不统计取值 (sensitive, not sampled)",
                    "{column} is sensitive ({kind}): not sampled, no value statistics"),
    "personal_note": ("{column} 含个人信息（{kind}），示例已脱敏", "{column} holds personal data ({kind}); samples "
                      "masked"),
    "is_view": ("这是一个{kind}", "This is a {kind}"),
    "partitioned": ("分区表，分区键：{partition_key}", "Partitioned table, partition key: {partition_key}"),
    "generated_note": ("标记 {mark} 的注释为自动生成（数据库中无注释）：{columns}",
                       "Comments marked {mark} are generated (the database has none): {columns}"),
}


def word(key: str, language: str = "zh", **fmt) -> str:
    zh, en = WORDS[key]
    return (en if language == "en" else zh).format(**fmt)


def _pii_word(kind: str, language: str) -> str:
    return (PII_WORDS_EN if language == "en" else PII_WORDS).get(kind, kind)


def privacy_mark(col: Column, language: str = "zh") -> str:
    """How a column's line says its values are withheld or masked ("" for ordinary columns)."""
    if col.pii_kind == "secret":
        return word("sensitive", language)
    if col.pii_kind:
        return word("personal", language, kind=_pii_word(col.pii_kind, language))
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


def first_line(text: str) -> str:
    """The first non-empty line of a comment: its name; the lines after it explain (a heading has one line)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _item_text(text: str) -> str:
    """A comment inside a Markdown list item: its later lines indented so they continue the item."""
    return "\n  ".join(line.strip() for line in text.splitlines() if line.strip())


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


def _column_line(col: Column, language: str = "zh") -> tuple[str, list[str]]:
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
            notes.append(word("old_default", language, default=col.default))
        elif _SAFE_DEFAULT.match(col.default.strip()):
            parts.append(f"DEFAULT {col.default}")
        else:
            notes.append(word("old_default", language, default=col.default))
    if not col.nullable:
        parts.append("NOT NULL")
    return " ".join(parts), notes


def _known(table: Table, known: Optional[set[tuple[str, str]]], schema: str, name: str) -> bool:
    return known is None or (schema, name) in known or (schema, name) == (table.schema, table.name)


def render_ddl(table: Table, known: Optional[set[tuple[str, str]]] = None, *, source_label: str = "",
               language: str = "zh") -> str:
    """CREATE TABLE + COMMENT ON statements for `table` (see the module docstring for the contract)."""
    out: list[str] = []
    title = table.effective_comment
    out.append(word("title", language, title=title) if title else word("table", language, name=table.qualified))
    if table.description:
        out.extend(_comment_lines(word("description", language, text=table.description)))
    if table.kind in ("view", "materialized_view"):
        kind = word("view" if table.kind == "view" else "matview", language)
        out.append(word("object_kind", language, kind=kind))
        out.extend(_comment_lines(f"CREATE {'MATERIALIZED ' if table.kind != 'view' else ''}VIEW "
                                  f"{qualified(table.schema, table.name)} AS\n{table.view_definition or ''}"))
    if source_label:
        out.append("-- " + word("source", language, label=source_label))
    if table.schema != "public":
        out.append(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(table.schema)};")
    out.extend(_type_prelude(table))
    body: list[str] = []
    trailing: list[str] = []
    for col in table.columns:
        line, notes = _column_line(col, language)
        if col.pii_kind == "secret":
            notes.append(word("sensitive", language))
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
            trailing.append(word("fk_outside", language, ref=ref))
    partition = f" PARTITION BY {table.partition_key}" if table.partition_key else ""
    out.append(f"CREATE TABLE {qualified(table.schema, table.name)} (")
    out.append(",\n".join("  " + b for b in body))
    out.append(f"){partition};")
    out.extend(trailing)
    out.extend(_comment_statements(table, language))
    return "\n".join(out) + "\n"


def _comment_statements(table: Table, language: str = "zh") -> list[str]:
    out = []
    name = qualified(table.schema, table.name)
    mark = word("generated", language)
    if table.effective_comment:
        if not table.comment:
            out.append(word("generated_table", language, mark=mark,
                            source=_source_word(table.comment_source, language)))
        out.append(f"COMMENT ON TABLE {name} IS {literal(table.effective_comment)};")
    for col in table.columns:
        if not col.effective_comment:
            continue
        if not col.comment:
            out.append(word("generated_column", language, mark=mark, column=col.name,
                            source=_source_word(col.comment_source, language)))
        out.append(f"COMMENT ON COLUMN {name}.{quote_ident(col.name)} IS {literal(col.effective_comment)};")
    return out


def _source_word(source: str, language: str = "zh") -> str:
    return word(source, language) if source in ("llm", "rule_based") else source


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


def render_md(table: Table, *, source_label: str = "", language: str = "zh", semantics: Sequence[str] = (),
              measures: Collection[str] = ()) -> str:
    """The seeds' `_detail.md`: `## name（中文名）`, description, field list with type, comment, flags, samples,
    then 字段补充说明 (keys, enum values, generated-comment note), then `semantics` (the semantic model's lines
    for the table: kind, label, measures, event time) when given. `measures` are the columns the semantic model
    sums or averages: a quantity of 1..6 has few values but is no enumeration."""
    title = first_line(table.effective_comment or "")
    lines = [word("heading", language, name=table.name, title=title) if title else f"## {table.name}"]
    if table.description:
        lines.append(" ".join(table.description.split("\n")))
    lines += [line.strip() for line in (table.effective_comment or "").splitlines()[1:] if line.strip()]
    if table.schema != "public":
        lines.append(word("schema", language, schema=table.schema))
    lines.append(word("columns", language))
    for col in table.columns:
        flags = []
        if col.is_primary_key:
            flags.append(word("primary_key", language))
        if not col.nullable:
            flags.append(word("not_null", language))
        text = f"- {col.name} ({short_type(col)}) - {_item_text(col.effective_comment or '') or word('no_comment', language)}"
        if not col.comment and col.generated_comment:
            text += f" {word('generated', language)}"
        if flags:
            text += f" [{', '.join(flags)}]"
        if privacy_mark(col, language):
            text += f" [{privacy_mark(col, language)}]"
        samples = [tv.value for tv in col.top_values] if col.is_enum_like and col.top_values else col.samples
        if samples:
            text += f" [{word('samples', language, values=_values(samples, 3))}]"
        lines.append(text)
    notes = _notes(table, language, measures)
    if notes:
        # a blank line first: without it Markdown reads the heading as a continuation of the last field bullet
        lines += ["", word("notes", language)]
        lines.extend(f"- {n}" for n in notes)
    lines.extend(semantics)
    if source_label:
        lines.append("")
        lines.append(word("source", language, label=source_label))
    return "\n".join(lines) + "\n"


def _notes(table: Table, language: str = "zh", measures: Collection[str] = ()) -> list[str]:
    notes = []
    if len(table.primary_key) > 1:
        notes.append(word("is_composite_key", language, columns=", ".join(table.primary_key)))
    elif table.primary_key:
        notes.append(word("is_primary_key", language, columns=table.primary_key[0]))
    for uk in table.unique_keys:
        notes.append(word("is_unique", language, columns=", ".join(uk)))
    for fk in table.foreign_keys:
        notes.append(word("references", language, columns=", ".join(fk.columns),
                          ref=f"{fk.ref_schema}.{fk.ref_table}({', '.join(fk.ref_columns)})"))
    for col in table.columns:
        if col.enum_values:
            notes.append(word("enum_declared", language, column=col.name, values=_values(col.enum_values, 20)))
        elif col.is_enum_like and col.top_values and col.name not in measures:
            notes.append(word("enum_seen", language, column=col.name,
                              values=_values((tv.value for tv in col.top_values), 10)))
        if col.pii_kind == "secret":
            notes.append(word("secret_note", language, column=col.name, kind=_pii_word("secret", language)))
        elif col.pii_kind:
            notes.append(word("personal_note", language, column=col.name, kind=_pii_word(col.pii_kind, language)))
    if table.kind in ("view", "materialized_view"):
        notes.append(word("is_view", language, kind=word("view" if table.kind == "view" else "matview", language)))
    if table.partition_key:
        notes.append(word("partitioned", language, partition_key=table.partition_key))
    generated = [c.name for c in table.columns if not c.comment and c.generated_comment]
    if generated:
        notes.append(word("generated_note", language, mark=word("generated", language), columns=", ".join(generated)))
    return notes
