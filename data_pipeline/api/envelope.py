"""The contract's envelope for every answer, and request parsing into pydantic models."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional, Type, TypeVar

from flask import jsonify, request
from pydantic import BaseModel, ValidationError

from core.errors import AppError, ValidationFailed

M = TypeVar("M", bound=BaseModel)


def now_iso() -> str:
    return datetime.now().replace(microsecond=0).isoformat()


def ok(data: Any = None, message: str = "操作成功", code: int = 200, response: Optional[str] = None):
    """Success envelope. `response` (seed 004) is a human sentence placed inside `data`."""
    if isinstance(data, dict):
        data = dict(data)
        data.setdefault("response", response or message)
        data.setdefault("timestamp", now_iso())
    resp = jsonify({"success": True, "code": code, "message": message, "data": data})
    resp.status_code = code
    return resp


def error_body(err: AppError) -> dict:
    return {"success": False, "code": err.status, "message": err.message,
            "error": {"type": err.error_type, "code": err.code, "details": err.details,
                      "invalid_params": err.invalid_params, "timestamp": now_iso()}}


def error_response(err: AppError):
    resp = jsonify(error_body(err))
    resp.status_code = err.status
    return resp


def json_body(required: bool = False) -> dict:
    """The request's JSON object. Empty body -> {} unless required; anything but an object -> 400."""
    raw = request.get_data(cache=True)
    if not raw or not raw.strip():
        if required:
            raise ValidationFailed("a JSON object body is required")
        return {}
    data = request.get_json(silent=True, force=True)
    if data is None:
        raise ValidationFailed("malformed JSON body")
    if not isinstance(data, dict):
        raise ValidationFailed("the JSON body must be an object")
    return data


def parse(model: Type[M], data: dict) -> M:
    """Validate `data` with `model`; field errors become 400 VALIDATION_ERROR with `invalid_params`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields, problems = [], []
        for e in exc.errors():
            name = ".".join(str(p) for p in e["loc"]) or "body"
            if name not in fields:
                fields.append(name)
            msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
            problems.append(f"{name}: {msg}")
        raise ValidationFailed("; ".join(problems), invalid_params=fields) from None


def query_args(model: Type[M]) -> M:
    return parse(model, {k: v for k, v in request.args.items()})
