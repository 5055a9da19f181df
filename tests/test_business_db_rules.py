"""core/business_db.py rule by rule (issue 27: the mutation run's survivors in the business-database vetting).

First without a server: where a URL leads (`_endpoints`: socket directories, abstract sockets, the default
socket, loopback and this machine's addresses folded to one local server, unresolvable names by spelling), our
own database refused in its TCP spellings before connecting, the operator URL's timeout. Then on the embedded
server: the operator's (trusted) URL gets our read-only options, application name and a shortened timeout;
a failed operator connect is one DatabaseConnectionError; a trusted URL may be our database, a client's may not
(also when several databases are ours); a catalog that hides pg_roles is refused with a reason, not a crash; a
search_path that puts a fake `pg_roles` first cannot hide a superuser (it did: the role check read names through
the database's own path).
"""
from __future__ import annotations

import os

import psycopg2
import pytest

from core import business_db, client_db
from core.db import with_database
from core.errors import DatabaseConnectionError
from tests.business_roles import reader_url, with_user
from tests.probe_servers import closed_port
from tests.ddl_fixture_db import admin_url, run_sql, scratch_db

PORT = "5999"


# ------------------------------------------------------------------------------------------ where a URL leads
def test_endpoints_of_sockets():
    assert business_db._endpoints({"host": "/tmp", "port": PORT}) == {
        ("socket", os.path.realpath("/tmp"), PORT), ("local", PORT)}
    assert business_db._endpoints({"host": "@pg", "port": PORT}) == {
        ("socket", os.path.realpath("@pg"), PORT), ("local", PORT)}          # an abstract socket is local too
    assert business_db._endpoints({}) == {("socket", os.path.realpath("/var/run/postgresql"), "5432"),
                                          ("local", "5432")}


def test_endpoints_of_tcp_hosts(monkeypatch):
    monkeypatch.setattr(business_db, "_resolve", lambda host: {"db.example": {"192.0.2.7"},
                                                               "localhost": {"127.0.0.1"}}.get(host, set()))
    monkeypatch.setattr(business_db, "_local_addresses", lambda: {"127.0.0.1", "::1", "0.0.0.0", "::",
                                                                  "198.51.100.4"})
    assert business_db._endpoints({"host": "db.example", "port": PORT}) == {("tcp", "192.0.2.7", PORT)}
    for local in ("localhost", "127.0.0.2", "0.0.0.0", "198.51.100.4"):   # loopback, any-address, our own address
        assert business_db._endpoints({"host": local, "port": PORT}) == {("local", PORT)}, local
    assert business_db._endpoints({"host": "Db.Internal", "port": PORT}) == {("tcp", "db.internal", PORT)}
    assert business_db._endpoints({"host": "localhost,/tmp", "port": PORT}) == {
        ("local", PORT), ("socket", os.path.realpath("/tmp"), PORT)}


@pytest.fixture()
def ours(monkeypatch):
    """Our database registered on a socket directory and on an unresolvable name (no server needed)."""
    monkeypatch.setattr(business_db, "_protected", [])
    monkeypatch.setattr(business_db, "_trusted_urls", set())
    business_db.protect(f"postgresql://postgres@/data_pipeline?host=/tmp/ours_27&port={PORT}")
    business_db.protect(f"postgresql://postgres@meta.invalid:{PORT}/data_pipeline")


def test_our_database_is_refused_in_its_tcp_spellings(ours):
    for url in (f"postgresql://u@localhost:{PORT}/data_pipeline", f"postgresql://u@127.0.0.2:{PORT}/data_pipeline",
                f"postgresql://u@0.0.0.0:{PORT}/data_pipeline", f"postgresql://u@META.invalid:{PORT}/data_pipeline",
                f"postgresql://u@/data_pipeline?host=@/tmp/x&port={PORT}"):
        with pytest.raises(business_db.BusinessUrlRefused, match="own metadata database"):
            business_db.vet_url(url)
    for url in (f"postgresql://u@localhost:{PORT}/sales", f"postgresql://u@localhost:5998/data_pipeline",
                f"postgresql://u@other.invalid:{PORT}/data_pipeline"):
        assert business_db.vet_url(url)["user"] == "u", url


