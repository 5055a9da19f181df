"""Business schemas of our own for the question-generation tests and bench/bench_questions.py.

Each is created in a fresh database on the embedded server by the admin connection, then read through a
SELECT-only LOGIN role (tests/business_roles.py), as a real business database would be:

- `STORE_SQL`: an English bookstore/CRM without a single comment: two FKs from `book` to `language` (language,
  original language) and two from `support_ticket` to `employee` (opened by, assigned to), a self-referencing
  `employee.reports_to`, birth/hire dates next to order dates, prices, rates, scores and a temperature.
- `PARTITIONED_SQL`: a partitioned `payment` whose foreign keys are declared on its partitions only.
- `lookalike_sql(families, per_family)`: a warehouse of look-alike table families (`d00_t0` … `d29_t9`): the
  same column shapes and names that differ only by digits, one dimension per family and FK edges inside it.
"""
from __future__ import annotations

from tests.business_roles import reader_url
from tests.ddl_fixture_db import create_db

DEMO_TABLES = ["bss_business_day_data", "bss_car_day_count", "bss_company", "bss_section_route",
               "bss_section_route_area_link", "bss_service_area", "bss_service_area_mapper"]   # highway_db
STORE_TABLES = ["country", "city", "language", "publisher", "book", "store", "employee", "customer",
                "sales_order", "order_line", "payment", "support_ticket", "store_sensor_reading"]

