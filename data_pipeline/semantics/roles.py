"""Column roles from generic rules: names (through the glossary's word split), types, profiles and privacy.

One function per question the model asks of a column; `column_role` puts them together in a fixed order:
soft delete, personal (schema.pii), keys, flags, times (audit / personal / event), measures (additive or not),
labels, dimensions, free text. Nothing here knows a business domain beyond common schema words.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Optional

from data_pipeline.lexicon.glossary import singular, words
from data_pipeline.schema.model import Column, Table

NUMERIC_TYPES = ("smallint", "integer", "bigint", "numeric", "decimal", "real", "double precision", "money")
TEXT_TYPES = ("character", "text", "varchar", "char", "citext", "name")
TIME_TYPES = ("timestamp", "date")
_SOFT_DELETE_TS = re.compile(r"^(delete|deleted|del)_(ts|at|time|date|on|timestamp)$", re.I)
_SOFT_DELETE_FLAG = re.compile(r"^(is_?deleted?|deleted|del_?flag|delete_?flag|is_del)$", re.I)
_AUDIT_WORDS = frozenset("create created creation insert inserted update updated modify modified modification "
                         "sync synced etl load loaded last changed change record".split())
_AUDIT_NAMES = re.compile(r"^(last_update|last_updated|last_modified|gmt_create|gmt_modified|ts|etl_.*|load_.*|"
                          r"dw_.*|create_ts|update_ts|rowversion|row_version)$", re.I)
_AUDIT_ZH = re.compile(r"创建时间|更新时间|修改时间|录入时间|同步时间|入库时间|最后更新|最后修改")
_CREATED = re.compile(r"^(create|created|creation|insert|inserted|gmt_create)_?(ts|at|time|date|on|timestamp|dt)?$",
                      re.I)
_NOT_MEASURE = re.compile(r"(^id$|_id$|^version$|_no$|_code$|_type$|_status$|_state$|_flag$|_level$|^sort|_sort$|"
                          r"^seq|_seq$|year|month|^day$|_day$|week|quarter|_lat|_lng|_lon|^lat|^lng|^lon|phone|zip|"
                          r"postal|_num$|number$|^no$|_key$|ordinal|position|^rank$|_rank$|_order$)", re.I)
_NON_ADDITIVE = frozenset("""price prices rate rates ratio percent pct percentage temperature temp pressure age score
rating level grade average avg mean median humidity latitude longitude lat lng lon speed density margin balance bmi
systolic diastolic height weight rank index min max minimum maximum pulse discount tax cost limit threshold""".split())
_ADDITIVE = frozenset("total sum amount amt count cnt qty quantity fee fees revenue sales subtotal paid payment "
                      "freight charge charges duration length minutes hours days units volume value".split())
_NON_ADDITIVE_ZH = re.compile(r"单价|价格|售价|标价|率|比例|百分比|温度|气温|血压|压力|年龄|评分|得分|分数|等级|平均|额度|限额|"
                              r"湿度|速度|余额|身高|体重|指数|折扣")
_ADDITIVE_ZH = re.compile(r"金额|数量|总额|总价|费用|合计|小计|销量|件数|时长|里程|重量")
_PERSONAL_DATE = frozenset("birth birthday dob born hire hired death died anniversary graduation".split())
_PERSONAL_DATE_ZH = re.compile(r"出生|生日|入职|死亡|毕业|纪念日")
_LABEL_END = ("name", "title", "label", "caption", "headline")
_NOT_OWN_NAME = {"ship", "shipping", "billing", "bill", "contact", "delivery", "recipient", "sender", "receiver",
                 "consignee", "payer", "payee", "file", "host", "user", "display", "nick", "middle", "maiden"}
_LABEL_ZH = re.compile(r"名称|名字|标题|品名|姓名")
_FREE_TEXT = frozenset("description desc remark remarks note notes comment comments memo text content body summary "
                       "detail details message reason address url path image photo picture bio feature features "
                       "fulltext".split())
_FREE_TEXT_ZH = re.compile(r"描述|说明|备注|内容|摘要|详情|原因|地址|图片|链接|简介")
_FLAG_NAME = re.compile(r"^(is|has|can|allow|enable|enabled|active|flag)_|_(flag|yn)$|^(active|enabled|flag|"
                        r"activebool|discontinued|visible|valid)$", re.I)
_FLAG_VALUES = {frozenset({"0", "1"}), frozenset({"t", "f"}), frozenset({"y", "n"}), frozenset({"true", "false"}),
                frozenset({"yes", "no"}), frozenset({"是", "否"})}
_MASK = re.compile(r"[*＊×]")
DIMENSION_MAX = 60           # more distinct values than this and a text column is not a dimension


def type_of(c: Column) -> str:
    return (c.domain_base_type or c.data_type or "").lower() if c.type_kind == "domain" else (c.data_type or "").lower()


def is_numeric(c: Column) -> bool:
    return type_of(c).startswith(NUMERIC_TYPES)


def is_text(c: Column) -> bool:
    return type_of(c).startswith(TEXT_TYPES) or c.type_kind == "enum"


def is_time(c: Column) -> bool:
    return type_of(c).startswith(TIME_TYPES)


def name_words(c: Column) -> set[str]:
    ws = words(c.name)
    return {singular(w) for w in ws} | set(ws)


def is_soft_delete(c: Column) -> bool:
    return bool(_SOFT_DELETE_TS.match(c.name) or _SOFT_DELETE_FLAG.match(c.name))


def is_audit_time(c: Column) -> bool:
    """last_update / updated_at / create_ts / gmt_modified-style bookkeeping times."""
    ws = [w.lower() for w in words(c.name)]
    return bool(_AUDIT_NAMES.match(c.name) or (set(ws) & _AUDIT_WORDS and set(ws) <= _AUDIT_WORDS |
                {"at", "on", "ts", "time", "date", "timestamp", "dt", "datetime", "gmt", "by", "stamp"})
                or _AUDIT_ZH.search(c.comment or ""))


def is_creation_time(c: Column) -> bool:
    return bool(_CREATED.match(c.name))


def is_personal_date(c: Column) -> bool:
    return bool(name_words(c) & _PERSONAL_DATE or _PERSONAL_DATE_ZH.search(c.comment or "")
                or c.pii_kind == "birth_date")


def is_additive(c: Column) -> bool:
    """SUM means something: not a price, rate, ratio, score, age… unless the name says total/amount/quantity."""
    ws = name_words(c)
    comment = c.comment or c.generated_comment or ""
    if ws & {"subtotal", "linetotal"} and not ws & {"price", "rate"}:
        return True
    if ws & _ADDITIVE and not ws & {"rate", "ratio", "percent", "pct", "price", "avg", "average", "unit"}:
        return True
    if _ADDITIVE_ZH.search(c.comment or "") and not _NON_ADDITIVE_ZH.search(c.comment or ""):
        return True
    return not (ws & _NON_ADDITIVE or _NON_ADDITIVE_ZH.search(comment))


def values_of(c: Column) -> list[str]:
    """Real profiled values (top values first, then samples), never of a personal column, never masked-looking."""
    if c.pii_kind:
        return []
    values = [v.value for v in c.top_values] + list(c.samples)
    if type_of(c).startswith(("character(", "bpchar", "char(")) or type_of(c) in ("character", "char"):
        # character(n) is stored blank-padded; its trailing blanks mean nothing to = (a question quotes 'English')
        values = [v.rstrip(" ") if isinstance(v, str) else v for v in values]
    return [v for v in dict.fromkeys(values) if v not in (None, "") and not _MASK.search(str(v)) and len(str(v)) <= 60]


def is_flag(c: Column) -> bool:
    t = type_of(c)
    if t == "boolean":
        return True
    values = frozenset(str(v).strip().lower() for v in [x.value for x in c.top_values] + list(c.samples))
    if bool(_FLAG_NAME.search(c.name)) and (c.distinct_count or len(values) or 3) <= 2:
        return True
    # both values of a yes/no pair seen, and nothing else (a quantity that is always 1 is no flag)
    return (is_numeric(c) or is_text(c)) and any(values == f for f in _FLAG_VALUES) and \
        (c.distinct_count or len(values)) == 2 and not name_words(c) & (_ADDITIVE | _NON_ADDITIVE)


def is_label_name(c: Column, table: Optional[Table] = None) -> bool:
    """`name`, `*_name`, `title` (a job title is a dimension, not a name), a comment saying 名称."""
    ws = [w.lower() for w in words(c.name)]
    if not is_text(c) or not ws:
        return False
    if table is not None and c.is_enum_like and (table.row_estimate or 0) > 2 * (c.distinct_count or 0):
        return False            # a name many rows share is a dimension (a job title, a doctor's rank)
    own = [w.lower() for w in words(table.name)] if table is not None else []
    if own and [singular(w) for w in ws] == [singular(w) for w in own[-len(ws):]]:
        return True             # country.country, city.city
    if ws[0] in _NOT_OWN_NAME and len(ws) > 1:
        return False            # ship_name, contact_name, billing_name: a name of something else
    if ws[-1] == "title":
        return len(ws) == 1 or ws[:-1] == own[-len(ws) + 1:]
    return ws[-1] in _LABEL_END or bool(_LABEL_ZH.search(c.comment or c.generated_comment or ""))


def is_free_text(c: Column) -> bool:
    ws = name_words(c)
    return is_text(c) and bool(ws & _FREE_TEXT or _FREE_TEXT_ZH.search(c.comment or "")
                               or (c.max_length or 0) > 250 or type_of(c) in ("json", "jsonb", "xml"))


def sample_dates(c: Column) -> list[date]:
    out = []
    for v in list(c.samples) + [t.value for t in c.top_values]:
        try:
            out.append(date.fromisoformat(str(v)[:10]))
        except ValueError:
            continue
    return out


def fk_columns(table: Table) -> set[str]:
    return {c for fk in table.foreign_keys for c in fk.columns}


def is_unique(c: Column, table: Table) -> bool:
    """Unique by constraint, or (profiled) nearly one value per row."""
    if [c.name] in table.unique_keys or table.primary_key == [c.name]:
        return True
    rows, distinct = table.row_estimate or 0, c.distinct_count or 0
    return rows > 0 and distinct >= 0.95 * rows


_OPAQUE = re.compile(r"(\[\]$|^(tsvector|tsquery|bytea|json|jsonb|xml|bit|varbit|point|line|lseg|box|path|polygon|"
                     r"circle|inet|cidr|macaddr|interval|oid|int2vector|oidvector)\b)")


def column_role(c: Column, table: Table) -> str:
    """The column's role (see data_pipeline.semantics.model.ROLES)."""
    if is_soft_delete(c):
        return "soft_delete"
    if _OPAQUE.search(type_of(c)) and c.name not in fk_columns(table) and c.name not in table.primary_key:
        return "personal" if c.pii_kind else "other"      # arrays, full-text vectors, binaries: not asked about
    if c.pii_kind:
        return "personal_date" if c.pii_kind == "birth_date" or (is_time(c) and is_personal_date(c)) else "personal"
    if c.name in fk_columns(table):
        return "foreign_key"
    if c.name in table.primary_key and not (is_time(c) and len(table.primary_key) > 1):
        return "identifier"
    if re.fullmatch(r"[a-z]{1,2}id", c.name, re.I) and (is_numeric(c) or is_text(c)):
        return "identifier"         # fid, pid, uid: a key under a short name
    if is_flag(c):
        return "flag"
    if is_time(c):
        if is_personal_date(c):
            return "personal_date"
        return "audit_time" if is_audit_time(c) else "event_time"
    if is_numeric(c):
        if _NOT_MEASURE.search(c.name):
            if re.search(r"(^id$|_id$|_no$|_key$|_code$|number$)", c.name, re.I) and not c.is_enum_like:
                return "identifier"
            return "dimension" if c.is_enum_like else "other"
        if c.is_enum_like and not name_words(c) & (_ADDITIVE | _NON_ADDITIVE) and not (
                _ADDITIVE_ZH.search(c.comment or "") or _NON_ADDITIVE_ZH.search(c.comment or "")):
            return "dimension"
        return "additive_measure" if is_additive(c) else "non_additive_measure"
    if is_label_name(c, table):
        return "label"
    if is_free_text(c):
        return "free_text"
    if is_text(c):
        if re.search(r"(^id$|_id$|_no$|_key$|_code$|uuid|guid|number$)", c.name, re.I) and not c.is_enum_like:
            return "identifier"
        if c.is_enum_like or (c.distinct_count is not None and 2 <= c.distinct_count <= DIMENSION_MAX
                              and not is_unique(c, table)):
            return "dimension"
        return "free_text" if (c.distinct_count or 0) > DIMENSION_MAX else "other"
    return "other"


def personal_name_pair(table: Table) -> Optional[list[str]]:
    """first_name + last_name (given/family, 名/姓) columns of the table, in that order, when both exist."""
    by_words = {tuple(w.lower() for w in words(c.name)): c.name for c in table.columns if is_text(c)}
    for first, last in ((("first", "name"), ("last", "name")), (("given", "name"), ("family", "name")),
                        (("firstname",), ("lastname",)), (("first", "name"), ("surname",))):
        if first in by_words and last in by_words:
            return [by_words[first], by_words[last]]
    return None


def event_time_of(table: Table, roles: dict[str, str]) -> Optional[str]:
    """The business time axis: a non-audit date/time with real values, date types first; else the creation
    time (asked about as "new"); never last_update-style audit times, never personal dates."""
    found = []
    for c in table.columns:
        if roles.get(c.name) == "event_time" or (roles.get(c.name) == "audit_time" and is_creation_time(c)):
            audit = roles[c.name] == "audit_time"
            if sample_dates(c) or c.distinct_count:
                found.append(((audit, not type_of(c).startswith("date"), c.ordinal), c.name))
    return min(found)[1] if found else None
