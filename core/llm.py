"""OpenAI-compatible chat client: capped concurrency, retries with backoff, JSON answers validated by pydantic.

Contract for callers (steps):
- `make_llm(settings, usage, cancel_event)` returns an `LLMClient`, or None when no LLM is configured (use the
  rule-based generator); a set `cancel_event` (the step's) ends pending retry waits.
- `chat(...)` returns non-empty assistant text or raises `core.errors.LLMError`; a failure never comes back as
  content (the seed system wrote "sorry, I cannot..." into table comments).
- `chat_json(..., schema=Model)` returns a validated object; an unusable answer gets exactly one re-ask with the
  error appended to the conversation, then `LLMError`.
- One client per task: its semaphore caps the concurrent requests of every thread of that task, and its `Usage`
  collects tokens, calls, retries and latency (optionally per `purpose=` label).
Error messages carry the HTTP status and a short, scrubbed excerpt of the server's answer, never the API key.
"""
from __future__ import annotations

import json
import random
import re
import threading
import time
from email.utils import parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Optional

import requests
from pydantic import TypeAdapter, ValidationError

from app_config import PROJECT_ROOT, Settings
from core.errors import LLMError
from core.secrets import scrub_text

PROMPTS_DIR = PROJECT_ROOT / "prompts"
RETRYABLE_STATUS = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))
EXCERPT_CHARS = 200


# --- usage accounting ------------------------------------------------------------------------------------------
_COUNTERS = ("calls", "requests", "retries", "failures", "prompt_tokens", "completion_tokens", "total_tokens")


class Usage:
    """Thread-safe counters of one task's LLM traffic; `to_dict()` is JSON-ready (goes into step results).

    calls: logical calls (chat()), requests: HTTP attempts, retries: attempts beyond the first, failures: calls
    that raised; latency is per call including retries and waits.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = self._empty()
        self._by_purpose: dict[str, dict] = {}

    @staticmethod
    def _empty() -> dict:
        return {**{k: 0 for k in _COUNTERS}, "total_latency_s": 0.0, "max_latency_s": 0.0}

    def record(self, *, purpose: Optional[str], attempts: int, latency_s: float, failed: bool,
               tokens: Optional[dict] = None) -> None:
        tokens = tokens or {}
        with self._lock:
            targets = [self._total]
            if purpose:
                targets.append(self._by_purpose.setdefault(purpose, self._empty()))
            for t in targets:
                t["calls"] += 1
                t["requests"] += attempts
                t["retries"] += max(0, attempts - 1)
                t["failures"] += int(failed)
                for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
                    t[key] += int(tokens.get(key) or 0)
                t["total_latency_s"] += latency_s
                t["max_latency_s"] = max(t["max_latency_s"], latency_s)

    def __getattr__(self, name: str) -> Any:
        if name in _COUNTERS or name in ("total_latency_s", "max_latency_s"):
            with self._lock:
                return self._total[name]
        raise AttributeError(name)

    def to_dict(self) -> dict:
        with self._lock:
            out = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self._total.items()}
            if self._by_purpose:
                out["by_purpose"] = {p: {k: (round(v, 3) if isinstance(v, float) else v) for k, v in c.items()}
                                     for p, c in sorted(self._by_purpose.items())}
            return out


# --- retries (shared with core.embedding) ----------------------------------------------------------------------
class RetryPolicy:
    """Exponential backoff with jitter; a server's Retry-After (seconds or HTTP date) wins, capped."""

    def __init__(self, max_retries: int, base_s: float, max_wait_s: float):
        self.max_retries, self.base_s, self.max_wait_s = max_retries, base_s, max_wait_s

    @classmethod
    def from_settings(cls, settings: Settings) -> "RetryPolicy":
        return cls(settings.llm_max_retries, settings.llm_retry_backoff_s, settings.llm_retry_max_wait_s)

    def wait_s(self, retry_number: int, retry_after: Optional[str] = None) -> float:
        """Seconds to wait before retry `retry_number` (1-based)."""
        honoured = parse_retry_after(retry_after)
        if honoured is not None:
            return min(honoured, self.max_wait_s)
        ceiling = min(self.base_s * (2 ** (retry_number - 1)), self.max_wait_s)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter": spread clients, keep a floor


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class _Attempt(Exception):
    """One failed HTTP attempt; `retryable` decides whether the loop tries again."""

    def __init__(self, message: str, retryable: bool, retry_after: Optional[str] = None):
        super().__init__(message)
        self.retryable, self.retry_after = retryable, retry_after


