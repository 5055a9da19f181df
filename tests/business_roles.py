"""SELECT-only login roles for test business databases (a superuser URL is refused: DATABASE_ROLE_TOO_PRIVILEGED).

    from tests.business_roles import reader_url
    url = reader_url(admin_url_of_the_fixture_db)        # same server and database, as role `<db>_reader`

The role gets CONNECT on the database, USAGE on every non-system schema and SELECT on every table, view and
sequence in them (what the README tells operators to grant). Call it again after creating more objects.
"""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

from core.db import database_name


def reader_url(admin_url: str, role: str = "") -> str:
    """Create (or refresh) a SELECT-only LOGIN role for the database of `admin_url`; return its URL (no password:
    the embedded server trusts local sockets)."""
    database = database_name(admin_url)
    role = role or f"{database}_reader"[:63]
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database),
                                                                             sql.Identifier(role)))
            cur.execute("SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                        "AND nspname <> 'information_schema'")
            for (schema,) in cur.fetchall():
                cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {0} TO {1}; GRANT SELECT ON ALL TABLES IN SCHEMA {0} "
                                    "TO {1}; GRANT SELECT ON ALL SEQUENCES IN SCHEMA {0} TO {1}").format(
                    sql.Identifier(schema), sql.Identifier(role)))
    finally:
        conn.close()
    return with_user(admin_url, role)


def with_user(url: str, user: str, password: str = "") -> str:
    """The same URL with another user (and password)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    auth = f"{user}:{password}@" if password else f"{user}@"
    return urlunsplit((parts.scheme, auth + host, parts.path, parts.query, parts.fragment))
