"""Masking of passwords and keys, for every response, file and log line."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "******"
SECRET_KEYS = re.compile(r"(pass(word)?|pwd|secret|token|api[_-]?key|authorization)", re.I)
# user:password@ inside any URL-like text
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s/]+)@")
_KV_PASSWORD = re.compile(r"(?P<key>\b(password|pwd|api[_-]?key|token)\s*[=:]\s*)(?P<val>['\"]?[^\s'\",;&]+)",
                          re.I)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+")


def mask_url(url: str) -> str:
    """postgresql://user:pw@host/db -> postgresql://user:******@host/db (no-op without a password)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return scrub_text(url)
    if parts.password is None:
        return scrub_text(url)
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = netloc[0].split(":", 1)[0]
    return urlunsplit((parts.scheme, f"{userinfo}:{MASK}@{netloc[1]}", parts.path, parts.query, parts.fragment))


def scrub_text(text: str) -> str:
    """Remove anything that looks like a password or key from free text."""
    if not text:
        return text
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _KV_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", text)
    return _BEARER.sub(rf"\1{MASK}", text)


def mask_secrets(value: Any, key: str = "") -> Any:
    """Deep copy of `value` with secret-named keys masked and URLs' passwords masked."""
    if isinstance(value, dict):
        return {k: mask_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_secrets(v, key) for v in value]
    if isinstance(value, str):
        if key and SECRET_KEYS.search(key) and value:
            return MASK
        return mask_url(value) if "://" in value else scrub_text(value)
    return value
