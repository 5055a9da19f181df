"""A business database with the quirks of public sample databases (Pagila/Sakila, Northwind, Chinook, ...), for
tests/test_real_db_quirks.py: the whole rule-based pipeline must read it without the SQL guard refusing a
legitimate pair and without the questions quoting raw codes.

Created in its own database on the embedded server by the admin connection and read through a SELECT-only LOGIN
role (tests/business_roles.py grants every non-system schema), as a real business database is. It holds:

- pgvector installed in `public` (adds `avg(vector)`, `sum(vector)` and `=`, `<`, `<>`, `+`, `-` on vector there);
- Pagila's domain `public.year` (film.release_year), enum `public.mpaa_rating` (film.rating), `text[]`
  (special_features), `tsvector` (fulltext), user functions and an aggregate in public (`last_day`,
  `film_in_stock`, `group_concat`), a trigger, a view calling `group_concat`, a payment table range-partitioned by
  half-year;
- Northwind's `bpchar` customer keys, `smallint` keys, `real` prices and discounts, a `bytea` picture, a `money`
  freight (AdventureWorks' type: AVG(money) does not exist), a mixed-case domain `"Name"`;
- a `money` column, `numeric` with scale, a mixed-case quoted table and columns ("Track", "UnitPrice"), a table in
  a non-public schema (`hr.department`), columns named like SQL keywords / built-in functions (`name`, `date`,
  `position`, `year`, `first`, `range`, `value`), tables and columns named by reserved words (`"user"`,
  `"order"`, `"group"`, `"limit"`).
"""
from __future__ import annotations

from tests.qa.fixture_schemas import create_business_db

NAME = "rw_quirks"

_AUDIT = "last_update timestamp NOT NULL DEFAULT timestamp '2022-12-15 09:30:00'"