def error_excerpt(text: str, secrets: tuple[str, ...] = ()) -> str:
    """A short, single-line, secret-free excerpt of an error body (the JSON error message when there is one)."""
    try:
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("error"), dict) and data["error"].get("message"):
            text = str(data["error"]["message"])
        elif isinstance(data, dict) and isinstance(data.get("error"), str):
            text = data["error"]
    except ValueError:
        pass
    text = " ".join(str(text).split())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "******")
    text = scrub_text(text)
    return text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else "")


def post_json_with_retries(session: requests.Session, url: str, payload: dict, *, headers: dict,
                           timeout_s: float, policy: RetryPolicy, secrets: tuple[str, ...] = (),
                           what: str = "LLM", gate: Optional[threading.Semaphore] = None,
                           abort: tuple[threading.Event, ...] = ()) -> tuple[dict, int]:
    """POST `payload`, retrying 429/5xx/timeouts/connection errors/garbled bodies; returns (json, attempts).

    The semaphore `gate` is held only while a request is in flight (not while waiting to retry), so it caps the
    concurrent requests seen by the server. Raises LLMError after the last attempt or on a non-retryable status.
    """
    attempts = 0
    while True:
        attempts += 1
        try:
            return _one_attempt(session, url, payload, headers, timeout_s, secrets, gate), attempts
        except _Attempt as failure:
            if not failure.retryable or attempts > policy.max_retries:
                tried = f" after {attempts} attempts" if attempts > 1 else ""
                error = LLMError(f"{what} request to {_endpoint_label(url)} failed{tried}: {failure}")
                error.attempts = attempts
                raise error from None
            if _sleep_unless_set(abort, policy.wait_s(attempts, failure.retry_after)):
                error = LLMError(f"{what} request abandoned while waiting to retry: the task is stopping "
                                 f"(last failure: {failure})")
                error.attempts = attempts
                raise error from None


def _sleep_unless_set(events: tuple[threading.Event, ...], seconds: float) -> bool:
    """Sleep `seconds`; True (early) as soon as one of `events` is set."""
    deadline = time.monotonic() + seconds
    while True:
        if any(e.is_set() for e in events):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(remaining, 0.05))


def _one_attempt(session, url, payload, headers, timeout_s, secrets, gate) -> dict:
    try:
        if gate is not None:
            gate.acquire()
        try:
            resp = session.post(url, json=payload, headers=headers, timeout=(min(10.0, timeout_s), timeout_s))
        finally:
            if gate is not None:
                gate.release()
    except requests.Timeout:
        raise _Attempt(f"timed out after {timeout_s:g} s", retryable=True) from None
    except requests.ConnectionError as exc:
        raise _Attempt(f"connection error ({type(exc).__name__})", retryable=True) from None
    except requests.RequestException as exc:
        raise _Attempt(f"request error ({type(exc).__name__})", retryable=False) from None
    if resp.status_code >= 400:
        raise _Attempt(f"HTTP {resp.status_code}: {error_excerpt(resp.text, secrets)}",
                       retryable=resp.status_code in RETRYABLE_STATUS, retry_after=resp.headers.get("Retry-After"))
    try:
        data = resp.json()
    except ValueError:
        raise _Attempt(f"HTTP {resp.status_code} with a body that is not JSON: {error_excerpt(resp.text, secrets)}",
                       retryable=True) from None
    if not isinstance(data, dict):
        raise _Attempt(f"HTTP {resp.status_code} with an unexpected JSON body", retryable=True)
    return data


