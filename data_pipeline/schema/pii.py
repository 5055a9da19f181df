"""Personal data in samples: detect (by column name and by value shape) and mask keeping the shape.

Kinds: phone, id_card, email, person_name, address. `protect_table(table)` runs right after sampling, inside
introspection, so raw values never reach an LLM prompt, a generated file, the snapshot or a log line:
    13812345678            -> 138****5678
    330106199001011234     -> 3301**********1234
    alice@example.com      -> a***@example.com
    张三丰                  -> 张**
    浙江省杭州市西湖区文三路 -> 浙江省杭州市****
Independently of the column's kind, phone/ID/email-shaped substrings inside ANY sample value are masked too
(free-text columns such as remarks carry them).
"""
from __future__ import annotations

import re
from typing import Iterable, Optional

from data_pipeline.schema.model import Column, Table, ValueCount

PHONE = re.compile(r"^(\+?86[- ]?)?1[3-9]\d{9}$|^0\d{2,3}-?\d{7,8}$")
ID18 = re.compile(r"^\d{17}[\dXx]$")
ID15 = re.compile(r"^[1-8]\d{5}\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}$")
EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
_INLINE = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?<!\d)\d{17}[\dXx](?!\d)|(?<!\d)1[3-9]\d{9}(?!\d)")
ADDRESS = re.compile(r"^.{0,12}(省|市|自治区|特别行政区).{0,12}(市|区|县|旗|镇|乡|街道|路|街|道|巷|村|号)")
ADDRESS_EN = re.compile(r"^\d+\s+\w+.*\b(street|st|road|rd|avenue|ave|lane|ln|drive|dr|blvd)\b", re.I)
# the most common Chinese surnames: a 2-4 character value starting with one is a probable person name
SURNAMES = set("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
               "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "令狐", "慕容", "长孙", "宇文")
PERSON_NAME_VALUE = re.compile(r"^[\u4e00-\u9fa5]{2,4}$")
EN_PERSON_NAME_VALUE = re.compile(r"^[A-Z][a-z]+( [A-Z]\.?)?( [A-Z][a-z]+){1,2}$")

# column-name vocabulary (tokens of snake_case / camelCase names, and Chinese substrings)
PHONE_TOKENS = {"phone", "mobile", "tel", "telephone", "cellphone", "cell", "msisdn", "phoneno", "mobileno",
                "telno", "sjh", "lxdh"}
PHONE_ZH = ("手机", "电话", "联系方式", "座机")
ID_TOKENS = {"idcard", "idno", "idnumber", "identity", "sfz", "sfzh", "sfzhm", "ssn", "passport"}
ID_PAIRS = {("id", "card"), ("id", "number"), ("identity", "card"), ("cert", "no"), ("certificate", "no")}
ID_ZH = ("身份证", "证件号", "护照")
EMAIL_TOKENS = {"email", "mail", "emailaddress"}
EMAIL_ZH = ("邮箱", "电子邮件", "邮件地址")
ADDRESS_TOKENS = {"address", "addr", "street", "residence", "dz", "zz"}
ADDRESS_NOT = {"ip", "mac", "email", "mail", "web", "url", "server", "host", "wallet", "contract", "memory"}
ADDRESS_ZH = ("地址", "住址", "居住地", "户籍")
# `<who>_name` is a person's name only when <who> is a person; service_area_name, company_name are not
PERSON_WHO = {"person", "real", "full", "first", "last", "given", "family", "middle", "contact", "customer",
              "cust", "driver", "owner", "employee", "emp", "staff", "manager", "member", "patient", "student",
              "teacher", "applicant", "holder", "legal", "leader", "linkman", "passenger", "buyer", "seller",
              "receiver", "recipient", "sender", "consignee", "guardian", "user", "nick", "worker", "doctor",
              "operator", "cardholder", "account"}
PERSON_TOKENS = {"realname", "fullname", "firstname", "lastname", "surname", "linkman", "contactperson",
                 "xm", "username_cn"}
PERSON_ZH = ("姓名", "联系人", "负责人", "法人", "经办人", "收货人", "持卡人", "客户名称")
# values of columns named like these are never taken for person names or addresses by their shape
NOT_PERSON = {"company", "corp", "org", "organization", "dept", "department", "area", "service", "branch", "shop",
              "store", "product", "brand", "route", "section", "road", "city", "province", "district", "county",
              "region", "type", "category", "status", "state", "table", "column", "file", "project", "item",
              "goods", "station", "site", "group", "team", "channel", "source", "system", "app", "class"}


def tokens(name: str) -> list[str]:
    """snake_case / camelCase / spaced name -> lower-case tokens."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[\W_]+", spaced.lower()) if t]


def kind_by_name(name: str) -> Optional[str]:
    toks = tokens(name)
    tokset = set(toks)
    joined = "".join(toks)
    pairs = set(zip(toks, toks[1:]))
    if tokset & EMAIL_TOKENS or any(z in name for z in EMAIL_ZH):
        return "email"
    if tokset & ID_TOKENS or pairs & ID_PAIRS or joined in ID_TOKENS or any(z in name for z in ID_ZH):
        return "id_card"
    if tokset & PHONE_TOKENS or joined in PHONE_TOKENS or any(z in name for z in PHONE_ZH):
        return "phone"
    if (tokset & ADDRESS_TOKENS and not tokset & ADDRESS_NOT) or any(z in name for z in ADDRESS_ZH):
        return "address"
    if tokset & PERSON_TOKENS or joined in PERSON_TOKENS or any(z in name for z in PERSON_ZH):
        return "person_name"
    if "name" in toks[1:] and toks[toks.index("name", 1) - 1] in PERSON_WHO and not tokset & NOT_PERSON:
        return "person_name"
    return None


def id_card_valid(value: str) -> bool:
    """18-digit PRC resident ID with a correct ISO 7064 check digit, or the old 15-digit form."""
    if ID15.match(value):
        return True
    if not ID18.match(value):
        return False
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(value[:17], weights))
    return "10X98765432"[total % 11] == value[17].upper()


def _is_person_name(value: str) -> bool:
    if PERSON_NAME_VALUE.match(value):
        return value[0] in SURNAMES or value.startswith(COMPOUND_SURNAMES)
    return bool(EN_PERSON_NAME_VALUE.match(value))


def kind_of_value(value: str) -> Optional[str]:
    v = value.strip()
    if EMAIL.match(v):
        return "email"
    if id_card_valid(v):
        return "id_card"
    if PHONE.match(v):
        return "phone"
    if ADDRESS.match(v) or ADDRESS_EN.match(v):
        return "address"
    if _is_person_name(v):
        return "person_name"
    return None


def kind_by_values(name: str, values: Iterable[str]) -> Optional[str]:
    """The kind most values (>= 60%, at least 2 or all of them) have; names are only guessed on person-ish columns."""
    values = [v for v in values if v and v.strip()]
    if not values:
        return None
    kinds = [kind_of_value(v) for v in values]
    best = max(set(kinds), key=kinds.count)
    hits = kinds.count(best)
    if best is None or hits < min(2, len(values)) or hits / len(values) < 0.6:
        return None
    if best in ("person_name", "address") and set(tokens(name)) & NOT_PERSON:
        return None   # 张江 in company_name, 南昌市西服务区 in service_area_name: names of things, not people
    return best


def detect(column: Column) -> Optional[str]:
    values = list(column.samples) + [tv.value for tv in column.top_values]
    return kind_by_name(column.name) or kind_by_values(column.name, values)


# ------------------------------------------------------------------------------------------------- masking
def _mask_digits(value: str, keep_start: int, keep_end: int) -> str:
    digits = [i for i, ch in enumerate(value) if ch.isdigit() or ch in "Xx"]
    if len(digits) <= keep_start + keep_end:
        return _mask_generic(value)
    hide = set(digits[keep_start:len(digits) - keep_end])
    return "".join("*" if i in hide else ch for i, ch in enumerate(value))


def _mask_generic(value: str) -> str:
    if len(value) <= 2:
        return value[:1] + "*"
    return value[0] + "*" * min(len(value) - 2, 8) + value[-1]


def mask_phone(value: str) -> str:
    v = value.strip()
    m = re.match(r"^(\+?86[- ]?)?(1[3-9]\d{9})$", v)
    if m:
        return (m.group(1) or "") + m.group(2)[:3] + "****" + m.group(2)[-4:]
    return _mask_digits(v, 3, 4) if len(re.sub(r"\D", "", v)) >= 7 else _mask_generic(v)


def mask_id_card(value: str) -> str:
    v = value.strip()
    return v[:4] + "*" * (len(v) - 8) + v[-4:] if len(v) >= 12 else _mask_generic(v)


def mask_email(value: str) -> str:
    local, sep, domain = value.strip().partition("@")
    return (local[:1] + "***" + sep + domain) if sep else _mask_generic(value)


def mask_person_name(value: str) -> str:
    v = value.strip()
    if re.search(r"[\u4e00-\u9fa5]", v):
        keep = 2 if v.startswith(COMPOUND_SURNAMES) and len(v) > 2 else 1
        return v[:keep] + "*" * max(1, len(v) - keep)
    return " ".join(w[:1] + "*" * max(1, len(w) - 1) for w in v.split())


def mask_address(value: str) -> str:
    v = value.strip()
    m = re.match(r"^(.{0,12}?(省|自治区|特别行政区))?(.{0,12}?市)?", v)
    keep = m.group(0) if m else ""
    if not keep or len(keep) >= len(v):
        keep = v[:min(3, max(1, len(v) // 3))]
    return keep + "****"


MASKERS = {"phone": mask_phone, "id_card": mask_id_card, "email": mask_email, "person_name": mask_person_name,
           "address": mask_address}


def mask(kind: str, value: str) -> str:
    """Masked value of `kind`; a value that is already masked (has `*`) is returned unchanged (idempotent)."""
    return value if "*" in value else MASKERS[kind](value)


def mask_inline(text: str) -> str:
    """Mask phone/ID/email-shaped substrings inside free text."""
    def repl(m: re.Match) -> str:
        s = m.group(0)
        if "@" in s:
            return mask_email(s)
        return mask_id_card(s) if len(s) == 18 else mask_phone(s)
    return _INLINE.sub(repl, text)


def protect_column(column: Column) -> None:
    kind = detect(column)
    if kind:
        column.pii_kind = kind
        column.samples = _dedupe(mask(kind, v) for v in column.samples)
        column.top_values = [ValueCount(mask(kind, tv.value), tv.count) for tv in column.top_values]
        column.is_enum_like = False
    else:
        column.samples = _dedupe(mask_inline(v) for v in column.samples)  # free text may still carry PII
        column.top_values = [ValueCount(mask_inline(tv.value), tv.count) for tv in column.top_values]


def protect_table(table: Table) -> Table:
    """Detect and mask in place; idempotent (masked values do not look like raw ones any more)."""
    for column in table.columns:
        protect_column(column)
    return table


def _dedupe(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out
