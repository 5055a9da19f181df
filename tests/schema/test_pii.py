"""PII detection by column name and by value shape, and shape-keeping masks."""
from __future__ import annotations

import pytest

from data_pipeline.schema import pii
from data_pipeline.schema.model import Column, Table, ValueCount


@pytest.mark.parametrize("name, kind", [
    ("phone", "phone"), ("mobile_no", "phone"), ("contactPhone", "phone"), ("tel", "phone"), ("手机号", "phone"),
    ("联系电话", "phone"), ("id_card", "id_card"), ("idCardNo", "id_card"), ("身份证号", "id_card"),
    ("email", "email"), ("user_email", "email"), ("邮箱", "email"), ("full_name", "person_name"),
    ("real_name", "person_name"), ("contact_name", "person_name"), ("customer_name", "person_name"),
    ("姓名", "person_name"), ("联系人", "person_name"), ("home_address", "address"), ("addr", "address"),
    ("住址", "address"), ("收货地址", "address"),
    # not personal data
    ("service_area_name", None), ("company_name", None), ("branch_name", None), ("name", None),
    ("ip_address", None), ("mac_address", None), ("telecom_type", None), ("id", None), ("service_no", None),
    ("created_by", None), ("source_system_type", None), ("route_name", None), ("user_id", None),
])
def test_kind_by_name(name, kind):
    assert pii.kind_by_name(name) == kind


def test_id_card_checksum():
    assert pii.id_card_valid("11010519491231002X")
    assert not pii.id_card_valid("110105194912310021")   # wrong check digit
    assert pii.id_card_valid("330106870913527")           # old 15-digit form with a plausible date
    assert not pii.id_card_valid("123456789012345")


@pytest.mark.parametrize("values, kind", [
    (["13812345678", "+86 13987654321"], "phone"),
    (["0571-88123456", "010-61234567"], "phone"),
    (["11010519491231002X", "11010519491231002X"], "id_card"),
    (["a.b@example.com", "x@y.cn"], "email"),
    (["张三", "李四", "欧阳娜娜"], "person_name"),
    (["浙江省杭州市西湖区文三路1号", "江西省南昌市青山湖区"], "address"),
    (["2023-01-01", "1001"], None),
    (["庐山服务区", "南城服务区"], None),
    (["30675d85ba5044c31acfa243b9d16334"], None),
])
def test_kind_by_values(values, kind):
    assert pii.kind_by_values("col", values) == kind


def test_person_shaped_values_on_non_person_columns_are_not_names():
    assert pii.kind_by_values("company_name", ["王府井", "张江"]) is None
    assert pii.kind_by_values("service_area_name", ["南昌市西服务区", "九江市北服务区"]) is None
    assert pii.kind_by_values("col", ["南昌市西服务区", "九江市北服务区"]) == "address"   # unnamed: be safe


def test_masks_keep_shape():
    assert pii.mask("phone", "13812345678") == "138****5678"
    assert pii.mask("phone", "+86 13812345678") == "+86 138****5678"
    assert pii.mask("phone", "0571-88123456") == "057*-****3456"
    assert pii.mask("id_card", "330106198709135271") == "3301**********5271"
    assert pii.mask("email", "alice@example.com") == "a***@example.com"
    assert pii.mask("person_name", "张三") == "张*"
    assert pii.mask("person_name", "欧阳娜娜") == "欧阳**"
    assert pii.mask("person_name", "John Smith") == "J*** S****"
    assert pii.mask("address", "浙江省杭州市西湖区文三路478号") == "浙江省杭州市****"
    assert pii.mask("address", "北京市海淀区中关村大街1号") == "北京市****"
    assert pii.mask("phone", "138****5678") == "138****5678"   # idempotent


def test_inline_masking_of_free_text():
    text = "客户 13812345678 邮件 bob@corp.cn 证件 11010519491231002X"
    masked = pii.mask_inline(text)
    assert masked == "客户 138****5678 邮件 b***@corp.cn 证件 1101**********002X"


def test_protect_table_masks_samples_and_top_values():
    col = Column("mobile", "text", samples=["13812345678"], top_values=[ValueCount("13812345678", 5)],
                 is_enum_like=True)
    other = Column("remark", "text", samples=["call 13900001111"])
    table = pii.protect_table(Table("public", "t", columns=[col, other]))
    assert col.pii_kind == "phone" and col.samples == ["138****5678"] and not col.is_enum_like
    assert col.top_values[0].value == "138****5678" and col.top_values[0].count == 5
    assert other.pii_kind is None and other.samples == ["call 139****1111"]
    assert "13812345678" not in repr(table)


