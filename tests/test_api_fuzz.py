"""Fuzzing every route the way a careless or hostile client would: never a 5xx, always the envelope.

The in-process part walks the Flask URL map (so a new route is fuzzed without editing this file) with bad ids,
control characters, huge integers, deep JSON, wrong methods and odd slashes. The gunicorn part sends raw bytes
to the served app for what never reaches Flask (request line and header limits, malformed requests).
"""
from __future__ import annotations

import json
import socket
from collections import Counter

import pytest
import requests

BASE = "/api/v0/data_pipeline/tasks"
MISSING_ID = "task_20000101_000000"
BAD_IDS = ["nope", "task_2025", "..%2F..%2Fetc", "task_20250101_000000%00", "%00", "x" * 300, "task_%0A1",
           "task_20250101_000000_99999999999999999999"]
HUGE = 10 ** 19
STRING_FIELDS = ["task_name", "db_name", "created_by", "business_context", "table_list_file", "db_connection",
                 "table_name_pattern", "schema", "table", "keyword", "logger_name", "level", "step_name",
                 "execution_mode", "timestamp", "task_id", "sort_by", "start_time"]
INT_FIELDS = ["page", "page_size", "limit", "offset", "top_k"]
NUL_VALUES = ["a\x00b", "\x00", "bss_company\x01", "line\nbreak\x1b[31m", "\x7f"]
# routes whose success would start real work: fuzzed with invalid input only
NO_VALID_BODY = {"/api/v0/data_pipeline/vector/restore", "/api/v0/data_pipeline/vector/backup",
                 f"{BASE}/execute-complete"}
STREAMS = ("/logs/stream", "/events")


def is_envelope(resp) -> bool:
    try:
        body = json.loads(resp.get_data(as_text=True))
    except ValueError:
        return False
    return (isinstance(body, dict) and body.get("code") == resp.status_code
            and isinstance(body.get("success"), bool) and "message" in body
            and (body["success"] or isinstance(body.get("error"), dict)))


def acceptable(method: str, resp) -> bool:
    if resp.status_code >= 500:
        return False
    if method == "OPTIONS" and resp.status_code == 204:
        return "Allow" in resp.headers
    if resp.status_code < 300 and ("Content-Disposition" in resp.headers or not resp.is_json):
        return True  # a download, an archive or the console page
    return is_envelope(resp)


def rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/static", "/console/static")):
            continue
        yield rule.rule, sorted(rule.methods - {"HEAD"})


def fill(rule: str, task_id: str) -> str:
    return (rule.replace("<task_id>", task_id).replace("<anypath:file_name>", "task_config.json")
            .replace("<path:filename>", "x.js"))


def body_variants():
    yield "not json", "text/plain"
    yield "{bad json", "application/json"
    yield "[1, 2]", "application/json"
    yield '"string"', "application/json"
    yield "null", "application/json"
    yield "[" * 5000 + "]" * 5000, "application/json"
    yield '{"a":' * 3000 + "1" + "}" * 3000, "application/json"
    yield json.dumps({"unknown_key\x00": 1}), "application/json"
    for field in STRING_FIELDS:
        for value in NUL_VALUES[:3]:
            yield json.dumps({field: value}), "application/json"
        yield json.dumps({field: ["a", {"b": None}]}), "application/json"
    for field in INT_FIELDS:
        for value in (HUGE, -HUGE, 2 ** 31, -1, 0, 1.5, "9" * 40, float("1e308")):
            yield json.dumps({field: value}), "application/json"
    yield json.dumps({"table_names": ["bss_company\x00", "ok"]}), "application/json"
    yield json.dumps({"table_names": ["bss_company"], "business_context": "a\x00b"}), "application/json"
    yield json.dumps({"tables": "bss_company,\x00", "allow_missing": True}), "application/json"
    yield json.dumps({"parameters": {"task_name": "x\x00"}, "task_type": "data_workflow"}), "application/json"
    yield json.dumps({"files": ["a\x00.csv"], "timestamp": "2025\x00"}), "application/json"


@pytest.fixture()
def fuzz_task(client):
    """An existing task in upload mode: execute answers TABLE_LIST_MISSING instead of starting a run."""
    return client.post(BASE, json={"task_name": "fuzz"}).get_json()["data"]["task_id"]


