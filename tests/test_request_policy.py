"""Issue 23, points 6 and 8, and issue 27's token survivor: who may send a request and what a body may be
(data_pipeline/api/request_policy.py), decided before any view reads it.

- a foreign `Host` (DNS rebinding) is 400 HOST_NOT_ALLOWED; localhost names and 127.0.0.1 on any port pass;
- a state-changing request with a foreign `Origin` is 403 ORIGIN_NOT_ALLOWED unless ALLOWED_ORIGINS lists it;
- a body that is not JSON is 415 UNSUPPORTED_MEDIA_TYPE (multipart only on the upload routes);
- a JSON body over MAX_JSON_BODY_KB is 413 before it is read; too many values is 400 before it is parsed;
- with API_TOKEN set, every /api/ route needs the token.
"""
from __future__ import annotations

import io
import json
import re

import pytest

from citu_app import create_app
from data_pipeline.api.envelope import MAX_JSON_ITEMS
from tests.executor_support import BASE


def _tasks(client) -> int:
    return client.get(BASE).get_json()["data"]["total"]


# ------------------------------------------------------------------------------------------------------- Host
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8084", "127.0.0.1.nip.io", "localhost.evil.example"])
def test_a_foreign_host_is_refused(client, host):
    for method, path in (("GET", "/health"), ("GET", BASE), ("POST", BASE), ("GET", "/")):
        resp = client.open(path, method=method, headers={"Host": host}, json={} if method == "POST" else None)
        answer = resp.get_json()
        assert resp.status_code == 400 and answer["error"]["code"] == "HOST_NOT_ALLOWED", (host, path, answer)
    assert _tasks(client) == 0


@pytest.mark.parametrize("host", ["localhost", "localhost:18084", "127.0.0.1", "127.0.0.1:9", "[::1]:8084",
                                  "LOCALHOST:8084"])
def test_local_names_on_any_port_are_served(client, host):
    assert client.get("/health", headers={"Host": host}).status_code == 200


def test_allowed_hosts_adds_names(settings, clean_db):
    named = create_app(settings=settings.model_copy(update={"allowed_hosts": "api.example.com"})).test_client()
    assert named.get("/health", headers={"Host": "api.example.com:443"}).status_code == 200
    assert named.get("/health", headers={"Host": "other.example.com"}).status_code == 400
    anything = create_app(settings=settings.model_copy(update={"allowed_hosts": "*"})).test_client()
    assert anything.get("/health", headers={"Host": "other.example.com"}).status_code == 200


# ----------------------------------------------------------------------------------------------------- Origin
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost:9999", "https://localhost",
                                    "file://", "http://localhost.evil.example"])
def test_a_state_changing_request_from_a_foreign_origin_is_refused(client, origin):
    for method, path, body in (("POST", BASE, {"task_name": "csrf"}),
                               ("POST", f"{BASE}/execute-complete", {"table_names": ["bss_company"]}),
                               ("DELETE", f"{BASE}/task_20250101_000000", None)):
        resp = client.open(path, method=method, json=body, headers={"Origin": origin})
        answer = resp.get_json()
        assert resp.status_code == 403 and answer["error"]["code"] == "ORIGIN_NOT_ALLOWED", (origin, path, answer)
    assert _tasks(client) == 0
    assert client.get(BASE, headers={"Origin": origin}).status_code == 200     # reads: CORS keeps them private


def test_the_services_own_origin_and_listed_origins_pass(settings, client):
    same = client.post(BASE, json={"task_name": "own page"}, headers={"Origin": "http://localhost"})
    assert same.status_code == 201, same.get_json()
    served = client.post(BASE, json={"task_name": "own page, port"}, headers={"Origin": "http://127.0.0.1:18084",
                                                                               "Host": "127.0.0.1:18084"})
    assert served.status_code == 201
    listed = create_app(settings=settings.model_copy(update={"allowed_origins": "http://console.example:3000"}))
    resp = listed.test_client().post(BASE, json={"task_name": "listed"},
                                     headers={"Origin": "http://console.example:3000"})
    assert resp.status_code == 201


# ------------------------------------------------------------------------------------------------ body types
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          None])
def test_a_body_that_is_not_json_is_415(client, content_type):
    body = json.dumps({"task_name": "simple request"})
    if content_type == "multipart/form-data":
        resp = client.post(BASE, data={"task_name": "simple request"}, content_type=content_type)
    else:
        resp = client.post(BASE, data=body, content_type=content_type)
    answer = resp.get_json()
    assert resp.status_code == 415 and answer["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE", (content_type, answer)
    assert answer["success"] is False and answer["code"] == 415
    assert _tasks(client) == 0


def test_uploads_take_multipart_and_bodiless_posts_need_no_type(client):
    task_id = client.post(BASE, json={"task_name": "upload"}).get_json()["data"]["task_id"]
    resp = client.post(f"{BASE}/{task_id}/upload-table-list", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(b"bss_company\n"), "tables.txt")})
    assert resp.status_code == 200, resp.get_json()
    assert client.post(f"{BASE}/{task_id}/cancel").status_code != 415      # curl -X POST without a body


# ------------------------------------------------------------------------------------------------ body sizes
def test_a_large_json_body_is_413_before_it_is_read(client):
    """15 MB of nested arrays (issue 23, point 8): refused on its Content-Length (time: bench/bench_body_refusal.py)."""
    body = b'{"table_names": [' + b",".join([b"[[1],[2]]"] * 1_700_000) + b"]}"
    assert len(body) > 15_000_000
    resp = client.post(BASE, data=body, content_type="application/json")
    answer = resp.get_json()
    assert resp.status_code == 413 and answer["error"]["code"] == "FILE_TOO_LARGE", answer
    assert "MAX_JSON_BODY_KB" in answer["error"]["details"]


def test_too_many_values_are_refused_before_parsing(client, monkeypatch):
    from flask import Request

    def no_parse(*_a, **_k):
        raise AssertionError("the body must be refused before it is parsed")
    body = b'{"table_names": [' + b",".join([b"[1]"] * (MAX_JSON_ITEMS + 10)) + b"]}"
    monkeypatch.setattr(Request, "get_json", no_parse)
    resp = client.post(BASE, data=body, content_type="application/json")
    assert resp.status_code == 400 and f"more than {MAX_JSON_ITEMS} values" in resp.get_json()["error"]["details"]


# ------------------------------------------------------------------------------------------------------ token
def _sample_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: {"task_id": "task_20250101_000000"}.get(m[1], "x"), rule)


def test_the_token_guards_every_api_route(settings, clean_db):
    guarded = create_app(settings=settings.model_copy(update={"api_token": "s3cret-token"}))
    c = guarded.test_client()
    checked = []
    for rule in guarded.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = _sample_path(rule.rule)
            resp = c.open(path, method=method, json={} if method in ("POST", "PUT", "PATCH") else None)
            assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "UNAUTHORIZED", (method, path)
            checked.append(path)
    assert any(p.startswith("/api/v0/database/") for p in checked)
    assert any(p.startswith("/api/v0/data_pipeline/vector/") for p in checked)
    ok = c.post("/api/v0/database/tables", json={}, headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200
    assert c.get("/health").status_code == 200            # not an /api/ route
