"""The catch-all 500 handler (`api/errors.py`): an exception our code never expected, raised inside a route,
becomes the contract's error envelope with code 500 and a generic sentence - no stack trace, no secret - while
the service log gets the scrubbed traceback.

The raising route is `api/fault_injection.py`, registered only for an app built with a test config carrying
both TESTING and FAULT_INJECTION; the last tests prove it is absent otherwise.
"""
from __future__ import annotations

import logging

import pytest

from citu_app import create_app
from data_pipeline.api.fault_injection import FAULT_PATH

PASSWORD = "PLANTED_500_pw_9731"
TOKEN = "PLANTED500tokenQx81"
FAULT_MESSAGE = (f"driver said: could not connect to postgresql://reader:{PASSWORD}@db.internal:5432/biz "
                 f"(sent Authorization: Bearer {TOKEN})")
LEAK_MARKERS = ("Traceback", 'File "', "InjectedFault", "_deep_helper", "fault_injection.py", "db.internal",
                PASSWORD, TOKEN)


@pytest.fixture(scope="module")
def fault_client(settings):
    app = create_app(settings=settings, test_config={"TESTING": True, "FAULT_INJECTION": FAULT_MESSAGE})
    return app.test_client()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unexpected_exception_is_a_clean_500_envelope(fault_client, caplog, method):
    caplog.set_level(logging.ERROR, logger="data_pipeline.api")
    resp = fault_client.open(FAULT_PATH, method=method, json={"x": 1} if method == "POST" else None)

    assert resp.status_code == 500
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["success"] is False and body["code"] == 500
    assert body["error"]["code"] == "INTERNAL_ERROR" and body["error"]["type"] == "InternalError"
    assert body["error"]["details"] == "unexpected server error; see the service log"
    assert body["message"] and body["error"]["timestamp"]
    text = resp.get_data(as_text=True)
    for marker in LEAK_MARKERS:
        assert marker not in text, f"{marker!r} reached the client"

    # server side: one error record naming the request, with the whole (scrubbed) traceback
    records = [r for r in caplog.records if r.name == "data_pipeline.api" and r.levelno == logging.ERROR]
    assert len(records) == 1, [r.getMessage() for r in records]
    logged = records[0].getMessage()
    assert f"unhandled InjectedFault on {method} {FAULT_PATH}" in logged
    assert "Traceback (most recent call last)" in logged
    assert "in _deep_helper" in logged and "in unexpected" in logged  # the frames, down to where it started
    assert "postgresql://reader:******@db.internal:5432/biz" in logged  # the useful part of the message stays
    assert PASSWORD not in caplog.text and TOKEN not in caplog.text


def test_the_fault_route_needs_both_testing_and_the_flag(settings, app):
    # the session app: TESTING but no FAULT_INJECTION
    assert app.config["TESTING"] is True
    production_like = create_app(settings=settings)
    flag_without_testing = create_app(settings=settings, test_config={"FAULT_INJECTION": FAULT_MESSAGE})
    for built in (app, production_like, flag_without_testing):
        assert "fault_injection.unexpected" not in built.view_functions
        resp = built.test_client().get(FAULT_PATH)
        assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "NOT_FOUND"
