"""Connections to a PostgreSQL server a client names (a task's or a request's `db_connection` or
`vector_db_connection`): one vetting for business databases and vector stores alike.

- `vet(url, field, allowed_hosts)`: the URL parses as libpq reads it; parameters that read files or settings of this
  service's host (`passfile`, `service`, `sslkey`, `options`, ...) are refused by name; with an allowed-hosts list
  every host is in it, and a TCP host is pinned (`hostaddr`) to the address that was checked.
- `isolated(params)`: libpq falls back to environment variables (PGPASSWORD, PGPASSFILE, PGUSER, PGSSLKEY, ...) for
  every option a URL leaves out; the service's own variables must never apply to a client's server, so every such
  option gets an explicit neutral value (`ENV_NEUTRAL`). PGSERVICE cannot be neutralised that way (an empty
  `service` is an error), so a client connection is refused while it is set (app_config refuses it at start).
- `connect(params, ...)`: a short connect timeout, and every failure answers one sentence after the same delay
  (`failure_floor_s`): a closed port, an open port of another protocol, an unknown host and a refused password
  look alike in text and in time. libpq's own text goes to the service log only.
- `server_identity(conn)`: (system identifier, database): the same database whatever the URL's spelling.
No import of core.business_db (it builds on this module).
"""
from __future__ import annotations

import ipaddress
import logging
import os
import socket
import time
from typing import Optional

import psycopg2
import psycopg2.extensions

from core.errors import DatabaseConnectionError, ValidationFailed
from core.secrets import scrub_text

log = logging.getLogger(__name__)

# libpq parameters a client URL may set. Everything else is refused by name: passfile, service, servicefile,
# sslkey, sslcert, sslrootcert, sslcrl, sslcrldir, sslpassword (files or secrets of *our* host), options
# (server settings: we set those), krbsrvname/gsslib/requirepeer (our host's identity), ...
ALLOWED_PARAMETERS = frozenset({
    "host", "hostaddr", "port", "dbname", "user", "password", "connect_timeout", "sslmode", "gssencmode",
    "application_name", "target_session_attrs", "load_balance_hosts", "channel_binding", "require_auth",
    "client_encoding", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
    "tcp_user_timeout", "ssl_min_protocol_version", "ssl_max_protocol_version", "sslcompression", "sslsni",
    "sslnegotiation",
})
# a path that can never exist (a file below /dev/null): libpq then silently reads no password file / certificate
NO_FILE = "/dev/null/no-file"
# Every libpq option with an environment fallback (PG<NAME>), and what a client URL that leaves it out gets
# instead. Empty means libpq's built-in default. Files point nowhere; no client certificate is ever sent
# (sslcertmode=disable) and no Kerberos ticket of ours is offered (gssencmode=disable, gssdelegation=0).
ENV_NEUTRAL = {
    "host": "", "hostaddr": "", "port": "", "dbname": "", "user": "", "password": "", "passfile": NO_FILE,
    "channel_binding": "prefer", "options": "", "application_name": "data_pipeline_client", "client_encoding": "",
    "sslmode": "prefer", "sslnegotiation": "postgres", "sslcompression": "0", "sslcert": NO_FILE, "sslkey": NO_FILE,
    "sslcertmode": "disable", "sslrootcert": NO_FILE, "sslcrl": NO_FILE, "sslcrldir": NO_FILE, "sslsni": "1",
    "requirepeer": "", "require_auth": "", "ssl_min_protocol_version": "TLSv1.2", "ssl_max_protocol_version": "",
    "gssencmode": "disable", "krbsrvname": "postgres", "gsslib": "", "gssdelegation": "0",
    "target_session_attrs": "any", "load_balance_hosts": "disable",
}
UNREACHABLE = ("the server could not be reached, did not answer as PostgreSQL, or refused these credentials "
               "(check host, port, database, user and password; details are in the service log)")
DEFAULT_SOCKET_DIR = "/var/run/postgresql"


class ClientUrlRefused(ValidationFailed):
    """This connection URL is not allowed."""


def parse(url: str, field: str = "db_connection") -> dict[str, str]:
    """libpq's own reading of a connection string (URL or key=value), percent-decoded."""
    try:
        return psycopg2.extensions.parse_dsn(url)
    except psycopg2.ProgrammingError:
        raise ClientUrlRefused(f"{field} is not a valid PostgreSQL connection URL", invalid_params=[field]) from None


def _split(value: Optional[str]) -> list[str]:
    return [v.strip() for v in (value or "").split(",")]


def hosts(params: dict) -> list[tuple[str, str]]:
    """(host or hostaddr, port) pairs as libpq would try them; an empty host means the default socket directory."""
    names = _split(params.get("host")) or [""]
    addrs = _split(params.get("hostaddr"))
    ports = _split(params.get("port")) or [""]
    if len(ports) == 1:
        ports = ports * len(names)
    pairs = []
    for i, host in enumerate(names):
        addr = addrs[i] if i < len(addrs) and addrs[i] else ""
        pairs.append((addr or host, (ports[i] if i < len(ports) else "") or "5432"))
    return pairs


def is_socket(host: str) -> bool:
    return not host or host.startswith(("/", "@"))


