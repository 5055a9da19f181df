"""Personal data and secrets in samples: detect (column name, comment, value shape) and mask keeping the shape.

Kinds (`Column.pii_kind`): phone, email, id_card, card_number, iban, person_name, address, birth_date — masked
— and `secret` (passwords, hashes, tokens, keys) — withheld: never sampled, profiled or used as a value.
`Column.pii_source` says why: "name", "comment", "values" or "view:<schema>.<table>.<column>" (a view column
computed from a personal column, see `schema.view_lineage`).

`protect_table(table)` runs right after sampling, inside introspection, so raw values never reach an LLM prompt,
a generated file, the snapshot or a log line:
    13812345678            -> 138****5678
    +55 (12) 3923-5566     -> +55 (**) ****-**66
    330106199001011234     -> 3301**********1234
    alice@example.com      -> a***@example.com
    4111 1111 1111 1111    -> **** **** **** 1111
    张三丰 / MARY SMITH     -> 张** / M*** S****
    浙江省杭州市西湖区文三路 -> 浙江省杭州市****
    1961-07-23 (a birth date) -> 1961-**-**   (the year stays: ages can still be asked about)
Independently of the column's kind, phone/ID/email/card/IBAN/secret-shaped substrings inside ANY sample value
are masked too (free-text columns such as remarks carry them), and so are they inside the database's own table
and column comments (an example in a comment is somebody's real number).

No over-masking: keys and foreign keys (`address_id`), type/status/count/flag/time columns, dates (a birth date
is the one date that identifies a person, so it is the exception), booleans,
titles, roles, categories and names of things (company, store, product) keep their real values — they are what
good questions filter on.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional

from data_pipeline.schema import pii_shapes as shapes
from data_pipeline.schema.model import Column, Table, ValueCount

SECRET = "secret"
BIRTH_DATE = "birth_date"

ID18 = re.compile(r"^\d{17}[\dXx]$")
ID15 = re.compile(r"^[1-8]\d{5}\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}$")
SSN = re.compile(r"^\d{3}-\d{2}-\d{4}$")
EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
ADDRESS = re.compile(r"^.{0,12}(省|市|自治区|特别行政区).{0,12}(市|区|县|旗|镇|乡|街道|路|街|道|巷|村|号)")
ADDRESS_EN = re.compile(r"^\d+[a-z]?\s+\w+.*\b(street|st|road|rd|avenue|ave|lane|ln|drive|dr|blvd|boulevard|way|"
                        r"terrace|court|ct|place|pl|parkway|pkwy|highway|hwy|square|sq|circle|crescent|close|"
                        r"plaza|trail)\b", re.I)
# the most common Chinese surnames: a 2-4 character value starting with one is a probable person name
SURNAMES = set("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
               "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "令狐", "慕容", "长孙", "宇文")
PERSON_NAME_VALUE = re.compile(r"^[\u4e00-\u9fa5]{2,4}$")
# 高级经理, 华东区, 王府店: titles, places and shops that start with a surname character are not names
NOT_NAME_SUFFIX_ZH = ("经理", "主管", "专员", "工程师", "总监", "助理", "主任", "代表", "顾问", "会计", "出纳", "部",
                      "店", "区", "类", "品", "组", "处", "科", "室", "中心", "公司", "集团", "级", "型", "站", "线")
EN_NAME_ANY_CASE = re.compile(r"^[A-Za-z][A-Za-z'’-]+( [A-Za-z]\.?)?( [A-Za-z][A-Za-z'’-]+){1,2}$"      # Mary Smith
                              r"|^[A-Za-z][A-Za-z'’-]+, [A-Za-z][A-Za-z'’-]+( [A-Za-z]\.?)?$")           # SMITH, Mary

# column-name vocabulary (tokens of snake_case / camelCase names, and Chinese substrings)
SECRET_TOKENS = {"password", "passwd", "pwd", "passwort", "secret", "token", "apikey", "salt", "hash", "hashed",
                 "credential", "credentials", "privatekey", "passphrase", "passcode", "otp", "totp", "mfa"}
SECRET_PAIRS = {("api", "key"), ("private", "key"), ("secret", "key"), ("access", "key"), ("auth", "key"),
                ("signing", "key"), ("encryption", "key"), ("pass", "word"), ("pass", "hash")}
SECRET_ZH = ("密码", "口令", "密钥", "私钥", "令牌", "凭证", "盐值", "哈希", "散列")
PHONE_TOKENS = {"phone", "mobile", "tel", "telephone", "cellphone", "cell", "msisdn", "phoneno", "mobileno",
                "telno", "sjh", "lxdh", "fax", "telefax", "facsimile", "faxno", "cellular", "whatsapp"}
PHONE_ZH = ("手机", "电话", "联系方式", "座机", "传真")
ID_TOKENS = {"idcard", "idno", "idnumber", "identity", "sfz", "sfzh", "sfzhm", "ssn", "passport", "nin",
             "nationalid"}
ID_PAIRS = {("id", "card"), ("id", "number"), ("identity", "card"), ("cert", "no"), ("certificate", "no"),
            ("national", "id"), ("social", "security"), ("tax", "number")}
ID_ZH = ("身份证", "证件号", "护照", "社保号")
CARD_TOKENS = {"pan", "cardno", "cardnumber", "ccnumber", "creditcard"}
CARD_PAIRS = {("card", "number"), ("card", "no"), ("credit", "card"), ("cc", "number"), ("debit", "card")}
CARD_ZH = ("卡号", "信用卡", "银行卡")
IBAN_TOKENS = {"iban"}
IBAN_PAIRS = {("bank", "account")}     # not account_number: most are customer ids such as AW00000001
IBAN_ZH = ("银行账号", "银行帐号", "开户账号")
EMAIL_TOKENS = {"email", "mail", "emailaddress"}
EMAIL_ZH = ("邮箱", "电子邮件", "邮件地址")
ADDRESS_TOKENS = {"address", "addr", "street", "residence", "dz", "zz", "postcode", "zip", "zipcode"}
ADDRESS_PAIRS = {("postal", "code"), ("post", "code"), ("zip", "code")}
ADDRESS_NOT = {"ip", "mac", "email", "mail", "web", "url", "server", "host", "wallet", "contract", "memory"}
ADDRESS_ZH = ("地址", "住址", "居住地", "户籍", "邮编", "邮政编码")
ADDRESS_NOT_ZH = ("IP地址", "ip地址", "MAC地址", "网址", "网站地址", "链接地址", "服务器地址", "接口地址")
# `<who>_name` is a person's name only when <who> is a person; service_area_name, company_name are not
PERSON_WHO = {"person", "real", "full", "first", "last", "given", "family", "middle", "contact", "customer",
              "cust", "driver", "owner", "employee", "emp", "staff", "manager", "member", "patient", "student",
              "teacher", "applicant", "holder", "legal", "leader", "linkman", "passenger", "buyer", "seller",
              "receiver", "recipient", "sender", "consignee", "guardian", "user", "nick", "worker", "doctor",
              "operator", "cardholder", "account", "maiden", "birth", "sur", "fore"}
# a column named after a person holds people's names when its values look like names (contact, owner, staff)
PERSON_COLUMNS = {"person", "contact", "customer", "driver", "owner", "employee", "staff", "manager", "member",
                  "patient", "student", "teacher", "applicant", "holder", "leader", "linkman", "passenger", "buyer",
                  "seller", "receiver", "recipient", "sender", "consignee", "guardian", "user", "worker", "doctor",
                  "operator", "cardholder", "author", "agent", "assignee", "reporter", "approver", "salesperson"}
PERSON_TOKENS = {"realname", "fullname", "firstname", "lastname", "surname", "linkman", "contactperson",
                 "xm", "username_cn", "username", "givenname", "familyname", "forename", "nickname", "middlename"}
PERSON_ZH = ("姓名", "联系人", "负责人", "法人", "经办人", "收货人", "持卡人", "客户名称", "昵称")
# a table of people: a `name` column there holding name-shaped values is a person's name
PERSON_TABLES = {"customer", "client", "staff", "employee", "user", "member", "patient", "contact", "person",
                 "people", "student", "teacher", "driver", "passenger", "author", "actor", "subscriber", "guest",
                 "visitor", "applicant", "candidate", "agent", "doctor", "nurse", "worker", "account", "buyer",
                 "seller", "owner", "manager", "traveler", "traveller", "rider", "player", "volunteer"}
PERSON_TABLES_ZH = ("客户", "员工", "用户", "会员", "患者", "联系人", "人员", "学生", "教师", "司机", "乘客", "职工")
# values of columns named like these are never taken for person names or addresses by their shape
NOT_PERSON = {"company", "corp", "org", "organization", "dept", "department", "area", "service", "branch", "shop",
              "store", "product", "brand", "route", "section", "road", "city", "province", "district", "county",
              "region", "type", "category", "status", "state", "table", "column", "file", "project", "item",
              "goods", "station", "site", "group", "team", "channel", "source", "system", "app", "class",
              "title", "job", "role", "position", "post", "duty", "rank", "occupation", "profession", "genre",
              "tag", "label", "level", "grade", "segment", "tier", "country", "language", "currency"}
NOT_PERSON_ZH = ("职位", "职务", "岗位", "职称", "头衔", "角色", "类别", "分类", "类型", "状态", "公司", "门店",
                 "商品", "产品", "部门", "城市", "地区")
# a column whose last word is one of these holds a key, a kind or a fact ABOUT the data, not the data itself:
# address_id, phone_type, email_verified, token_expires_at, password_changed
NOT_VALUE_SUFFIX = {"id", "ids", "uuid", "guid", "pk", "fk", "ref", "type", "types", "kind", "status", "state",
                    "count", "cnt", "flag", "flags", "level", "length", "len", "at", "ts", "time", "date", "on",
                    "expires", "expiry", "expired", "enabled", "required", "verified", "confirmed", "format",
                    "algorithm", "algo", "policy", "version", "changed", "updated", "created", "rule", "rules",
                    "hint", "attempts", "strength", "valid", "is", "has", "provider", "sent", "opt", "consent"}
NOT_VALUE_SUFFIX_ZH = ("ID", "Id", "id", "类型", "状态", "数量", "次数", "时间", "日期", "标志", "是否", "强度",
                       "有效期", "过期")
_NO_PII_TYPES = re.compile(r"^(date|time|timestamp|interval|boolean)", re.I)
_NUMERIC_TYPES = re.compile(r"^(smallint|integer|bigint|numeric|decimal|real|double|money)", re.I)
_NUMERIC_KINDS = {"phone", "id_card", "card_number", SECRET}   # what a number column can hold
_CJK = re.compile(r"[\u4e00-\u9fff]")


def tokens(name: str) -> list[str]:
    """snake_case / camelCase / spaced name -> lower-case tokens."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[\W_]+", spaced.lower()) if t]


