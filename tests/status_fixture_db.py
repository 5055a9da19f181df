"""A fresh 11-table database on the embedded server and a role that may read 5 of its tables (issue 13 tests).

`status_fixture(app_ctx)` (re)creates database `status_fixture` (a small shop: 11 tables with foreign keys and rows,
plus the materialized view `sales_summary` created WITH NO DATA) and the login role `status_reader`, which may
SELECT only READABLE; it answers (owner URL, reader URL).
"""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from tests.ddl_fixture_db import admin_url, recreate, run_sql

READABLE = ["customers", "categories", "products", "orders", "order_items"]
UNREADABLE = ["suppliers", "stores", "employees", "payments", "shipments", "reviews"]
ALL_TABLES = READABLE + UNREADABLE          # 11, in the order of the table list below
ROLE = "status_reader"
DB = "status_fixture"

FIXTURE_SQL = """
CREATE TABLE categories (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE suppliers (id int PRIMARY KEY, name text NOT NULL, city text);
CREATE TABLE products (id int PRIMARY KEY, category_id int REFERENCES categories, supplier_id int REFERENCES suppliers,
                       name text NOT NULL, price numeric(10,2));
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, city text, level varchar(10));
CREATE TABLE stores (id int PRIMARY KEY, name text NOT NULL, city text);
CREATE TABLE employees (id int PRIMARY KEY, store_id int REFERENCES stores, name text, role varchar(20));
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, store_id int REFERENCES stores,
                     order_date date, status varchar(10));
CREATE TABLE order_items (order_id int REFERENCES orders, product_id int REFERENCES products, quantity int,
                          PRIMARY KEY (order_id, product_id));
CREATE TABLE payments (id int PRIMARY KEY, order_id int REFERENCES orders, amount numeric(10,2), method varchar(10));
CREATE TABLE shipments (id int PRIMARY KEY, order_id int REFERENCES orders, shipped_on date, carrier text);
CREATE TABLE reviews (id int PRIMARY KEY, product_id int REFERENCES products, customer_id int REFERENCES customers,
                      stars int, body text);
INSERT INTO categories SELECT i, 'category ' || i FROM generate_series(1, 4) i;
INSERT INTO suppliers SELECT i, 'supplier ' || i, (ARRAY['Hangzhou','Nanchang'])[1 + i % 2] FROM generate_series(1, 3) i;
INSERT INTO products SELECT i, 1 + i % 4, 1 + i % 3, 'product ' || i, 10 + i FROM generate_series(1, 12) i;
INSERT INTO customers SELECT i, 'customer ' || i, (ARRAY['Hangzhou','Nanchang'])[1 + i % 2],
                             (ARRAY['gold','silver','bronze'])[1 + i % 3] FROM generate_series(1, 20) i;
INSERT INTO stores SELECT i, 'store ' || i, 'Hangzhou' FROM generate_series(1, 3) i;
INSERT INTO employees SELECT i, 1 + i % 3, 'employee ' || i, 'clerk' FROM generate_series(1, 6) i;
INSERT INTO orders SELECT i, 1 + i % 20, 1 + i % 3, date '2025-01-01' + i, (ARRAY['paid','open'])[1 + i % 2]
    FROM generate_series(1, 30) i;
INSERT INTO order_items SELECT i, 1 + i % 12, 1 + i % 5 FROM generate_series(1, 30) i;
INSERT INTO payments SELECT i, i, 20 + i, 'card' FROM generate_series(1, 30) i;
INSERT INTO shipments SELECT i, i, date '2025-01-02' + i, 'sf' FROM generate_series(1, 30) i;
INSERT INTO reviews SELECT i, 1 + i % 12, 1 + i % 20, 1 + i % 5, 'fine' FROM generate_series(1, 10) i;
CREATE MATERIALIZED VIEW sales_summary AS
    SELECT o.status, count(*) AS orders FROM orders o GROUP BY o.status WITH NO DATA;
ANALYZE;
"""


def role_url(owner_url: str, role: str) -> str:
    """The same server and database, connecting as `role` (the embedded server trusts its local socket)."""
    parts = urlsplit(owner_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{role}@{host}", parts.path, parts.query, parts.fragment))


def status_fixture(app_ctx) -> tuple[str, str]:
    """(owner URL, restricted role URL) of a fresh 11-table database; the role may SELECT only READABLE."""
    owner = recreate(admin_url(app_ctx), DB)
    run_sql(owner, FIXTURE_SQL)
    run_sql(owner, f"""DO $$ BEGIN
                         IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
                           CREATE ROLE {ROLE} LOGIN;
                         END IF; END $$;
                       GRANT CONNECT ON DATABASE {DB} TO {ROLE};
                       GRANT USAGE ON SCHEMA public TO {ROLE};
                       GRANT SELECT ON {", ".join(READABLE)} TO {ROLE};""")
    return owner, role_url(owner, ROLE)
