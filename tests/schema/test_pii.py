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