# ------------------------------------------------------------------------------------ issue 11: privacy
@pytest.mark.parametrize("name, kind", [
    # secrets, any case style or language
    ("password", "secret"), ("passwordHash", "secret"), ("pwd", "secret"), ("api_key", "secret"),
    ("apiKey", "secret"), ("access_token", "secret"), ("salt", "secret"), ("private_key", "secret"),
    ("client_secret", "secret"), ("credentials", "secret"), ("登录密码", "secret"), ("密钥", "secret"),
    # contact data in any locale
    ("fax", "phone"), ("Fax", "phone"), ("home_phone", "phone"), ("phone2", "phone"), ("传真", "phone"),
    ("address2", "address"), ("postal_code", "address"), ("zip", "address"), ("邮编", "address"),
    ("card_number", "card_number"), ("creditCard", "card_number"), ("iban", "iban"), ("ssn", "id_card"),
    ("national_id", "id_card"), ("username", "person_name"), ("nickname", "person_name"),
    ("given_name", "person_name"), ("family_name", "person_name"), ("昵称", "person_name"),
    # a fact about personal data, or no personal data at all: keep the values
    ("address_id", None), ("phone_type", None), ("email_verified", None), ("token_type", None),
    ("password_changed_at", None), ("token_count", None), ("密码修改时间", None), ("title", None),
    ("job_title", None), ("contact_title", None), ("category", None), ("store_name", None), ("IP地址", None),
])
def test_kind_by_name_privacy(name, kind):
    assert pii.kind_by_name(name) == kind


# Each name is recognised by exactly one clause of its kind's rule (a token, a pair of tokens, the tokens
# joined, a Chinese word): dropping any one clause loses a name (found by bench/mutation_safety.py, issue 27).
@pytest.mark.parametrize("name, kind", [
    ("user_private_key", "secret"), ("passCode", "secret"),                        # pair; joined
    ("user_ssn", "id_card"), ("holder_id_card", "id_card"), ("idNo", "id_card"),  # token; pair; joined
    ("user_pan", "card_number"), ("user_card_no", "card_number"), ("c_c_number", "card_number"),
    ("银行卡号", "card_number"),
    ("bank_account_no", "iban"), ("开户账号", "iban"),
    ("lx_dh", "phone"), ("sj_h", "phone"),                                         # 联系电话, 手机号 abbreviated
    ("post_code", "address"), ("家庭住址", "address"), ("server_address", None), ("服务器地址", None),
    ("x_m", "person_name"), ("user_xm", "person_name"),                            # 姓名 abbreviated
    ("buyer_realname", "person_name"), ("pet_name", None), ("company_owner_name", None),   # <who>_name
])
def test_each_clause_of_a_name_rule_counts(name, kind):
    assert pii.kind_by_name(name) == kind


@pytest.mark.parametrize("value, kind", [
    ("+55 (12) 3923-5566", "phone"), ("(555) 123-4567", "phone"), ("+1-780-428-3457", "phone"),
    ("030-0074321", "phone"), ("+86 13812345678", "phone"), ("0571-88123456", "phone"),
    ("4111 1111 1111 1111", "card_number"), ("5500005555555559", "card_number"),
    ("DE89 3704 0044 0532 0130 00", "iban"), ("GB82WEST12345698765432", "iban"), ("123-45-6789", "id_card"),
    ("AB 12 34 56 C", "id_card"), ("046 454 286", "id_card"), ("046 454 287", None),
    ("5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", "secret"),
    ("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "secret"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "secret"), ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "secret"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIB", "secret"), ("742 Evergreen Terrace", "address"),
    # not personal: ids (32-hex is a uuid without dashes), dates, coordinates, codes, amounts
    ("30675d85ba5044c31acfa243b9d16334", None), ("2023-01-01", None), ("2025-04-11 02:00:00", None),
    ("117.969876,25.828410", None), ("1061-1", None), ("G6001", None), ("4111111111111112", None),
    ("12500.00", None), ("550e8400-e29b-41d4-a716-446655440000", None), ("12 345 678", None), ("10.100.200", None),
])
def test_kind_of_value_any_locale(value, kind):
    assert pii.kind_of_value(value, english_names=False) == kind


def test_english_name_shapes_only_where_a_name_is_expected():
    names = ["MARY SMITH", "PATRICIA JOHNSON", "LINDA WILLIAMS"]
    assert pii.kind_by_values("name", names, person_table=True) == "person_name"
    assert pii.kind_by_values("name", names, person_table=False) is None        # category.name "Action Movies"
    assert pii.kind_by_values("staff", ["SMITH, Mary", "DOE, John"]) == "person_name"
    assert pii.kind_by_values("account", ["Savings Account", "Checking Plus"]) is None
    titles = ["General Manager", "Sales Representative", "Owner Assistant"]
    assert pii.kind_by_values("title", titles, person_table=True) is None
    assert pii.kind_by_values("contact_title", titles, person_table=True) is None
    assert pii.kind_by_values("category", ["Dairy Products", "Sea Food"], person_table=True) is None
    assert pii.kind_by_values("职位", ["高级经理", "区域经理"]) is None
    assert pii.kind_by_values("col", ["高级经理", "王府店"]) is None           # surname-initial, not names
    assert pii.is_person_table(Table("public", "customers")) and pii.is_person_table(Table("hr", "员工信息"))
    assert not pii.is_person_table(Table("public", "product"))