def _name_tokens(name: str) -> list[str]:
    """tokens without trailing digits (address2, phone_1 -> address, phone)."""
    return [t for t in (re.sub(r"(?<=[a-z])\d+$", "", t) for t in tokens(name)) if t]


def names_a_fact_not_a_value(name: str) -> bool:
    """address_id, phone_type, token_expires_at, 密码修改时间: about personal data, not personal data."""
    toks = _name_tokens(name)
    if toks and toks[-1] in NOT_VALUE_SUFFIX:
        return tuple(toks[-2:]) not in ID_PAIRS     # national_id is the id itself
    return bool(_CJK.search(name)) and name.strip().endswith(NOT_VALUE_SUFFIX_ZH)


_BIRTH_TOKENS = {"dob", "birthday", "birthdate", "birthdt", "birthdays"}
_BIRTH_LAST = {"date", "day", "dt", "on", "time", "ts", "at"}
_BIRTH_ZH = ("出生日期", "出生年月", "出生时间", "生日")


def names_a_birth_date(name: str) -> bool:
    """birth_date, date_of_birth, dob, birthday, 出生日期: the one date that identifies a person. Not a fact about it
    (birthday_gift_sent) and not a birth place or country."""
    toks = _name_tokens(name)
    if not toks:
        return any(z in name for z in _BIRTH_ZH)
    if toks[-1] in NOT_VALUE_SUFFIX and toks[-1] not in _BIRTH_LAST:
        return False
    return (toks[-1] in _BIRTH_TOKENS or ("birth" in toks[:-1] and toks[-1] in _BIRTH_LAST)
            or toks[-3:] == ["date", "of", "birth"] or any(z in name for z in _BIRTH_ZH))


