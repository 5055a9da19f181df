"""data_pipeline/api/request_policy.py rule by rule (issue 27: the mutation run's survivors in the round-3 code).

tests/test_request_policy.py proves the policy on the real app; here it guards a small Flask app of its own (no
database), so each rule can be pushed to its edge: Host spellings, the service's names when it listens on every
interface, Origin edge cases (other schemes, default ports, unparsable), chunked bodies, the exact JSON size
limit, the upload routes' multipart exception, and the field every refusal names.
"""
from __future__ import annotations

import io
import json
import socket
from types import SimpleNamespace

import pytest
from flask import Flask

from core.errors import AppError
from data_pipeline.api import request_policy
from data_pipeline.api.request_policy import allowed_host_names, host_name, origin_allowed


def _settings(**changes) -> SimpleNamespace:
    values = {"host": "127.0.0.1", "allowed_hosts": "", "allowed_origins": "", "max_json_body_kb": 1}
    return SimpleNamespace(**{**values, **changes})


def make_client(**changes):
    """A Flask app with the policy, one JSON route and an upload route named like the real one."""
    app = Flask(__name__)
    request_policy.register(app, _settings(**changes))

    @app.errorhandler(AppError)
    def _envelope(exc: AppError):
        return {"code": exc.status, "error": {"code": exc.code, "details": exc.details,
                                              "invalid_params": exc.invalid_params}}, exc.status

    @app.route("/api/things", methods=["GET", "POST", "DELETE"])
    def things():
        from flask import request
        return {"got": len(request.get_data())}

    @app.route("/api/files", methods=["POST"], endpoint="files.upload_file")
    def upload():
        return {"ok": True}

    return app.test_client()


def error(resp) -> dict:
    return resp.get_json()["error"]


# ------------------------------------------------------------------------------------------------------- Host
def test_host_name_spellings():
    assert host_name("Example.COM:8084") == "example.com"
    assert host_name(" [::1]:8084 ") == "::1" and host_name("[::1]") == "::1" and host_name("[::1") == "[::1"
    assert host_name("::1") == "::1" and host_name("fe80::1:8084") == "fe80::1:8084"   # bare IPv6: no port split
    assert host_name("localhost") == "localhost"


def test_the_names_of_a_service_on_one_address():
    names, any_host = allowed_host_names(_settings(host="127.0.0.1", allowed_hosts="API.example.com"))
    assert names == request_policy.LOCAL_NAMES | {"127.0.0.1", "api.example.com"} and any_host is False
    assert allowed_host_names(_settings(allowed_hosts="a.example, *"))[1] is True


def test_a_service_on_every_interface_also_answers_to_this_machines_names():
    names, _ = allowed_host_names(_settings(host="0.0.0.0"))
    hostname = socket.gethostname().lower()
    assert hostname in names and "0.0.0.0" in names
    addresses = {info[4][0].lower() for info in socket.getaddrinfo(socket.gethostname(), None)}
    assert addresses <= names and all(isinstance(n, str) for n in names)
    assert make_client(host="0.0.0.0").get("/api/things", headers={"Host": f"{hostname}:8084"}).status_code == 200
    assert make_client().get("/api/things", headers={"Host": "evil.example"}).status_code == 400


def test_a_foreign_host_is_refused_naming_the_header():
    resp = make_client().get("/api/things", headers={"Host": "Evil.example:80"})
    assert resp.status_code == 400 and error(resp)["code"] == "HOST_NOT_ALLOWED"
    assert error(resp)["invalid_params"] == ["Host"] and "'evil.example'" in error(resp)["details"]
    assert make_client(allowed_hosts="*").get("/api/things", headers={"Host": "evil.example"}).status_code == 200


