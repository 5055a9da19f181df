"""The catalog check in a database with a PostGIS-like extension (issue: catalog_check must not refuse ordinary
SQL there, and must refuse SQL that really resolves to the extension's objects).

PostGIS puts its type `geometry` in `public` with implicit casts into it (text -> geometry, bytea -> geometry) and
operators on it (`=`, `<`, `&&`, a btree operator class). The fixture does the same with pgvector's `vector`
(its `=`, `<`, `<>` and btree/ivfflat operator classes live in public) and two implicit casts added by the
database, text -> vector and bytea -> vector, each implemented by a function that raises EXT_RAN. PostgreSQL picks
an operator by its operands' types: `name = 'a'`, `name < other_name`, ORDER BY name resolve to pg_catalog's text
operators (an exact match always wins), so the casts never fire; `name = payload` (text against bytea) has no
built-in operator and resolves to `public.=(vector, vector)` through both casts — the function would run.
"""
from __future__ import annotations

import psycopg2
import pytest

from data_pipeline.validation.check import SqlChecker
from tests.business_roles import reader_url
from tests.ddl_fixture_db import admin_url, recreate, run_sql

DB = "guard_extension_casts"
RAN = "EXT_RAN"
SCHEMA = f"""
CREATE EXTENSION IF NOT EXISTS vector SCHEMA public;
CREATE FUNCTION public.text_to_vector(text) RETURNS vector LANGUAGE plpgsql IMMUTABLE AS
  $$BEGIN RAISE EXCEPTION '{RAN}'; END$$;
CREATE FUNCTION public.bytea_to_vector(bytea) RETURNS vector LANGUAGE plpgsql IMMUTABLE AS
  $$BEGIN RAISE EXCEPTION '{RAN}'; END$$;
CREATE CAST (text AS vector) WITH FUNCTION public.text_to_vector(text) AS IMPLICIT;
CREATE CAST (bytea AS vector) WITH FUNCTION public.bytea_to_vector(bytea) AS IMPLICIT;
CREATE TABLE public.place (id int PRIMARY KEY, name text NOT NULL, other_name text, payload bytea,
                           kind varchar(10), area numeric(10, 2), opened date);
INSERT INTO public.place VALUES (1, 'a', 'b', '\\x01', 'x', 1.5, '2024-01-01'), (2, 'b', 'b', '\\x02', 'y', 2.5,
                                 '2024-02-01');
"""

# ordinary SQL: every operator resolves into pg_catalog (checked below on the server itself)
ORDINARY = [
    "SELECT id FROM place WHERE name = 'a'",
    "SELECT id FROM place WHERE name = other_name",
    "SELECT id FROM place WHERE name <> 'a' AND kind = 'y' ORDER BY name",
    "SELECT name, count(*) FROM place GROUP BY name ORDER BY name",
    "SELECT DISTINCT name FROM place WHERE name IN ('a', 'b')",
    "SELECT id FROM place WHERE name LIKE 'a%' AND area > 1 AND opened < DATE '2024-06-01'",
    "SELECT CASE name WHEN 'a' THEN 1 ELSE 2 END FROM place",
    "SELECT upper(name) || '!' FROM place WHERE area > 1 AND kind LIKE 'x%'",
    "SELECT upper(name) FROM place WHERE payload = '\\x01'::bytea",     # reads text and bytea, compares bytea
    "SELECT * FROM place WHERE id = 1",
    "SELECT p.kind, avg(p.area), sum(area) FROM place p GROUP BY p.kind",   # pgvector's avg/sum(vector) in public
]
# these really resolve to the extension's operator through the database's implicit casts
RESOLVE_TO_USER = [
    ("SELECT id FROM place WHERE name = payload", "operator = is defined in schema public"),
    ("SELECT id FROM place p WHERE p.payload < p.other_name", "operator < is defined in schema public"),
    ("SELECT id FROM place WHERE name IN (payload, 'a')", "operator = is defined in schema public"),
    ("SELECT avg(name) FROM place", "function avg is defined in schema public"),
    ("SELECT CASE name WHEN payload THEN 1 END FROM place", "is defined in schema public"),
]
# Where the tree does not pair the operands up (CASE x WHEN y, JOIN USING, x = ANY (subquery)) the check falls back
# to the types the statement can produce: reading a text and a bytea column is then refused even when they are not
# compared (a known, safe imprecision)
CONSERVATIVE = ["SELECT CASE name WHEN 'a' THEN 1 END FROM place WHERE payload = '\\x01'::bytea"]


@pytest.fixture(scope="module")
def ext_url(app_ctx):
    url = recreate(admin_url(app_ctx), DB)
    run_sql(url, SCHEMA)
    return reader_url(url)


@pytest.fixture()
def guard_settings(settings):
    return settings.model_copy(update={"statement_timeout_ms": 5000, "validation_concurrency": 1})


