"""Column roles and SQL text for the question generators: quoting, literals, soft-delete conditions, and which
columns are measures, categories, labels and time axes (generic rules, see `data_pipeline.qa.synth`).
"""
from __future__ import annotations

import re
from datetime import date
from typing import Optional

from data_pipeline.lexicon.glossary import singular, words
from data_pipeline.schema.model import Column, Table

_SIMPLE_IDENT = re.compile(r"^[a-z_][a-z0-9_$]*$")
# PostgreSQL reserved key words that may not be used bare as column/table names
_RESERVED = frozenset("""all analyse analyze and any array as asc asymmetric both case cast check collate column
constraint create current_catalog current_date current_role current_time current_timestamp current_user default
deferrable desc distinct do else end except false fetch for foreign from grant group having in initially
intersect into lateral leading limit localtime localtimestamp not null offset on only or order placing primary
references returning select session_user some symmetric system_user table then to trailing true union unique user
using variadic when where window with authorization binary collation concurrently cross current_schema freeze
full ilike inner is isnull join left like natural notnull outer overlaps right similar tablesample verbose
""".split())
_NUMERIC_TYPES = ("smallint", "integer", "bigint", "numeric", "decimal", "real", "double precision", "money")
_NOT_MEASURE_NAME = re.compile(r"(^id$|_id$|^version$|_no$|_code$|_type$|_status$|_state$|_flag$|_level$|"
                               r"^sort|_sort$|^seq|_seq$|year|month|^day$|_day$|_lat|_lng|_lon)", re.I)
_SOFT_DELETE_TS = re.compile(r"^(delete|deleted|del)_(ts|at|time|date|on|timestamp)$", re.I)
_SOFT_DELETE_FLAG = re.compile(r"^(is_?deleted?|deleted|del_?flag|delete_?flag|is_del)$", re.I)
_AUDIT_TIME = re.compile(r"(create|update|modif|insert|delete|del_|sync|etl)", re.I)
_CREATED = re.compile(r"^(create|created|creation|insert|inserted)_?(ts|at|time|date|on|timestamp)$", re.I)
_MASK_CHARS = re.compile(r"[*＊×]")
# measures whose sum means nothing (a price, rate, temperature or score is averaged, never added up)
_NON_ADDITIVE_WORDS = frozenset("""price prices rate rates ratio percent pct percentage temperature temp pressure age
score rating level grade average avg mean median humidity latitude longitude lat lng lon speed density margin
balance bmi systolic diastolic height rank index min max minimum maximum pulse""".split())
_ADDITIVE_WORDS = frozenset("total sum amount amt count cnt qty quantity".split())
_NON_ADDITIVE_ZH = re.compile(r"单价|价格|售价|标价|率|比例|百分比|温度|气温|血压|压力|年龄|评分|得分|分数|等级|平均|"
                              r"湿度|速度|余额|身高|指数")
# personal dates: a birth or hire date describes a person, it is never the time axis of "recent" or "in May"
_PERSONAL_DATE_WORDS = frozenset("birth birthday dob born hire hired death died anniversary graduation".split())
_PERSONAL_DATE_ZH = re.compile(r"出生|生日|入职|死亡|毕业|纪念日")
TOP_N = 10


# ------------------------------------------------------------------------------------------- SQL text