def test_fuzz_every_route_no_5xx_and_envelopes(app, client, fuzz_task):
    results, failures = Counter(), []

    def send(method, url, **kw):
        resp = client.open(url, method=method, **kw)
        if any(s in url for s in STREAMS) and resp.mimetype == "text/event-stream":
            resp.close()  # a live stream: its headers are the answer
            results["stream"] += 1
            return
        good = acceptable(method, resp)
        results["ok" if good else "bad"] += 1
        results[f"{resp.status_code // 100}xx"] += 1
        if not good:
            failures.append((method, url[:120], kw.get("data", "")[:80] if isinstance(kw.get("data"), str) else "",
                             resp.status_code, resp.get_data(as_text=True)[:120]))
        resp.close()

    for rule, methods in rules(app):
        ids = [fuzz_task, MISSING_ID, *BAD_IDS] if "<task_id>" in rule else [None]
        for task_id in ids:
            url = fill(rule, task_id) if task_id else fill(rule, MISSING_ID)
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
                if method == "DELETE" and task_id == fuzz_task:
                    continue
                if method == "POST" and url in NO_VALID_BODY:
                    send(method, url, data="{bad", content_type="application/json")
                    continue
                send(method, url)
            for query in (f"page={HUGE}", f"limit={HUGE}", f"offset={HUGE}", "limit=-5", "status=%00",
                          "task_id=%00x", "level=INFO%00", "%00=1", "dir=..%2F..", "inline=%01",
                          f"max_seconds={HUGE}", "include=parameters,result,bogus"):
                if any(s in url for s in STREAMS) and task_id == fuzz_task:
                    continue
                send("GET", f"{url}?{query}")
        if "POST" in methods:
            url = fill(rule, fuzz_task if "<task_id>" in rule else MISSING_ID)
            for data, ctype in body_variants():
                send("POST", url, data=data, content_type=ctype)
            if url.endswith(("/files", "/upload-table-list")):
                import io
                send("POST", url, data={"file": (io.BytesIO(b"bss_company\n"), "a\x00.txt"),
                                        "business_context": "x\x00y", "overwrite_mode": "\x00"},
                     content_type="multipart/form-data")
    for path in (f"{BASE}//execute", f"{BASE}/%2Ftmp", f"{BASE}/{fuzz_task}//files", "/api//v0/data_pipeline/tasks",
                 f"{BASE}/{fuzz_task}/files/%2Fetc%2Fpasswd", f"{BASE}/", "/api/v0//data_pipeline/tasks",
                 f"{BASE}/{fuzz_task}%00", "/%00", "/" + "a" * 5000):
        for method in ("GET", "POST", "OPTIONS"):
            send(method, path)
            resp = client.open(path, method=method)
            assert not 300 <= resp.status_code < 400, (method, path, resp.status_code)
    total = results["ok"] + results["bad"]
    print(f"fuzz: {total} requests, {dict(results)}")
    assert total >= 300
    assert results["5xx"] == 0 and not failures, "\n".join(map(str, failures[:15]))


def test_nul_and_huge_numbers_name_the_field(client):
    resp = client.post(f"{BASE}/query", json={"task_name": "a\x00b"})
    body = resp.get_json()
    assert resp.status_code == 400 and body["error"]["invalid_params"] == ["task_name"]
    assert "U+0000" in body["error"]["details"]
    resp = client.post(f"{BASE}/query", json={"page": HUGE})
    assert resp.status_code == 400 and resp.get_json()["error"]["invalid_params"] == ["page"]
    resp = client.get(f"{BASE}?offset={HUGE}")
    assert resp.status_code == 400 and resp.get_json()["error"]["invalid_params"] == ["offset"]
    resp = client.post(BASE, json={"table_names": ["bss_company", "x\x00"]})
    assert resp.status_code == 400 and resp.get_json()["error"]["invalid_params"] == ["table_names.1"]
    resp = client.post("/api/v0/database/tables", json={"table_name_pattern": "bss\x00"})
    assert resp.status_code == 400 and resp.get_json()["error"]["invalid_params"] == ["table_name_pattern"]
    task_id = client.post(BASE, json={"task_name": "nul"}).get_json()["data"]["task_id"]
    resp = client.post(f"{BASE}/{task_id}/table-list", json={"table_names": ["bss_company"],
                                                             "business_context": "上下文\x00"})
    assert resp.status_code == 400 and resp.get_json()["error"]["invalid_params"] == ["business_context"]


def test_multiline_text_keeps_newlines_but_not_nul(client):
    ok = client.post(BASE, json={"table_names": ["bss_company"], "business_context": "第一行\n第二行\tx"})
    assert ok.status_code == 201
    bad = client.post(BASE, json={"table_names": ["bss_company"], "task_name": "one\ntwo"})
    assert bad.status_code == 400 and bad.get_json()["error"]["invalid_params"] == ["task_name"]