def resolve(host: str) -> set[str]:
    try:
        return {ipaddress.ip_address(info[4][0].split("%")[0]).compressed
                for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (OSError, ValueError, UnicodeError):
        return set()


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def allowed_host_rules(text: str) -> list:
    """An allowed-hosts setting -> networks and lower-case names / socket directories (empty: no restriction)."""
    rules: list = []
    for item in (p.strip() for p in (text or "").split(",")):
        if not item:
            continue
        try:
            rules.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            # socket directories compare as resolved paths (case-sensitive); host names case-insensitively
            rules.append(os.path.realpath(item) if item.startswith("/") else item.lower())
    return rules


def vet(url: str, field: str, allowed_hosts: str = "", setting: str = "BUSINESS_DB_ALLOWED_HOSTS") -> dict:
    """Refuse a client URL that may not be used; return libpq's parameters (a TCP host pinned). No connection."""
    params = parse(url, field)
    refused = sorted(k for k in params if k not in ALLOWED_PARAMETERS)
    if refused:
        raise ClientUrlRefused(
            f"{field} may not set {', '.join(refused)}: parameters that read files or settings of this "
            f"service's server are not accepted (allowed: host, port, dbname, user, password, sslmode, ...)",
            invalid_params=[field])
    check_allowed_hosts(params, allowed_hosts, field, setting)
    return params


def check_allowed_hosts(params: dict, allowed: str, field: str = "db_connection",
                        setting: str = "BUSINESS_DB_ALLOWED_HOSTS") -> None:
    """Every host of the URL must be listed: by name, as a socket directory, or with *all* its addresses inside a
    listed network. A single TCP host is pinned to the address checked (`hostaddr`)."""
    rules = allowed_host_rules(allowed)
    if not rules:
        return
    networks = [r for r in rules if not isinstance(r, str)]
    names = {r for r in rules if isinstance(r, str)}
    pinned = []
    for host, _port in hosts(params):
        if is_socket(host):
            if os.path.realpath(host or DEFAULT_SOCKET_DIR) not in names:
                raise _not_allowed(host or "the default socket", field, setting)
            continue
        if host.lower() in names:
            continue
        ips = {host} if is_ip(host) else resolve(host)
        if not ips or not all(any(ipaddress.ip_address(ip) in n for n in networks) for ip in ips):
            raise _not_allowed(host, field, setting)
        pinned.append(sorted(ips)[0])
    if len(hosts(params)) == 1 and len(pinned) == 1 and not params.get("hostaddr"):
        params["hostaddr"] = pinned[0]   # connect to the address we checked, not to a second DNS answer


def _not_allowed(host: str, field: str, setting: str) -> ClientUrlRefused:
    return ClientUrlRefused(f"{field} host {host!r} is not in {setting}", invalid_params=[field])


def isolated(params: dict, *, timeout_s: int, application_name: str, options: str = "") -> dict:
    """The client's parameters over neutral values for everything libpq would otherwise read from this service's
    environment, with our timeout, application name and server options."""
    return {**ENV_NEUTRAL, **params, "connect_timeout": str(max(2, int(timeout_s))),
            "application_name": application_name, "options": options}


def pin(params: dict) -> dict:
    """A single TCP host name connects to one address we resolved (a name with two addresses would otherwise be
    tried twice, each with the full timeout, and a second DNS answer could point elsewhere)."""
    pairs = hosts(params)
    if len(pairs) == 1 and not params.get("hostaddr") and not is_socket(pairs[0][0]) and not is_ip(pairs[0][0]):
        ips = resolve(pairs[0][0])
        if ips:
            params = {**params, "hostaddr": sorted(ips)[0]}
    return params


def failure_floor_s(params: dict, timeout_s: int) -> float:
    """How long every failed connect takes: the longest a silent host can take (libpq waits `timeout_s` per host;
    a floor of at least 2 s, libpq's minimum) plus a margin."""
    return max(2, int(timeout_s)) * max(1, len(hosts(params))) + 0.3


def connect(params: dict, *, what: str, field: str, timeout_s: int, shown_where: bool = True):
    """psycopg2.connect on isolated parameters; any failure -> DatabaseConnectionError (400, `field`) with one
    sentence, raised no sooner than `failure_floor_s` after the attempt started."""
    started = time.monotonic()
    where = " at " + ", ".join(f"{h or 'the default socket'}:{p}" for h, p in hosts(params)) if shown_where else ""
    try:
        if os.environ.get("PGSERVICE"):
            raise psycopg2.OperationalError("PGSERVICE is set in this service's environment: libpq would apply it")
        return psycopg2.connect(**params)
    except psycopg2.Error as exc:
        log.warning("%s connect failed: %s", what, scrub_text(" ".join(str(exc).split()))[:500])
        time.sleep(max(0.0, failure_floor_s(params, timeout_s) - (time.monotonic() - started)))
        err = DatabaseConnectionError(f"cannot connect to the {what}{where}: {UNREACHABLE}",
                                      invalid_params=[field])
        err.status = 400   # the client's URL is the problem, not our service
        raise err from None


# schema-qualified: it runs under the client database's own search_path
IDENTITY_SQL = ("SELECT (SELECT system_identifier::pg_catalog.text FROM pg_catalog.pg_control_system()), "
                "pg_catalog.current_database()")


def server_identity(conn) -> tuple[str, str]:
    """(system identifier of the cluster, database name): one database, however a URL spells its way there."""
    with conn.cursor() as cur:
        cur.execute(IDENTITY_SQL)
        return tuple(cur.fetchone())