def test_a_trusted_url_skips_the_url_checks(ours):
    url = f"postgresql://u@localhost:{PORT}/data_pipeline?passfile=/x"
    with pytest.raises(business_db.BusinessUrlRefused):
        business_db.vet_url(url)
    business_db.trust(url)
    assert business_db.vet_url(url, _Hosts("10.0.0.0/8"))["passfile"] == "/x"


class _Hosts:
    def __init__(self, allowed: str):
        self.business_db_allowed_hosts = allowed


def test_the_allowed_hosts_setting_applies(ours):
    with pytest.raises(business_db.BusinessUrlRefused, match="BUSINESS_DB_ALLOWED_HOSTS"):
        business_db.vet_url("postgresql://u@192.0.2.1/x", _Hosts("10.0.0.0/8"))
    assert business_db.vet_url("postgresql://u@10.1.1.1/x", _Hosts("10.0.0.0/8"))["hostaddr"] == "10.1.1.1"


def test_the_operator_urls_connect_timeout():
    timeout = business_db._connect_timeout
    assert timeout({}) == 10 and timeout({"connect_timeout": "3"}) == 3 and timeout({"connect_timeout": "30"}) == 10
    assert timeout({"connect_timeout": "1"}) == 2 and timeout({"connect_timeout": "x"}) == 10


# ------------------------------------------------------------------------------------------ on the server
def _show(conn, setting: str) -> str:
    with conn.cursor() as cur:
        cur.execute(f"SHOW {setting}")
        return cur.fetchone()[0]


def test_the_operators_url_gets_our_session_settings(business_url, app_ctx):
    assert business_url in business_db._trusted_urls
    conn = business_db.connect_business(business_url, statement_timeout_ms=4000, lock_timeout_ms=300,
                                        application_name="dp_rules_27", connect_timeout_s=3,
                                        settings=app_ctx.settings)
    try:
        assert _show(conn, "statement_timeout") == "4s" and _show(conn, "lock_timeout") == "300ms"
        assert _show(conn, "application_name") == "dp_rules_27"
        assert conn.get_dsn_parameters()["connect_timeout"] == "3"
    finally:
        conn.close()
    with business_db.business_readonly(business_url, statement_timeout_ms=4000, lock_timeout_ms=300,
                                       connect_timeout_s=4) as conn:
        assert conn.get_dsn_parameters()["connect_timeout"] == "4"


def test_a_clients_url_gets_our_session_settings(business_url, app_ctx):
    conn = business_db.connect_business(business_url + "&connect_timeout=5", statement_timeout_ms=4000,
                                        lock_timeout_ms=300, settings=app_ctx.settings)
    try:
        assert _show(conn, "statement_timeout") == "4s" and _show(conn, "lock_timeout") == "300ms"
        assert conn.get_dsn_parameters()["passfile"] == client_db.NO_FILE
    finally:
        conn.close()


def test_business_readonly_passes_the_settings_on(business_url, app_ctx):
    strict = app_ctx.settings.model_copy(update={"business_db_allowed_hosts": "10.0.0.0/8"})
    with pytest.raises(business_db.BusinessUrlRefused, match="BUSINESS_DB_ALLOWED_HOSTS"):
        with business_db.business_readonly(business_url + "&connect_timeout=5", statement_timeout_ms=1000,
                                           lock_timeout_ms=100, settings=strict):
            pass


def test_a_failed_operator_connect_is_a_connection_error(monkeypatch):
    url = f"postgresql://u@127.0.0.1:{closed_port()}/x"
    monkeypatch.setattr(business_db, "_trusted_urls", {url})
    with pytest.raises(DatabaseConnectionError, match="cannot connect to the business database"):
        business_db.connect_business(url, statement_timeout_ms=1000, lock_timeout_ms=100)