def test_deep_json_is_a_clear_400(client):
    resp = client.post(f"{BASE}/query", data="[" * 5000 + "]" * 5000, content_type="application/json")
    body = resp.get_json()
    assert resp.status_code == 400 and "nested deeper" in body["error"]["details"]
    # brackets inside strings are text, not nesting
    resp = client.post(BASE, json={"table_names": ["bss_company"], "business_context": "[" * 500})
    assert resp.status_code == 201


def test_options_is_204_with_allow_and_no_redirects(client):
    resp = client.open(BASE, method="OPTIONS")
    assert resp.status_code == 204 and resp.get_data() == b""
    assert {"GET", "POST"} <= set(resp.headers["Allow"].replace(" ", "").split(","))
    for path in (f"{BASE}//execute", f"{BASE}/%2Ftmp"):
        resp = client.post(path)
        assert resp.status_code in (400, 404) and is_envelope(resp), (path, resp.status_code)


def _raw(port: int, payload: bytes) -> tuple[int, dict, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


@pytest.fixture(scope="module")
def served(settings):
    from tests.server_process import ServerProcess
    with ServerProcess(settings.data_home, log_path=settings.data_home / "fuzz_server.log", as_shipped=True) as server:
        yield server


@pytest.mark.parametrize("name,payload,status", [
    ("url over 8 KB", b"GET /api/v0/data_pipeline/tasks/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 414),
    ("header over 16 KB", b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n", 431),
    ("too many headers", b"GET /health HTTP/1.1\r\nHost: localhost\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150))
     + b"\r\n", 431),
    ("garbage request line", b"\x01\x02 GARBAGE\r\n\r\n", 400),
    ("bad http version", b"GET /health HTTP/9.x\r\nHost: localhost\r\n\r\n", 400),
    ("url of 6 KB reaches Flask", b"GET /api/v0/data_pipeline/tasks/" + b"a" * 6000
     + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 400),
    ("options", b"OPTIONS /api/v0/data_pipeline/tasks HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 204),
    ("doubled slash", b"POST /api/v0/data_pipeline/tasks//execute HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n"
     b"Connection: close\r\n\r\n", 404),
])
def test_gunicorn_answers_are_envelopes_too(served, name, payload, status):
    got, headers, body = _raw(served.port, payload)
    assert got == status, (name, got, body[:300])
    if status == 204:
        assert "Allow" in headers and body == b""
        return
    assert headers.get("Content-Type", "").startswith("application/json"), (name, headers)
    envelope = json.loads(body)
    assert envelope["success"] is False and envelope["code"] == status and envelope["error"]["code"]
    assert b"aaaa" not in body and b"bbbb" not in body  # the client's bytes are not echoed


def _chunked(path: str, content_type: str, body: bytes, chunk: int = 65536) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + chunk]), body[i:i + chunk]) for i in range(0, len(body), chunk)]
    return head + b"".join(parts) + b"0\r\n\r\n"


def _raw_tolerant(port: int, payload: bytes) -> tuple[int, bytes]:
    """Like _raw, but the server may answer and close before it has read the whole body (a refused upload)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        try:
            sock.sendall(payload)
        except OSError:
            pass
        raw = b""
        try:
            while chunk := sock.recv(65536):
                raw += chunk
        except ConnectionResetError:
            pass
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_chunked_bodies_meet_the_same_rules_as_sized_ones(served):
    """A body without Content-Length (Transfer-Encoding: chunked) cannot slip past the JSON size cap or the
    content-type rule: it is cut off at MAX_JSON_BODY_KB (2 MB by default) while it is read, and a small one is
    served like any other."""
    before = requests.get(f"{served.base_url}{BASE}?page_size=1", headers={"Host": "localhost"}).json()["data"]["total"]
    huge = b'{"task_name": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    status, body = _raw_tolerant(served.port, _chunked(BASE, "application/json", huge))
    assert status == 413 and json.loads(body)["error"]["code"] == "FILE_TOO_LARGE", body[:300]
    status, body = _raw_tolerant(served.port, _chunked(BASE, "text/plain", b'{"task_name": "csrf"}'))
    assert status == 415 and json.loads(body)["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE", body[:300]
    after = requests.get(f"{served.base_url}{BASE}?page_size=1", headers={"Host": "localhost"}).json()["data"]["total"]
    assert after == before
    status, body = _raw_tolerant(served.port, _chunked(BASE, "application/json", b'{"task_name": "chunked"}', 7))
    assert status == 201 and json.loads(body)["data"]["task_name"] == "chunked", body[:300]
