"""core/client_db.py piece by piece (issue 27: the mutation run's survivors in the round-3 vetting code).

The served tests (tests/test_client_connections.py) prove the promises end to end; these pin each rule on its
own so that breaking one of them fails a test that names it: how a URL's hosts, addresses and ports pair up as
libpq pairs them, which host is a socket, the allowed-hosts rules (networks with host bits, socket directories
through symlinks, names in any case, every address, the default socket), when the checked address is pinned,
the neutral values and the timeout floor, and the one sentence of a failed connect. No embedded server is needed
here: the connects go to a port nothing listens on, and name resolution is replaced only where a test needs a
name with chosen addresses.
"""
from __future__ import annotations

import ipaddress
import logging
import time

import pytest

from core import client_db
from core.errors import DatabaseConnectionError
from tests.probe_servers import closed_port

Refused = client_db.ClientUrlRefused


class Addresses(dict):
    """Name resolution by table (a name not in it resolves to nothing); `asked` records the names looked up."""

    def __init__(self):
        super().__init__()
        self.asked: list[str] = []

    def resolve(self, host: str) -> set[str]:
        self.asked.append(host)
        return set(self.get(host, ()))


@pytest.fixture()
def addresses(monkeypatch):
    table = Addresses()
    monkeypatch.setattr(client_db, "resolve", table.resolve)
    return table


# ---------------------------------------------------------------------------------------------------- parsing
def test_a_url_libpq_cannot_read_is_refused_for_its_field():
    with pytest.raises(Refused) as raised:
        client_db.parse("postgresql://u@[::1/x", "vector_db_connection")
    assert raised.value.invalid_params == ["vector_db_connection"]
    assert "not a valid PostgreSQL connection URL" in raised.value.details


def test_a_refused_parameter_names_the_field():
    with pytest.raises(Refused) as raised:
        client_db.vet("postgresql://u@h/x?passfile=/etc/passwd", "vector_db_connection")
    assert raised.value.invalid_params == ["vector_db_connection"] and "may not set passfile" in raised.value.details
    assert client_db.vet("postgresql://u:pw@h:1/x?sslmode=require", "db_connection")["sslmode"] == "require"


def test_hosts_pair_addresses_and_ports_as_libpq_does():
    assert client_db.hosts({}) == [("", "5432")]                                     # the default socket
    assert client_db.hosts({"host": "a"}) == [("a", "5432")]
    assert client_db.hosts({"host": "a,b", "port": "6000"}) == [("a", "6000"), ("b", "6000")]   # one port for all
    assert client_db.hosts({"host": "a,b,c", "port": "1,2"}) == [("a", "1"), ("b", "2"), ("c", "5432")]
    assert client_db.hosts({"host": "a,b", "port": "1,"}) == [("a", "1"), ("b", "5432")]
    assert client_db.hosts({"host": "a,b", "hostaddr": "10.0.0.1"}) == [("10.0.0.1", "5432"), ("b", "5432")]
    assert client_db.hosts({"host": "a,b", "hostaddr": ",10.0.0.2"}) == [("a", "5432"), ("10.0.0.2", "5432")]


def test_which_hosts_are_sockets():
    for host in ("", "/tmp", "/var/run/postgresql", "@abstract"):
        assert client_db.is_socket(host) is True, host
    for host in ("db.example", "127.0.0.1", "tmp/", "db@", "x/y"):
        assert client_db.is_socket(host) is False, host


def test_resolve_and_is_ip():
    local = client_db.resolve("localhost")
    assert local and all(ipaddress.ip_address(a).is_loopback for a in local), local
    assert client_db.resolve("127.0.0.1") == {"127.0.0.1"}
    assert client_db.resolve("no-such-host.invalid") == set()
    assert client_db.is_ip("10.1.2.3") is True and client_db.is_ip("::1") is True
    assert client_db.is_ip("db.example") is False


# ------------------------------------------------------------------------------------------- allowed hosts
def test_allowed_host_rules(tmp_path):
    real = tmp_path / "Sockets"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    rules = client_db.allowed_host_rules(f"10.1.2.3/8, DB.Internal, , {tmp_path / 'link'}, /No/Such/Dir")
    assert rules == [ipaddress.ip_network("10.0.0.0/8"), "db.internal", str(real), "/No/Such/Dir"]
    assert client_db.allowed_host_rules(None) == [] and client_db.allowed_host_rules("") == []