def kind_by_name(name: str) -> Optional[str]:
    """The kind a column's name (or a comment's leading words) says it holds; secrets first."""
    if not name or names_a_fact_not_a_value(name):
        return None
    toks = _name_tokens(name)
    tokset = set(toks)
    joined = "".join(toks)
    pairs = set(zip(toks, toks[1:]))
    if tokset & SECRET_TOKENS or pairs & SECRET_PAIRS or joined in SECRET_TOKENS or any(z in name for z in SECRET_ZH):
        return SECRET
    if tokset & EMAIL_TOKENS or any(z in name for z in EMAIL_ZH):
        return "email"
    if tokset & ID_TOKENS or pairs & ID_PAIRS or joined in ID_TOKENS or any(z in name for z in ID_ZH):
        return "id_card"
    if tokset & CARD_TOKENS or pairs & CARD_PAIRS or joined in CARD_TOKENS or any(z in name for z in CARD_ZH):
        return "card_number"
    if tokset & IBAN_TOKENS or pairs & IBAN_PAIRS or any(z in name for z in IBAN_ZH):
        return "iban"
    if tokset & PHONE_TOKENS or joined in PHONE_TOKENS or any(z in name for z in PHONE_ZH):
        return "phone"
    if ((tokset & ADDRESS_TOKENS or pairs & ADDRESS_PAIRS) and not tokset & ADDRESS_NOT) or (
            any(z in name for z in ADDRESS_ZH) and not any(z in name for z in ADDRESS_NOT_ZH)):
        return "address"
    if tokset & PERSON_TOKENS or joined in PERSON_TOKENS or any(z in name for z in PERSON_ZH):
        return "person_name"
    if "name" in toks[1:] and toks[toks.index("name", 1) - 1] in PERSON_WHO and not tokset & NOT_PERSON:
        return "person_name"
    return None