QUIRKS_SQL = f"""
CREATE EXTENSION IF NOT EXISTS vector SCHEMA public;
CREATE DOMAIN public.year AS integer CONSTRAINT year_check CHECK (VALUE >= 1901 AND VALUE <= 2155);
CREATE TYPE public.mpaa_rating AS ENUM ('G', 'PG', 'PG-13', 'R', 'NC-17');
CREATE FUNCTION public.last_day(timestamp with time zone) RETURNS date LANGUAGE sql IMMUTABLE STRICT AS
  $$ SELECT (date_trunc('month', $1) + interval '1 month' - interval '1 day')::date $$;
CREATE FUNCTION public._group_concat(text, text) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT CASE WHEN $2 IS NULL THEN $1 WHEN $1 IS NULL THEN $2 ELSE $1 || ', ' || $2 END $$;
CREATE AGGREGATE public.group_concat(text) (SFUNC = _group_concat, STYPE = text);
CREATE FUNCTION public.last_updated() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN NEW.last_update = CURRENT_TIMESTAMP; RETURN NEW; END $$;

CREATE TABLE language (language_id smallint PRIMARY KEY, name character(20) NOT NULL, {_AUDIT});
INSERT INTO language (language_id, name) VALUES (1, 'English'), (2, 'Italian'), (3, 'Japanese'), (4, 'Mandarin'),
    (5, 'French'), (6, 'German');
CREATE TABLE category (category_id smallint PRIMARY KEY, name varchar(25) NOT NULL, picture bytea, {_AUDIT});
INSERT INTO category (category_id, name, picture) SELECT g, (ARRAY['Action','Animation','Children','Classics',
    'Comedy','Documentary','Drama','Family','Foreign','Games','Horror','Music'])[g], decode('89504e47', 'hex')
    FROM generate_series(1, 12) g;
CREATE TABLE actor (actor_id integer PRIMARY KEY, first_name varchar(45) NOT NULL, last_name varchar(45) NOT NULL,
    {_AUDIT});
INSERT INTO actor (actor_id, first_name, last_name) SELECT g,
    (ARRAY['Penelope','Nick','Ed','Jennifer','Johnny','Bette','Grace','Matthew','Joe','Christian'])[1 + g % 10],
    (ARRAY['Guiness','Wahlberg','Chase','Davis','Lollobrigida','Nicholson','Mostel','Johansson','Swank',
           'Gable','Cage','Berry','Wood'])[1 + (g * 7) % 13]
    FROM generate_series(1, 120) g;
CREATE TABLE film (
    film_id integer PRIMARY KEY, title varchar(255) NOT NULL, description text, release_year year,
    language_id smallint NOT NULL REFERENCES language(language_id),
    rental_duration smallint NOT NULL DEFAULT 3, rental_rate numeric(4,2) NOT NULL DEFAULT 4.99,
    length smallint, replacement_cost numeric(5,2) NOT NULL DEFAULT 19.99,
    rating mpaa_rating DEFAULT 'G', special_features text[], fulltext tsvector NOT NULL, embedding vector(3),
    {_AUDIT});
INSERT INTO film (film_id, title, description, release_year, language_id, rental_duration, rental_rate, length,
                  replacement_cost, rating, special_features, fulltext, embedding)
SELECT g,
    (ARRAY['Academy','Ace','African','Alien','Angels','Bright','Chamber','Crystal','Desert','Dragon','Empire',
           'Frozen','Golden','Hidden','Iron'])[1 + g % 15] || ' ' ||
    (ARRAY['Dinosaur','Goldfinger','Egg','Fugitive','Hustle','Panic','Story','Trip','Voyage','Wedding',
           'Witness','Harbor','Kingdom','Legend','Mission','Odyssey','Paradise','Quest','River',
           'Saga'])[1 + (g / 15) % 20],
    'A ' || (ARRAY['thoughtful','epic','touching','fateful','astounding'])[1 + g % 5] || ' drama',
    2000 + g % 24, 1 + g % 6, 3 + g % 5, (ARRAY[0.99, 2.99, 4.99])[1 + g % 3], 46 + (g * 37) % 140,
    9.99 + (g * 7) % 21, ((ARRAY['G','PG','PG-13','R','NC-17'])[1 + (g * 3) % 5])::mpaa_rating,
    CASE g % 3 WHEN 0 THEN ARRAY['Trailers'] WHEN 1 THEN ARRAY['Commentaries', 'Deleted Scenes']
        ELSE ARRAY['Behind the Scenes'] END,
    to_tsvector('english', 'film ' || g), ('[' || g % 7 || ',' || g % 5 || ',1]')::vector
FROM generate_series(1, 300) g;
CREATE TRIGGER last_updated BEFORE UPDATE ON film FOR EACH ROW EXECUTE FUNCTION last_updated();
CREATE TABLE film_actor (actor_id integer NOT NULL REFERENCES actor(actor_id),
    film_id integer NOT NULL REFERENCES film(film_id), {_AUDIT}, PRIMARY KEY (actor_id, film_id));
INSERT INTO film_actor (actor_id, film_id) SELECT 1 + (f * 13 + k * 29) % 120, f
    FROM generate_series(1, 300) f, generate_series(1, 5) k WHERE k <= 2 + f % 4;
CREATE TABLE film_category (film_id integer NOT NULL REFERENCES film(film_id),
    category_id smallint NOT NULL REFERENCES category(category_id), {_AUDIT}, PRIMARY KEY (film_id, category_id));
INSERT INTO film_category (film_id, category_id) SELECT f, 1 + (f * 5) % 12 FROM generate_series(1, 300) f;
CREATE TABLE store (store_id smallint PRIMARY KEY, store_name varchar(40) NOT NULL, opened_on date,
    floor_rent money, {_AUDIT});
INSERT INTO store (store_id, store_name, opened_on, floor_rent) VALUES (1, 'Downtown', '2015-04-01', 2500.50),
    (2, 'Harbor Mall', '2017-09-15', 3100), (3, 'Airport', '2019-06-01', 4200.75), (4, 'University', '2021-02-01', 1800);
CREATE TABLE customer (customer_id integer PRIMARY KEY, store_id smallint NOT NULL REFERENCES store(store_id),
    first_name varchar(45) NOT NULL, last_name varchar(45) NOT NULL, email varchar(60),
    activebool boolean NOT NULL DEFAULT true, create_date date NOT NULL, active integer, {_AUDIT});
INSERT INTO customer (customer_id, store_id, first_name, last_name, email, activebool, create_date, active)
SELECT g, 1 + g % 4,
    (ARRAY['Mary','Patricia','Linda','Barbara','Susan','James','Robert','John','Michael','David','Sarah'])[1 + g % 11],
    (ARRAY['Smith','Johnson','Williams','Brown','Jones','Miller','Garcia','Martinez','Lopez','Wilson',
           'Anderson','Thomas','Taylor'])[1 + (g * 11) % 13],
    'customer' || g || '@mail.example', g % 17 <> 0, date '2022-01-01' + (g * 3) % 700, (g % 17 <> 0)::int
FROM generate_series(1, 400) g;
CREATE TABLE inventory (inventory_id integer PRIMARY KEY, film_id integer NOT NULL REFERENCES film(film_id),
    store_id smallint NOT NULL REFERENCES store(store_id), {_AUDIT});
INSERT INTO inventory (inventory_id, film_id, store_id) SELECT g, 1 + (g * 7) % 290, 1 + g % 4
    FROM generate_series(1, 1200) g;
CREATE FUNCTION public.film_in_stock(p_film_id integer, p_store_id integer, OUT p_film_count integer)
  RETURNS SETOF integer LANGUAGE sql AS
  $$ SELECT inventory_id FROM inventory WHERE film_id = $1 AND store_id = $2 $$;
CREATE TABLE rental (rental_id integer PRIMARY KEY, rental_date timestamp with time zone NOT NULL,
    inventory_id integer NOT NULL REFERENCES inventory(inventory_id),
    customer_id integer NOT NULL REFERENCES customer(customer_id), return_date timestamp with time zone,
    {_AUDIT});
INSERT INTO rental (rental_id, rental_date, inventory_id, customer_id, return_date)
SELECT g, timestamptz '2023-01-01 10:00+00' + (g * 97 % 729) * interval '1 day' + (g % 9) * interval '1 hour',
    1 + (g * 31) % 1200, 1 + (g * 17) % 400,
    CASE WHEN g % 13 <> 0 THEN timestamptz '2023-01-01 10:00+00' + (g * 97 % 729 + 1 + g % 6) * interval '1 day' END
FROM generate_series(1, 4000) g;
CREATE TABLE payment (payment_id integer NOT NULL, customer_id integer NOT NULL,
    rental_id integer NOT NULL, amount numeric(5,2) NOT NULL, payment_date timestamp with time zone NOT NULL,
    PRIMARY KEY (payment_date, payment_id)) PARTITION BY RANGE (payment_date);
CREATE TABLE payment_p2023_h1 PARTITION OF payment FOR VALUES FROM ('2023-01-01') TO ('2023-07-01');
CREATE TABLE payment_p2023_h2 PARTITION OF payment FOR VALUES FROM ('2023-07-01') TO ('2024-01-01');
CREATE TABLE payment_p2024_h1 PARTITION OF payment FOR VALUES FROM ('2024-01-01') TO ('2024-07-01');
CREATE TABLE payment_p2024_h2 PARTITION OF payment FOR VALUES FROM ('2024-07-01') TO ('2025-01-01');
ALTER TABLE payment ADD FOREIGN KEY (customer_id) REFERENCES customer(customer_id);
ALTER TABLE payment ADD FOREIGN KEY (rental_id) REFERENCES rental(rental_id);
INSERT INTO payment (payment_id, customer_id, rental_id, amount, payment_date)
SELECT r.rental_id, r.customer_id, r.rental_id, (ARRAY[0.99, 2.99, 4.99, 5.99])[1 + r.rental_id % 4],
    r.rental_date + interval '5 minutes' FROM rental r;
CREATE VIEW film_list AS
SELECT f.film_id AS fid, f.title, c.name AS category, f.rental_rate AS price, f.length, f.rating,
       group_concat(a.first_name || ' ' || a.last_name) AS actors
FROM film f LEFT JOIN film_category fc ON fc.film_id = f.film_id LEFT JOIN category c ON c.category_id = fc.category_id
LEFT JOIN film_actor fa ON fa.film_id = f.film_id LEFT JOIN actor a ON a.actor_id = fa.actor_id
GROUP BY f.film_id, f.title, c.name, f.rental_rate, f.length, f.rating;

-- Northwind-like: bpchar keys, smallint keys, real prices and discounts
CREATE TABLE nw_customers (customer_id bpchar NOT NULL PRIMARY KEY, company_name varchar(40) NOT NULL,
    country varchar(15), city varchar(15));
INSERT INTO nw_customers SELECT upper(substr(md5(g::text), 1, 5)), 'Company ' || g,
    (ARRAY['Germany','Mexico','UK','Sweden','France','Spain'])[1 + g % 6], 'City ' || (g % 20)
    FROM generate_series(1, 60) g;
CREATE TABLE nw_products (product_id smallint NOT NULL PRIMARY KEY, product_name varchar(40) NOT NULL,
    category_id smallint REFERENCES category(category_id), unit_price real, units_in_stock smallint,
    discontinued integer NOT NULL);
INSERT INTO nw_products SELECT g, 'Product ' || g, 1 + g % 12, (5 + (g * 37) % 90)::real + 0.5, g * 3 % 120,
    (g % 9 = 0)::int FROM generate_series(1, 77) g;
CREATE TABLE nw_orders (order_id smallint NOT NULL PRIMARY KEY,
    customer_id bpchar REFERENCES nw_customers(customer_id), order_date date, shipped_date date, freight money,
    ship_country varchar(15));
INSERT INTO nw_orders SELECT g, (SELECT customer_id FROM nw_customers ORDER BY customer_id OFFSET g % 60 LIMIT 1),
    date '2023-01-01' + (g * 7) % 720, date '2023-01-03' + (g * 7) % 720, ((g * 13 % 300) / 3.0)::numeric::money,
    (ARRAY['Germany','Mexico','UK','Sweden'])[1 + g % 4] FROM generate_series(1, 800) g;
CREATE TABLE nw_order_details (order_id smallint NOT NULL REFERENCES nw_orders(order_id),
    product_id smallint NOT NULL REFERENCES nw_products(product_id), unit_price real NOT NULL,
    quantity smallint NOT NULL, discount real NOT NULL, PRIMARY KEY (order_id, product_id));
INSERT INTO nw_order_details SELECT o, 1 + (o * 7 + k * 11) % 77, (5 + (o * k) % 90)::real, 1 + (o + k) % 40,
    (ARRAY[0, 0.05, 0.1, 0.25])[1 + (o + k) % 4] FROM generate_series(1, 800) o, generate_series(1, 3) k;

-- Chinook-like: mixed-case quoted identifiers
CREATE TABLE "Genre" ("GenreId" integer PRIMARY KEY, "Name" varchar(120));
INSERT INTO "Genre" SELECT g, (ARRAY['Rock','Jazz','Metal','Blues','Latin','Pop'])[g] FROM generate_series(1, 6) g;
CREATE TABLE "Track" ("TrackId" integer PRIMARY KEY, "Name" varchar(200) NOT NULL,
    "GenreId" integer REFERENCES "Genre"("GenreId"), "Milliseconds" integer NOT NULL,
    "UnitPrice" numeric(10,2) NOT NULL);
INSERT INTO "Track" SELECT g, 'Track ' || g, 1 + g % 6, 120000 + (g * 7919) % 300000,
    (ARRAY[0.99, 1.99])[1 + g % 2] FROM generate_series(1, 500) g;

-- keyword-named columns in a non-public schema
CREATE SCHEMA hr;
CREATE DOMAIN public."Name" AS varchar(50);   -- AdventureWorks-like mixed-case domains
CREATE TABLE hr.department (department_id integer PRIMARY KEY, name "Name" NOT NULL);
INSERT INTO hr.department VALUES (1, 'Sales'), (2, 'Finance'), (3, 'Operations'), (4, 'Research');
CREATE TABLE hr.event (event_id integer PRIMARY KEY, department_id integer NOT NULL
    REFERENCES hr.department(department_id), name varchar(60) NOT NULL, date date NOT NULL,
    position varchar(20), year integer, first boolean NOT NULL, range varchar(10), value numeric(12,3));
INSERT INTO hr.event SELECT g, 1 + g % 4, 'Event ' || g, date '2023-01-01' + (g * 5) % 700,
    (ARRAY['lead','member','guest'])[1 + g % 3], 2023 + g % 2, g % 5 = 0,
    (ARRAY['low','mid','high'])[1 + g % 3], (g * 17 % 1000) / 7.0 FROM generate_series(1, 600) g;
-- tables and columns named by reserved words (unquoted they are syntax errors)
CREATE TABLE "user" (user_id integer PRIMARY KEY, "name" varchar(40) NOT NULL, "group" varchar(10) NOT NULL);
INSERT INTO "user" SELECT g, 'User ' || g, (ARRAY['admin','staff','guest'])[1 + g % 3] FROM generate_series(1, 50) g;
CREATE TABLE "order" (order_id integer PRIMARY KEY, user_id integer NOT NULL REFERENCES "user"(user_id),
    "limit" numeric(8,2), total numeric(10,2) NOT NULL, created_at timestamp NOT NULL);
INSERT INTO "order" SELECT g, 1 + g % 50, 100 + g % 7, 5 + (g * 37) % 400, timestamp '2023-01-01' + g * interval '7 hours'
    FROM generate_series(1, 3000) g;
ANALYZE;
"""

TABLES = ["language", "category", "actor", "film", "film_actor", "film_category", "store", "customer", "inventory",
          "rental", "payment", "film_list", "nw_customers", "nw_products", "nw_orders", "nw_order_details",
          '"Genre"', '"Track"', "hr.department", "hr.event", '"user"', '"order"']


def create(admin_url: str, database: str = NAME) -> str:
    """(Re)create the quirks database; the URL of a SELECT-only login role on it."""
    return create_business_db(admin_url, database, QUIRKS_SQL)