def test_no_allowed_hosts_means_no_restriction(addresses):
    params = {"host": "db.example"}
    client_db.check_allowed_hosts(params, "")
    assert params == {"host": "db.example"} and addresses.asked == []        # nothing resolved, nothing pinned


def test_a_name_is_checked_by_each_of_its_addresses(addresses):
    addresses["db.example"] = {"10.0.0.7"}
    addresses["two.example"] = {"10.0.0.9", "10.0.0.8"}
    addresses["mixed.example"] = {"10.0.0.1", "192.0.2.1"}
    allowed = "192.0.2.77/32, 10.0.0.0/8"     # two networks: each address must be in one of them, not in all
    params = {"host": "db.example"}
    client_db.check_allowed_hosts(params, allowed)
    assert params["hostaddr"] == "10.0.0.7"                                   # pinned to the address checked
    params = {"host": "two.example"}
    client_db.check_allowed_hosts(params, allowed)
    assert params["hostaddr"] == "10.0.0.8"                                   # the first in order, every time
    for host in ("mixed.example", "unknown.example"):                         # one foreign address; no address
        with pytest.raises(Refused, match=f"'{host}' is not in BUSINESS_DB_ALLOWED_HOSTS"):
            client_db.check_allowed_hosts({"host": host}, allowed)
    with pytest.raises(Refused, match="'192.0.2.1' is not in"):
        client_db.check_allowed_hosts({"host": "192.0.2.1"}, allowed)
    params = {"host": "10.9.9.9"}
    client_db.check_allowed_hosts(params, allowed)
    assert params["hostaddr"] == "10.9.9.9"


def test_a_listed_name_passes_in_any_case_without_resolving(addresses):
    params = {"host": "DB.Internal"}
    client_db.check_allowed_hosts(params, "db.internal")
    assert "hostaddr" not in params and addresses.asked == []
    with pytest.raises(Refused):
        client_db.check_allowed_hosts({"host": "other.internal"}, "db.internal")


def test_socket_directories_are_compared_as_real_paths(tmp_path):
    real = tmp_path / "run"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    params = {"host": str(tmp_path / "alias")}
    client_db.check_allowed_hosts(params, str(real))
    assert "hostaddr" not in params                                            # a socket is never pinned
    with pytest.raises(Refused, match=f"'{tmp_path}/other' is not in"):
        client_db.check_allowed_hosts({"host": str(tmp_path / "other")}, str(real))
    default = {"dbname": "x"}                                                   # no host: the default socket
    client_db.check_allowed_hosts(default, f"10.0.0.0/8, {client_db.DEFAULT_SOCKET_DIR}")
    assert "hostaddr" not in default
    with pytest.raises(Refused, match="'the default socket' is not in VECTOR_DB_ALLOWED_HOSTS"):
        client_db.check_allowed_hosts({}, str(real), "vector_db_connection", "VECTOR_DB_ALLOWED_HOSTS")


def test_only_a_single_tcp_host_is_pinned(addresses, tmp_path):
    addresses["a.example"] = {"10.0.0.1"}
    addresses["b.example"] = {"10.0.0.2"}
    both = {"host": "a.example,b.example"}
    client_db.check_allowed_hosts(both, "10.0.0.0/8")
    assert "hostaddr" not in both            # libpq needs one address per host: a list stays unpinned
    mixed = {"host": f"a.example,{tmp_path}"}
    client_db.check_allowed_hosts(mixed, f"10.0.0.0/8, {tmp_path}")
    assert "hostaddr" not in mixed
    named = {"host": "a.example,db.internal"}
    client_db.check_allowed_hosts(named, "10.0.0.0/8, db.internal")
    assert "hostaddr" not in named
    given = {"host": "a.example", "hostaddr": "10.0.0.3"}
    client_db.check_allowed_hosts(given, "10.0.0.0/8")
    assert given["hostaddr"] == "10.0.0.3"