def test_a_trusted_connection_may_be_our_database_a_clients_may_not(app_ctx):
    conn = psycopg2.connect(with_user(app_ctx.runtime.meta_url, "highway_reader"))
    try:
        business_db.vet_connection(conn, app_ctx.settings, trusted=True)      # the operator configured it
        with pytest.raises(business_db.BusinessUrlRefused, match="own metadata database"):
            business_db.vet_connection(conn, app_ctx.settings)
    finally:
        conn.close()


def test_any_of_our_databases_is_refused(app_ctx, monkeypatch):
    """With two databases of ours registered, a connection to either one is refused (any, not all)."""
    second = business_db._Protected(with_database(app_ctx.runtime.meta_url, "postgres"), "postgres", frozenset())
    monkeypatch.setattr(business_db, "_protected", list(business_db._protected) + [second])
    conn = psycopg2.connect(with_user(app_ctx.runtime.meta_url, "highway_reader"))
    try:
        with pytest.raises(business_db.BusinessUrlRefused, match="own metadata database"):
            business_db.vet_connection(conn, app_ctx.settings)
    finally:
        conn.close()


def test_a_catalog_that_hides_pg_roles_is_refused_with_a_reason(app_ctx):
    with scratch_db(admin_url(app_ctx), "hidden_roles_27") as url:
        run_sql(url, "REVOKE SELECT ON pg_catalog.pg_roles FROM PUBLIC")
        reader = reader_url(url)
        conn = psycopg2.connect(reader)
        try:
            with pytest.raises(DatabaseConnectionError, match="cannot check the business database role: .*pg_roles"):
                business_db.vet_connection(conn, app_ctx.settings)
        finally:
            conn.close()


def test_a_search_path_cannot_hide_a_superuser(app_ctx):
    """A database (or role) whose search_path puts its own schema before pg_catalog, with a `pg_roles` there that
    shows no superuser and no server-file role: the role check reads the real catalog."""
    with scratch_db(admin_url(app_ctx), "shadowed_roles_27") as url:
        run_sql(url, "CREATE SCHEMA evil; CREATE VIEW evil.pg_roles AS SELECT rolname, false AS rolsuper, oid "
                     "FROM pg_catalog.pg_roles WHERE rolname NOT LIKE 'pg\\_%'; "
                     "ALTER DATABASE shadowed_roles_27 SET search_path = evil, pg_catalog")
        with pytest.raises(business_db.RoleTooPrivileged, match="'postgres' is a superuser"):
            business_db.connect_business(url + "?connect_timeout=5" if "?" not in url else url + "&connect_timeout=5",
                                         statement_timeout_ms=1000, lock_timeout_ms=100, settings=app_ctx.settings)


def test_an_unreadable_identity_is_not_taken_for_ours(app_ctx, monkeypatch):
    """A server that does not tell its identity (pg_control_system not executable) is compared by nothing: not
    refused as ours, even when our own identity cannot be read at that moment either; the role check still runs."""
    unreadable = business_db._Protected(f"postgresql://postgres@127.0.0.1:{closed_port()}/data_pipeline",
                                        "data_pipeline", frozenset())
    monkeypatch.setattr(business_db, "_protected", [unreadable])
    with scratch_db(admin_url(app_ctx), "no_identity_27") as url:
        run_sql(url, "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_control_system() FROM PUBLIC")
        conn = psycopg2.connect(reader_url(url))
        try:
            with pytest.raises(psycopg2.Error):
                client_db.server_identity(conn)
            conn.rollback()
            business_db.vet_connection(conn, app_ctx.settings)      # neither ours nor privileged: accepted
        finally:
            conn.close()


def test_the_operator_may_configure_our_database_as_the_business_one(app_ctx, monkeypatch):
    """connect_business passes the trust on: the operator's URL is not refused as ours (a client's is)."""
    url = with_user(app_ctx.runtime.meta_url, "highway_reader")
    monkeypatch.setattr(business_db, "_trusted_urls", {url})
    conn = business_db.connect_business(url, statement_timeout_ms=1000, lock_timeout_ms=100, settings=app_ctx.settings)
    conn.close()
