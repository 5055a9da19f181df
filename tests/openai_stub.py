"""A real local HTTP server speaking the OpenAI protocol, for tests and benchmarks (no pytest import here).

    with OpenAIStub() as stub:                       # 127.0.0.1, free port, background threads
        settings = load_settings({"llm_base_url": stub.base_url, "llm_model": "stub-model"})
        stub.script("first answer", Reply(status=429, retry_after=1), Reply(body="{not json"))
        stub.responder = lambda req: Reply(content=...)   # answer based on the prompt

Endpoints (with or without the `/v1` prefix): `POST /chat/completions`, `POST /embeddings`, `GET /models`.

How a chat request is answered, first match wins:
1. the next scripted reply (`stub.script(...)`, FIFO; a scripted callable is called with the request JSON);
2. `stub.responder(request_json)` when set;
3. the default: `"stub reply: <first 80 chars of the last user message>"`.
A reply is a `Reply`, a `str` (the assistant content) or a dict (keyword arguments of `Reply`).
Embeddings work the same way (`stub.script_embeddings(...)`, `stub.embedding_responder`); the default answer is
a deterministic hash-based unit vector of `embedding_dimension` per input text.

Every request is recorded (`stub.requests`, a thread-safe copy) with path, headers and parsed JSON so canary
tests can prove what was (not) sent; `stub.max_in_flight` is the peak number of concurrently handled requests
so tests and benchmarks can check concurrency caps; `stub.latency` adds a delay to every answer.

A barrier holds runs open without relying on how long they take:

    stub.hold(after=1)        # the first request is answered; every later one waits ...
    stub.wait_held(1)         # ... the client is now blocked inside a call (state, not time)
    stub.release()            # ... until released (also on stop); `stub.held` counts the waiting ones
"""
from __future__ import annotations

import hashlib
import json
import math
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional, Union


@dataclass
class Reply:
    """One scripted answer.

    content      assistant text, wrapped in a proper `chat.completion` JSON with usage tokens
    body         raw response body (str/bytes sent verbatim, e.g. malformed JSON; dict/list sent as JSON);
                 overrides content/embeddings
    status       HTTP status; non-2xx without `body` gets an OpenAI-style error JSON
    retry_after  value of the `Retry-After` header (seconds or an HTTP date string)
    delay        seconds to wait before answering (on top of the stub's global latency)
    headers      extra response headers
    embeddings   vectors for an /embeddings answer (one per input, in input order unless `shuffle`)
    shuffle      send /embeddings data items in reverse order (clients must re-order by `index`)
    disconnect   close the connection without any response (a connection error for the client)
    usage        override the usage block
    finish_reason finish reason of the chat choice
    """

    content: Optional[str] = None
    body: Union[str, bytes, dict, list, None] = None
    status: int = 200
    retry_after: Union[float, int, str, None] = None
    delay: float = 0.0
    headers: dict = field(default_factory=dict)
    embeddings: Optional[list] = None
    shuffle: bool = False
    disconnect: bool = False
    usage: Optional[dict] = None
    finish_reason: str = "stop"

    @classmethod
    def of_json(cls, value: Any, *, fenced: bool = False, **kwargs: Any) -> "Reply":
        """An assistant answer whose content is `value` as JSON (optionally inside a ```json fence)."""
        text = json.dumps(value, ensure_ascii=False)
        return cls(content=f"```json\n{text}\n```" if fenced else text, **kwargs)


ReplyLike = Union[Reply, str, dict, Callable[[dict], Any]]


@dataclass
class RecordedRequest:
    """One request as the stub received it."""

    method: str
    path: str
    headers: dict
    json: Any
    body: str
    received_at: float

    @property
    def endpoint(self) -> str:
        """'chat', 'embeddings', 'models' or the raw path."""
        return _endpoint(self.path) or self.path

    def prompt_text(self) -> str:
        """All message contents (chat) or inputs (embeddings) joined by newlines."""
        data = self.json if isinstance(self.json, dict) else {}
        if "messages" in data:
            return "\n".join(str(m.get("content", "")) for m in data["messages"] if isinstance(m, dict))
        inputs = data.get("input", "")
        return "\n".join(inputs) if isinstance(inputs, list) else str(inputs)


def _endpoint(path: str) -> Optional[str]:
    path = path.split("?", 1)[0].rstrip("/")
    for suffix, name in (("/chat/completions", "chat"), ("/embeddings", "embeddings"), ("/models", "models")):
        if path.endswith(suffix):
            return name
    return None


def approx_tokens(text: str) -> int:
    """A crude token estimate (~4 chars per token, CJK one token per char), stable for tests."""
    cjk = sum(1 for ch in text if ord(ch) > 0x2E80)
    return cjk + (len(text) - cjk + 3) // 4


