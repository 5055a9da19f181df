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
from typing import Any, Optional
from urllib.parse import quote, unquote

import psycopg2
import psycopg2.extensions

MASK = "******"
# dictionary keys whose whole value is a secret (task parameters, settings dumps, headers)
SECRET_KEYS = re.compile(r"(pass(word)?|pwd|secret|token|api[_-]?key|authorization)", re.I)
_EXACT_SECRET_NAMES = frozenset({"password", "passwd", "pwd", "pass", "sslpassword", "secret", "token", "apikey",
                                 "api_key", "api-key", "authorization", "access_token", "refresh_token"})
_SECRET_SUFFIXES = ("_key", "-key", "_token", "-token", "_secret", "-secret", "_pwd", "password", "passwd")

_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://")
_URL = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<rest>[^\s\"'<>`]*)")
_KEY_VALUE = re.compile(
    r"(?P<key>(?<![\w%.\-])[A-Za-z_%][\w%.\-]*)(?P<sep>[\"']?\s*[=:]\s*)"
    r"(?P<val>'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|(?:\\.|[^\s'\",;&)\\])+)")
# a URL's user-info password that holds a space or a quote (libpq reads it whole) inside free text, where the URL
# pattern above stops early: `scheme://user:` up to the first `@` on the line (no `/` in between)
_SPACED_USERINFO = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/?#@\"'<>]*:)[^\n/@]{1,128}?@")
# ... and one holding a space and a `/` (`app:p w/x@db`): a space before the first `@` on the line, no port after
# the `:` (`host:5432/db failed for ops@x` is a host, not a password), no `[` (an IPv6 host) in the user part
_SLASHED_USERINFO = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/?#@\"'<>\[]*:)(?!\d+(?:[/?#\s]|$))"
                               r"[^\n@]{0,128}?[ \t][^\n@]{0,128}?@")
# libpq reads an unquoted value up to whitespace: a secret's value goes on over commas (`password=abc,def`);
# a comma before a space or the end is punctuation
_VALUE_MORE = re.compile(r"(?:,(?:\\.|[^\s'\",;&)\\])+)*")
_QUOTED = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+")


def is_secret_name(name: str) -> bool:
    """Does this key (as written: percent-encoding decoded, any case) name a secret?"""
    key = unquote(name).strip().lower()
    return key in _EXACT_SECRET_NAMES or key.endswith(_SECRET_SUFFIXES) or "password" in key


def _mask_query(query: str) -> str:
    """libpq splits a URL's query on `&` only (a `#` is part of a value, not a fragment) and decodes `%XX`."""
    parts = []
    for item in query.split("&"):
        key, eq, _value = item.partition("=")
        parts.append(f"{key}={MASK}" if eq and is_secret_name(key) else item)
    return "&".join(parts)


def _userinfo_end(rest: str) -> int:
    """Where the user-info of `rest` (after `scheme://`) ends: the index of its `@`, or -1.

    libpq ends it at the first `@` met before any `/`; a password written with an unencoded `@` or `/`
    (`app:p@ss/w0rd@db`) means more to its author, so the mask runs to the last `@` before the query, and when
    libpq sees no user-info at all (a `/` first) to the last `@` before the first `?`."""
    first = next((i for i, ch in enumerate(rest) if ch in "@/"), -1)
    if first >= 0 and rest[first] == "@":
        query = rest.find("?", first)
        return rest.rfind("@", first, query if query >= 0 else len(rest))
    query = rest.find("?")
    return rest.rfind("@", 0, query if query >= 0 else len(rest))


def _mask_url_rest(rest: str) -> str:
    """`rest` = everything after `scheme://`: user-info password and secret query parameters masked."""
    at = _userinfo_end(rest)
    if at >= 0:
        user, colon, _password = rest[:at].partition(":")
        if colon:
            rest = f"{user}:{MASK}{rest[at:]}"
            at = len(user) + 1 + len(MASK)
    query_at = rest.find("?", max(at, 0))
    if query_at >= 0:
        rest = f"{rest[:query_at]}?{_mask_query(rest[query_at + 1:])}"
    return rest


_SECRET_PARAMETERS = ("password", "sslpassword")


def _libpq(text: str):
    try:
        return psycopg2.extensions.parse_dsn(text)
    except psycopg2.ProgrammingError:
        return None


def _reveals(masked: str, original: Optional[dict]) -> bool:
    """Would libpq read a secret out of `masked`, or does it still hold one libpq reads out of the original?"""
    parsed = _libpq(masked)
    if parsed is not None and any(parsed.get(k) not in (None, "", MASK) for k in _SECRET_PARAMETERS):
        return True
    secrets = [original.get(k) for k in _SECRET_PARAMETERS] if original else []
    return any(len(v) >= 3 and v in masked for v in secrets if v and v != MASK)


