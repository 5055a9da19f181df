"""The contract's envelope for every answer, and request parsing into pydantic models.

Parsing refuses, with a 400 naming the field, what PostgreSQL or the file system would otherwise turn into a
500: control characters (NUL above all) in strings, integers outside PostgreSQL's `integer`, and JSON nested
deeper than `MAX_JSON_DEPTH` (Python's parser would hit its recursion limit).
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any, Optional, Type, TypeVar

from flask import Response, jsonify, request
from pydantic import BaseModel, ValidationError

from core.errors import AppError, FileTooLarge, ValidationFailed

M = TypeVar("M", bound=BaseModel)

MAX_JSON_DEPTH = 32
# values (array items, object members) in one JSON body: the biggest legitimate body (a 5,000-name table list)
# has ~5,000; checked on the bytes before parsing, so a body of millions of tiny arrays costs no parse and no walk
MAX_JSON_ITEMS = 50_000
# every integer we accept lands in (or is multiplied into) a PostgreSQL integer/bigint: int4 bounds are safe
INT_MIN, INT_MAX = -(2 ** 31), 2 ** 31 - 1
# fields whose text may span lines (tab, newline and CR allowed); everything else is a single-line value
MULTILINE_FIELDS = frozenset({"business_context", "description"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f]")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


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


def etag_for(*parts: Any) -> str:
    """A weak validator from whatever determines an answer (row versions, arguments). Weak: the envelope's
    `timestamp` differs between two otherwise equal answers."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8", "replace"), digest_size=12).hexdigest()
    return f'W/"{digest}"'


def not_modified(etag: str) -> Optional[Response]:
    """304 (no body) when the client's If-None-Match already names `etag`, else None."""
    if request.if_none_match.contains_weak(etag.removeprefix("W/").strip('"')):  # weak comparison (RFC 9110)
        resp = Response(status=304)
        resp.headers["ETag"] = etag
        resp.headers["Cache-Control"] = "no-cache"
        return resp
    return None


def with_etag(resp: Response, etag: str, modified: tuple[Any, ...] = ()) -> Response:
    """`modified`: the local-time ISO times the answer was made from; the latest becomes `Last-Modified`
    (informative: one-second resolution cannot validate an answer that changes twice a second, so 304s are
    decided by the ETag alone)."""
    resp.headers["ETag"] = etag
    resp.headers["Cache-Control"] = "no-cache"  # always revalidate; a 304 costs one small round trip
    times = [datetime.fromisoformat(t).astimezone() for t in modified if isinstance(t, str) and t]
    if times:
        resp.last_modified = max(times)
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
    cap = request.max_content_length
    if cap and request.content_length is None and len(raw) >= cap:   # a chunked body read up to the cap only
        raise FileTooLarge(f"the JSON body is larger than {cap // 1024} KB (MAX_JSON_BODY_KB)")
    if not raw or not raw.strip():
        if required:
            raise ValidationFailed("a JSON object body is required")
        return {}
    check_json_shape(raw)
    try:
        data = request.get_json(silent=True, force=True)
    except RecursionError:  # belt and braces: the depth check above should have refused it already
        raise ValidationFailed(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    if data is None:
        raise ValidationFailed("malformed JSON body")
    if not isinstance(data, dict):
        raise ValidationFailed("the JSON body must be an object")
    check_values(data)  # also for the endpoints that read the body without a model
    return data


def check_json_shape(raw: bytes) -> None:
    """400 when objects/arrays nest deeper than MAX_JSON_DEPTH or hold more than MAX_JSON_ITEMS values, decided on
    the bytes (strings skipped) before the JSON is parsed; cheap for ordinary bodies."""
    brackets = raw.count(b"[") + raw.count(b"{")
    if brackets + raw.count(b",") <= MAX_JSON_DEPTH:
        return
    skeleton = _JSON_STRING.sub(b"", raw)
    if skeleton.count(b",") + skeleton.count(b"[") + skeleton.count(b"{") > MAX_JSON_ITEMS:
        raise ValidationFailed(f"the JSON body holds more than {MAX_JSON_ITEMS} values")
    check_json_depth(skeleton, strings_removed=True)


def check_json_depth(raw: bytes, strings_removed: bool = False) -> None:
    """400 when objects/arrays nest deeper than MAX_JSON_DEPTH (strings are skipped; cheap for flat bodies)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return
    depth = 0
    for ch in _NOT_BRACKET.sub(b"", raw if strings_removed else _JSON_STRING.sub(b"", raw)):
        depth += 1 if ch in b"[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise ValidationFailed(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels")


def control_character_problem(name: str, value: str) -> Optional[str]:
    """A sentence naming the field when `value` holds a control character it may not hold, else None."""
    leaf = name.rsplit(".", 1)[-1]
    pattern = _CONTROL if leaf in MULTILINE_FIELDS else _CONTROL_SINGLE_LINE
    found = pattern.search(value)
    if found is None:
        return None
    return f"{name}: control character U+{ord(found.group()):04X} is not allowed"


def check_values(data: Any, name: str = "") -> None:
    """Walk parsed input: control characters in strings (and keys) and out-of-range integers are 400."""
    problems, fields = [], []

    def visit(value: Any, path: str) -> None:
        if isinstance(value, str):
            problem = control_character_problem(path or "body", value)
            if problem:
                problems.append(problem)
                fields.append(path or "body")
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, int):
            if not INT_MIN <= value <= INT_MAX:
                problems.append(f"{path}: {value} is out of range ({INT_MIN}..{INT_MAX})")
                fields.append(path)
        elif isinstance(value, dict):
            for key, item in value.items():
                key_text = str(key)
                child = f"{path}.{key_text}" if path else key_text
                if _CONTROL_SINGLE_LINE.search(key_text):
                    problems.append(f"{child!r}: control characters are not allowed in field names")
                    fields.append("body")
                    continue
                visit(item, child)
        elif isinstance(value, (list, tuple, set)):
            for index, item in enumerate(value):
                visit(item, f"{path}.{index}" if path else str(index))

    visit(data, name)
    if problems:
        raise ValidationFailed("; ".join(problems[:5]), invalid_params=list(dict.fromkeys(fields)))


def parse(model: Type[M], data: dict) -> M:
    """Validate `data` with `model`; field errors become 400 VALIDATION_ERROR with `invalid_params`.

    Control characters are checked on the raw input (so a NUL in an unknown key is named too), integer
    ranges on the validated values (query strings arrive as text and become integers only here)."""
    check_values(data)
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        fields, problems = [], []
        for e in exc.errors():
            name = ".".join(str(p) for p in e["loc"]) or "body"
            if name not in fields:
                fields.append(name)
            msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
            problems.append(f"{name}: {msg}")
        raise ValidationFailed("; ".join(problems), invalid_params=fields) from None
    check_values(parsed.model_dump(by_alias=True, exclude_none=True))
    return parsed


def query_args(model: Type[M]) -> M:
    return parse(model, {k: v for k, v in request.args.items()})
