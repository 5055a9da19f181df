"""Business-database connections, vetted in one place: every read of a business database connects here.

Before connecting (`vet_url`, also used at task creation so a bad URL is a 400 at once):
- the URL parses as libpq would (`psycopg2.extensions.parse_dsn`: URL or key=value, percent-decoding);
- only harmless connection parameters: no `passfile`, `service`, `sslkey`, `sslrootcert`, ... (parameters that
  make the *server* read one of its files or use its credentials, see `ALLOWED_PARAMETERS`);
- the URL does not name our metadata/vector database (same database on a server we run: unix socket or TCP);
- with `BUSINESS_DB_ALLOWED_HOSTS` set, every host is in the list (names, IPs or CIDRs; names are resolved and
  the address connected to is pinned with `hostaddr`, so a second DNS answer cannot point elsewhere).
After connecting (`vet_connection`):
- the server and database are not ours (postmaster start time + database name: catches every spelling);
- the role is no superuser and no member of pg_read_server_files / pg_write_server_files /
  pg_execute_server_program (400 DATABASE_ROLE_TOO_PRIVILEGED) unless ALLOW_PRIVILEGED_BUSINESS_ROLE=true.
Connect failures that never reached a PostgreSQL server answer one sentence (refused, timeout, unknown host and
no route look the same to a client); the libpq detail goes to the server log only. A client URL never uses this
service's ~/.pgpass. The operator's configured business URL (`trust`, set by core.runtime) skips the URL checks
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

from core.errors import AppError, DatabaseConnectionError, ValidationFailed
from core.secrets import scrub_text

log = logging.getLogger(__name__)

PRIVILEGED_ROLES = ("pg_read_server_files", "pg_write_server_files", "pg_execute_server_program")
# libpq parameters a client URL may set. Everything else is refused by name: passfile, service, servicefile,
# sslkey, sslcert, sslrootcert, sslcrl, sslcrldir, sslpassword (files or secrets of *our* server), options
# (server settings: we set those), krbsrvname/gsslib/requirepeer (our server's identity), ...
ALLOWED_PARAMETERS = frozenset({
    "host", "hostaddr", "port", "dbname", "user", "password", "connect_timeout", "sslmode", "gssencmode",
    "application_name", "target_session_attrs", "load_balance_hosts", "channel_binding", "require_auth",
    "client_encoding", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
    "tcp_user_timeout", "ssl_min_protocol_version", "ssl_max_protocol_version", "sslcompression", "sslsni",
    "sslnegotiation",
})
MAX_CONNECT_TIMEOUT_S = 10
# a path that can never exist (a file below /dev/null): libpq then silently uses no password file
NO_PASSFILE = "/dev/null/no-pgpass"
UNREACHABLE = ("the host could not be reached or did not answer as a PostgreSQL server (check host, port and "
               "network; details are in the service log)")


class RoleTooPrivileged(AppError):
    """The business database role may read or write the server's files or is a superuser."""
    status, code, error_type = 400, "DATABASE_ROLE_TOO_PRIVILEGED", "DatabaseError"
    message = "数据库角色权限过高"


class BusinessUrlRefused(ValidationFailed):
    """This business database URL is not allowed."""


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
    try:
        return psycopg2.extensions.parse_dsn(url)
    except psycopg2.ProgrammingError:
        raise BusinessUrlRefused("db_connection is not a valid PostgreSQL connection URL",
                                 invalid_params=["db_connection"]) from None


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


def _split(value: Optional[str]) -> list[str]:
    return [v.strip() for v in (value or "").split(",")]


def _hosts(params: dict) -> list[tuple[str, str]]:
    """(host, port) pairs as libpq would try them; an empty host means the default socket directory."""
    hosts = _split(params.get("host")) or [""]
    addrs = _split(params.get("hostaddr"))
    ports = _split(params.get("port")) or [""]
    if len(ports) == 1:
        ports = ports * len(hosts)
    pairs = []
    for i, host in enumerate(hosts):
        addr = addrs[i] if i < len(addrs) and addrs[i] else ""
        pairs.append((addr or host, (ports[i] if i < len(ports) else "") or "5432"))
    return pairs