_EN_MODIFIER = re.compile(r"\s(of|for|in|by|from|to|at|on|with|used|which|that|when|where)\s", re.I)
_ZH_MODIFIER = re.compile(r".*(的|所在|所属|对应)")


def comment_head(comment: Optional[str]) -> str:
    """What a comment names: its first clause, without what qualifies it. "状态：1正常 2冻结（需重置密码）" ->
    "状态"; "City of the customer's address" -> "City"; "客户地址所在城市" -> "城市"."""
    if not comment:
        return ""
    head = re.split(r"[，,;；:：(（\n。]|\.\s", comment.strip(), maxsplit=1)[0][:60].strip()
    head = _EN_MODIFIER.split(head, maxsplit=1)[0]
    return _ZH_MODIFIER.sub("", head).strip() or head.strip()


def _type_allows(kind: Optional[str], data_type: str) -> bool:
    if kind == BIRTH_DATE:   # a date, a timestamp, a text or an 8-digit number
        return not re.match(r"^(boolean|interval|time\b)", data_type or "", re.I)
    if kind is None or _NO_PII_TYPES.match(data_type or ""):
        return False
    return kind in _NUMERIC_KINDS or not _NUMERIC_TYPES.match(data_type or "")


def kind_by_meta(name: str, comment: Optional[str], data_type: str, *, is_key: bool = False
                 ) -> tuple[Optional[str], Optional[str]]:
    """(kind, "name"|"comment") from the catalog alone: the column's name, else its comment's first clause.
    Keys (primary/foreign) and columns named like a fact about the data (address_id, phone_type) never are."""
    if is_key:
        return None, None
    for source, text in (("name", name), ("comment", comment_head(comment))):
        if names_a_birth_date(text) and _type_allows(BIRTH_DATE, data_type):
            return BIRTH_DATE, source
    if names_a_fact_not_a_value(name):
        return None, None
    for source, text in (("name", name), ("comment", comment_head(comment))):
        kind = kind_by_name(text)
        if _type_allows(kind, data_type):
            return kind, source
    return None, None