def _runs_user_code(url: str, sql: str) -> bool:
    """Ground truth from PostgreSQL itself (only in this test, on the fixture we own): does the statement run
    one of the database's cast functions?"""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("BEGIN READ ONLY")
            cur.execute(sql)
            cur.fetchall()
        return False
    except psycopg2.Error as exc:
        return RAN in str(exc)
    finally:
        conn.rollback()
        conn.close()


def _judged(url: str, settings, sql: str):
    """(does PostgreSQL itself run user code for `sql`, the checker's result for it)."""
    with SqlChecker.from_settings(url, settings) as checker:
        return _runs_user_code(url, sql), checker.check(sql)


@pytest.mark.parametrize("sql", ORDINARY)
def test_ordinary_sql_resolving_to_pg_catalog_is_accepted(ext_url, guard_settings, sql):
    ran, result = _judged(ext_url, guard_settings, sql)
    assert not ran
    assert result.status == "valid", result.error


@pytest.mark.parametrize("sql,named", RESOLVE_TO_USER)
def test_sql_that_resolves_to_the_extension_operator_is_refused(ext_url, guard_settings, sql, named):
    ran, result = _judged(ext_url, guard_settings, sql)
    assert ran  # PostgreSQL really goes through the user cast
    assert result.status == "rejected" and named in result.error, result.error
    assert RAN not in result.error


@pytest.mark.parametrize("sql", CONSERVATIVE)
def test_reading_two_types_that_cast_into_the_extension_type_is_refused(ext_url, guard_settings, sql):
    ran, result = _judged(ext_url, guard_settings, sql)
    assert not ran
    assert result.status == "rejected" and "is defined in schema public" in result.error, result.error


def test_a_big_integer_literal_is_typed_as_postgresql_types_it(app_ctx, guard_settings):
    """9999999999 reaches the parse tree as a float's text; PostgreSQL reads it as int8. With implicit casts
    text -> evil and int8 -> evil and an operator = (evil, evil), `name = 9999999999` resolves to that operator
    (no built-in text = int8): refused, not typed as numeric and waved through."""
    url = recreate(admin_url(app_ctx), "guard_big_literal")
    run_sql(url, f"""CREATE TYPE public.evil AS ENUM ('x');
        CREATE FUNCTION public.text_evil(text) RETURNS evil LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION '{RAN}'; END$$;
        CREATE FUNCTION public.int8_evil(int8) RETURNS evil LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION '{RAN}'; END$$;
        CREATE FUNCTION public.evil_eq(evil, evil) RETURNS bool LANGUAGE plpgsql AS
          $$BEGIN RAISE EXCEPTION '{RAN}'; END$$;
        CREATE CAST (text AS evil) WITH FUNCTION public.text_evil(text) AS IMPLICIT;
        CREATE CAST (int8 AS evil) WITH FUNCTION public.int8_evil(int8) AS IMPLICIT;
        CREATE OPERATOR public.= (LEFTARG = evil, RIGHTARG = evil, FUNCTION = public.evil_eq);
        CREATE TABLE public.t (id int, name text); INSERT INTO public.t VALUES (1, 'a');""")
    url = reader_url(url)
    sql = "SELECT id FROM t WHERE name = 9999999999"
    assert _runs_user_code(url, sql)
    with SqlChecker.from_settings(url, guard_settings) as checker:
        refused, plain = checker.check(sql), checker.check("SELECT id FROM t WHERE name = 'a' AND id = 9999999999")
    assert refused.status == "rejected" and "operator = is defined in schema public" in refused.error
    assert plain.status in ("valid", "empty"), plain.error


