"""citu_app.create_app's wiring, each piece on its own (issue 27: the mutation run's survivors in citu_app.py).

The settings a caller passes (or the overrides it names) are the ones served; the request cap is the upload limit
plus 64 KB of multipart overhead, exactly; answers are UTF-8 JSON in the contract's key order; no static route;
test-only Flask config reaches the app; the compute gate gets its slots from the settings. The token is pinned in
tests/test_request_policy.py (every /api/ route, not /health).
"""
from __future__ import annotations

import json

from citu_app import create_app
from tests.executor_support import BASE

TOKEN = "tok-wiring-27"


def test_the_settings_passed_are_the_ones_served(settings, clean_db):
    given = create_app(settings=settings.model_copy(update={"api_token": TOKEN})).test_client()
    assert given.get(BASE).status_code == 401
    named = create_app({"data_home": settings.data_home, "log_level": "WARNING", "api_token": TOKEN}).test_client()
    assert named.get(BASE).status_code == 401
    assert named.get(BASE, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_test_config_reaches_the_app_and_only_then(settings, clean_db):
    assert create_app(settings=settings, test_config={"TESTING": True}).config["TESTING"] is True
    assert create_app(settings=settings).config["TESTING"] is False


def test_answers_are_utf8_json_in_the_contracts_key_order(client):
    resp = client.get("/no/such/route")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 404 and "\\u" not in text
    message = resp.get_json()["message"]
    assert message and any(ord(ch) > 127 for ch in message) and message in text     # written as UTF-8
    keys = list(json.loads(text, object_pairs_hook=lambda pairs: pairs))
    assert [k for k, _ in keys] == ["success", "code", "message", "error"]         # as built, not sorted


def test_there_is_no_static_route(app):
    assert "static" not in app.view_functions
    assert not any(rule.rule.startswith("/static") for rule in app.url_map.iter_rules())


def test_the_compute_gate_gets_its_slots_from_the_settings(settings, clean_db):
    app = create_app(settings=settings.model_copy(update={"computing_requests_per_worker": 3}))
    assert app.wsgi_app.slots == 3


def _multipart(total: int) -> bytes:
    """A multipart body of exactly `total` bytes: a small file and a padding field."""
    head = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="pad.sql"\r\n'
            b"Content-Type: text/plain\r\n\r\n-- x\r\n"
            b'--b\r\nContent-Disposition: form-data; name="pad"\r\n\r\n')
    tail = b"\r\n--b--\r\n"
    return head + b"p" * (total - len(head) - len(tail)) + tail


def test_a_request_may_exceed_the_upload_limit_by_64_kb_and_no_more(settings, clean_db):
    small = settings.model_copy(update={"max_upload_mb": 0.05})
    c = create_app(settings=small).test_client()
    task_id = c.post(BASE, json={"task_name": "cap"}).get_json()["data"]["task_id"]
    cap = small.max_upload_bytes + 64 * 1024
    at_cap = c.post(f"{BASE}/{task_id}/files", data=_multipart(cap), content_type="multipart/form-data; boundary=b")
    assert at_cap.status_code == 200, at_cap.get_json()
    over = c.post(f"{BASE}/{task_id}/files?overwrite_mode=overwrite", data=_multipart(cap + 1),
                  content_type="multipart/form-data; boundary=b")
    assert over.status_code == 413 and "the request is larger than" in over.get_json()["error"]["details"]