def _resolve(host: str) -> set[str]:
    try:
        return {ipaddress.ip_address(info[4][0].split("%")[0]).compressed
                for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (OSError, ValueError, UnicodeError):
        return set()


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


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


# --- checks before connecting ------------------------------------------------------------------------------------
def vet_url(url: str, settings=None) -> dict[str, str]:
    """Refuse URLs that may not be used as a business database; return libpq's parameters. No connection made."""
    params = parse(url)
    trusted = url in _trusted_urls
    refused = sorted(k for k in params if k not in ALLOWED_PARAMETERS)
    if refused and not trusted:
        raise BusinessUrlRefused(
            f"db_connection may not set {', '.join(refused)}: parameters that read files or settings of this "
            f"service's server are not accepted (allowed: host, port, dbname, user, password, sslmode, ...)",
            invalid_params=["db_connection"])
    dbname = _dbname(params)
    endpoints = None
    for entry in ([] if trusted else list(_protected)):   # the operator's own configuration is not a client's
        if dbname != entry.dbname:
            continue
        endpoints = _endpoints(params) if endpoints is None else endpoints
        if endpoints & entry.endpoints:
            raise _ours()
    if not trusted:
        _check_allowed_hosts(params, getattr(settings, "business_db_allowed_hosts", "") or "")
    return params


def vet_store_url(url: str, field: str = "vector_db_connection") -> dict[str, str]:
    """A client-named vector store URL: the same refusal of file-reading parameters (passfile, service, sslkey,
    ...) as a business URL. A store is written, so it may be our metadata database (the default store)."""
    params = parse(url)
    refused = sorted(k for k in params if k not in ALLOWED_PARAMETERS)
    if refused:
        raise BusinessUrlRefused(
            f"{field} may not set {', '.join(refused)}: parameters that read files or settings of this "
            f"service's server are not accepted (allowed: host, port, dbname, user, password, sslmode, ...)",
            invalid_params=[field])
    return params


def _ours() -> BusinessUrlRefused:
    return BusinessUrlRefused("db_connection names this service's own metadata database; give the URL of a "
                              "business database", invalid_params=["db_connection"])


def allowed_host_rules(text: str) -> list:
    """BUSINESS_DB_ALLOWED_HOSTS -> networks and lower-case names/socket directories (empty: no restriction)."""
    rules: list = []
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        try:
            rules.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            # socket directories compare as resolved paths (case-sensitive); host names case-insensitively
            rules.append(os.path.realpath(item) if item.startswith("/") else item.lower())
    return rules


def _check_allowed_hosts(params: dict, allowed: str) -> None:
    """Every host of the URL must be listed: by name, as a socket directory, or with all its addresses inside a
    listed network. A single TCP host is pinned to the address checked (`hostaddr`)."""
    rules = allowed_host_rules(allowed)
    if not rules:
        return
    networks = [r for r in rules if not isinstance(r, str)]
    names = {r for r in rules if isinstance(r, str)}
    pinned = []
    for host, _port in _hosts(params):
        if not host or host.startswith(("/", "@")):
            if os.path.realpath(host or "/var/run/postgresql") not in names:
                raise _not_allowed(host or "the default socket")
            continue
        if host.lower() in names:
            continue
        ips = {host} if _is_ip(host) else _resolve(host)
        if not ips or not all(any(ipaddress.ip_address(ip) in n for n in networks) for ip in ips):
            raise _not_allowed(host)
        pinned.append(sorted(ips)[0])
    if len(_hosts(params)) == 1 and len(pinned) == 1 and not params.get("hostaddr"):
        params["hostaddr"] = pinned[0]   # connect to the address we checked, not to a second DNS answer


def _not_allowed(host: str) -> BusinessUrlRefused:
    return BusinessUrlRefused(f"db_connection host {host!r} is not in BUSINESS_DB_ALLOWED_HOSTS",
                              invalid_params=["db_connection"])


# --- checks after connecting -------------------------------------------------------------------------------------
IDENTITY_TTL_S = 30.0
_IDENTITY = "SELECT pg_postmaster_start_time()::text, current_database()"


def _meta_identity(entry: _Protected) -> Optional[tuple]:
    """(postmaster start time, database) of our database; re-read every IDENTITY_TTL_S (a restart changes it)."""
    cached = _identity_cache.get(entry.url)
    if cached is not None and time.monotonic() - cached[0] < IDENTITY_TTL_S:
        return cached[1]
    try:
        conn = psycopg2.connect(entry.url, connect_timeout=10, application_name="data_pipeline_vetting")
    except psycopg2.Error as exc:
        log.warning("cannot read our database's identity for the business-URL check: %s",
                    scrub_text((str(exc).strip().splitlines() or [type(exc).__name__])[0]))
        return None
    try:
        with conn.cursor() as cur:
            cur.execute(_IDENTITY)
            identity = tuple(cur.fetchone())
    finally:
        conn.close()
    _identity_cache[entry.url] = (time.monotonic(), identity)
    return identity


def vet_connection(conn, settings=None, *, trusted: bool = False) -> None:
    """Refuse a connection that reached our database (unless `trusted`: the operator's configured URL) or runs as
    a privileged role (the caller closes it)."""
    identity = None
    try:
        with conn.cursor() as cur:
            cur.execute(_IDENTITY)
            identity = tuple(cur.fetchone())
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
    """(role name, superuser?, the server-file roles it is a member of)."""
    with conn.cursor() as cur:
        cur.execute("SELECT current_user, rolsuper, ARRAY(SELECT m.rolname FROM pg_roles m "
                    "WHERE m.rolname = ANY(%s) AND pg_has_role(current_user, m.oid, 'MEMBER') ORDER BY 1) "
                    "FROM pg_roles WHERE rolname = current_user", (list(PRIVILEGED_ROLES),))
        return cur.fetchone()


def connect_error(exc: psycopg2.Error, params: dict, trusted: bool) -> DatabaseConnectionError:
    """What a client may see of a failed connect: the server's own refusal (FATAL: ...) or one sentence that is the
    same for refused, timed out, unknown or not-PostgreSQL hosts (named as the client wrote them; the operator's
    configured host is not named)."""
    text = str(exc)
    log.warning("business database connect failed: %s", scrub_text(" ".join(text.split()))[:500])
    where = "" if trusted else " at " + ", ".join(f"{h or 'the default socket'}:{p}" for h, p in _hosts(params))
    if "FATAL:" in text:
        reason = text.split("FATAL:", 1)[1].strip().splitlines()[0].strip()
        return DatabaseConnectionError(f"cannot connect to the business database{where}: {scrub_text(reason)}")
    return DatabaseConnectionError(f"cannot connect to the business database{where}: {UNREACHABLE}")


def _connect_timeout(params: dict) -> int:
    """The URL's connect_timeout when shorter, else 10 s: a probe never holds a request thread longer."""
    try:
        given = int(params.get("connect_timeout") or MAX_CONNECT_TIMEOUT_S)
    except ValueError:
        given = MAX_CONNECT_TIMEOUT_S
    return max(2, min(given, MAX_CONNECT_TIMEOUT_S))


# --- connecting --------------------------------------------------------------------------------------------------
def connect_business(url: str, *, statement_timeout_ms: int, lock_timeout_ms: int,
                     application_name: str = "data_pipeline_reader", settings=None,
                     connect_timeout_s: Optional[int] = None):
    """A vetted connection to a business database whose every transaction is READ ONLY with timeouts.
    `connect_timeout_s`: shorter than the URL's (at most 10 s) for checks made while an API request waits."""
    params = vet_url(url, settings)
    options = (f"-c default_transaction_read_only=on -c statement_timeout={int(statement_timeout_ms)} "
               f"-c lock_timeout={int(lock_timeout_ms)} -c idle_in_transaction_session_timeout=60000")
    timeout = _connect_timeout(params)
    params.update(options=options, application_name=application_name,
                  connect_timeout=str(min(timeout, connect_timeout_s) if connect_timeout_s else timeout))
    if url not in _trusted_urls:
        params["passfile"] = NO_PASSFILE   # a client URL never borrows this service's ~/.pgpass
    try:
        conn = psycopg2.connect(**params)
    except psycopg2.Error as exc:
        raise connect_error(exc, params, url in _trusted_urls) from None
    try:
        conn.set_session(readonly=True, autocommit=False)
        vet_connection(conn, settings, trusted=url in _trusted_urls)
    except BaseException:
        conn.close()
        raise
    return conn


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
