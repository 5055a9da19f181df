"""Issue 23, points 1 and 5 (and issue 27's survivors in core/business_db.py): every server a client names -
business database or vector store - is vetted the same way (core/client_db.py).

- none of this service's PG* environment (PGPASSFILE, PGPASSWORD, PGUSER, PGSSLKEY, ...) applies to a client URL;
  PGSERVICE refuses the connection (and the start);
- allowed hosts: every address of a name must be allowed; vector URLs get VECTOR_DB_ALLOWED_HOSTS (else the
  business list);
- every failed connect answers one sentence, no sooner than the failure floor (closed port, open port of another
  protocol, a server that refuses the role): no libpq text reaches the client;
- our own database is refused before connecting, in each spelling;
- the vector endpoints share the database tools' concurrency cap (429).
Timing equality is measured in bench/bench_connect_timing.py, not asserted here.
"""
from __future__ import annotations

import threading
import time

import psycopg2
import psycopg2.extensions
import pytest

from app_config import ConfigError, load_settings
from citu_app import create_app
from core import business_db, client_db
from core.errors import DatabaseConnectionError
from data_pipeline.vectors import target as vector_target
from tests.executor_support import BASE, wait_for
from tests.probe_servers import BannerServer, SilentServer, closed_port
from tests.test_security import own_database_spellings, socket_dir
from tests.vector_fixtures import create_database

DB_API = "/api/v0/database"
VECTOR_API = "/api/v0/data_pipeline/vector"
SECRET = "svc-secret-3f9a"