# ----------------------------------------------------------------------------------------------------- Origin
@pytest.mark.parametrize("origin, host, scheme, allowed, expected", [
    ("http://localhost", "localhost", "http", [], True),                  # default port made explicit on both
    ("http://localhost:80/", "localhost", "http", [], True),
    ("HTTP://LocalHost:8084", "localhost:8084", "http", [], True),
    ("https://localhost", "localhost", "http", [], False),                # 443 is not 80
    ("http://[::1]:8084", "[::1]:8084", "http", [], True),
    ("http://[::1]", "[::1]:80", "http", [], True),
    ("http://[::1]", "[::1]:8084", "http", [], False),
    ("ftp://localhost:80", "localhost", "http", [], False),               # another scheme, even on the same port
    ("http://", "", "http", [], False),                                   # no host at all
    ("http://[::1", "localhost", "http", [], False),                      # unparsable
    ("null", "localhost", "http", [], False),
    ("http://console.example:3000/", "localhost", "http", ["http://console.example:3000"], True),
    ("http://anything.example", "localhost", "http", ["*"], True),
    ("http://other.example", "localhost", "http", ["http://console.example:3000"], False),
])
def test_origin_allowed(origin, host, scheme, allowed, expected):
    assert origin_allowed(origin, host, scheme, allowed) is expected


def test_a_foreign_origin_is_refused_only_for_state_changing_requests():
    c = make_client()
    long_origin = "http://evil.example/" + "p" * 200
    for method in ("POST", "DELETE"):
        resp = c.open("/api/things", method=method, json={}, headers={"Origin": long_origin})
        assert resp.status_code == 403 and error(resp)["invalid_params"] == ["Origin"], method
        assert repr(long_origin[:100]) in error(resp)["details"]              # the echo is bounded
        assert long_origin[:101] not in error(resp)["details"]
    assert c.get("/api/things", headers={"Origin": long_origin}).status_code == 200
    assert c.post("/api/things", json={}).status_code == 200                  # no Origin: not a browser
    listed = make_client(allowed_origins="http://evil.example/" + "p" * 200)
    assert listed.post("/api/things", json={}, headers={"Origin": long_origin}).status_code == 200


# ------------------------------------------------------------------------------------------------ body types
def test_a_body_that_is_not_json_names_its_type_and_the_header():
    c = make_client()
    resp = c.post("/api/things", data="x=1", content_type="text/plain")
    assert resp.status_code == 415 and error(resp)["invalid_params"] == ["Content-Type"]
    assert "(got 'text/plain')" in error(resp)["details"] and "multipart" not in error(resp)["details"]
    untyped = c.post("/api/things", data="x=1")
    assert untyped.status_code == 415 and "(got 'none')" in error(untyped)["details"]
    assert c.post("/api/things", data={"f": (io.BytesIO(b"x"), "f.txt")}).status_code == 415


def test_upload_routes_take_multipart_and_nothing_else_but_json():
    c = make_client()
    assert c.post("/api/files", data={"f": (io.BytesIO(b"x"), "f.txt")}).status_code == 200
    resp = c.post("/api/files", data="x", content_type="text/plain")
    assert resp.status_code == 415 and "files go as multipart/form-data" in error(resp)["details"]
    assert c.post("/api/files", json={}).status_code == 200


def test_a_chunked_body_is_held_to_the_same_rules():
    """No Content-Length: the body type is still checked, and the body is read up to MAX_JSON_BODY_KB only."""
    c = make_client()

    def chunked(body: bytes, content_type: str):
        return c.post("/api/things", input_stream=io.BytesIO(body),   # as a WSGI server passes it on, decoded
                      headers={"Transfer-Encoding": "chunked", "Content-Type": content_type},
                      environ_overrides={"wsgi.input_terminated": True})
    refused = chunked(b"x=1", "text/plain")
    assert refused.status_code == 415, refused.get_json()
    small = chunked(b"[1]", "application/json")
    assert small.status_code == 200 and small.get_json() == {"got": 3}
    cut = chunked(b"[" + b"1," * 1024 + b"1]", "application/json")   # envelope.py answers 413 on a full read
    assert cut.get_json() == {"got": 1024}
    assert c.get("/api/things").status_code == 200                           # no body, no type needed


def test_the_json_size_limit_is_exact():
    c = make_client(max_json_body_kb=1)
    at_limit = json.dumps(["x" * (1024 - 4)]).encode()
    assert len(at_limit) == 1024
    assert c.post("/api/things", data=at_limit, content_type="application/json").status_code == 200
    over = json.dumps(["x" * (1024 - 3)]).encode()
    resp = c.post("/api/things", data=over, content_type="application/json")
    assert resp.status_code == 413 and "1 KB (MAX_JSON_BODY_KB)" in error(resp)["details"]