def test_pin_connects_a_single_name_to_one_resolved_address(addresses):
    addresses["db.example"] = {"192.0.2.9", "192.0.2.3"}
    assert client_db.pin({"host": "db.example"}) == {"host": "db.example", "hostaddr": "192.0.2.3"}
    for params in ({"host": "db.example,db.example"}, {"host": "db.example", "hostaddr": "192.0.2.200"},
                   {"host": "/tmp"}, {}, {"host": "192.0.2.50"}, {"host": "unknown.example"}):
        assert client_db.pin(dict(params)) == params, params
    assert addresses.asked == ["db.example", "unknown.example"]           # sockets and addresses not resolved


# ------------------------------------------------------------------------------------ isolation and timing
def test_isolated_sets_every_neutral_value_and_our_own_settings():
    params = client_db.isolated({"host": "h", "options": "-c x=y", "application_name": "theirs"}, timeout_s=1,
                                application_name="ours", options="-c a=b")
    assert params["connect_timeout"] == "2"                                   # libpq's minimum
    assert params["application_name"] == "ours" and params["options"] == "-c a=b" and params["host"] == "h"
    assert params["passfile"] == client_db.NO_FILE and params["sslcertmode"] == "disable"
    assert client_db.isolated({}, timeout_s=7, application_name="x")["connect_timeout"] == "7"


def test_the_failure_floor():
    assert client_db.failure_floor_s({"host": "a"}, 1) == pytest.approx(2.3)
    assert client_db.failure_floor_s({"host": "a"}, 5) == pytest.approx(5.3)
    assert client_db.failure_floor_s({"host": "a,b"}, 3) == pytest.approx(6.3)    # each host its own timeout


def test_a_failed_connect_is_one_sentence_no_sooner_than_the_floor(caplog):
    caplog.set_level(logging.WARNING, logger="core.client_db")
    port = closed_port()
    params = client_db.isolated({"host": "127.0.0.1", "port": str(port), "user": "u", "password": "pw"},
                                timeout_s=2, application_name="t")
    started = time.monotonic()
    with pytest.raises(DatabaseConnectionError) as raised:
        client_db.connect(params, what="vector store", field="vector_db_connection", timeout_s=2)
    elapsed = time.monotonic() - started
    err = raised.value
    assert elapsed >= client_db.failure_floor_s(params, 2) - 0.05, elapsed      # refused at once, answered later
    assert err.status == 400 and err.invalid_params == ["vector_db_connection"]
    assert err.details == f"cannot connect to the vector store at 127.0.0.1:{port}: {client_db.UNREACHABLE}"
    assert "vector store connect failed" in caplog.text


def test_a_failed_connect_names_the_default_socket_or_nothing(tmp_path):
    params = client_db.isolated({"host": f"{tmp_path},", "port": str(closed_port())}, timeout_s=2,
                                application_name="t")
    with pytest.raises(DatabaseConnectionError) as raised:
        client_db.connect(params, what="business database", field="db_connection", timeout_s=2)
    assert f"at {tmp_path}:{params['port']}, the default socket:{params['port']}: " in raised.value.details
    with pytest.raises(DatabaseConnectionError) as raised:
        client_db.connect(params, what="business database", field="db_connection", timeout_s=2, shown_where=False)
    assert raised.value.details == f"cannot connect to the business database: {client_db.UNREACHABLE}"


def test_long_libpq_text_is_cut_in_the_log(caplog, tmp_path, monkeypatch):
    """The log line keeps at most 500 characters of libpq's text (several long socket paths fail at once)."""
    caplog.set_level(logging.WARNING, logger="core.client_db")
    monkeypatch.setattr(client_db, "failure_floor_s", lambda *_a: 0.0)   # the floor is tested above
    dirs = ",".join(str(tmp_path / (c * 80)) for c in "abc")
    params = client_db.isolated({"host": dirs, "port": "1"}, timeout_s=2, application_name="t")
    with pytest.raises(DatabaseConnectionError):
        client_db.connect(params, what="business database", field="db_connection", timeout_s=2, shown_where=False)
    logged = [r.getMessage() for r in caplog.records if "connect failed" in r.getMessage()]
    assert len(logged) == 1
    assert len(logged[0].split("connect failed: ", 1)[1]) == 500