def _rebuilt(parsed: dict, scheme: str) -> str:
    """A connection string rebuilt from libpq's own reading, every secret masked (for spellings the textual mask
    cannot be trusted with)."""
    shown = {k: (MASK if k in _SECRET_PARAMETERS or is_secret_name(k) else v) for k, v in parsed.items()}
    if scheme:
        query = "&".join(f"{quote(k, safe='')}={v if v == MASK else quote(v, safe='')}" for k, v in shown.items()
                         if k not in ("user", "host", "port", "dbname", "password"))
        user = quote(shown.get("user", ""), safe="")
        auth = f"{user}:{MASK}@" if "password" in shown else (f"{user}@" if user else "")
        port = f":{quote(shown['port'], safe=',')}" if shown.get("port") else ""
        host = shown.get("host", "")
        hosts = "" if host.startswith("/") else quote(host, safe=",[]:")
        if host.startswith("/"):
            query = f"host={quote(host, safe='/')}" + (f"&{query}" if query else "")
        return f"{scheme}{auth}{hosts}{port}/{quote(shown.get('dbname', ''), safe='')}" + (f"?{query}" if query else "")
    return " ".join(f"{k}={MASK}" if v == MASK else f"{k}='{_kv_escape(v)}'" for k, v in shown.items())


def _kv_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def mask_url(url: str) -> str:
    """postgresql://user:pw@host/db?sslpassword=x -> postgresql://user:******@host/db?sslpassword=******.
    A key=value connection string gets its secret values masked the same way. The result is checked with libpq's
    own parser (`parse_dsn`): when it would still yield a password, or still holds the one libpq reads from `url`,
    the string is rebuilt from libpq's reading with every secret masked."""
    if not isinstance(url, str) or not url:
        return url
    text = url.strip()
    scheme = _SCHEME.match(text)
    masked = scheme.group(0) + _mask_url_rest(text[scheme.end():]) if scheme else scrub_text(text)
    original = _libpq(text)
    if not _reveals(masked, original):
        return masked
    if original is not None:
        return _rebuilt(original, scheme.group(0) if scheme else "")
    return (scheme.group(0) if scheme else "") + MASK


def _mask_key_values(text: str) -> str:
    """Every `key=value` / `key: value` of a secret key masked; a non-secret one is left as written, and its value
    is searched too (`postgresql://u:...@db/spassword='s e c'` reads as key `postgresql`, then `spassword`)."""
    out, pos = [], 0
    while (m := _KEY_VALUE.search(text, pos)) is not None:
        end, value = m.end(), m["val"]
        quote = value[0] if value[:1] in ("'", '"') else ""
        if not is_secret_name(m["key"]):
            end = m.start("val")
            out.append(text[pos:end])
        else:
            more = _VALUE_MORE.match(text, end).end() if not quote else end
            if more > end:       # on over commas, up to the next key=value (masked or shown on its own)
                after = _KEY_VALUE.search(text, end)
                end = min(more, after.start()) if after else more
            glued = _QUOTED.match(text, end) if not quote else None
            if glued and not _KEY_VALUE.search(glued.group(0)):   # `token=abc'k l'`: glued on, part of it
                end = glued.end()
            out.append(f"{text[pos:m.start()]}{m['key']}{m['sep']}{quote}{MASK}{quote}")
        pos = end
    return "".join(out) + text[pos:]


def scrub_text(text: str) -> str:
    """Remove anything that looks like a password or key from free text."""
    if not text or not isinstance(text, str):
        return text
    text = _SPACED_USERINFO.sub(lambda m: f"{m['head']}{MASK}@", text)
    text = _SLASHED_USERINFO.sub(lambda m: f"{m['head']}{MASK}@", text)
    text = _URL.sub(lambda m: m["scheme"] + _mask_url_rest(m["rest"]), text)
    text = _BEARER.sub(rf"\1{MASK}", text)
    return _mask_key_values(text)


def _looks_like_dsn(value: str) -> bool:
    """A key=value connection string with a secret in it, as libpq reads it."""
    parsed = _libpq(value) if "=" in value else None
    return bool(parsed) and any(k in parsed for k in _SECRET_PARAMETERS)


def mask_secrets(value: Any, key: str = "") -> Any:
    """Deep copy of `value` with secret-named keys masked and URLs' passwords masked."""
    if isinstance(value, dict):
        return {k: mask_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_secrets(v, key) for v in value]
    if isinstance(value, str):
        if key and SECRET_KEYS.search(key) and value:
            return MASK
        if "://" in value or _looks_like_dsn(value):
            return mask_url(value)
        return scrub_text(value)
    return value