def test_keys_and_typed_columns_are_never_personal():
    table = Table("public", "customer", columns=[
        Column("address_id", "integer", samples=["5", "6"]), Column("store_id", "integer", samples=["1"]),
        Column("phone", "bigint", samples=["13812345678"]), Column("email_verified", "boolean", samples=["true"]),
        Column("contact", "text", samples=["Mary Smith", "John Doe"]),
        Column("title", "text", samples=["General Manager", "Sales Representative"])])
    from data_pipeline.schema.model import ForeignKey
    table.foreign_keys = [ForeignKey("fk", ["store_id"], "public", "store", ["store_id"])]
    pii.protect_table(table)
    kinds = {c.name: c.pii_kind for c in table.columns}
    assert kinds == {"address_id": None, "store_id": None, "phone": "phone", "email_verified": None,
                     "contact": "person_name", "title": None}
    assert table.column("title").samples == ["General Manager", "Sales Representative"]
    assert table.column("address_id").samples == ["5", "6"]


def test_secrets_are_withheld_and_comments_count():
    pw = Column("login_check", "text", comment="password hash (bcrypt)", samples=["$2b$12$abc"],
                top_values=[ValueCount("x", 3)], is_enum_like=True, distinct_count=2)
    status = Column("state_code", "text", comment="状态：1正常 2冻结（冻结后需重置密码）", samples=["1", "2"])
    fax = Column("alt_contact", "text", comment="Fax number of the customer", samples=["+55 (12) 3923-5581"])
    token = Column("remember_code", "text", samples=["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
                                                     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIyIn0.c2lnbmF0dXJm"])
    table = pii.protect_table(Table("public", "t", columns=[pw, status, fax, token]))
    assert pii.is_withheld_by_catalog(pw) and not pii.is_withheld_by_catalog(token)
    assert (pw.pii_kind, pw.pii_source, pw.samples, pw.top_values, pw.is_enum_like, pw.distinct_count) == \
        ("secret", "comment", [], [], False, None)
    assert status.pii_kind is None and status.samples == ["1", "2"]     # only the comment's head names the column
    assert (fax.pii_kind, fax.pii_source, fax.samples) == ("phone", "comment", ["+55 (**) ****-**81"])
    assert (token.pii_kind, token.pii_source, token.samples) == ("secret", "values", [])
    pii.protect_table(table)   # idempotent: the kinds found by values survive a second pass
    assert token.pii_kind == "secret" and fax.samples == ["+55 (**) ****-**81"]


def test_masks_keep_shape_in_any_locale():
    assert pii.mask("phone", "+55 (12) 3923-5566") == "+55 (**) ****-**66"
    assert pii.mask("phone", "(555) 123-4567") == "(55*) ***-**67"
    assert pii.mask("card_number", "4111 1111 1111 1111") == "**** **** **** 1111"
    assert pii.mask("iban", "GB82WEST12345698765432") == "GB82**************5432"
    assert pii.mask("id_card", "123-45-6789") == "***-**-6789"
    assert pii.mask("address", "742 Evergreen Terrace") == "*** E******** T******"
    assert pii.mask("person_name", "MARY SMITH") == "M*** S****"


def test_inline_masking_any_locale():
    text = ("Call +44 20 7946 0958 or (555) 123-4567, card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, "
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl, total +1500.00 on 2024-01-01 10:00:00+08")
    masked = pii.mask_inline(text)
    for raw in ("7946 0958", "123-4567", "1111 1111 1111 1111", "3704 0044", "eyJzdWIiOiIxIn0"):
        assert raw not in masked
    assert "+1500.00" in masked and "2024-01-01 10:00:00+08" in masked
    assert pii.mask_inline("4111111111111112 is not a card") == "4111111111111112 is not a card"


def test_sampled_names_are_masked_inside_free_text_of_the_same_table():
    table = Table("public", "customer", columns=[
        Column("first_name", "text", samples=["Zebulon", "Ottoline"]),
        Column("notes", "text", samples=["Ask for Zebulon at the desk", "zebulon's order", "Leave at the door"]),
        Column("姓名", "text", samples=["司马青云"]), Column("备注", "text", samples=["请联系司马青云处理"]),
        Column("company_name", "text", samples=["Zebulon Trading Ltd"])])
    pii.protect_table(table)
    assert table.column("company_name").samples == ["Zebulon Trading Ltd"]     # the name of a thing: kept
    assert table.column("notes").samples == ["Ask for Z****** at the desk", "z******'s order", "Leave at the door"]
    assert table.column("备注").samples == ["请联系司马**处理"]


@pytest.mark.parametrize("comment, kind", [
    ("Fax number of the customer", "phone"), ("password hash (bcrypt) of the order PIN", "secret"),
    ("客户的手机号", "phone"), ("联系电话", "phone"), ("IBAN of the payee", "iban"),
    # the comment names something else, only qualified by personal words
    ("City of the customer's address", None), ("客户地址所在城市", None), ("状态：1正常 2冻结（冻结后需重置密码）", None),
    ("Number of tokens used", None), ("所属管理公司ID", None),
])
def test_comment_rules_read_what_the_comment_names(comment, kind):
    assert pii.kind_by_meta("col_x", comment, "text") == (kind, "comment" if kind else None)


@pytest.mark.parametrize("name, comment, data_type, kind", [
    ("birth_date", None, "date", "birth_date"), ("date_of_birth", None, "date", "birth_date"),
    ("dob", None, "date", "birth_date"), ("BirthDate", None, "timestamp without time zone", "birth_date"),
    ("birthday", None, "character varying(10)", "birth_date"), ("出生日期", None, "date", "birth_date"),
    ("csrq", "出生日期", "date", "birth_date"), ("d1", "Customer's birth date", "date", "birth_date"),
    # not a birth date: other personal-looking dates, facts about one, places
    ("hire_date", None, "date", None), ("signup_date", None, "date", None), ("birth_place", None, "text", None),
    ("birth_country", None, "text", None), ("birthday_gift_sent", None, "boolean", None),
    ("birth_date_verified", None, "boolean", None), ("birth_year", None, "integer", None),
])
def test_birth_dates_are_personal_and_other_dates_are_not(name, comment, data_type, kind):
    assert pii.kind_by_meta(name, comment, data_type)[0] == kind


def test_birth_dates_keep_only_the_year():
    assert pii.mask("birth_date", "1961-07-23") == "1961-**-**"
    assert pii.mask("birth_date", "1961-07-23 08:15:00") == "1961-**-** **:**:**"
    assert pii.mask("birth_date", "19610723") == "1961****"
    assert pii.mask("birth_date", "07/23/1961") == "**/**/1961"
    assert pii.mask("birth_date", "1961年7月23日") == "1961年*月**日"
    table = Table("public", "customer", columns=[
        Column("birth_date", "date", samples=["1961-07-23", "1975-01-02"]),
        Column("signup_date", "date", samples=["2021-01-02"])])
    pii.protect_table(table)
    assert table.column("birth_date").pii_kind == "birth_date"
    assert table.column("birth_date").samples == ["1961-**-**", "1975-**-**"]
    assert table.column("signup_date").samples == ["2021-01-02"] and table.column("signup_date").pii_kind is None


def test_contact_data_written_in_a_database_comment_is_masked_and_the_rest_kept():
    table = Table("public", "customer", comment="客户表，客服热线 13957148800", columns=[
        Column("phone", "text", comment="Phone of the customer, e.g. +1-780-428-3999", samples=[]),
        Column("status", "text", comment="状态：1正常 2冻结（冻结后需重置密码）", samples=["1", "2"])])
    pii.protect_table(table)
    assert table.comment == "客户表，客服热线 139****8800"
    assert table.column("phone").comment == "Phone of the customer, e.g. +1-7**-***-**99"
    assert table.column("status").comment == "状态：1正常 2冻结（冻结后需重置密码）"


def test_a_numeric_primary_key_is_an_id_whatever_its_name_or_values():
    """A bigint primary key named `token` whose values look like mobile numbers is an id: neither a secret by its
    name (it is read and shown) nor a phone by its values."""
    table = Table("public", "sessions", columns=[
        Column("token", "bigint", False, is_primary_key=True, samples=["13812345678", "13912345678"])])
    assert pii.kind_by_meta("token", None, "bigint") == ("secret", "name")      # by its name alone
    assert not pii.is_withheld_by_catalog(table.column("token"), table)
    assert pii.detect(table.column("token"), table) == (None, None)


def test_english_names_in_a_name_column_count_only_in_a_table_of_people():
    def kind_in(table_name):
        table = Table("public", table_name, columns=[Column("name", "text", samples=["Mary Smith", "John Doe",
                                                                                     "Anna Lee"])])
        return pii.detect(table.column("name"), table)
    assert kind_in("customer") == ("person_name", "values")
    assert kind_in("product") == (None, None)          # a product called "Anna Lee" keeps its name
