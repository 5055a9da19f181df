"""The built-in glossary, the run's language and how nouns are chosen (issue 12): identifiers split on
snake/camel case, plurals understood, never half translated; comments used whole; `auto` resolved."""
from __future__ import annotations

from data_pipeline.lexicon.glossary import GLOSSARY, en_phrase, pluralize, resolve_language, words, zh_phrase
from data_pipeline.lexicon.vocabulary import column_noun, identifier_noun, role_noun, speaking, table_noun
from data_pipeline.schema.model import Column, ForeignKey, Table


def test_glossary_is_large_and_splits_identifiers():
    assert len(GLOSSARY) >= 400
    assert words("originalLanguageID") == ["original", "language", "id"]
    assert words("InvoiceLine") == ["invoice", "line"] and words("d00_t1") == ["d00", "t1"]
    assert zh_phrase(words("original_language_id")) == "原始语言ID"
    assert zh_phrase(words("categories")) == "分类" and zh_phrase(words("addresses")) == "地址"
    assert zh_phrase(words("inventory_inventory_id")) == "库存ID"           # never a doubled word
    assert zh_phrase(words("rental_by_category")) == "按分类的租赁"        # "by" is not 人 in the middle
    assert zh_phrase(words("created_by")) == "创建人"
    assert zh_phrase(words("last_update")) == "最后更新时间"
    assert zh_phrase(words("film_text_xyzzy")) is None                    # one unknown word: no translation
    assert en_phrase(words("humidity_pct")) == "humidity percent"
    assert pluralize("sales order") == "sales orders" and pluralize("city") == "cities"
    assert pluralize("address") == "addresses" and pluralize("staff") == "staff"
    assert pluralize("inventory") == "inventory items"                     # "How many inventory are there?"
    # Northwind's and Pagila's columns read as phrases, a character(n) value without its padding (quirks)
    assert zh_phrase(words("units_in_stock")) == "库存数量" and en_phrase(words("activebool")) == "active"


def test_untranslatable_identifiers_are_quoted_whole_in_chinese():
    with speaking("zh"):
        assert identifier_noun("film_xyzzy") == "“film_xyzzy”"
        assert identifier_noun("release_year") == "发行年份"
    with speaking("en"):
        assert identifier_noun("film_xyzzy") == "film xyzzy" and identifier_noun("d07_t1") == "d07_t1"


def test_existing_comments_are_used_whole_never_cut_to_one_word():
    total = Column("total", "numeric(10,2)", comment="Invoice total amount, including tax")
    zh_total = Column("total", "numeric(10,2)", comment="订单 总金额（含税），单位元")
    with speaking("en"):
        assert column_noun(total) == "Invoice total amount"
        assert column_noun(zh_total) == "total"           # a Chinese comment is not used in English
    with speaking("zh"):
        assert column_noun(zh_total) == "订单 总金额"
        assert column_noun(total) == "总额"               # an English comment is not mixed into Chinese
    invoice = Table("public", "invoice", comment="The invoices of the store")
    with speaking("en"):
        assert table_noun(invoice) == "invoices of the store"
    with speaking("zh"):
        assert table_noun(invoice) == "发票"


def test_role_of_a_foreign_key():
    language = Table("public", "language", columns=[Column("language_id", "integer")])
    with speaking("zh"):
        assert role_noun(ForeignKey("f", ["original_language_id"], "public", "language", ["language_id"]),
                         language) == "原始语言"
        assert role_noun(ForeignKey("f", ["language_id"], "public", "language", ["language_id"]), language) is None
    with speaking("en"):
        assert role_noun(ForeignKey("f", ["original_language_id"], "public", "language", ["language_id"]),
                         language) == "original language"


def test_auto_language_follows_context_then_comments():
    assert resolve_language(None) == "zh" and resolve_language("en") == "en" and resolve_language("zh") == "zh"
    assert resolve_language("auto", "高速公路服务区管理系统") == "zh"
    assert resolve_language("auto", "", ["订单表", "金额", None, "status"]) == "zh"
    assert resolve_language("auto", "", ["Orders", "amount", "订单表"]) == "en"
    assert resolve_language("auto", "", []) == "en"


def test_english_counts_opaque_table_names_in_rows_and_reads_abbreviations():
    from data_pipeline.lexicon.phrases import plural_label
    from data_pipeline.lexicon.vocabulary import table_plural
    with speaking("en"):
        assert table_plural(Table("public", "d26_t3")) == "rows of d26_t3"        # not "How many d26_t3 ..."
        assert table_plural(Table("public", "sales_order")) == "sales orders"
        assert table_plural(Table("public", "staff")) == "staff"
    with speaking("zh"):
        assert table_plural(Table("public", "d26_t3")) == "“d26_t3”"
    assert en_phrase(words("prev_state")) == "previous state" and en_phrase(words("cust_id")) == "customer ID"
    assert plural_label("account ID") == "accounts (account ID)" and plural_label("store name") == "store names"
    assert plural_label("sales order status") == "sales order statuses"
    assert plural_label("temperature (°C)") == "temperature (°C) values"
