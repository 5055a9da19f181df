"""LLM pairs never filter on, group by or list a personal column, nor copy a masked sample value."""
from __future__ import annotations

import pytest

from data_pipeline.qa.pair_privacy import personal_data_use
from data_pipeline.schema.model import Column, Table

CUSTOMER = Table("public", "customer", columns=[
    Column("customer_id", "integer"), Column("first_name", "text", pii_kind="person_name"),
    Column("email", "text", pii_kind="email"), Column("password", "text", pii_kind="secret"),
    Column("store_id", "integer"), Column("status", "text"), Column("birth_date", "date", pii_kind="birth_date")])
STORE = Table("public", "store", columns=[Column("store_id", "integer"), Column("store_name", "text")])


@pytest.mark.parametrize("sql", [
    "SELECT COUNT(*) FROM customer",
    "SELECT COUNT(email) FROM customer",
    "SELECT COUNT(DISTINCT c.email) FROM customer c",
    "SELECT COUNT(*) FROM customer WHERE email IS NOT NULL",
    "SELECT status, COUNT(*) FROM customer GROUP BY status",
    "SELECT s.store_name, COUNT(*) FROM customer c JOIN store s ON s.store_id = c.store_id GROUP BY s.store_name",
    "SELECT COUNT(*) FROM customer a JOIN customer b ON a.email = b.email",
    "SELECT * FROM store",
    # ages: a birth date at year level, averaged, or in a range filter shows nobody's date
    "SELECT EXTRACT(YEAR FROM birth_date) AS birth_year, COUNT(*) FROM customer GROUP BY 1",
    "SELECT date_trunc('year', birth_date) AS y, COUNT(*) FROM customer GROUP BY 1",
    "SELECT AVG(date_part('year', age(birth_date))) FROM customer",
    "SELECT COUNT(*) FROM customer WHERE birth_date < '1990-01-01'",
    "SELECT status, COUNT(*) FROM customer WHERE birth_date BETWEEN '1980-01-01' AND '1989-12-31' GROUP BY status",
])
def test_allowed(sql):
    assert personal_data_use(sql, [CUSTOMER, STORE]) is None


@pytest.mark.parametrize("sql, reason", [
    ("SELECT first_name FROM customer", "customer.first_name (person_name)"),
    ("SELECT c.first_name, s.store_name FROM customer c JOIN store s ON s.store_id = c.store_id", "first_name"),
    ("SELECT email, COUNT(*) FROM customer GROUP BY email", "customer.email (email)"),
    ("SELECT COUNT(*) FROM customer WHERE password = 'abc'", "customer.password (secret)"),
    ("SELECT length(password) FROM customer", "customer.password"),
    ("SELECT * FROM customer", "every column of customer"),
    ("SELECT c.* FROM customer c", "every column of customer"),
    ("SELECT COUNT(*) FROM customer WHERE status = 'a***@example.com'", "masked sample value"),
    ("SELECT COUNT(*) FROM store WHERE store_name = '138****5678'", "masked sample value"),
    ("SELECT customer_id, birth_date FROM customer", "customer.birth_date (birth_date)"),
    ("SELECT MIN(birth_date) FROM customer", "customer.birth_date"),
    ("SELECT birth_date, COUNT(*) FROM customer GROUP BY birth_date", "customer.birth_date"),
    ("SELECT date_trunc('month', birth_date), COUNT(*) FROM customer GROUP BY 1", "customer.birth_date"),
    ("SELECT to_char(birth_date, 'MM-DD') FROM customer", "customer.birth_date"),
    ("SELECT customer_id FROM customer ORDER BY birth_date LIMIT 1", "customer.birth_date"),
    ("SELECT customer_id FROM customer WHERE birth_date = '1961-07-23'", "customer.birth_date"),
])
def test_refused(sql, reason):
    assert reason in (personal_data_use(sql, [CUSTOMER, STORE]) or "")


def test_llm_pairs_using_personal_columns_are_dropped(settings, openai_stub, monkeypatch):
    """Through the real LLM client and the OpenAI stub: the listed-email pair is rejected with its reason. Every
    SQL the guard passes, a rejected one included, is handed to `on_guarded` before any is analysed (qa_generation
    starts checking it on the database meanwhile); a statement the guard refuses never is."""
    import json

    from app_config import load_settings
    from core.llm import make_llm
    from data_pipeline.qa import llm as qa_llm
    from data_pipeline.qa.llm import generate_theme_pairs
    from data_pipeline.qa.themes import Theme
    from tests.openai_stub import Reply

    answer = [{"question": "各门店的客户数量？", "sql": "SELECT store_id, COUNT(*) FROM customer GROUP BY store_id",
               "difficulty": "group_by"},
              {"question": "列出客户邮箱", "sql": "SELECT email FROM customer LIMIT 10", "difficulty": "single_table"},
              {"question": "手机号为138****5678的客户", "sql": "SELECT COUNT(*) FROM customer WHERE status = '138****5678'",
               "difficulty": "aggregate"},
              {"question": "删除客户", "sql": "DELETE FROM customer", "difficulty": "single_table"}]
    events = []
    real_privacy = qa_llm.personal_data_use
    monkeypatch.setattr(qa_llm, "personal_data_use", lambda *a: events.append("analysed") or real_privacy(*a))
    openai_stub.responder = lambda request: Reply(content=json.dumps(answer, ensure_ascii=False))
    s = load_settings({"data_home": settings.data_home, "llm_base_url": openai_stub.base_url,
                       "llm_model": "stub-model", "llm_max_retries": 0})
    theme = Theme("客户", "客户与门店", ["customer", "store"])
    with make_llm(s) as llm:
        pairs, problems = generate_theme_pairs(llm, theme, [CUSTOMER, STORE], {}, "stores", 3,
                                               on_guarded=lambda sqls: events.append(sqls))
    assert events[0] == [a["sql"] for a in answer[:3]] and events[1:] == ["analysed"] * 3
    assert problems[-1].kind == "invalid_sql" and "item 4" in problems[-1]
    assert [p.sql for p in pairs] == [answer[0]["sql"]]
    assert any("personal column customer.email" in p for p in problems)
    assert any("masked sample value" in p for p in problems)