def is_withheld_by_catalog(column: Column, table: Optional[Table] = None) -> bool:
    """A secret by name or comment: the column is not even read when sampling or profiling."""
    kind, _ = kind_by_meta(column.name, column.comment, column.data_type, is_key=_is_key(column, table))
    return kind == SECRET


def id_card_valid(value: str) -> bool:
    """18-digit PRC resident ID with a correct ISO 7064 check digit, or the old 15-digit form."""
    if ID15.match(value):
        return True
    if not ID18.match(value):
        return False
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(value[:17], weights))
    return "10X98765432"[total % 11] == value[17].upper()


def _is_person_name(value: str, english_names: bool) -> bool:
    if PERSON_NAME_VALUE.match(value):
        return (value[0] in SURNAMES or value.startswith(COMPOUND_SURNAMES)) and not value.endswith(NOT_NAME_SUFFIX_ZH)
    return english_names and bool(EN_NAME_ANY_CASE.match(value))


def kind_of_value(value: str, *, english_names: bool = True) -> Optional[str]:
    v = value.strip()
    if shapes.is_secret(v):
        return SECRET
    if EMAIL.match(v):
        return "email"
    if id_card_valid(v) or SSN.match(v) or shapes.is_national_id(v):
        return "id_card"
    if shapes.is_phone(v):
        return "phone"
    if shapes.is_card(v):
        return "card_number"
    if shapes.iban_valid(v):
        return "iban"
    if ADDRESS.match(v) or ADDRESS_EN.match(v):
        return "address"
    if _is_person_name(v, english_names):
        return "person_name"
    return None


def is_person_table(table: Optional[Table]) -> bool:
    if table is None:
        return False
    words = {t[:-1] if t.endswith("s") else t for t in _name_tokens(table.name)} | set(_name_tokens(table.name))
    return bool(words & PERSON_TABLES) or any(z in table.name for z in PERSON_TABLES_ZH)


def _english_names_possible(name: str, person_table: bool) -> bool:
    """English name shapes ("General Manager" looks like "Mary Smith") count only where a name is expected:
    a `name` column of a table of people, or a column named after a person (owner, contact, staff ...)."""
    toks = _name_tokens(name)
    if set(toks) & NOT_PERSON or any(z in name for z in NOT_PERSON_ZH):
        return False
    return bool(toks) and (("name" in toks and person_table) or toks[-1] in PERSON_COLUMNS)


def kind_by_values(name: str, values: Iterable[str], *, person_table: bool = False) -> Optional[str]:
    """The kind most values (>= 60%, at least 2 or all of them) have; names are only guessed on person-ish columns."""
    values = [v for v in values if v and v.strip()]
    if not values:
        return None
    english = _english_names_possible(name, person_table)
    kinds = [kind_of_value(v, english_names=english) for v in values]
    best = max(set(kinds), key=lambda k: (kinds.count(k), k is not None))
    hits = kinds.count(best)
    if best is None or hits < min(2, len(values)) or hits / len(values) < 0.6:
        return None
    if best in ("person_name", "address") and (set(_name_tokens(name)) & NOT_PERSON
                                               or any(z in name for z in NOT_PERSON_ZH)):
        return None   # 张江 in company_name, 南昌市西服务区 in service_area_name: names of things, not people
    return best


def _is_key(column: Column, table: Optional[Table]) -> bool:
    if table is None:
        return False
    fk_columns = {c for fk in table.foreign_keys for c in fk.columns}
    return column.name in fk_columns or (column.is_primary_key and _NUMERIC_TYPES.match(column.data_type or ""))


def detect(column: Column, table: Optional[Table] = None) -> tuple[Optional[str], Optional[str]]:
    """(kind, source) of a column: catalog first (name, comment), then the shape of its sampled values."""
    is_key = _is_key(column, table)
    kind, source = kind_by_meta(column.name, column.comment, column.data_type, is_key=is_key)
    if kind:
        return kind, source
    if is_key or names_a_fact_not_a_value(column.name) or _NO_PII_TYPES.match(column.data_type or ""):
        return None, None
    values = list(column.samples) + [tv.value for tv in column.top_values]
    kind = kind_by_values(column.name, values, person_table=is_person_table(table))
    return (kind, "values") if _type_allows(kind, column.data_type) else (None, None)


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