STORE_SQL = """
CREATE TABLE country (country_id integer PRIMARY KEY, country_name varchar(60) NOT NULL);
INSERT INTO country SELECT g, (ARRAY['France','Japan','Brazil','Canada','Kenya','Norway'])[g] FROM generate_series(1, 6) g;
CREATE TABLE city (city_id integer PRIMARY KEY, city_name varchar(60) NOT NULL,
                   country_id integer NOT NULL REFERENCES country(country_id));
INSERT INTO city SELECT g, 'City ' || g, 1 + g % 6 FROM generate_series(1, 30) g;
CREATE TABLE language (language_id integer PRIMARY KEY, name varchar(30) NOT NULL);
INSERT INTO language VALUES (1, 'English'), (2, 'French'), (3, 'Japanese'), (4, 'Portuguese');
CREATE TABLE publisher (publisher_id integer PRIMARY KEY, publisher_name varchar(80) NOT NULL,
                        country_id integer REFERENCES country(country_id));
INSERT INTO publisher SELECT g, 'Publisher ' || g, 1 + g % 6 FROM generate_series(1, 25) g;
CREATE TABLE book (
    book_id integer PRIMARY KEY, title varchar(120) NOT NULL,
    language_id integer NOT NULL REFERENCES language(language_id),
    original_language_id integer REFERENCES language(language_id),
    publisher_id integer REFERENCES publisher(publisher_id),
    genre varchar(20) NOT NULL, list_price numeric(8,2) NOT NULL, discount_rate numeric(4,3),
    page_count integer, published_on date);
INSERT INTO book SELECT g, 'Book ' || g, 1 + g % 4, 1 + (g / 3) % 4, 1 + g % 25,
       (ARRAY['fiction','history','science','children'])[1 + g % 4], 5 + (g * 7 % 40), (g % 5) * 0.05,
       80 + g * 13 % 600, date '2015-01-01' + g * 11 FROM generate_series(1, 300) g;
CREATE TABLE store (store_id integer PRIMARY KEY, store_name varchar(60) NOT NULL,
                    city_id integer NOT NULL REFERENCES city(city_id), opened_on date, floor_area numeric(8,1));
INSERT INTO store SELECT g, 'Store ' || g, 1 + g * 3 % 30, date '2010-03-01' + g * 97, 120 + g * 15
       FROM generate_series(1, 12) g;
CREATE TABLE employee (
    employee_id integer PRIMARY KEY, first_name varchar(40), last_name varchar(40), job_title varchar(20) NOT NULL,
    birth_date date, hire_date date, salary numeric(10,2), reports_to integer REFERENCES employee(employee_id),
    store_id integer REFERENCES store(store_id));
INSERT INTO employee SELECT g, 'Ann' || g, 'Lee' || g, (ARRAY['clerk','manager','buyer'])[1 + g % 3],
       date '1960-01-01' + g * 233, date '2012-01-01' + g * 41, 2500 + g * 37 % 3000,
       CASE WHEN g > 3 THEN 1 + g % 3 END, 1 + g % 12 FROM generate_series(1, 60) g;
CREATE TABLE customer (
    customer_id integer PRIMARY KEY, first_name varchar(40), last_name varchar(40), email varchar(80),
    segment varchar(20) NOT NULL, city_id integer REFERENCES city(city_id), birth_date date, signup_date date,
    loyalty_score integer);
INSERT INTO customer SELECT g, 'Kim' || g, 'Roe' || g, 'kim' || g || '@example.com',
       (ARRAY['retail','corporate','student'])[1 + g % 3], 1 + g % 30, date '1950-01-01' + g * 37,
       date '2021-01-01' + g % 700, g * 17 % 100 FROM generate_series(1, 800) g;
CREATE TABLE sales_order (
    order_id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customer(customer_id),
    store_id integer NOT NULL REFERENCES store(store_id), employee_id integer REFERENCES employee(employee_id),
    order_date date NOT NULL, status varchar(12) NOT NULL, shipping_fee numeric(8,2), total_amount numeric(12,2));
INSERT INTO sales_order SELECT g, 1 + g * 7 % 800, 1 + g % 12, 1 + g % 60, date '2023-01-01' + g % 540,
       (ARRAY['paid','shipped','cancelled','pending'])[1 + g % 4], (g % 4) * 2.5, 10 + g * 31 % 400
       FROM generate_series(1, 3000) g;
CREATE TABLE order_line (
    order_line_id integer PRIMARY KEY, order_id integer NOT NULL REFERENCES sales_order(order_id),
    book_id integer NOT NULL REFERENCES book(book_id), quantity integer NOT NULL, unit_price numeric(8,2),
    tax_rate numeric(4,3));
INSERT INTO order_line SELECT g, 1 + g % 3000, 1 + g * 11 % 300, 1 + g % 4, 5 + g % 40, 0.05 + (g % 3) * 0.05
       FROM generate_series(1, 6000) g;
CREATE TABLE payment (
    payment_id integer PRIMARY KEY, order_id integer NOT NULL REFERENCES sales_order(order_id),
    paid_at timestamp NOT NULL, amount numeric(12,2) NOT NULL, method varchar(10) NOT NULL);
INSERT INTO payment SELECT g, 1 + g % 3000, timestamp '2023-01-02' + (g % 540) * interval '1 day',
       10 + g * 31 % 400, (ARRAY['card','cash','voucher'])[1 + g % 3] FROM generate_series(1, 2500) g;
CREATE TABLE support_ticket (
    ticket_id integer PRIMARY KEY, customer_id integer REFERENCES customer(customer_id),
    opened_by_employee_id integer REFERENCES employee(employee_id),
    assigned_employee_id integer REFERENCES employee(employee_id),
    priority varchar(10) NOT NULL, opened_at timestamp, satisfaction_score integer, response_minutes integer);
INSERT INTO support_ticket SELECT g, 1 + g % 800, 1 + g % 60, 1 + g * 7 % 60,
       (ARRAY['low','medium','high'])[1 + g % 3], timestamp '2023-02-01' + (g % 400) * interval '1 day',
       1 + g % 5, 5 + g % 240 FROM generate_series(1, 900) g;
CREATE TABLE store_sensor_reading (
    reading_id integer PRIMARY KEY, store_id integer NOT NULL REFERENCES store(store_id), read_at timestamp,
    temperature_c numeric(4,1), humidity_pct numeric(4,1), visitor_count integer);
INSERT INTO store_sensor_reading SELECT g, 1 + g % 12, timestamp '2024-01-01' + g * interval '1 hour',
       15 + g % 12, 30 + g % 50, g * 7 % 90 FROM generate_series(1, 2000) g;
ANALYZE;
"""