def quote_ident(name: str) -> str:
    """`name` bare when PostgreSQL folds it to itself and it is not reserved, else double-quoted."""
    if _SIMPLE_IDENT.match(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def table_ref(table: Table, alias: Optional[str] = None) -> str:
    name = quote_ident(table.name) if table.schema == "public" else \
        f"{quote_ident(table.schema)}.{quote_ident(table.name)}"
    return f"{name} AS {alias}" if alias else name


def col(column: str, alias: Optional[str] = None) -> str:
    return f"{alias}.{quote_ident(column)}" if alias else quote_ident(column)


def is_numeric(column: Column) -> bool:
    return column.data_type.lower().startswith(_NUMERIC_TYPES)


def literal(value: str, column: Column) -> str:
    """A SQL literal for a profiled value: bare for numbers in numeric columns, quoted text otherwise."""
    if is_numeric(column) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
        return value.strip()
    return "'" + value.replace("'", "''") + "'"


# ------------------------------------------------------------------------------------------- column roles


def fk_columns(table: Table) -> set[str]:
    return {c for fk in table.foreign_keys for c in fk.columns}


def soft_delete_conditions(table: Table, alias: Optional[str] = None) -> list[str]:
    """Predicates that keep only live rows, from generic soft-delete column names."""
    conditions = []
    for c in table.columns:
        if _SOFT_DELETE_TS.match(c.name):
            conditions.append(f"{col(c.name, alias)} IS NULL")
        elif _SOFT_DELETE_FLAG.match(c.name):
            t = c.data_type.lower()
            if t == "boolean":
                conditions.append(f"{col(c.name, alias)} IS NOT TRUE")
            elif is_numeric(c):
                conditions.append(f"COALESCE({col(c.name, alias)}, 0) = 0")
    return conditions


def is_soft_delete(c: Column) -> bool:
    return bool(_SOFT_DELETE_TS.match(c.name) or _SOFT_DELETE_FLAG.match(c.name))


def is_measure(column: Column, table: Table) -> bool:
    """A numeric column worth summing/averaging (see module doc)."""
    return (is_numeric(column) and not column.is_primary_key and column.name not in fk_columns(table)
            and not column.is_enum_like and not _NOT_MEASURE_NAME.search(column.name) and not column.pii_kind)


def usable_values(column: Column) -> list[str]:
    """Real profiled values (top values first, then samples), never from PII columns, never masked-looking."""
    if column.pii_kind:
        return []
    values = [v.value for v in column.top_values] + list(column.samples)
    return [v for v in dict.fromkeys(values) if v not in (None, "") and not _MASK_CHARS.search(str(v))
            and len(str(v)) <= 60]


def is_unique(column: Column, table: Table) -> bool:
    """Unique by constraint, or (in a small table) nearly one value per row: grouping by it says nothing."""
    if [column.name] in table.unique_keys or table.primary_key == [column.name]:
        return True
    rows, distinct = table.row_estimate or 0, column.distinct_count or 0
    return rows > 0 and distinct >= 0.5 * rows


def categories(table: Table) -> list[Column]:
    keys = fk_columns(table) | set(table.primary_key)
    label = label_column(table)
    return [c for c in table.columns if c.is_enum_like and c.name not in keys and not c.is_primary_key
            and not c.pii_kind and not is_soft_delete(c) and usable_values(c) and not is_unique(c, table)
            and (label is None or c.name != label.name)
            and not c.data_type.lower().startswith(("timestamp", "date", "time"))]


def label_column(table: Table) -> Optional[Column]:
    keys = fk_columns(table) | set(table.primary_key)
    texts = [c for c in table.columns if c.name not in keys and not c.pii_kind
             and c.data_type.lower().startswith(("character", "text", "varchar", "char"))]
    named = [c for c in texts if c.name.lower().endswith("name") or "名称" in (c.effective_comment or "")
             or "名字" in (c.effective_comment or "")]
    return (named or [None])[0]


def _name_words(column: Column) -> set[str]:
    return {singular(w) for w in words(column.name)} | set(words(column.name))


def is_additive(column: Column) -> bool:
    """Whether SUM of the measure means something: not a price, rate, ratio, temperature, score, age…
    (by its name's words or its comment), unless the name says it is a total/amount/quantity."""
    names = _name_words(column)
    if names & _ADDITIVE_WORDS and not names & {"rate", "ratio", "percent", "pct", "price"}:
        return True
    return not (names & _NON_ADDITIVE_WORDS or _NON_ADDITIVE_ZH.search(column.effective_comment or ""))


def is_personal_date(column: Column) -> bool:
    """A birth/hire-style date: it describes a person, not when the business event happened."""
    return bool(_name_words(column) & _PERSONAL_DATE_WORDS or _PERSONAL_DATE_ZH.search(column.comment or ""))


def measures(table: Table) -> list[Column]:
    return [c for c in table.columns if is_measure(c, table)]


def sample_dates(column: Column) -> list[date]:
    out = []
    for v in column.samples + [t.value for t in column.top_values]:
        try:
            out.append(date.fromisoformat(str(v)[:10]))
        except ValueError:
            continue
    return out


def is_creation_time(column: Column) -> bool:
    return bool(_CREATED.search(column.name))


def time_column(table: Table) -> Optional[tuple[Column, date, date]]:
    """The business date column with its sampled min and max: date types and non-audit names first; of the
    audit columns only the creation time qualifies (asked about as "新增"); personal dates (birth, hire) never."""
    found = []
    for c in table.columns:
        audit = bool(_AUDIT_TIME.search(c.name))
        if c.data_type.lower().startswith(("date", "timestamp")) and not is_soft_delete(c) and not c.pii_kind \
                and (not audit or is_creation_time(c)) and not is_personal_date(c):
            dates = sample_dates(c)
            if dates:
                rank = (bool(_AUDIT_TIME.search(c.name)), not c.data_type.lower().startswith("date"), c.ordinal)
                found.append((rank, c, min(dates), max(dates)))
    if not found:
        return None
    _, c, lo, hi = min(found, key=lambda f: f[0])
    return c, lo, hi


# ------------------------------------------------------------------------------------------- building pairs
