"""Business-database connections, vetted in one place: every read of a business database connects here.

Before connecting (`vet_url`, also used at task creation so a bad URL is a 400 at once):
- the client URL vetting every client-named server gets (core/client_db.py: libpq's parse, no file-reading
  parameters, `BUSINESS_DB_ALLOWED_HOSTS` with the address pinned);
- the URL does not name our metadata/vector database (same database on a server we run: unix socket or TCP);
After connecting (`vet_connection`):
- the server and database are not ours (system identifier + database name: catches every spelling);
- the role is no superuser and no member of pg_read_server_files / pg_write_server_files /
  pg_execute_server_program (400 DATABASE_ROLE_TOO_PRIVILEGED) unless ALLOW_PRIVILEGED_BUSINESS_ROLE=true.
A client URL connects through client_db.connect: none of this service's PG* environment (~/.pgpass,
PGPASSWORD, PGSSLKEY, ...) applies, and every failure (refused, timeout, unknown host, not PostgreSQL, wrong
password) answers one sentence after the same delay; the libpq detail goes to the server log only. The operator's configured business URL (`trust`, set by core.runtime) skips the URL checks
and the own-database check, never the role check.

Every session is READ ONLY three times over: `default_transaction_read_only` for the session, psycopg2's
`readonly=True` (BEGIN READ ONLY) and statement/lock timeouts; callers still roll back.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import psycopg2
import psycopg2.extensions

from core import client_db
from core.errors import AppError, DatabaseConnectionError
from core.secrets import scrub_text

log = logging.getLogger(__name__)

PRIVILEGED_ROLES = ("pg_read_server_files", "pg_write_server_files", "pg_execute_server_program")
ALLOWED_PARAMETERS = client_db.ALLOWED_PARAMETERS
MAX_CONNECT_TIMEOUT_S = 10
NO_PASSFILE = client_db.NO_FILE
UNREACHABLE = client_db.UNREACHABLE


class RoleTooPrivileged(AppError):
    """The business database role may read or write the server's files or is a superuser."""
    status, code, error_type = 400, "DATABASE_ROLE_TOO_PRIVILEGED", "DatabaseError"
    message = "数据库角色权限过高"


BusinessUrlRefused = client_db.ClientUrlRefused


@dataclass(frozen=True)
class _Protected:
    """Our own database: refused as a business database."""
    url: str
    dbname: str
    endpoints: frozenset   # ("socket", realpath-of-dir, port) / ("tcp", ip, port)


_protected: list[_Protected] = []
_trusted_urls: set[str] = set()
_identity_cache: dict[str, tuple] = {}
_lock = threading.Lock()


def protect(meta_url: str) -> None:
    """Register our metadata/vector database (runtime.prepare does, in every process)."""
    params = parse(meta_url)
    entry = _Protected(meta_url, _dbname(params), frozenset(_endpoints(params)))
    with _lock:
        if entry not in _protected:
            _protected.append(entry)


def trust(url: str) -> None:
    """The operator's configured business URL (or the demo's): exempt from the host allowlist and `passfile`."""
    if url:
        with _lock:
            _trusted_urls.add(url)


# --- parsing ---------------------------------------------------------------------------------------------------
def parse(url: str) -> dict[str, str]:
    """libpq's own reading of a connection string (URL or key=value), percent-decoded. Raises BusinessUrlRefused."""
    return client_db.parse(url, "db_connection")


def _dbname(params: dict) -> str:
    """The database libpq would open: dbname, else $PGDATABASE, else the user name ($PGUSER, else the OS user)."""
    return (params.get("dbname") or os.environ.get("PGDATABASE") or params.get("user") or os.environ.get("PGUSER")
            or _os_user())


def _os_user() -> str:
    try:
        import getpass
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name: nothing to compare
        return ""


_hosts = client_db.hosts
_resolve = client_db.resolve
_is_ip = client_db.is_ip


def _local_addresses() -> set[str]:
    addrs = {"127.0.0.1", "::1", "0.0.0.0", "::"}
    for name in (socket.gethostname(), socket.getfqdn(), "localhost"):
        addrs |= _resolve(name)
    return addrs


def _endpoints(params: dict) -> set[tuple]:
    """Where a URL leads: unix socket directories and TCP addresses, local TCP folded to one 'local' key."""
    found: set[tuple] = set()
    local = None
    for host, port in _hosts(params):
        if not host or host.startswith("/") or host.startswith("@"):
            directory = host or "/var/run/postgresql"
            found.add(("socket", os.path.realpath(directory), port))
            found.add(("local", port))   # a server's socket and its loopback TCP are the same server
            continue
        if local is None:
            local = _local_addresses()
        for ip in _resolve(host) or {host.lower()}:   # an unresolvable name still compares by spelling
            is_local = _is_ip(ip) and (ip in local or ipaddress.ip_address(ip).is_loopback)
            found.add(("local", port) if is_local else ("tcp", ip, port))
    return found