def hash_vector(text: str, dimension: int) -> list[float]:
    """Deterministic unit vector for `text` (never zero): blake2b-seeded pseudo-random components."""
    out: list[float] = []
    counter = 0
    while len(out) < dimension:
        digest = hashlib.blake2b(f"{counter}:{text}".encode("utf-8"), digest_size=64).digest()
        out.extend((v - 32768) / 32768.0 for v in struct.unpack("<32H", digest))
        counter += 1
    out = out[:dimension]
    if not any(out):  # astronomically unlikely, but a zero vector must never leave the stub by default
        out[0] = 1.0
    norm = math.sqrt(sum(v * v for v in out))
    return [v / norm for v in out]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # the default listen backlog (5) drops SYNs under a burst of parallel clients, and the client's 1 s SYN
    # retransmit would then show up as fake latency in benchmarks
    request_queue_size = 256

    def handle_error(self, request, client_address) -> None:
        """Quiet: a client that vanished mid-request (an executor killed by a test) is expected here."""


class OpenAIStub:
    """Local OpenAI-compatible server; see the module docstring."""

    def __init__(self, *, latency: float = 0.0, embedding_dimension: int = 64, model: str = "stub-model",
                 require_api_key: Optional[str] = None, host: str = "127.0.0.1", port: int = 0):
        self.latency = latency
        self.embedding_dimension = embedding_dimension
        self.model = model
        self.require_api_key = require_api_key
        self.responder: Optional[Callable[[dict], Any]] = None
        self.embedding_responder: Optional[Callable[[dict], Any]] = None
        self._lock = threading.Lock()
        self._queues: dict[str, deque] = {"chat": deque(), "embeddings": deque()}
        self._requests: list[RecordedRequest] = []
        self._in_flight = 0
        self.max_in_flight = 0
        self._stopping = threading.Event()
        self._released = threading.Event()
        self._released.set()
        self._hold_after: Optional[int] = None
        self._admitted = 0
        self._held = 0
        self._server = _Server((host, port), self._handler_class())
        self._thread: Optional[threading.Thread] = None

    # --- lifecycle -------------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What goes into LLM_BASE_URL / EMBEDDING_BASE_URL."""
        return f"{self.root_url}/v1"

    def start(self) -> "OpenAIStub":
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"openai-stub-{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "OpenAIStub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- scripting -------------------------------------------------------------------------------------------
    def script(self, *replies: ReplyLike) -> "OpenAIStub":
        """Queue answers for the next chat requests (FIFO)."""
        with self._lock:
            self._queues["chat"].extend(replies)
        return self

    def script_embeddings(self, *replies: ReplyLike) -> "OpenAIStub":
        """Queue answers for the next /embeddings requests (FIFO)."""
        with self._lock:
            self._queues["embeddings"].extend(replies)
        return self

    def pending(self, endpoint: str = "chat") -> int:
        """Scripted replies not consumed yet."""
        with self._lock:
            return len(self._queues[endpoint])

    def reset(self) -> None:
        """Forget recorded requests, scripts, responders and the concurrency peak."""
        with self._lock:
            self._requests.clear()
            for q in self._queues.values():
                q.clear()
            self.max_in_flight = self._in_flight
        self.responder = self.embedding_responder = None

    # --- barrier --------------------------------------------------------------------------------------------
    def hold(self, after: int = 0) -> "OpenAIStub":
        """From now on, answer `after` more chat/embedding requests, then make every later one wait until
        `release()` (or `stop()`)."""
        with self._lock:
            self._hold_after = self._admitted + after
            self._released.clear()
        return self

    def release(self) -> None:
        """Let every waiting and future request through."""
        with self._lock:
            self._hold_after = None
            self._released.set()

    @property
    def held(self) -> int:
        """Requests waiting at the barrier right now."""
        with self._lock:
            return self._held

    def wait_held(self, count: int = 1, timeout: float = 60.0) -> None:
        """Block until at least `count` requests wait at the barrier (deadline only against a hang)."""
        deadline = time.monotonic() + timeout
        while self.held < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {count} request(s) reached the stub's barrier within {timeout} s "
                                     f"({len(self.requests)} received)")
            time.sleep(0.02)

    def _pass_barrier(self) -> None:
        with self._lock:
            self._admitted += 1
            must_wait = self._hold_after is not None and self._admitted > self._hold_after
            if must_wait:
                self._held += 1
        if not must_wait:
            return
        try:
            while not self._released.wait(0.05) and not self._stopping.is_set():
                pass
        finally:
            with self._lock:
                self._held -= 1

    # --- inspection ------------------------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return self.requests_to("chat")

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        return self.requests_to("embeddings")

    def sent_text(self) -> str:
        """Every raw request body received so far, concatenated (for canary checks: PII must not appear)."""
        return "\n".join(r.body for r in self.requests)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    # --- answering -------------------------------------------------------------------------------------------
    def _next_reply(self, endpoint: str, payload: Any) -> Reply:
        with self._lock:
            queued = self._queues[endpoint].popleft() if self._queues.get(endpoint) else None
        if queued is None:
            responder = self.responder if endpoint == "chat" else self.embedding_responder
            if responder is not None:
                queued = responder
            else:
                return self._default_reply(endpoint, payload)
        if callable(queued) and not isinstance(queued, Reply):
            queued = queued(payload)
            if queued is None:
                return self._default_reply(endpoint, payload)
        return _as_reply(queued)

    def _default_reply(self, endpoint: str, payload: Any) -> Reply:
        if endpoint == "chat":
            messages = payload.get("messages") or [{}]
            last_user = next((m for m in reversed(messages) if m.get("role") == "user"), messages[-1])
            return Reply(content=f"stub reply: {str(last_user.get('content', ''))[:80]}")
        return Reply()

    def _chat_body(self, reply: Reply, payload: dict) -> dict:
        prompt = "\n".join(str(m.get("content", "")) for m in payload.get("messages", []) if isinstance(m, dict))
        content = reply.content if reply.content is not None else ""
        p, c = approx_tokens(prompt), approx_tokens(content)
        return {
            "id": f"chatcmpl-stub-{int(time.time() * 1000)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": payload.get("model") or self.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": reply.finish_reason}],
            "usage": reply.usage or {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
        }

    def _embeddings_body(self, reply: Reply, payload: dict) -> dict:
        inputs = payload.get("input", [])
        if isinstance(inputs, str):
            inputs = [inputs]
        vectors = reply.embeddings if reply.embeddings is not None else [
            hash_vector(str(text), self.embedding_dimension) for text in inputs]
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        if reply.shuffle:
            data.reverse()
        tokens = sum(approx_tokens(str(t)) for t in inputs)
        return {"object": "list", "data": data, "model": payload.get("model") or self.model,
                "usage": reply.usage or {"prompt_tokens": tokens, "total_tokens": tokens}}

    def _wait(self, seconds: float) -> None:
        """Sleep, but wake up when the stub stops (so shutdown never waits for a long scripted delay)."""
        if seconds > 0:
            self._stopping.wait(seconds)

    def _handler_class(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like real endpoints (requests.Session reuses sockets)
            # headers and body leave in two writes: with Nagle on, the body waits for the client's delayed ACK
            # (~40 ms per answer on Linux), which would pose as LLM latency in benchmarks
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:  # quiet: tests read stub.requests instead
                pass

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                try:
                    payload = json.loads(raw) if raw else {}
                except ValueError:
                    payload = None
                with stub._lock:
                    stub._requests.append(RecordedRequest(self.command, self.path, dict(self.headers.items()),
                                                          payload, raw, time.time()))
                    stub._in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub._in_flight)
                try:
                    self._respond(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): nothing to answer
                finally:
                    with stub._lock:
                        stub._in_flight -= 1

            def _respond(self, payload: Any) -> None:
                endpoint = _endpoint(self.path)
                if endpoint is None:
                    return self._send_error(404, "not_found", f"unknown path {self.path}")
                if endpoint == "models":
                    return self._send(200, {"object": "list", "data": [{"id": stub.model, "object": "model"}]})
                if self.command != "POST":
                    return self._send_error(405, "method_not_allowed", "use POST")
                if stub.require_api_key is not None and \
                        self.headers.get("Authorization") != f"Bearer {stub.require_api_key}":
                    return self._send_error(401, "invalid_api_key", "Incorrect API key provided")
                if not isinstance(payload, dict):
                    return self._send_error(400, "invalid_request_error", "request body is not a JSON object")
                stub._pass_barrier()
                reply = stub._next_reply(endpoint, payload)
                stub._wait(stub.latency + reply.delay)
                if reply.disconnect:
                    self.close_connection = True
                    return None
                headers = dict(reply.headers)
                if reply.retry_after is not None:
                    headers["Retry-After"] = str(reply.retry_after)
                if reply.body is not None:
                    body = reply.body
                elif reply.status >= 400:
                    return self._send_error(reply.status, "stub_error", f"scripted HTTP {reply.status}", headers)
                elif endpoint == "chat":
                    body = stub._chat_body(reply, payload)
                else:
                    body = stub._embeddings_body(reply, payload)
                return self._send(reply.status, body, headers)

            def _send_error(self, status: int, code: str, message: str, headers: Optional[dict] = None) -> None:
                self._send(status, {"error": {"message": message, "type": code, "code": code}}, headers)

            def _send(self, status: int, body: Any, headers: Optional[dict] = None) -> None:
                if isinstance(body, (dict, list)):
                    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
                elif isinstance(body, str):
                    data = body.encode("utf-8")
                else:
                    data = body
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()

        return Handler


def _as_reply(value: Any) -> Reply:
    if isinstance(value, Reply):
        return value
    if isinstance(value, str):
        return Reply(content=value)
    if isinstance(value, dict):
        return Reply(**value)
    raise TypeError(f"cannot turn {type(value).__name__} into a stub Reply")


__all__ = ["OpenAIStub", "Reply", "RecordedRequest", "hash_vector", "approx_tokens"]