def _endpoint_label(url: str) -> str:
    """scheme://host/path without credentials or query (safe for messages)."""
    return scrub_text(url.split("?", 1)[0])


def make_session(pool_size: int) -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=max(10, pool_size), max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# --- JSON extraction -------------------------------------------------------------------------------------------
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\n?(.*?)```", re.S)
_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_MAX_SCAN_STARTS = 200


def json_candidates(text: str) -> Iterator[Any]:
    """JSON values found in an answer, most likely first: the whole text, fenced blocks, then every object or
    array embedded in surrounding prose (decoded from each `{`/`[`)."""
    text = _THINK.sub("", text or "").strip()
    seen: set[str] = set()

    def decoded(s: str) -> Iterator[Any]:
        s = s.strip()
        if s and s not in seen:
            seen.add(s)
            try:
                yield json.loads(s)
            except ValueError:
                pass

    yield from decoded(text)
    for match in _FENCE.finditer(text):
        yield from decoded(match.group(2))
    decoder = json.JSONDecoder()
    starts = [i for i, ch in enumerate(text) if ch in "{["][:_MAX_SCAN_STARTS]
    for i in starts:
        try:
            value, _ = decoder.raw_decode(text, i)
        except ValueError:
            continue
        if isinstance(value, (dict, list)):
            yield value


def extract_json(text: str, schema: Any = None) -> Any:
    """The first JSON value in `text` that validates against `schema` (a pydantic model or any type pydantic can
    validate, e.g. list[Model]); without a schema, the first object/array. Raises ValueError with the reason."""
    adapter = _adapter(schema) if schema is not None else None
    first_error: Optional[str] = None
    found = False
    for value in json_candidates(text):
        found = True
        if adapter is None:
            if isinstance(value, (dict, list)):
                return value
            first_error = first_error or "expected a JSON object or array"
            continue
        # JSON-mode models must answer an object: {"pairs": [...]} stands for the list a list schema expects
        wrapped = isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value.values())), list)
        for option in (value, next(iter(value.values()))) if wrapped else (value,):
            try:
                return adapter.validate_python(option)
            except ValidationError as exc:
                first_error = first_error or _validation_summary(exc)
    if not found:
        raise ValueError("the answer contains no JSON value")
    raise ValueError(f"the JSON does not match the expected format: {first_error}")


@lru_cache(maxsize=64)
def _adapter(schema: Any) -> TypeAdapter:
    return TypeAdapter(schema)


def _validation_summary(exc: ValidationError, limit: int = 5) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:limit]]
    more = exc.error_count() - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


# --- prompts ---------------------------------------------------------------------------------------------------
_PROMPT_NAME = re.compile(r"^[a-z0-9_]+$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@lru_cache(maxsize=128)
def _prompt_text(name: str) -> str:
    if not _PROMPT_NAME.match(name):
        raise ValueError(f"invalid prompt name {name!r}")
    path = PROMPTS_DIR / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"prompt template {path.name} not found in {PROMPTS_DIR.name}/")
    return path.read_text(encoding="utf-8")


def load_prompt(name: str, **variables: Any) -> str:
    """prompts/<name>.txt with every `{{var}}` replaced by str(value); a placeholder without a value raises."""
    template = _prompt_text(name)
    missing = sorted({m for m in _PLACEHOLDER.findall(template) if m not in variables})
    if missing:
        raise KeyError(f"prompt {name!r} needs values for: {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: str(variables[m.group(1)]), template)


# --- the client ------------------------------------------------------------------------------------------------
class LLMClient:
    """Chat completions against `settings.llm_base_url`; thread-safe; one instance per task."""

    def __init__(self, settings: Settings, usage: Optional[Usage] = None, *,
                 cancel_event: Optional[threading.Event] = None):
        if not settings.llm_enabled:
            raise LLMError("no LLM configured (LLM_BASE_URL and LLM_MODEL are required)")
        self.settings = settings
        self.usage = usage if usage is not None else Usage()
        self.model = settings.llm_model
        self.url = settings.llm_base_url.rstrip("/") + "/chat/completions"
        self.policy = RetryPolicy.from_settings(settings)
        self._gate = threading.BoundedSemaphore(settings.llm_max_concurrency)
        self._closed = threading.Event()
        # retry waits end early when the task is cancelled (the step's cancel_event) or the client is closed
        self._abort = (self._closed,) + ((cancel_event,) if cancel_event is not None else ())
        self._session = make_session(settings.llm_max_concurrency)
        self._headers = {"Content-Type": "application/json"}
        if settings.llm_api_key:
            self._headers["Authorization"] = f"Bearer {settings.llm_api_key}"

    def describe(self) -> dict:
        """What produced the content, for output labels (no key)."""
        return {"generator": "llm", "model": self.model, "base_url": _endpoint_label(self.settings.llm_base_url)}

    def chat(self, messages: list[dict], temperature: Optional[float] = None, max_tokens: Optional[int] = None,
             *, purpose: Optional[str] = None) -> str:
        """The assistant's non-empty text for `messages`; raises LLMError on any failure (after retries)."""
        payload: dict[str, Any] = {
            "model": self.model, "messages": messages,
            "temperature": self.settings.llm_temperature if temperature is None else temperature,
        }
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        started = time.monotonic()
        attempts, tokens, failed = 0, None, True
        try:
            data, attempts = post_json_with_retries(
                self._session, self.url, payload, headers=self._headers, timeout_s=self.settings.llm_timeout_s,
                policy=self.policy, secrets=(self.settings.llm_api_key,), gate=self._gate, abort=self._abort)
            tokens = data.get("usage") if isinstance(data.get("usage"), dict) else None
            content = _content_of(data)
            failed = False
            return content
        except LLMError as exc:
            attempts = attempts or getattr(exc, "attempts", 1)
            raise
        finally:
            self.usage.record(purpose=purpose, attempts=attempts, latency_s=time.monotonic() - started,
                              failed=failed, tokens=tokens)

    def chat_json(self, messages: list[dict], schema: Any = None, *, temperature: Optional[float] = None,
                  max_tokens: Optional[int] = None, purpose: Optional[str] = None) -> Any:
        """A JSON answer validated against `schema` (pydantic model or type; None: any object/array).

        Unusable JSON gets exactly one re-ask (prompts/json_reask.txt with the error); then LLMError."""
        answer = self.chat(messages, temperature, max_tokens, purpose=purpose)
        try:
            return extract_json(answer, schema)
        except ValueError as first:
            retry_messages = [*messages, {"role": "assistant", "content": answer},
                              {"role": "user", "content": load_prompt("json_reask", error=str(first))}]
        answer = self.chat(retry_messages, temperature, max_tokens, purpose=purpose)
        try:
            return extract_json(answer, schema)
        except ValueError as second:
            raise LLMError(f"the LLM answer is not usable JSON even after one re-ask: {second}. "
                           f"Answer starts with: {error_excerpt(answer[:120])!r}") from None

    def close(self) -> None:
        """Stop pending retry waits and release connections."""
        self._closed.set()
        self._session.close()

    def __enter__(self) -> "LLMClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _content_of(data: dict) -> str:
    """choices[0].message.content, required to be non-empty text."""
    try:
        choice = data["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise LLMError("LLM response has no choices[0].message.content") from None
    if not isinstance(content, str) or not content.strip():
        reason = choice.get("finish_reason") if isinstance(choice, dict) else None
        raise LLMError(f"LLM returned empty content (finish_reason={reason!r})")
    return content


def make_llm(settings: Settings, usage: Optional[Usage] = None,
             cancel_event: Optional[threading.Event] = None) -> Optional[LLMClient]:
    """An LLMClient when LLM_BASE_URL and LLM_MODEL are set, else None (callers use the rule-based generator)."""
    return LLMClient(settings, usage, cancel_event=cancel_event) if settings.llm_enabled else None