# --- checks before connecting ------------------------------------------------------------------------------------
def vet_url(url: str, settings=None) -> dict[str, str]:
    """Refuse URLs that may not be used as a business database; return libpq's parameters. No connection made."""
    if url in _trusted_urls:   # the operator's own configuration is not a client's
        return parse(url)
    params = client_db.vet(url, "db_connection", getattr(settings, "business_db_allowed_hosts", "") or "")
    dbname = _dbname(params)
    endpoints = None
    for entry in list(_protected):
        if dbname != entry.dbname:
            continue
        endpoints = _endpoints(params) if endpoints is None else endpoints
        if endpoints & entry.endpoints:
            raise _ours()
    return params


def vet_store_url(url: str, field: str = "vector_db_connection", settings=None) -> dict[str, str]:
    """A client-named vector store URL: the same vetting as a business URL (file-reading parameters, allowed hosts:
    VECTOR_DB_ALLOWED_HOSTS, else BUSINESS_DB_ALLOWED_HOSTS). A store is written, so it may be our metadata
    database (the default store); it may not be a business database (checked by identity once connected)."""
    allowed, setting = store_allowed_hosts(settings)
    return client_db.vet(url, field, allowed, setting)


def store_allowed_hosts(settings) -> tuple[str, str]:
    """(the allowed-hosts list for vector stores, the name of the setting it came from)."""
    own = getattr(settings, "vector_db_allowed_hosts", "") or ""
    if own:
        return own, "VECTOR_DB_ALLOWED_HOSTS"
    return getattr(settings, "business_db_allowed_hosts", "") or "", "BUSINESS_DB_ALLOWED_HOSTS"


def _ours() -> BusinessUrlRefused:
    return BusinessUrlRefused("db_connection names this service's own metadata database; give the URL of a "
                              "business database", invalid_params=["db_connection"])


allowed_host_rules = client_db.allowed_host_rules


def _check_allowed_hosts(params: dict, allowed: str) -> None:
    client_db.check_allowed_hosts(params, allowed)


# --- checks after connecting -------------------------------------------------------------------------------------
IDENTITY_TTL_S = 30.0
_identity_lock = threading.Lock()


def cached_identity(url: str, connect) -> Optional[tuple]:
    """(system identifier, database) of the database `connect()` opens, re-read every IDENTITY_TTL_S; None when
    it cannot be read (the error goes to the log)."""
    cached = _identity_cache.get(url)
    if cached is not None and time.monotonic() - cached[0] < IDENTITY_TTL_S:
        return cached[1]
    try:
        conn = connect()
    except (psycopg2.Error, AppError) as exc:
        log.warning("cannot read a database identity: %s", scrub_text(getattr(exc, "details", "") or
                                                                        (str(exc).strip().splitlines() or [""])[0]))
        return None
    try:
        identity = client_db.server_identity(conn)
    except psycopg2.Error:
        identity = None
    finally:
        conn.close()
    with _identity_lock:
        _identity_cache[url] = (time.monotonic(), identity)
    return identity


def _meta_identity(entry: _Protected) -> Optional[tuple]:
    """Our database's identity (a restart does not change it; the cache only bounds the cost)."""
    return cached_identity(entry.url, lambda: psycopg2.connect(entry.url, connect_timeout=10,
                                                               application_name="data_pipeline_vetting"))


def business_identity(url: str, settings=None) -> Optional[tuple]:
    """The identity of a business database (so a vector store can be refused when it is that database)."""
    return cached_identity("business:" + url, lambda: connect_business(
        url, statement_timeout_ms=5000, lock_timeout_ms=1000, settings=settings, vet_role=False))


def vet_connection(conn, settings=None, *, trusted: bool = False) -> None:
    """Refuse a connection that reached our database (unless `trusted`: the operator's configured URL) or runs as
    a privileged role (the caller closes it)."""
    identity = None
    try:
        identity = client_db.server_identity(conn)
    except psycopg2.Error:   # not our server (ours is PostgreSQL 16): a compatible server without the function
        conn.rollback()
    try:
        role, superuser, memberships = _role_of(conn)
    except psycopg2.Error as exc:
        conn.rollback()
        raise DatabaseConnectionError(f"cannot check the business database role: {scrub_text(str(exc).strip()[:200])}"
                                      ) from None
    conn.rollback()
    if not trusted and identity is not None and any(identity == _meta_identity(e) for e in list(_protected)):
        raise _ours()
    if getattr(settings, "allow_privileged_business_role", False):
        return
    if superuser or memberships:
        what = "is a superuser" if superuser else f"is a member of {', '.join(memberships)}"
        raise RoleTooPrivileged(
            f"the business database role {role!r} {what} (it could read or write the server's files); connect "
            f"as a role with only CONNECT on the database, USAGE on its schemas and SELECT on its tables "
            f"(e.g. GRANT pg_read_all_data), or set ALLOW_PRIVILEGED_BUSINESS_ROLE=true",
            invalid_params=["db_connection"])


