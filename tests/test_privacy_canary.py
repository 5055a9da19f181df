"""Privacy canary: planted personal data and secrets never leave the business database, real values that are
not personal (titles, categories, store names) do.

An English CRM/store schema shaped like the public sample databases (customers and staff with names, emails,
phones and faxes in international formats, a password hash, an API token, an address table, a view that
concatenates names, a materialised view, a view on a view) plus Chinese equivalents, created in a fresh database
on the embedded server and read through a SELECT-only LOGIN role. A complete run goes through the API on the
embedded defaults (rule-based generator, built-in embedder); then every file of the task directory, every API
answer about the task (status, files and downloads, logs, log query), the database tools on the same tables,
the task's log rows and the vector rows are scanned for every planted value, case-insensitively, and for its
digits-only form. A view whose secret columns raise when evaluated proves those columns are never read.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
import sqlglot

from tests.ddl_fixture_db import admin_url, recreate, run_sql
from tests.executor_support import BASE, stop_executors, wait_final
from tests.secret_scan import task_files

DB = "privacy_canary"
READER = "privacy_canary_reader"


def luhn_complete(body: str) -> str:
    """`body` + the Luhn check digit: a card number every card validator accepts."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return body + str((10 - total % 10) % 10)


def iban(country: str, bban: str) -> str:
    """A valid IBAN (ISO 13616 check digits computed) for `bban`."""
    numeric = int("".join(str(int(ch, 36)) for ch in bban + country + "00"))
    return f"{country}{98 - numeric % 97:02d}{bban}"


def grouped(number: str) -> str:
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4))


CARD_1 = grouped(luhn_complete("453914880343646"))
CARD_2 = luhn_complete("552008112233447")
IBAN_1 = iban("DE", "370400440532013077")
IBAN_2 = grouped(iban("GB", "WEST12345698765432"))
SHA1_A = hashlib.sha1(b"canary password one").hexdigest()
SHA1_B = hashlib.sha1(b"canary password two").hexdigest()


def _token(seed: str) -> str:
    """A long mixed-case random-looking API token (deterministic per seed)."""
    raw = hashlib.sha256(seed.encode()).digest()
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return "tok_" + "".join(alphabet[b % len(alphabet)] for b in raw[:26]) + "Q7z"


def _jwt(seed: str) -> str:
    sig = base64.urlsafe_b64encode(hashlib.sha256(seed.encode()).digest()).decode().rstrip("=")
    return "eyJhbGciOiJIUzI1NiJ9." + base64.urlsafe_b64encode(json.dumps({"sub": seed}).encode()).decode().rstrip("=") \
        + "." + sig


BCRYPT = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"

CUSTOMERS = [  # first, last, email, phone, fax, ssn, notes (free text carrying contact data)
    ("Zebulon", "Quartermaine", "zebulon.q@canarymail.test", "+55 (12) 3923-5571", "+55 (12) 3923-5581",
     "219-09-9999", "Call +44 20 7946 0958 before delivery"),
    ("Ottoline", "Fairweather", "o.fairweather@canarymail.test", "(555) 218-4471", "(555) 218-4472",
     "078-05-1120", "Prefers e-mail: ottoline.alt@canarymail.test"),
    ("Thaddeus", "Blackwood", "thaddeus@canarymail.test", "+1-780-428-3907", "+1-780-428-3908",
     "536-22-8726", "Leave with Ottoline Fairweather next door"),
    ("Philippa", "Wintergreen", "pw@canarymail.test", "030-0076545", "030-0076546", "401-33-1234",
     "Card on file " + CARD_2),
]
STAFF = [  # first, last, title, email, phone, fax, password sha1, api token, remember token (JWT), username
    (first, last, title, f"{first.lower()}.{last[0].lower()}@canarystore.test", f"+61 2 9374 40{i}7",
     f"+61 2 9374 41{i}9",
     (SHA1_A, SHA1_B)[i % 2], _token(last), _jwt(last), f"{first[0].lower()}{last.lower()}")
    for i, (first, last, title) in enumerate([
        ("Ignatius", "Pemberton", "General Manager"), ("Cordelia", "Ravensworth", "Sales Representative"),
        ("Barnaby", "Thistlewood", "Sales Representative"), ("Henrietta", "Gallowglass", "General Manager"),
        ("Lysander", "Culpepper", "Sales Representative"), ("Winifred", "Applethwaite", "Store Clerk")])
]
ADDRESSES = [("742 Evergreen Terrace", "Apartment 12B", "Alberta", "Lethbridge", "T1K 3M4", "+1-403-555-0142"),
             ("1600 Amphitheatre Parkway", "Suite 400", "California", "Mountain View", "94043", "+1-650-253-0937")]