# Which user types a statement can reach (catalog_check._Reachable) and which user casts it can fire, against
# PostgreSQL's own choice. Every function below raises RAN: refused SQL would run one, accepted SQL runs none.
REACH_DB = "guard_reachability"
REACH_SCHEMA = "\n".join([
    "CREATE TYPE public.tier AS ENUM ('top');",       # made before mood: reached through mood[] on a second pass
    "CREATE TYPE public.mood AS ENUM ('happy', 'sad');",
    # a base type of the string category, as citext (an unknown literal can become it)
    "CREATE TYPE public.str;",
    "CREATE FUNCTION public.str_in(cstring) RETURNS public.str LANGUAGE internal IMMUTABLE STRICT AS 'textin';",
    "CREATE FUNCTION public.str_out(public.str) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'textout';",
    "CREATE TYPE public.str (INPUT = public.str_in, OUTPUT = public.str_out, LIKE = pg_catalog.text, "
    "CATEGORY = 'S');",
    "CREATE TYPE public.grade AS ENUM ('a');",
    "CREATE TYPE public.hue AS ENUM ('red');",
    "CREATE DOMAIN public.small AS int;",
    "CREATE DOMAIN public.mood_d AS public.mood;",
    "CREATE DOMAIN public.moods AS public.mood[];",   # category A, no element
    "CREATE TABLE public.m (id int, name text, feeling mood, shade hue);",
    "INSERT INTO public.m VALUES (1, 'a', 'happy', 'red');",
    *(f"CREATE FUNCTION public.{name}({args}) RETURNS {ret} LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION '{RAN}'; "
      f"END$$;" for name, args, ret in [
          ("length", "small", "int"), ("int_grade", "int", "grade"), ("initcap", "grade", "text"),
          ("cardinality", "mood[]", "int"), ("cardinality", "moods", "int"),
          ("hues_text", "hue[]", "text"), ("bytea_int", "bytea", "int"),
          ("md5", "mood_d", "text"), ("strpos", "text, mood", "int"), ("reverse", "anyelement", "text"),
          ("mood_plus", "mood, int", "int"), ("plus_mood", "int, mood", "int"),
          ("abs", "str", "int"), ("mood_tier", "mood[]", "tier"), ("sign", "tier", "int"),
          ("ints_text", "int[]", "text"), ("floor", "grade", "int"), ("bigint_hue", "bigint", "hue")]),
    "CREATE CAST (int AS grade) WITH FUNCTION public.int_grade(int) AS IMPLICIT;",
    "CREATE CAST (hue[] AS text) WITH FUNCTION public.hues_text(hue[]) AS IMPLICIT;",
    "CREATE CAST (bytea AS int) WITH FUNCTION public.bytea_int(bytea);",
    "CREATE CAST (mood[] AS tier) WITH FUNCTION public.mood_tier(mood[]) AS IMPLICIT;",
    "CREATE CAST (int[] AS text) WITH FUNCTION public.ints_text(int[]);",
    "CREATE CAST (bigint AS hue) WITH FUNCTION public.bigint_hue(bigint) AS IMPLICIT;",
    "CREATE OPERATOR public.+ (LEFTARG = mood, RIGHTARG = int, FUNCTION = public.mood_plus);",
    "CREATE OPERATOR public.+ (LEFTARG = int, RIGHTARG = mood, FUNCTION = public.plus_mood);",
])
# (SQL, what the refusal names): PostgreSQL runs the user function in each
REACHED = [
    ("SELECT length(1)", "function length is defined in schema public"),     # a domain over a literal's type
    ("SELECT initcap(1)", "function initcap is defined in schema public"),   # an implicit cast from a literal
    ("SELECT cardinality(array_agg(feeling)) FROM m", "function cardinality"),   # an array of a type read
    ("SELECT sign(array_agg(feeling)) FROM m", "function sign is defined"),   # implicit cast from that array
    ("SELECT abs('x')", "function abs is defined in schema public"),         # the literal becomes a str
    ("SELECT upper(array_agg(shade)) FROM m", "the cast from hue[] to text runs function public.hues_text"),
    # a cast from a type the statement does not read: written, or what a built-in function returns
    ("SELECT '\\x01'::bytea::int", "the cast from bytea to integer runs function public.bytea_int"),
    ("SELECT decode('01', 'hex')::int", "the cast from bytea to integer runs function public.bytea_int"),
    # int[] -> text (or hue[] -> text, found first): a user cast ending at a type the statement names
    ("SELECT ARRAY[1]::text", "to text runs function public."),
    ("SELECT s.reverse FROM (SELECT 1 AS a) s", "function reverse is defined in schema public"),  # no column
]
# ... and none here: an argument the statement cannot have leaves the user function or operator out
NOT_REACHED = ["SELECT md5(name) FROM m",                 # md5(mood_d): a domain over a type not read
               "SELECT cardinality(ARRAY[id]) FROM m",     # (mood[]) and (moods): arrays of a type not read
               "SELECT strpos(name, 'a') FROM m",        # strpos(text, mood): one argument reachable is not enough
               "SELECT abs(id) FROM m",                   # abs(str): no string literal
               "SELECT abs(id), feeling FROM m",          # nor a cast into str (mood[] -> tier is no such cast)
               "SELECT floor(id::bigint) FROM m",         # floor(grade): bigint casts into hue, not into grade
               "SELECT id + 1 FROM m", "SELECT 1 + id FROM m"]   # + (mood, int) and + (int, mood)


@pytest.fixture(scope="module")
def reach_url(app_ctx):
    url = recreate(admin_url(app_ctx), REACH_DB)
    run_sql(url, REACH_SCHEMA)
    return reader_url(url)


@pytest.mark.parametrize("sql,named", REACHED)
def test_user_objects_a_statement_reaches_are_refused(reach_url, guard_settings, sql, named):
    ran, result = _judged(reach_url, guard_settings, sql)
    assert ran
    assert result.status == "rejected" and named in result.error, result.error


@pytest.mark.parametrize("sql", NOT_REACHED)
def test_user_objects_a_statement_cannot_reach_are_left_alone(reach_url, guard_settings, sql):
    ran, result = _judged(reach_url, guard_settings, sql)
    assert not ran
    assert result.status == "valid", result.error