def _role_of(conn) -> tuple:
    """(role name, superuser?, the server-file roles it is a member of). Every name schema-qualified: this runs
    under the database's (or role's) own search_path, which may put a `pg_roles` of its own before pg_catalog."""
    with conn.cursor() as cur:
        cur.execute("SELECT current_user, r.rolsuper, ARRAY(SELECT m.rolname FROM pg_catalog.pg_roles m "
                    "WHERE m.rolname OPERATOR(pg_catalog.=) ANY(%s::pg_catalog.text[]) "
                    "AND pg_catalog.pg_has_role(current_user, m.oid, 'MEMBER') ORDER BY 1) "
                    "FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user",
                    (list(PRIVILEGED_ROLES),))
        return cur.fetchone()


def connect_error(exc: psycopg2.Error) -> DatabaseConnectionError:
    """The operator's configured business database failed to connect: the server's own refusal (FATAL: ...) or
    one sentence (clients' URLs fail in client_db.connect, with one sentence whatever happened)."""
    text = str(exc)
    log.warning("business database connect failed: %s", scrub_text(" ".join(text.split()))[:500])
    if "FATAL:" in text:
        reason = text.split("FATAL:", 1)[1].strip().splitlines()[0].strip()
        return DatabaseConnectionError(f"cannot connect to the business database: {scrub_text(reason)}")
    return DatabaseConnectionError(f"cannot connect to the business database: {UNREACHABLE}")


def client_timeout_s(settings) -> int:
    """The connect timeout of a client-named server (CLIENT_DB_CONNECT_TIMEOUT_S, default 3 s)."""
    return int(getattr(settings, "client_db_connect_timeout_s", 3) or 3)


def _connect_timeout(params: dict) -> int:
    """The operator URL's connect_timeout when shorter, else 10 s: a probe never holds a request thread longer."""
    try:
        given = int(params.get("connect_timeout") or MAX_CONNECT_TIMEOUT_S)
    except ValueError:
        given = MAX_CONNECT_TIMEOUT_S
    return max(2, min(given, MAX_CONNECT_TIMEOUT_S))


# --- connecting --------------------------------------------------------------------------------------------------
def connect_business(url: str, *, statement_timeout_ms: int, lock_timeout_ms: int,
                     application_name: str = "data_pipeline_reader", settings=None,
                     connect_timeout_s: Optional[int] = None, vet_role: bool = True):
    """A vetted connection to a business database whose every transaction is READ ONLY with timeouts.
    A client's URL connects with client_db's isolation (none of this service's PG* environment), a short timeout
    and one answer for every failure; `connect_timeout_s` shortens the operator URL's timeout."""
    trusted = url in _trusted_urls
    params = vet_url(url, settings)
    options = (f"-c default_transaction_read_only=on -c statement_timeout={int(statement_timeout_ms)} "
               f"-c lock_timeout={int(lock_timeout_ms)} -c idle_in_transaction_session_timeout=60000")
    if trusted:
        timeout = _connect_timeout(params)
        params.update(options=options, application_name=application_name,
                      connect_timeout=str(min(timeout, connect_timeout_s) if connect_timeout_s else timeout))
        try:
            conn = psycopg2.connect(**params)
        except psycopg2.Error as exc:
            raise connect_error(exc) from None
    else:
        timeout = client_timeout_s(settings)
        conn = client_db.connect(
            client_db.pin(client_db.isolated(params, timeout_s=timeout, application_name=application_name,
                                             options=options)),
            what="business database", field="db_connection", timeout_s=timeout)
    try:
        conn.set_session(readonly=True, autocommit=False)
        if vet_role:
            vet_connection(conn, settings, trusted=trusted)
    except BaseException:
        conn.close()
        raise
    return conn


def rollback_unless_closed(conn) -> None:
    """End a statement's READ ONLY transaction. A connection the server closed is left for the caller to reopen;
    a rollback that fails leaves the connection broken, which the next statement finds out."""
    if not conn.closed:
        try:
            conn.rollback()
        except psycopg2.Error:
            pass


# every name schema-qualified: this statement itself runs under the database's own path
_CATALOG_FIRST = ("SELECT pg_catalog.set_config('search_path', 'pg_catalog, '::pg_catalog.text "
                  "OPERATOR(pg_catalog.||) pg_catalog.current_setting('search_path'), false)")


@contextmanager
def business_readonly(url: str, *, statement_timeout_ms: int, lock_timeout_ms: int, settings=None,
                      connect_timeout_s: Optional[int] = None) -> Iterator[Any]:
    """Open a vetted read-only business connection, yield it, and always roll back and close.

    For our own catalog and sampling reads: `pg_catalog` is put first in the session's search path (as PostgreSQL
    does when a path does not name it), so a database whose path lists its own schema first cannot make our
    `::text`, `left()` or `=` resolve to its domain, function or operator and run its code."""
    conn = connect_business(url, statement_timeout_ms=statement_timeout_ms, lock_timeout_ms=lock_timeout_ms,
                            settings=settings, connect_timeout_s=connect_timeout_s)
    try:
        with conn.cursor() as cur:
            cur.execute(_CATALOG_FIRST)
        conn.commit()
        yield conn
    finally:
        try:
            conn.rollback()
        finally:
            conn.close()
