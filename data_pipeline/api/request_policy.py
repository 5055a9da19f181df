"""Who may send a request, and what a body may be, decided before any view reads it (issue 23).

- `Host` must name this service: localhost names, 127.0.0.1, ::1 and HOST (with HOST 0.0.0.0 or ::, this
  machine's names and addresses), on any port, plus ALLOWED_HOSTS (`*`: any). A page that re-binds its own DNS
  name to 127.0.0.1 sends its own name: 400 HOST_NOT_ALLOWED, so it cannot read answers.
- A state-changing request (POST, PUT, PATCH, DELETE) that carries an `Origin` other than the service's own
  (same host and port as `Host`) or one listed in ALLOWED_ORIGINS is refused: 403 ORIGIN_NOT_ALLOWED. Clients
  that are not browsers send no Origin and are not affected.
- A request body must be `application/json` (415 UNSUPPORTED_MEDIA_TYPE): a browser sends `text/plain` and
  form bodies cross-site without asking first, JSON only after a CORS preflight this service never grants.
  `multipart/form-data` is accepted on the upload routes only.
- A JSON body larger than MAX_JSON_BODY_KB is 413 FILE_TOO_LARGE before a byte of it is read (the upload routes
  keep MAX_UPLOAD_MB); nesting and item count are checked before parsing (envelope.check_json_shape).
"""
from __future__ import annotations

import socket
from typing import Optional
from urllib.parse import urlsplit

from flask import Flask, request

from core.errors import AppError, FileTooLarge

UPLOAD_ENDPOINTS = frozenset({"files.upload_file", "files.upload_table_list"})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "localhost.localdomain", "ip6-localhost"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class HostNotAllowed(AppError):
    """The Host header names a site this service does not serve."""
    status, code, message, error_type = 400, "HOST_NOT_ALLOWED", "主机名不被允许", "SecurityError"


class OriginNotAllowed(AppError):
    """A state-changing request from a web page of another origin."""
    status, code, message, error_type = 403, "ORIGIN_NOT_ALLOWED", "跨站请求被拒绝", "SecurityError"


class UnsupportedMediaType(AppError):
    """A request body that is not JSON (or multipart on an upload route)."""
    status, code, message, error_type = 415, "UNSUPPORTED_MEDIA_TYPE", "不支持的请求体类型", "ValidationError"


def _split_list(text: str) -> list[str]:
    return [p.strip().lower() for p in (text or "").split(",") if p.strip()]


def allowed_host_names(settings) -> tuple[frozenset, bool]:
    """(the names a Host header may carry, whether any is allowed)."""
    extra = _split_list(settings.allowed_hosts)
    names = set(LOCAL_NAMES) | {settings.host.lower().strip("[]")} | set(extra)
    if settings.host in ("0.0.0.0", "::", ""):
        for name in {socket.gethostname(), socket.getfqdn()}:
            names.add(name.lower())
            try:
                names |= {info[4][0].lower() for info in socket.getaddrinfo(name, None)}
            except OSError:
                pass
    return frozenset(names), "*" in extra


def host_name(host: str) -> str:
    """`example.com:8084` -> `example.com`; `[::1]:8084` -> `::1` (lower case)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _netloc(scheme: str, netloc: str) -> str:
    """host:port with the scheme's default port made explicit, lower case."""
    netloc = netloc.lower()
    if netloc.endswith("]") or ":" not in netloc.rsplit("]", 1)[-1]:
        netloc = f"{netloc}:{_DEFAULT_PORTS.get(scheme, '')}"
    return netloc


def origin_allowed(origin: str, host_header: str, scheme: str, allowed: list[str]) -> bool:
    """Same host and port as the request (the console's own page), or listed in ALLOWED_ORIGINS."""
    origin = origin.strip().lower().rstrip("/")
    if origin in allowed or "*" in allowed:
        return True
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc:
        return False          # "null" (sandboxed frames, files), other schemes
    return _netloc(parts.scheme, parts.netloc) == _netloc(scheme, host_header)


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def register(app: Flask, settings) -> None:
    names, any_host = allowed_host_names(settings)
    origins = _split_list(settings.allowed_origins)
    json_cap = settings.max_json_body_kb * 1024

    @app.before_request
    def _request_policy() -> Optional[object]:
        if not any_host and host_name(request.host) not in names:
            raise HostNotAllowed(f"Host {host_name(request.host)!r} is not served here; add it to ALLOWED_HOSTS",
                                 invalid_params=["Host"])
        origin = request.headers.get("Origin")
        if request.method in STATE_CHANGING and origin is not None and not origin_allowed(
                origin, request.host, request.scheme, origins):
            raise OriginNotAllowed(f"requests from the web page origin {origin[:100]!r} are not accepted; add it "
                                   "to ALLOWED_ORIGINS", invalid_params=["Origin"])
        if not _has_body():
            return None
        upload = request.endpoint in UPLOAD_ENDPOINTS
        if upload and request.mimetype == "multipart/form-data":
            return None
        if not request.is_json:
            raise UnsupportedMediaType(
                f"send the body as JSON with 'Content-Type: application/json' (got {request.mimetype or 'none'!r})"
                + ("; files go as multipart/form-data" if upload else ""), invalid_params=["Content-Type"])
        if request.content_length is not None and request.content_length > json_cap:
            raise FileTooLarge(f"the JSON body is larger than {settings.max_json_body_kb} KB (MAX_JSON_BODY_KB)")
        request.max_content_length = json_cap   # a chunked body is cut off at the same size while it is read
        return None