def _mask_words(value: str) -> str:
    """Every word keeps its first letter (digits go too): `742 Evergreen Terrace` -> `*** E******** T******`."""
    return re.sub(r"\w+", lambda m: ("*" if m.group(0)[0].isdigit() else m.group(0)[0])
                  + "*" * max(1, len(m.group(0)) - 1), value)


def mask_phone(value: str) -> str:
    v = value.strip()
    m = re.match(r"^(\+?86[- ]?)?(1[3-9]\d{9})$", v)
    if m:
        return (m.group(1) or "") + m.group(2)[:3] + "****" + m.group(2)[-4:]
    if shapes.CN_PHONE.match(v):
        return _mask_digits(v, 3, 4)
    # other locales: the country/area code's first digits and the last two stay, the shape stays
    return _mask_digits(v, 2, 2) if len(shapes.digits(v)) >= 7 else _mask_generic(v)


def mask_id_card(value: str) -> str:
    v = value.strip()
    if SSN.match(v):
        return "***-**-" + v[-4:]
    return v[:4] + "*" * (len(v) - 8) + v[-4:] if len(v) >= 12 else _mask_generic(v)


def mask_card(value: str) -> str:
    return _mask_digits(value.strip(), 0, 4)


def mask_iban(value: str) -> str:
    v = value.strip()
    return v[:4] + re.sub(r"[A-Za-z0-9]", "*", v[4:-4]) + v[-4:] if len(v) > 8 else _mask_generic(v)


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
    if not _CJK.search(v):
        return _mask_words(v)
    m = re.match(r"^(.{0,12}?(省|自治区|特别行政区))?(.{0,12}?市)?", v)
    keep = m.group(0) if m else ""
    if not keep or len(keep) >= len(v):
        keep = v[:min(3, max(1, len(v) // 3))]
    return keep + "****"


def mask_birth_date(value: str) -> str:
    """The year stays, the rest of the date's digits go: 1961-07-23 -> 1961-**-**, 19610723 -> 1961****."""
    v = value.strip()
    year = re.search(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)|^(1[89]\d\d|20\d\d)", v)
    if not year:
        return re.sub(r"\d", "*", v)
    start, end = year.span()
    return re.sub(r"\d", "*", v[:start]) + v[start:end] + re.sub(r"\d", "*", v[end:])


MASKERS = {"phone": mask_phone, "id_card": mask_id_card, "email": mask_email, "person_name": mask_person_name,
           "address": mask_address, "card_number": mask_card, "iban": mask_iban, "birth_date": mask_birth_date}


def mask(kind: str, value: str) -> str:
    """Masked value of `kind`; a value that is already masked (has `*`) is returned unchanged (idempotent)."""
    return value if "*" in value or not value.strip() else MASKERS[kind](value)


def _inline_card(s: str) -> str:
    return mask_card(s) if shapes.luhn_valid(s) else s


def _inline_iban(s: str) -> str:
    return mask_iban(s) if shapes.iban_valid(s) else s


def _inline_phone(s: str) -> str:
    return mask_phone(s) if 7 <= len(shapes.digits(s)) <= 15 else s   # +1500.00 is an amount


def _inline_id_or_phone(s: str) -> str:
    return mask_id_card(s) if len(s) == 18 and id_card_valid(s) else mask_phone(s)


# order matters: secrets and emails before the digit runs they contain; each pass leaves `*` behind
_INLINE_RULES = (
    (re.compile(shapes.INLINE_SECRET), lambda s: "****"),
    (re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), mask_email),
    (re.compile(shapes.INLINE_IBAN), _inline_iban),
    (re.compile(shapes.INLINE_CARD), _inline_card),
    (re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"), _inline_id_or_phone),
    (re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"), mask_id_card),
    (re.compile(shapes.INLINE_PHONE), _inline_phone),
)


def mask_inline(text: str) -> str:
    """Mask phone/ID/email/card/IBAN/secret-shaped substrings inside free text."""
    for pattern, fn in _INLINE_RULES:
        text = pattern.sub(lambda m: fn(m.group(0)), text)
    return text


def withhold(column: Column) -> None:
    """A secret: no sample, no profile, no value anywhere (only its name and type are described)."""
    column.samples, column.top_values = [], []
    column.is_enum_like, column.distinct_count, column.null_fraction = False, None, None


def _known_names_pattern(columns: Iterable[Column]) -> Optional[re.Pattern]:
    """The raw names sampled from a table's person-name columns (whole values and their words of 3+ letters,
    Chinese names of 2+ characters): other free text of the same rows often repeats them ("Ask for Zebulon")."""
    words: set[str] = set()
    for column in columns:
        for value in list(column.samples) + [tv.value for tv in column.top_values]:
            if "*" in value:
                continue
            value = value.strip()
            if _CJK.search(value):
                if len(value) >= 2:
                    words.add(value)
            else:
                words.update(w for w in re.split(r"[\s,]+", value) if len(w) >= 3 and w.isalpha())
    if not words:
        return None
    ordered = sorted(words, key=len, reverse=True)
    latin = "|".join(re.escape(w) for w in ordered if not _CJK.search(w))
    chinese = "|".join(re.escape(w) for w in ordered if _CJK.search(w))   # Chinese has no word boundaries
    parts = ([rf"(?<![^\W\d_])(?:{latin})(?![^\W\d_])"] if latin else []) + ([f"(?:{chinese})"] if chinese else [])
    return re.compile("|".join(parts), re.I)


def protect_column(column: Column, table: Optional[Table] = None,
                   inherited: Optional[tuple[str, str]] = None, known_names: Optional[re.Pattern] = None) -> None:
    """Detect and mask one column in place. `inherited` is (kind, source) a view column takes from the column it
    is computed from; a kind found earlier (masked values no longer show it) is kept. `known_names`: names
    sampled from the table's person-name columns, masked wherever they appear in free text."""
    kind, source = _kind_of(column, table, inherited)
    _apply(column, kind, source, known_names)


def _kind_of(column: Column, table: Optional[Table], inherited: Optional[tuple[str, str]]
             ) -> tuple[Optional[str], Optional[str]]:
    if column.pii_kind:
        return column.pii_kind, column.pii_source
    return inherited or detect(column, table)


def _apply(column: Column, kind: Optional[str], source: Optional[str], known_names: Optional[re.Pattern]) -> None:
    column.pii_kind, column.pii_source = kind, source if kind else None
    if kind == SECRET:
        withhold(column)
    elif kind:
        column.samples = _dedupe(mask(kind, v) for v in column.samples)
        column.top_values = [ValueCount(mask(kind, tv.value), tv.count) for tv in column.top_values]
        column.is_enum_like = False
    else:
        def clean(text: str) -> str:   # free text may still carry PII
            text = mask_inline(text)
            return known_names.sub(lambda m: mask_person_name(m.group(0)), text) if known_names else text
        column.samples = _dedupe(clean(v) for v in column.samples)
        column.top_values = [ValueCount(clean(tv.value), tv.count) for tv in column.top_values]


def protect_table(table: Table, inherited: Optional[dict[str, tuple[str, str]]] = None) -> Table:
    """Detect and mask in place; idempotent (masked values do not look like raw ones any more). `inherited`:
    column name -> (kind, source) for view columns computed from personal columns. Every column is classified
    before any is masked, so the raw names of the person-name columns can be masked inside free text too."""
    inherited = inherited or {}
    kinds = {c.name: _kind_of(c, table, inherited.get(c.name)) for c in table.columns}
    known_names = _known_names_pattern(c for c in table.columns if kinds[c.name][0] == "person_name")
    for column in table.columns:
        # "Ana Trujillo Emparedados y helados" in company_name is a company's name: kept (names of things)
        thing = bool(set(_name_tokens(column.name)) & NOT_PERSON) or any(z in column.name for z in NOT_PERSON_ZH)
        _apply(column, *kinds[column.name], None if thing else known_names)
    if table.view_definition:
        table.view_definition = mask_inline(table.view_definition)   # a literal in a WHERE clause
    # the database's own comments are kept, but an example in one ("联系电话，如 13812345678") is real data too
    table.comment = mask_inline(table.comment) if table.comment else table.comment
    for column in table.columns:
        column.comment = mask_inline(column.comment) if column.comment else column.comment
    return table


def _dedupe(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out
