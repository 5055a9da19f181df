"""Scratch databases on the embedded server for the ddl tests: an awkward fixture schema and empty DBs.

`fixture_db(admin_url)` (re)creates database `introspect_fixture` with mixed-case/space/reserved/Chinese
identifiers, a composite primary and foreign key, a view, a materialized view, a partitioned table with two
partitions, an enum, two domains, a table without any comment and planted personal data (PLANTED).
`scratch_db(admin_url, name)` is a context manager giving an empty database that is dropped afterwards.
"""
from __future__ import annotations

from contextlib import contextmanager

import psycopg2

from core.db import with_database

FIXTURE_DB = "introspect_fixture"


def _id_card() -> str:
    """A valid 18-digit resident ID (checksum computed), distinctive enough to grep for."""
    body = "33010619870913527"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]


PLANTED = {
    "phone": "13957146032",
    "id_card": _id_card(),
    "email": "canary.zeta@example.org",
    "person_name": "欧阳娜娜",
    "address": "浙江省杭州市西湖区文三路478号",
    "inline_phone": "13811112222",
}

FIXTURE_SQL = f"""
CREATE SCHEMA "Sales Dept";
CREATE SCHEMA 销售;
CREATE TYPE public.mood AS ENUM ('happy', 'sad', 'ok''ish');
CREATE DOMAIN public.positive_amount AS numeric(12,2) CHECK (VALUE > 0);
CREATE DOMAIN public.level_code AS varchar(10) CHECK (VALUE IN ('low', 'mid', 'high'));
CREATE TABLE "Sales Dept"."Order" (
    "Order ID"  integer NOT NULL,
    "Line No"   integer NOT NULL,
    "select"    text,
    "CamelCase" varchar(20) DEFAULT 'x',
    amount      positive_amount,
    feeling     mood NOT NULL DEFAULT 'ok''ish',
    created_at  timestamptz DEFAULT now(),
    PRIMARY KEY ("Order ID", "Line No"),
    CHECK ("Line No" > 0)
);
COMMENT ON TABLE "Sales Dept"."Order" IS '订单行 ''原始''注释';
COMMENT ON COLUMN "Sales Dept"."Order"."select" IS '选择标记';
CREATE TABLE 销售.订单明细 (
    明细编号 serial PRIMARY KEY,
    订单号 integer NOT NULL,
    行号 integer NOT NULL,
    level level_code,
    FOREIGN KEY (订单号, 行号) REFERENCES "Sales Dept"."Order" ("Order ID", "Line No")
);
COMMENT ON COLUMN 销售.订单明细.订单号 IS '订单号';
CREATE TABLE public.customer (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    full_name text, mobile varchar(20), email text, id_card varchar(18), home_address text, note text,
    company_name text, service_area_name text, status varchar(10) NOT NULL
);
INSERT INTO public.customer (full_name, mobile, email, id_card, home_address, note, company_name,
                             service_area_name, status)
SELECT '{PLANTED["person_name"]}', '{PLANTED["phone"]}', '{PLANTED["email"]}', '{PLANTED["id_card"]}',
       '{PLANTED["address"]}', '请联系 {PLANTED["inline_phone"]} 处理', '某某科技有限公司', '庐山服务区',
       (ARRAY['active', 'frozen', 'closed'])[1 + i % 3]
FROM generate_series(1, 40) i;
CREATE VIEW public.customer_view AS SELECT id, full_name, status FROM public.customer;
CREATE MATERIALIZED VIEW public.status_counts AS SELECT status, count(*) AS n FROM public.customer GROUP BY status;
CREATE TABLE public.events (id bigint NOT NULL, day date NOT NULL, kind text, PRIMARY KEY (id, day))
    PARTITION BY RANGE (day);
CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO public.events SELECT i, date '2024-06-01' + i * 2, 'k' || (i % 4) FROM generate_series(1, 200) i;
CREATE TABLE public."100%_done" (x int);
CREATE TABLE public.a_b (x int);
CREATE TABLE public.axb (x int);
CREATE TABLE public."../up" ("a""quote" int);
CREATE VIEW public.slow_view AS SELECT pg_sleep(0.6)::text AS waited, 'x'::text AS kind;
ANALYZE public.customer;
"""


def admin_url(app_ctx) -> str:
    return with_database(app_ctx.runtime.meta_url, "postgres")


def _admin(url: str, statement: str) -> None:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def recreate(admin: str, name: str) -> str:
    _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(admin, f'CREATE DATABASE "{name}"')
    return with_database(admin, name)


def create_db(admin: str, name: str, script: str) -> str:
    """(Re)create database `name` holding `script`'s objects and rows; its admin URL."""
    url = recreate(admin, name)
    _admin(url, script)
    return url


def fixture_db(admin: str) -> str:
    return create_db(admin, FIXTURE_DB, FIXTURE_SQL)


@contextmanager
def scratch_db(admin: str, name: str):
    url = recreate(admin, name)
    try:
        yield url
    finally:
        _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_sql(url: str, text: str) -> None:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(text)
    finally:
        conn.close()


def fetchall(url: str, query: str, params=None) -> list:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()
    finally:
        conn.close()