PARTITIONED_TABLES = ["account", "channel", "payment"]

PARTITIONED_SQL = """
CREATE TABLE account (account_id integer PRIMARY KEY, account_name varchar(60) NOT NULL);
INSERT INTO account SELECT g, 'Account ' || g FROM generate_series(1, 40) g;
CREATE TABLE channel (channel_id integer PRIMARY KEY, channel_name varchar(30) NOT NULL);
INSERT INTO channel VALUES (1, 'web'), (2, 'shop'), (3, 'phone');
CREATE TABLE payment (payment_id integer NOT NULL, account_id integer NOT NULL, channel_id integer NOT NULL,
                      paid_on date NOT NULL, amount numeric(10,2) NOT NULL) PARTITION BY RANGE (paid_on);
CREATE TABLE payment_p2024_01 PARTITION OF payment FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE payment_p2024_02 PARTITION OF payment FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
ALTER TABLE payment_p2024_01 ADD FOREIGN KEY (account_id) REFERENCES account(account_id);
ALTER TABLE payment_p2024_02 ADD FOREIGN KEY (account_id) REFERENCES account(account_id);
ALTER TABLE payment_p2024_01 ADD FOREIGN KEY (channel_id) REFERENCES channel(channel_id);
ALTER TABLE payment_p2024_02 ADD FOREIGN KEY (channel_id) REFERENCES channel(channel_id);
INSERT INTO payment SELECT g, 1 + g % 40, 1 + g % 3, date '2024-01-01' + g % 59, 5 + g % 90
       FROM generate_series(1, 500) g;
ANALYZE;
"""


def lookalike_tables(families: int = 30, per_family: int = 10) -> list[str]:
    return [f"d{f:02d}_t{t}" for f in range(families) for t in range(per_family)]


def lookalike_sql(families: int = 30, per_family: int = 10, rows: int = 200) -> str:
    """Family dNN: `dNN_t0` a dimension (name, kind), `dNN_t1..` facts with the same columns; t1..t5 reference
    t0 (`t0_id`), t6.. the fact before them (`prev_id`): families x (per_family - 1) FK edges."""
    out = []
    for f in range(families):
        d = f"d{f:02d}"
        out.append(f"CREATE TABLE {d}_t0 (id integer PRIMARY KEY, name varchar(40) NOT NULL, "
                   f"kind varchar(10) NOT NULL);\n"
                   f"INSERT INTO {d}_t0 SELECT g, 'n' || g, (ARRAY['a','b','c'])[1 + g % 3] "
                   f"FROM generate_series(1, 50) g;")
        for t in range(1, per_family):
            ref_col, parent, ref_rows = ("t0_id", f"{d}_t0", 50) if t <= 5 else ("prev_id", f"{d}_t{t - 1}", rows)
            out.append(f"CREATE TABLE {d}_t{t} (id integer PRIMARY KEY, {ref_col} integer REFERENCES {parent}(id), "
                       f"state varchar(10) NOT NULL, qty integer, amount numeric(10,2), event_date date);\n"
                       f"INSERT INTO {d}_t{t} SELECT g, 1 + g % {ref_rows}, (ARRAY['x','y','z','w'])[1 + g % 4], "
                       f"g % 9, g * 3 % 500, date '2024-01-01' + g % 300 FROM generate_series(1, {rows}) g;")
    out.append("ANALYZE;")
    return "\n".join(out)


def create_business_db(admin_url: str, database: str, script: str, role: str = "") -> str:
    """A fresh `database` holding `script`'s schema and rows; the URL of its SELECT-only LOGIN role (`role`, by
    default `<database>_reader`)."""
    return reader_url(create_db(admin_url, database, script), role)