MEMBERS = [("XAVIERA MONTGOMERY", "Gold"), ("LEOPOLD HAVERSHAM", "Silver"), ("ROSALIND KETTERIDGE", "Gold"),
           ("PERCIVAL WHITLOCKE", "Silver"), ("GWENDOLYN ASHCOMBE", "Gold")]
CN_CUSTOMERS = [  # 姓名, 手机号, 传真, 电子邮箱, 住址, 职位, 客户类别
    ("司马青云", "13957140086", "0571-86691234", "simaqy@canary.cn", "浙江省杭州市西湖区文三路512号", "区域经理", "批发"),
    ("诸葛月华", "13857149921", "0571-86695678", "zhugeyh@canary.cn", "江苏省南京市鼓楼区中山路88号", "销售主管", "零售"),
    ("欧阳明轩", "15067193345", "0571-86697777", "ouyangmx@canary.cn", "浙江省宁波市海曙区中山西路23号", "区域经理", "批发"),
    ("上官婉清", "18657102218", "0571-86698888", "shangguanwq@canary.cn", "上海市徐汇区漕溪北路201号", "销售主管", "零售"),
]

BIRTH_DATES = ["1961-07-23", "1974-11-05", "1983-02-19", "1990-09-30"]      # customer i's, and 客户档案 row i's
CN_BIRTH_DATES = ["1968-04-12", "1979-08-27", "1985-12-03", "1992-06-16"]
# somebody's real number given as an example in a database comment
COMMENT_PHONE, COMMENT_MOBILE = "+1-780-428-3999", "13957148800"

PLANTED = sorted({v for row in CUSTOMERS for v in row[:6]} | set(BIRTH_DATES) | set(CN_BIRTH_DATES)
                 | {COMMENT_PHONE, COMMENT_MOBILE} | {CUSTOMERS[0][6].split("Call ")[1].split(" before")[0],
                                                               "ottoline.alt@canarymail.test", CARD_2}
                 | {v for row in STAFF for v in (row[:2] + row[3:])}
                 | {v for row in ADDRESSES for v in (row[0], row[1], row[4], row[5])}
                 | {name for name, _ in MEMBERS} | {v for row in CN_CUSTOMERS for v in row[:5]}
                 | {CARD_1, IBAN_1, IBAN_2, BCRYPT}
                 | {f"{first} {last}" for first, last, *_ in CUSTOMERS + STAFF}
                 | {f"{last.upper()}, {first}" for first, last, *_ in STAFF})
# real values that are not personal: they must reach the outputs unmasked (they are what questions filter on)
PUBLIC = ["General Manager", "Sales Representative", "Beverages", "Dairy Products", "Riverside Outlet",
          "Harbour Plaza Store", "Alberta", "Gold", "Silver", "区域经理", "批发", "零售", "shipped"]

TABLES = ["address", "store", "staff", "customer", "product", "orders", "member", "customer_list",
          "staff_directory", "customer_cities", "staff_accounts", "客户档案", "客户通讯录"]


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _rows(rows) -> str:
    return ",\n".join("(" + ", ".join(_lit(v) if isinstance(v, str) else str(v) for v in row) + ")" for row in rows)