def _hostile(monkeypatch, tmp_path) -> dict:
    """This service's own libpq environment, as an operator might have it: none of it may reach a client URL."""
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"*:*:*:*:{SECRET}-pgpass\n")
    pgpass.chmod(0o600)
    env = {"PGPASSFILE": str(pgpass), "PGPASSWORD": f"{SECRET}-env", "PGUSER": "postgres",
           "PGDATABASE": "data_pipeline", "PGOPTIONS": "-c search_path=evil", "PGAPPNAME": "evil",
           "PGSSLCERT": str(tmp_path / "service.crt"), "PGSSLKEY": str(tmp_path / "service.key"),
           "PGREQUIREPEER": "nobody", "PGTARGETSESSIONATTRS": "read-write", "PGGSSENCMODE": "require",
           "PGSSLMODE": "require", "PGCONNECT_TIMEOUT": "60", "PGCLIENTENCODING": "LATIN1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture()
def hostile_environment(monkeypatch, tmp_path):
    return _hostile(monkeypatch, tmp_path)


def _client_url(business_url: str) -> str:
    """The demo business database spelled by a client (the operator's exact URL is trusted)."""
    return business_url + "&connect_timeout=5"


def test_client_urls_never_use_this_services_environment(hostile_environment, business_url, app_ctx):
    conn = business_db.connect_business(_client_url(business_url), statement_timeout_ms=1000, lock_timeout_ms=100,
                                        settings=app_ctx.settings)
    try:
        used = conn.get_dsn_parameters()
        assert conn.info.password in (None, "") and SECRET not in str(used)      # no pgpass, no PGPASSWORD
        assert conn.info.user == "highway_reader" and conn.info.dbname == "highway_db"
        assert used["passfile"] == client_db.NO_FILE and used["sslkey"] == client_db.NO_FILE
        assert used["target_session_attrs"] == "any" and "evil" not in str(used)
        with conn.cursor() as cur:
            cur.execute("SHOW search_path")
            assert "evil" not in cur.fetchone()[0]
    finally:
        conn.close()


def test_a_client_url_without_a_user_does_not_borrow_pguser(monkeypatch, tmp_path, app_ctx):
    """PGUSER=postgres would make it our superuser (refused as too privileged); isolated it is the OS user, which
    the server does not know: one sentence."""
    store = create_database(app_ctx, "dp_vectors_env23")
    _hostile(monkeypatch, tmp_path)
    url = f"postgresql:///highway_db?host={socket_dir(app_ctx)}"
    with pytest.raises(DatabaseConnectionError) as raised:
        business_db.connect_business(url, statement_timeout_ms=1000, lock_timeout_ms=100, settings=app_ctx.settings)
    assert raised.value.details.endswith(client_db.UNREACHABLE)
    no_user = f"postgresql:///dp_vectors_env23?host={socket_dir(app_ctx)}"
    target = vector_target.resolve(app_ctx.settings, app_ctx.runtime.meta_url, no_user)
    with pytest.raises(DatabaseConnectionError):
        with vector_target.open_store(target, app_ctx.db):
            pass
    assert store   # the same store with its user named works
    with vector_target.open_store(vector_target.resolve(app_ctx.settings, app_ctx.runtime.meta_url, store),
                                  app_ctx.db) as db:
        assert db.fetchone("SELECT current_user AS u")["u"] == "postgres"


def test_pgservice_refuses_client_connections_and_the_start(monkeypatch, tmp_path, business_url, app_ctx):
    services = tmp_path / "pg_service.conf"
    services.write_text(f"[ours]\nuser=postgres\npassword={SECRET}\n")
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    monkeypatch.setenv("PGSERVICE", "ours")
    with pytest.raises(DatabaseConnectionError) as raised:
        business_db.connect_business(_client_url(business_url), statement_timeout_ms=1000, lock_timeout_ms=100,
                                     settings=app_ctx.settings)
    assert raised.value.details.endswith(client_db.UNREACHABLE)
    with pytest.raises(ConfigError, match="PGSERVICE"):
        load_settings({}, environ={"PGSERVICE": "ours"})


# ----------------------------------------------------------------------------------------------- allowed hosts
def test_a_name_is_allowed_only_when_every_address_is(monkeypatch):
    """A name resolving to one allowed and one foreign address is refused (all, not any)."""
    monkeypatch.setattr(client_db, "resolve", lambda host: {"127.0.0.1", "203.0.113.9"})
    with pytest.raises(client_db.ClientUrlRefused, match="not in BUSINESS_DB_ALLOWED_HOSTS"):
        client_db.vet("postgresql://u@db.example/x", "db_connection", "127.0.0.0/8")
    params = client_db.vet("postgresql://u@db.example/x", "db_connection", "127.0.0.0/8, 203.0.113.0/24")
    assert params["hostaddr"] == "127.0.0.1"
    with pytest.raises(client_db.ClientUrlRefused, match="VECTOR_DB_ALLOWED_HOSTS"):
        client_db.vet("postgresql://u@db.example/x", "vector_db_connection", "127.0.0.0/8",
                      "VECTOR_DB_ALLOWED_HOSTS")


def test_vector_urls_are_held_to_the_allowed_hosts(settings, clean_db):
    probe = "postgresql://u:pw@127.0.0.1:1/x"
    for update, named in (({"vector_db_allowed_hosts": "10.0.0.0/8"}, "VECTOR_DB_ALLOWED_HOSTS"),
                          ({"business_db_allowed_hosts": "10.0.0.0/8"}, "BUSINESS_DB_ALLOWED_HOSTS")):
        c = create_app(settings=settings.model_copy(update=update)).test_client()
        for path, body in (("search", {"vector_db_connection": probe, "question": "q"}),
                           ("backup", {"vector_db_connection": probe})):
            answer = c.post(f"{VECTOR_API}/{path}", json=body).get_json()
            assert answer["code"] == 400 and named in answer["error"]["details"], answer
            assert answer["error"]["invalid_params"] == ["vector_db_connection"]
        created = c.post(BASE, json={"vector_db_connection": probe}).get_json()
        assert created["code"] == 400 and named in created["error"]["details"], created
    answer = create_app(settings=settings).test_client().post(
        f"{VECTOR_API}/search", json={"vector_db_connection": probe + "?passfile=/etc/passwd", "question": "q"})
    assert answer.status_code == 400 and "may not set passfile" in answer.get_json()["error"]["details"]


# ------------------------------------------------------------------------------------ one sentence, one delay
RAW_LIBPQ = ("refused", "timeout expired", "invalid response", "does not exist", "SSH", "server closed",
             "could not", "FATAL")


def test_every_failed_connect_answers_one_sentence_after_the_floor(settings, app_ctx, clean_db):
    timeout = 2
    app = create_app(settings=settings.model_copy(update={"client_db_connect_timeout_s": timeout}))
    c = app.test_client()
    silent, other = SilentServer(), BannerServer()
    probes = {"closed port": f"postgresql://u:pw@127.0.0.1:{closed_port()}/x",
              "silent port": f"postgresql://u:pw@127.0.0.1:{silent.port}/x",
              "another protocol": f"postgresql://u:pw@127.0.0.1:{other.port}/x",
              "a role the server refuses": f"postgresql://no_such_role_23:pw@/highway_db?host={socket_dir(app_ctx)}"}
    floor = client_db.failure_floor_s({"host": "x"}, timeout)
    try:
        sentences = set()
        for name, url in probes.items():
            for path, body, what in (
                    (f"{DB_API}/tables", {"db_connection": url}, "business database"),
                    (f"{VECTOR_API}/search", {"vector_db_connection": url, "question": "服务区"}, "vector store")):
                started = time.monotonic()
                resp = c.post(path, json=body)
                elapsed = time.monotonic() - started
                answer = resp.get_json()
                assert resp.status_code == 400 and answer["error"]["code"] == "DATABASE_CONNECTION_ERROR", (name, answer)
                details = answer["error"]["details"]
                assert details.startswith(f"cannot connect to the {what}") and details.endswith(client_db.UNREACHABLE)
                assert not any(raw in details.replace(client_db.UNREACHABLE, "") for raw in RAW_LIBPQ), (name, details)
                assert elapsed >= floor - 0.05, (name, path, elapsed)     # never answers sooner than the floor
                sentences.add(details.split(": ", 1)[1])
        assert sentences == {client_db.UNREACHABLE}
    finally:
        silent.close()
        other.close()


# ------------------------------------------------------------------------------------ our own database, early
def test_our_own_database_is_refused_before_connecting_in_each_spelling(app_ctx, tmp_path, monkeypatch):
    """The URL check alone (no connection is attempted: connecting is made to fail loudly)."""
    def no_connection(*_a, **_k):
        raise AssertionError("vet_url must not connect")
    monkeypatch.setattr(psycopg2, "connect", no_connection)
    for url in own_database_spellings(app_ctx, tmp_path):
        with pytest.raises(business_db.BusinessUrlRefused, match="own metadata database"):
            business_db.vet_url(url, app_ctx.settings)


# --------------------------------------------------------------------------------------- the shared cap
def test_vector_endpoints_share_the_database_tools_cap(settings, clean_db):
    capped = create_app(settings=settings.model_copy(update={"database_tools_concurrency": 1}))
    silent = SilentServer()
    first: dict = {}
    probe = {"vector_db_connection": f"postgresql://u@127.0.0.1:{silent.port}/x", "question": "q"}

    def hold():
        resp = capped.test_client().post(f"{VECTOR_API}/search", json=probe)
        first.update(status=resp.status_code)

    worker = threading.Thread(target=hold)
    worker.start()
    try:
        wait_for(lambda: silent.accepted, 10, what="the first request to connect")
        for path, body in ((f"{VECTOR_API}/search", {"question": "q"}), (f"{VECTOR_API}/backup", {}),
                           (f"{DB_API}/tables", {})):
            resp = capped.test_client().post(path, json=body)
            assert resp.status_code == 429 and resp.headers["Retry-After"] == "2", path
            assert resp.get_json()["error"]["code"] == "TOO_MANY_REQUESTS"
        assert capped.test_client().get(f"{VECTOR_API}/restore/list").status_code == 200   # files only: not capped
    finally:
        silent.close()
        worker.join(timeout=30)
    assert first["status"] == 400
    assert capped.test_client().post(f"{VECTOR_API}/search", json={"question": "q"}).status_code == 200
