"""Masking of passwords and keys, for every response, file and log line.

Masking follows how libpq reads a connection string, not a guess at its spelling:
- URL form (`postgresql://user:pw@host,host2:5433/db?k=v`): the password in the user-info (everything after the
  first `:` up to the last `@` of the authority) and every query parameter whose key, *percent-decoded* as libpq
  decodes it, names a secret (`password`, `sslpassword`, `pass%77ord`, ...);
- key=value form (`host=x password='a b'`): values of secret keys, quoted or not;
- free text: both of the above wherever they appear, `Bearer <token>`, and `KEY=value` / `KEY: value` where the
  key is a password/passwd/pwd, ends in `_KEY`, `_TOKEN`, `_SECRET` or contains `PASSWORD` (`LLM_API_KEY=...`).
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

MASK = "******"
# dictionary keys whose whole value is a secret (task parameters, settings dumps, headers)
SECRET_KEYS = re.compile(r"(pass(word)?|pwd|secret|token|api[_-]?key|authorization)", re.I)
_EXACT_SECRET_NAMES = frozenset({"password", "passwd", "pwd", "pass", "sslpassword", "secret", "token", "apikey",
                                 "api_key", "api-key", "authorization", "access_token", "refresh_token"})
_SECRET_SUFFIXES = ("_key", "-key", "_token", "-token", "_secret", "-secret", "_pwd", "password", "passwd")

_URL = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<rest>[^\s\"'<>`]*)")
_KEY_VALUE = re.compile(
    r"(?P<key>(?<![\w%.\-])[A-Za-z_%][\w%.\-]*)(?P<sep>[\"']?\s*[=:]\s*)"
    r"(?P<val>'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|[^\s'\",;&)]+)")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+")


def is_secret_name(name: str) -> bool:
    """Does this key (as written: percent-encoding decoded, any case) name a secret?"""
    key = unquote(name).strip().lower()
    return key in _EXACT_SECRET_NAMES or key.endswith(_SECRET_SUFFIXES) or "password" in key


def _mask_query(query: str) -> str:
    parts = []
    for item in query.split("&"):
        key, eq, _value = item.partition("=")
        parts.append(f"{key}={MASK}" if eq and is_secret_name(key) else item)
    return "&".join(parts)


def _mask_url_rest(rest: str) -> str:
    """`rest` = everything after `scheme://`: user-info password and secret query parameters masked.
    The user-info ends at the last `@` before the query (libpq stops at the first; masking more is the safe side,
    and covers a password with an unencoded `/` or `@`)."""
    query_at = rest.find("?")
    at = rest.rfind("@", 0, query_at if query_at >= 0 else len(rest))
    if at >= 0:
        user, colon, _password = rest[:at].partition(":")
        if colon:
            rest = f"{user}:{MASK}{rest[at:]}"
    path, q, query = rest.partition("?")
    if q:
        query, hash_, fragment = query.partition("#")
        rest = f"{path}?{_mask_query(query)}{hash_}{fragment}"
    return rest


def mask_url(url: str) -> str:
    """postgresql://user:pw@host/db?sslpassword=x -> postgresql://user:******@host/db?sslpassword=******.
    A key=value connection string gets its secret values masked the same way."""
    if not isinstance(url, str) or not url:
        return url
    match = _URL.match(url.strip())
    if match and match.start() == 0 and match.end() == len(url.strip()):
        return url.strip()[: match.start("rest")] + _mask_url_rest(match["rest"])
    return scrub_text(url)


def _mask_key_value(m: re.Match) -> str:
    if not is_secret_name(m["key"]):
        return m.group(0)
    value = m["val"]
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{m['key']}{m['sep']}{quote}{MASK}{quote}"


def scrub_text(text: str) -> str:
    """Remove anything that looks like a password or key from free text."""
    if not text or not isinstance(text, str):
        return text
    text = _URL.sub(lambda m: m["scheme"] + _mask_url_rest(m["rest"]), text)
    text = _BEARER.sub(rf"\1{MASK}", text)
    return _KEY_VALUE.sub(_mask_key_value, text)


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