def fixture_sql() -> str:
    customers = [(i + 1, first, last, email, phone, fax, ssn, notes, 1 + i % 2, 1 + i % 2, BIRTH_DATES[i])
                 for i, (first, last, email, phone, fax, ssn, notes) in enumerate(CUSTOMERS)]
    cn_customers = [row + (CN_BIRTH_DATES[i],) for i, row in enumerate(CN_CUSTOMERS)]
    staff = [(i + 1, first, last, title, email, phone, fax, pw, token, jwt, user, 1 + i % 2)
             for i, (first, last, title, email, phone, fax, pw, token, jwt, user) in enumerate(STAFF)]
    orders = [(i + 1, 1 + i % 4, 1 + i % 3, 1 + i % 3, 1 + i % 5, 12.5 * (1 + i % 7), f"2024-0{1 + i % 9}-1{i % 9}",
               ("shipped", "pending", "cancelled")[i % 3], (CARD_1, CARD_2)[i % 2], (IBAN_1, IBAN_2)[i % 2],
               BCRYPT if i % 4 == 0 else "")
              for i in range(24)]
    return f"""
CREATE TABLE address (address_id serial PRIMARY KEY, address text NOT NULL, address2 text, district text,
    city text, postal_code varchar(10), phone varchar(30));
INSERT INTO address (address, address2, district, city, postal_code, phone) VALUES {_rows(ADDRESSES)};
CREATE TABLE store (store_id serial PRIMARY KEY, store_name text NOT NULL,
    address_id integer REFERENCES address (address_id));
INSERT INTO store (store_name, address_id) VALUES ('Riverside Outlet', 1), ('Harbour Plaza Store', 2);
CREATE TABLE staff (staff_id integer PRIMARY KEY, first_name text, last_name text, title text, email text,
    phone text, fax text, password_hash char(40), api_token text, remember_code text, username text,
    store_id integer REFERENCES store (store_id), hire_date date DEFAULT '2020-01-01');
INSERT INTO staff (staff_id, first_name, last_name, title, email, phone, fax, password_hash, api_token, remember_code,
    username, store_id) VALUES {_rows(staff)};
CREATE TABLE customer (customer_id integer PRIMARY KEY, first_name text, last_name text, email text,
    phone text, alt_contact text, ssn text, notes text, store_id integer REFERENCES store (store_id),
    address_id integer REFERENCES address (address_id), active boolean DEFAULT true,
    contact_title text DEFAULT 'Owner', birth_date date);
COMMENT ON COLUMN customer.alt_contact IS 'Fax number of the customer';
COMMENT ON COLUMN customer.phone IS 'Phone of the customer, e.g. {COMMENT_PHONE}';
INSERT INTO customer (customer_id, first_name, last_name, email, phone, alt_contact, ssn, notes, store_id,
    address_id, birth_date) VALUES {_rows(customers)};
CREATE TABLE product (product_id serial PRIMARY KEY, product_name text, category text, unit_price numeric(10,2));
INSERT INTO product (product_name, category, unit_price) VALUES ('Espresso Beans', 'Beverages', 18.00),
    ('Camembert Pierrot', 'Dairy Products', 34.00), ('Green Tea', 'Beverages', 4.50),
    ('Gorgonzola Telino', 'Dairy Products', 12.50), ('Chai', 'Beverages', 18.00);
CREATE TABLE orders (order_id integer PRIMARY KEY, customer_id integer REFERENCES customer (customer_id),
    staff_id integer REFERENCES staff (staff_id), product_id integer REFERENCES product (product_id),
    quantity integer, amount numeric(10,2), order_date date, status text, card_number text, payout_account text,
    login_check text);
COMMENT ON COLUMN orders.payout_account IS 'IBAN of the payee';
COMMENT ON COLUMN orders.login_check IS 'password hash (bcrypt) of the order PIN';
INSERT INTO orders VALUES {_rows(orders)};
CREATE TABLE member (member_id serial PRIMARY KEY, name text, tier text);
INSERT INTO member (name, tier) VALUES {_rows(MEMBERS)};
CREATE VIEW customer_list AS
    SELECT cu.customer_id AS id, cu.first_name || ' ' || cu.last_name AS name, a.address,
           a.postal_code AS "zip code", a.phone, a.city, a.district, s.store_name AS store
    FROM customer cu JOIN address a ON a.address_id = cu.address_id JOIN store s ON s.store_id = cu.store_id;
CREATE MATERIALIZED VIEW staff_directory AS
    SELECT s.staff_id, upper(s.last_name) || ', ' || s.first_name AS staff, s.title, st.store_name,
           s.phone AS reach, s.password_hash AS check_value
    FROM staff s JOIN store st ON st.store_id = s.store_id;
CREATE VIEW customer_cities AS SELECT name AS display, city, store FROM customer_list;
-- secrets known by name are never read: evaluating these view columns fails the whole statement, so a sample
-- or profile read that touched them would leave the view without any sample (STABLE: unreferenced, not run)
CREATE FUNCTION tattle(value text) RETURNS text LANGUAGE plpgsql STABLE AS
  $f$ BEGIN RAISE EXCEPTION 'canary: a secret column was read'; END $f$;
CREATE VIEW staff_accounts AS
    SELECT staff_id, username, title, tattle(password_hash) AS password_hash, tattle(api_token) AS api_token
    FROM staff;
CREATE TABLE 客户档案 (编号 serial PRIMARY KEY, 姓名 text, 手机号 text, 传真 text, 电子邮箱 text, 住址 text,
    职位 text, 客户类别 text, 出生日期 date);
INSERT INTO 客户档案 (姓名, 手机号, 传真, 电子邮箱, 住址, 职位, 客户类别, 出生日期) VALUES {_rows(cn_customers)};
COMMENT ON COLUMN 客户档案.手机号 IS '客户手机号，如 {COMMENT_MOBILE}';
CREATE VIEW 客户通讯录 AS SELECT 编号, 姓名 || '（' || 职位 || '）' AS 显示名, 传真 AS 备用号码, 客户类别 FROM 客户档案;
ANALYZE;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{READER}') THEN CREATE ROLE {READER} LOGIN; END IF;
END $$;
GRANT CONNECT ON DATABASE {DB} TO {READER};
GRANT USAGE ON SCHEMA public TO {READER};
GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER};
ALTER ROLE {READER} SET default_transaction_read_only = on;
"""


