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
    assert pluralize("business day data") == "business day data records"   # "How many business day data were …"
    assert pluralize("data") == "data"
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


def test_english_never_reads_a_raw_code_when_the_comment_says_what_it_is():
    """The demo's `wx` (微信支付金额) read "total wx of business day data" in English; a column English can read,
    or whose comment is English, is unchanged."""
    wx = Column("wx", "numeric(19,4)", comment="微信支付金额")
    oper = Column("oper_date", "date", comment="统计日期")
    brand = Column("xs", "numeric(19,4)", comment="行吧支付金额（单位：元）")      # a brand English has no word for
    readable = Column("order_sum", "integer", comment="订单总数")
    with speaking("en"):
        assert column_noun(wx) == "WeChat payment amount"
        assert column_noun(oper) == "statistics date"
        assert column_noun(brand) == "“行吧支付金额”"                             # what it means, not "xs"
        assert column_noun(readable) == "order sum"
    with speaking("zh"):
        assert column_noun(wx) == "微信支付金额" and column_noun(brand) == "行吧支付金额"


def test_views_named_for_their_aggregation_read_by_what_one_row_is():
    """`sales_by_store` read "各位置的按门店的销售总销售额" / "total sales of sales by store"; `film_list`
    "电影列表平均价格". A table keeps its full name; a comment still wins."""
    def view(name, comment=None):
        return Table("public", name, kind="view", comment=comment)
    with speaking("zh"):
        assert table_noun(view("sales_by_store")) == "门店"
        assert table_noun(view("film_list")) == "电影"
        assert table_noun(view("order_details_extended")) == "订单明细"
        assert table_noun(Table("public", "rental_by_category")) == "按分类的租赁"
        assert table_noun(view("sales_by_store", comment="门店销售汇总")) == "门店销售汇总"
    with speaking("en"):
        assert table_noun(view("sales_by_store")) == "store"
        assert table_noun(view("film_list")) == "film"


def test_home_country_is_where_a_brand_comes_from():
    assert zh_phrase(words("home_country")) == "所属国家"                  # not 家庭国家


def test_an_activity_data_table_keeps_its_data():
    """The demo's 业务支撑系统每日营业数据表 read "业务支撑系统营业的微信支付金额合计" (营业 is a verb there)."""
    with speaking("zh"):
        assert table_noun(Table("public", "bss_business_day_data",
                                comment="业务支撑系统每日营业数据表（按服务区档口统计）")) == "业务支撑系统营业数据"
        assert table_noun(Table("public", "t_order", comment="订单数据表")) == "订单"
