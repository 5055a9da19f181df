"""Test-only fault injection: a route that raises an exception our code never expects (not an `AppError`).

It proves the catch-all handler in `errors.py`: envelope with code 500, a generic sentence, no stack trace or
secret in the answer, the scrubbed traceback in the service log. `register_blueprints` adds it only when the
app was built with `create_app(test_config={"TESTING": True, "FAULT_INJECTION": "<exception message>"})`;
`serve()` never passes a test config and no setting or environment variable reaches `app.config`, so a
production service cannot expose it.
"""
from __future__ import annotations

from flask import Blueprint, current_app

FAULT_PATH = "/api/v0/data_pipeline/_faults/unexpected"

bp = Blueprint("fault_injection", __name__)


class InjectedFault(RuntimeError):
    """Stands for any bug or library error (KeyError, a driver error ...) escaping a view."""


def _deep_helper(message: str) -> None:
    # a frame below the view, so the logged traceback shows where the error started
    raise InjectedFault(message)


@bp.route(FAULT_PATH, methods=["GET", "POST"])
def unexpected():
    _deep_helper(str(current_app.config["FAULT_INJECTION"]))
    return "unreachable"  # pragma: no cover


def enabled(config) -> bool:
    return bool(config.get("TESTING")) and bool(config.get("FAULT_INJECTION"))