@pytest.fixture(scope="module")
def canary_url(app_ctx):
    """The fixture database, read as the SELECT-only role (never the superuser that created it)."""
    admin = admin_url(app_ctx)
    owner_url = recreate(admin, DB)
    run_sql(owner_url, fixture_sql())
    parts = urlsplit(owner_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    yield urlunsplit((parts.scheme, f"{READER}@{host}", parts.path, parts.query, parts.fragment))
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    conn.close()


class Collector:
    """Everything a user, the LLM or the vector store could see, as (label, text) pairs."""

    def __init__(self):
        self.items: list[tuple[str, str]] = []

    def add(self, label: str, data) -> None:
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        elif not isinstance(data, str):
            data = json.dumps(data, ensure_ascii=False, default=str)
        self.items.append((label, data))

    def get(self, client, url: str):
        resp = client.get(url)
        self.add(f"GET {url}", resp.data)
        return resp

    def post(self, client, url: str, body: dict):
        resp = client.post(url, json=body)
        self.add(f"POST {url}", resp.data)
        return resp


def digits_only(value: str) -> str:
    return re.sub(r"\D", "", value)


def leaks(items: list[tuple[str, str]]) -> list[str]:
    """Every (planted value, place) found: the value case-insensitively, its digits-only form (>= 6 digits) in
    the text and in the text's own digits (so `+55 (12) 3923-5571` is found written as `55-12-39235571` too)."""
    found = []
    for label, text in items:
        lowered = text.lower()
        for value in PLANTED:
            if value.lower() in lowered:
                found.append(f"{value!r} in {label}")
            d = digits_only(value)
            if len(d) >= 6 and d in text:
                found.append(f"{value!r} (digits {d}) in {label}")
    return found


def collect_api(c: Collector, client, task_id: str, canary_url: str) -> None:
    c.get(client, f"{BASE}/{task_id}")
    c.get(client, f"{BASE}/{task_id}/executions")
    listing = c.get(client, f"{BASE}/{task_id}/files").get_json()["data"]
    for f in listing["files"]:
        if not f.get("directory"):
            c.get(client, f["download_url"])
    c.get(client, f"{BASE}/{task_id}/logs?limit=1000")
    c.post(client, f"{BASE}/{task_id}/logs/query", {"page": 1, "page_size": 500})
    c.post(client, "/api/v0/database/tables", {"db_connection": canary_url})
    for table in TABLES:
        resp = c.post(client, "/api/v0/database/table/ddl", {"db_connection": canary_url, "table": table})
        assert resp.status_code == 200, (table, resp.get_json())


def collect_stores(c: Collector, app_ctx, task_id: str) -> int:
    files = 0
    for name, content in task_files(app_ctx.task_dir(task_id)):
        c.add(f"file {name}", content)
        files += 1
    logs = app_ctx.db.fetchall("SELECT to_jsonb(x) AS row FROM data_pipeline_task_logs x WHERE task_id = %s",
                               (task_id,))
    c.add("data_pipeline_task_logs", [r["row"] for r in logs])
    rows = app_ctx.db.fetchall("SELECT document, cmetadata::text AS meta FROM langchain_pg_embedding "
                               "WHERE cmetadata->>'task_id' = %s", (task_id,))
    assert rows, "the run loaded no vector rows"
    for r in rows:
        c.add("vector row", r["document"] + "\n" + r["meta"])
    return files


@pytest.fixture(scope="module")
def canary_run(app, app_ctx, canary_url):
    """One complete run for the module's tests: (test client, task id, final status)."""
    app_ctx.db.execute("TRUNCATE data_pipeline_tasks CASCADE")
    client = app.test_client()
    resp = client.post(BASE, json={"task_name": "privacy canary", "db_connection": canary_url, "table_names": TABLES,
                                   "business_context": "a chain of coffee stores"})
    assert resp.status_code == 201, resp.get_json()
    task_id = resp.get_json()["data"]["task_id"]
    try:
        assert client.post(f"{BASE}/{task_id}/execute", json={"execution_mode": "complete"}).status_code == 202
        yield client, task_id, wait_final(client, task_id, timeout=300)
    finally:
        stop_executors(app_ctx.db)


def test_no_planted_value_in_any_output_and_public_values_kept(app_ctx, canary_url, canary_run, caplog):
    caplog.set_level(logging.DEBUG)
    client, task_id, status = canary_run
    assert status["status"] in ("completed", "partial_completed"), (status["error_message"], status["step_status"])
    assert all(v == "completed" for v in status["step_status"].values()), status["step_status"]
    c = Collector()
    files = collect_stores(c, app_ctx, task_id)
    collect_api(c, client, task_id, canary_url)
    c.add("service log records (caplog)", caplog.text)
    found = leaks(c.items)
    assert not found, "planted values leaked:\n" + "\n".join(found[:40])
    assert files >= 2 * len(TABLES) and len(c.items) > 3 * len(TABLES) and len(PLANTED) > 80
    print(f"privacy canary: {len(PLANTED)} planted values, {len(c.items)} texts ({files} files, "
          f"{sum(1 for label, _ in c.items if label == 'vector row')} vector rows, "
          f"{sum(len(t) for _, t in c.items)} characters) scanned, 0 hits")

    # the real, non-personal values are there, unmasked: in the Markdown, the snapshot and the vectors
    task_dir = app_ctx.task_dir(task_id)
    markdown = "\n".join(p.read_text(encoding="utf-8") for p in task_dir.glob("*_detail.md"))
    snapshot = (task_dir / "schema_snapshot.json").read_text(encoding="utf-8")
    vectors = "\n".join(text for label, text in c.items if label == "vector row")
    for value in PUBLIC:
        assert value in markdown or value in snapshot, f"{value!r} missing from the Markdown/snapshot (over-masked?)"
        assert value in vectors, f"{value!r} missing from the vector rows"
    pairs = next(task_dir.glob("qs_*_pair.json")).read_text(encoding="utf-8")
    assert any(v in pairs for v in ("General Manager", "Sales Representative", "Beverages", "Dairy Products"))


def test_privacy_section_and_marks(app_ctx, canary_run):
    _client, task_id, _status = canary_run
    task_dir = app_ctx.task_dir(task_id)
    report = json.loads((task_dir / "quality_report.json").read_text(encoding="utf-8"))
    privacy = report["privacy"]
    masked = {(m["table"], m["column"]): (m["kind"], m["reason"]) for m in privacy["masked_columns"]}
    withheld = {(m["table"], m["column"]): m["reason"] for m in privacy["withheld_columns"]}
    expected_kinds = {
        "customer.first_name": "person_name", "customer.email": "email", "customer.phone": "phone",
        "customer.alt_contact": "phone", "customer.ssn": "id_card", "address.address": "address",
        "address.address2": "address", "address.postal_code": "address", "address.phone": "phone",
        "staff.username": "person_name", "staff.fax": "phone", "orders.card_number": "card_number", "orders.payout_account": "iban",
        "member.name": "person_name", "customer_list.name": "person_name", "customer_list.zip code": "address",
        "staff_directory.staff": "person_name", "staff_directory.reach": "phone",
        "customer_cities.display": "person_name", "客户档案.传真": "phone", "客户档案.住址": "address",
        "客户通讯录.显示名": "person_name", "客户通讯录.备用号码": "phone",
    }
    for name, kind in expected_kinds.items():
        table, column = name.split(".", 1)
        assert masked.get((f"public.{table}", column), (None,))[0] == kind, (name, masked.get((f"public.{table}",
                                                                                              column)))
    assert masked[("public.customer", "alt_contact")][1] == "comment"
    assert masked[("public.member", "name")][1] == "values"
    assert masked[("public.customer_list", "name")][1] in ("view:public.customer.first_name",
                                                           "view:public.customer.last_name")
    assert masked[("public.customer_cities", "display")][1].startswith("view:public.customer_list.")
    for name in ("staff.password_hash", "staff.api_token", "staff.remember_code", "orders.login_check",
                 "staff_directory.check_value"):
        table, column = name.split(".")
        assert (f"public.{table}", column) in withheld, name
    assert withheld[("public.staff", "remember_code")] == "values"
    assert withheld[("public.staff_accounts", "password_hash")] == "view:public.staff.password_hash"
    # the secret view columns were never evaluated: the view's other columns were sampled
    snapshot = json.loads((task_dir / "schema_snapshot.json").read_text(encoding="utf-8"))
    accounts = next(t for t in snapshot["tables"] if t["name"] == "staff_accounts")
    title = next(c for c in accounts["columns"] if c["name"] == "title")
    assert "General Manager" in title["samples"] + [v["value"] for v in title["top_values"]]
    assert "a secret column was read" not in (task_dir / "data_pipeline.log").read_text(encoding="utf-8")
    assert withheld[("public.orders", "login_check")] == "comment"
    # no over-masking: titles, categories, store names, keys and foreign keys stay real
    for name in ("staff.title", "staff.store_id", "customer.address_id", "customer.contact_title",
                 "store.store_name", "product.category", "product.product_name", "orders.status", "member.tier",
                 "address.district", "address.city", "customer_list.city", "staff_directory.title",
                 "客户档案.职位", "客户档案.客户类别"):
        table, column = name.split(".")
        assert (f"public.{table}", column) not in masked and (f"public.{table}", column) not in withheld, name
    assert privacy["columns_masked"] == len(masked) and privacy["masked_by_kind"]["phone"] >= 6
    # each masked column is marked in its table's Markdown, secrets in the DDL too
    staff_md = (task_dir / "staff_detail.md").read_text(encoding="utf-8")
    assert re.search(r"- password_hash .*sensitive, not sampled", staff_md)
    assert re.search(r"- phone .*已脱敏", staff_md) and not re.search(r"- title .*已脱敏", staff_md)
    assert "password_hash: 敏感字段，未采样 (sensitive, not sampled)" in (task_dir / "staff.ddl").read_text("utf-8")
    summary = "\n".join(p.read_text(encoding="utf-8") for p in task_dir.glob("sql_validation_*_summary.log"))
    assert "隐私: 脱敏字段" in summary
    log_text = (task_dir / "data_pipeline.log").read_text(encoding="utf-8")
    assert re.search(r"privacy: \d+ columns masked \(.*phone \d+.*\); \d+ withheld as secrets, never sampled "
                     r"\(.*public\.staff\.password_hash", log_text)
    # the generated pairs never filter on, group by or list a masked or withheld column
    personal = {(t.split(".", 1)[1], c) for t, c in list(masked) + list(withheld)}
    pairs = json.loads(next(task_dir.glob("qs_*_pair.json")).read_text(encoding="utf-8"))
    assert len(pairs) > 20
    for pair in pairs:
        tree = sqlglot.parse_one(pair["sql"], read="postgres")
        aliases = {t.alias_or_name: t.name for t in tree.find_all(sqlglot.exp.Table)}
        for column in tree.find_all(sqlglot.exp.Column):
            owners = [aliases[column.table]] if column.table in aliases else list(set(aliases.values()))
            assert not any((owner, column.name) in personal for owner in owners), (column.sql(), pair["sql"])


def test_llm_sees_only_masked_values(tmp_path, settings, app_ctx, canary_url, openai_stub):
    """The LLM path gets the same masked snapshot: no planted value in any request of ddl_generation."""
    from app_config import load_settings
    from core.llm import make_llm
    from data_pipeline.steps import ddl_generation
    from data_pipeline.steps.base import StepContext
    from data_pipeline.taskfiles.table_list import TableRef
    from tests.openai_stub import Reply

    def answer(request: dict) -> Reply:
        prompt = request["messages"][-1]["content"]
        missing = json.loads(re.search(r"需要生成注释的字段：(\[.*?\])", prompt).group(1))
        return Reply(content=json.dumps({"table_comment": "表", "table_description": "说明",
                                         "columns": {m: f"字段 {m}" for m in missing}}, ensure_ascii=False))

    openai_stub.responder = answer
    s = load_settings({"data_home": settings.data_home, "llm_base_url": openai_stub.base_url,
                       "llm_model": "stub-model", "llm_max_retries": 0})
    ctx = StepContext(task_id="manual_20250101_000000", task_dir=tmp_path, params={"business_context": "stores"},
                      options={}, settings=s, business_url=canary_url, meta_db=None,
                      tables=[TableRef("public", t) for t in TABLES], logger=logging.getLogger("test.canary"),
                      llm=None)
    with make_llm(s) as llm:
        ctx.llm = llm
        result = ddl_generation.run(ctx)
    assert result.summary["succeeded"] == len(TABLES) and result.summary["comment_source"] == "llm"
    assert len(openai_stub.chat_requests) == len(TABLES)
    sent = openai_stub.sent_text() + "\n".join(r.prompt_text() for r in openai_stub.requests)
    found = leaks([("LLM requests", sent)])
    assert not found, found[:20]
    assert "Sales Representative" in sent and "Beverages" in sent and '"personal_data": "secret"' in sent
