"""A scripted OpenAI-compatible server on 127.0.0.1 for tests of anything that calls a model.

It serves ``POST /v1/responses`` and ``POST /v1/chat/completions`` (stdlib
``ThreadingHTTPServer``, HTTP/1.1 keep-alive). A test queues the replies each path will
give, in order, runs the code under test, then reads back every request it received::

    with FakeOpenAIServer() as server:
        server.queue("responses", rate_limited(retry_after=2),
                     Reply(body=responses_reply(tool_calls=[("create_list", {"list": {...}})])),
                     Reply(body=responses_reply(text="Done {{artifact:list:x}}")))
        ...  # point the code at server.base_url (ends in /v1)
        assert server.requests_for("responses")[1].json["previous_response_id"] == "resp_1"

A reply is a ``Reply`` (status, JSON body or raw text, headers, delay, or ``drop`` to close
the connection without answering) or a callable ``(RecordedRequest) -> Reply`` computing
it from the request. ``set_fallback(path, reply)`` answers every request the queue does not
cover (handy for end-to-end runs with many jobs). With neither, the server answers 500
``{"error": {"message": "fake server: no scripted reply for POST /v1/…"}}`` and lists the
path in ``unscripted``, so an under-scripted test fails loudly. Any other route (the
server-info questions a handle may ask: ``GET /props``, ``GET /v1/models``,
``POST /extras/tokenize``, ``POST /api/show``) answers 404 unless ``serve_info`` set a reply;
those requests are kept apart, in ``info_requests``, as are start-up probes of the two APIs
(``X-Xenon-Probe`` header; answered 400, as a server that has the API does, unless
``serve_info`` set a reply).

Body builders: ``responses_reply`` and ``chat_reply`` (text and tool calls in each
protocol's shape); error replies: ``rate_limited``, ``insufficient_quota``,
``unauthorized``, ``server_error``, ``context_length_error`` (OpenAI, vLLM and llama.cpp
wordings).
"""
from __future__ import annotations

import itertools
import json
import select
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from emulator.httpio import LISTEN_BACKLOG

PATHS = ("/v1/responses", "/v1/chat/completions")


@dataclass(frozen=True, kw_only=True)
class Reply:
    """One scripted answer. ``body`` is sent as JSON unless ``text`` is given (sent raw).

    ``delay`` (seconds) waits before answering; ``drop`` closes the connection instead.
    """

    status: int = 200
    body: Any = None
    text: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    events: tuple[str, ...] = ()  # server-sent events' data, streamed (then the connection closes)
    event_delay: float = 0.0  # seconds before each event
    stall_after: int | None = None  # stop sending (but keep the connection open) after this many events
    repeat_last: bool = False  # after ``events``, send the last one again and again until the client hangs up


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    """A request as received: full path, headers (lower-case names), parsed JSON body."""

    path: str
    headers: Mapping[str, str]
    method: str = "POST"
    json: Any
    raw: bytes


Script = Reply | Callable[[RecordedRequest], Reply]


def full_path(path: str) -> str:
    """``"responses"``, ``"/responses"`` or ``"/v1/responses"`` → ``"/v1/responses"``."""
    path = "/" + path.strip("/")
    path = path if path.startswith("/v1/") else "/v1" + path
    if path not in PATHS:
        raise ValueError(f"the fake server serves {', '.join(PATHS)}, not {path}")
    return path


class FakeOpenAIServer:
    """The server; start it with ``with`` (or ``start()``/``stop()``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Script]] = {path: deque() for path in PATHS}
        self._fallbacks: dict[str, Script] = {}
        self._requests: list[RecordedRequest] = []
        self._unscripted: list[str] = []
        self._info: dict[tuple[str, str], Script] = {}
        self._info_requests: list[RecordedRequest] = []
        self.abandoned_streams = 0  # streams the client closed before their end
        self.events_sent = 0  # server-sent events written, over all streams
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` — what ``OPENAI_BASE_URL`` / ``model.base_url`` expect."""
        if self._httpd is None:
            raise RuntimeError("the fake OpenAI server is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def queue(self, path: str, *replies: Script) -> None:
        """Append replies for ``path`` ("responses" or "chat/completions"); used in order."""
        with self._lock:
            self._queues[full_path(path)].extend(replies)

    def set_fallback(self, path: str, reply: Script | None) -> None:
        """Answer requests to ``path`` with ``reply`` whenever its queue is empty (None = 500 again)."""
        with self._lock:
            if reply is None:
                self._fallbacks.pop(full_path(path), None)
            else:
                self._fallbacks[full_path(path)] = reply

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        wanted = full_path(path)
        return [request for request in self.requests if request.path == wanted]

    @property
    def unscripted(self) -> list[str]:
        """Paths of requests that found no scripted reply (each was answered 500)."""
        with self._lock:
            return list(self._unscripted)

    def pending(self, path: str) -> int:
        """Replies still queued for ``path``."""
        with self._lock:
            return len(self._queues[full_path(path)])

    def start(self) -> FakeOpenAIServer:
        httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes replies waiting out their delay
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def serve_info(self, method: str, path: str, reply: Script) -> None:
        """Answer ``method path`` (a server-info route: ``/props``, ``/v1/models``,
        ``/extras/tokenize``, ``/api/show``…) with ``reply``; unset routes answer 404."""
        with self._lock:
            self._info[(method.upper(), path)] = reply

    @property
    def info_requests(self) -> list[RecordedRequest]:
        """Requests to routes other than the two model APIs (window and tokenizer questions)."""
        with self._lock:
            return list(self._info_requests)

    def _answer(self, request: RecordedRequest) -> Reply:
        script: Script | None
        if request.path in PATHS and request.headers.get("x-xenon-probe"):  # a start-up probe of the API
            with self._lock:
                self._info_requests.append(request)
                script = self._info.get((request.method, request.path)) or Reply(
                    status=400, body={"error": {"message": "fake server: probe answered", "type": "probe"}})
            return script(request) if callable(script) else script
        if request.path not in PATHS:
            with self._lock:
                self._info_requests.append(request)
                script = self._info.get((request.method, request.path))
            if script is None:
                return Reply(status=404, body={"error": {"message": f"fake server: no route {request.path}"}})
            return script(request) if callable(script) else script
        with self._lock:
            self._requests.append(request)
            queue = self._queues.get(request.path)
            if queue:
                script = queue.popleft()
            else:
                script = self._fallbacks.get(request.path)
                if script is None:
                    self._unscripted.append(request.path)
        if script is None:
            reason = (f"fake server: no scripted reply for POST {request.path}" if request.path in PATHS
                      else f"fake server: unknown path {request.path}")
            return Reply(status=500 if request.path in PATHS else 404,
                         body={"error": {"message": reason, "type": "fake_server_unscripted"}})
        return script(request) if callable(script) else script


class _QuietServer(ThreadingHTTPServer):
    """Handler threads are daemons; a client that hung up early is not an error worth printing.
    The listen backlog is the emulator's (not socketserver's 5), so 1,000 job lanes can connect at once."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _make_handler(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # stdlib naming
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            request = RecordedRequest(path=self.path, headers={k.lower(): v for k, v in self.headers.items()},
                                      json=parsed, raw=raw, method=self.command)
            reply = server._answer(request)
            if reply.delay and server._stopping.wait(reply.delay):
                self.close_connection = True
                return
            if reply.drop:
                self.close_connection = True
                return
            if reply.events:
                self._stream(reply)
                return
            payload = (reply.text if reply.text is not None else json.dumps(reply.body)).encode("utf-8")
            self.send_response(reply.status)
            content_type = "text/plain" if reply.text is not None else "application/json"
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def _stream(self, reply: Reply) -> None:
            """Send ``reply.events`` as server-sent events; note a client that hung up mid-stream."""
            self.close_connection = True
            self.send_response(reply.status)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            endless = itertools.repeat(reply.events[-1]) if reply.repeat_last else ()
            try:
                for number, data in enumerate(itertools.chain(reply.events, endless)):
                    if reply.stall_after is not None and number >= reply.stall_after:
                        self._wait_for_hangup()  # silent, connection open, until the client leaves
                        return
                    if server._stopping.is_set() or (reply.event_delay and server._stopping.wait(reply.event_delay)):
                        return
                    self.wfile.write(f"data: {data}\n\n".encode())
                    self.wfile.flush()
                    with server._lock:
                        server.events_sent += 1
            except OSError:
                with server._lock:
                    server.abandoned_streams += 1

        def _wait_for_hangup(self) -> None:
            while not server._stopping.wait(0.02):
                readable, _, _ = select.select([self.connection], [], [], 0)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    with server._lock:
                        server.abandoned_streams += 1
                    return

        do_GET = do_POST  # server-info routes (/props, /v1/models) are GETs

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            return None

    return Handler


# ---------------------------------------------------------------- body builders

ToolCallSpec = tuple[str, Any] | Mapping[str, Any]
"""``(name, arguments)`` or ``{"name", "arguments", "call_id"?}``; arguments may be a dict
(serialised) or a string (sent verbatim, so malformed JSON can be scripted)."""

_ids = itertools.count(1)


def _call_parts(call: ToolCallSpec, index: int) -> tuple[str, str, str]:
    if isinstance(call, Mapping):
        name, arguments, call_id = call["name"], call.get("arguments", {}), call.get("call_id")
    else:
        (name, arguments), call_id = call, None
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return name, text, call_id or f"call_{next(_ids)}_{index}"


def responses_reply(*, text: str = "", tool_calls: Iterable[ToolCallSpec] = (), response_id: str | None = None,
                    status: str = "completed", usage: Mapping[str, int] | None = None) -> dict[str, Any]:
    """A Responses API body: ``function_call`` items, then a ``message`` with ``output_text``."""
    output: list[dict[str, Any]] = []
    for index, call in enumerate(tool_calls):
        name, arguments, call_id = _call_parts(call, index)
        output.append({"type": "function_call", "id": f"fc_{call_id}", "call_id": call_id, "name": name,
                       "arguments": arguments, "status": "completed"})
    if text:
        output.append({"type": "message", "id": f"msg_{next(_ids)}", "role": "assistant", "status": "completed",
                       "content": [{"type": "output_text", "text": text, "annotations": []}]})
    return {"id": response_id or f"resp_{next(_ids)}", "object": "response", "status": status, "output": output,
            "usage": dict(usage or {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15})}


def chat_reply(*, text: str | None = None, tool_calls: Iterable[ToolCallSpec] = (),
               finish_reason: str | None = None, usage: Mapping[str, int] | None = None) -> dict[str, Any]:
    """A chat-completions body; ``content`` is null when ``text`` is None (as servers send it)."""
    calls = []
    for index, call in enumerate(tool_calls):
        name, arguments, call_id = _call_parts(call, index)
        calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}})
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = calls
    return {"id": f"chatcmpl-{next(_ids)}", "object": "chat.completion",
            "choices": [{"index": 0, "message": message,
                         "finish_reason": finish_reason or ("tool_calls" if calls else "stop")}],
            "usage": dict(usage or {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})}


def chat_stream_events(*, text: str = "", tool_calls: Iterable[ToolCallSpec] = (), pieces: int = 3,
                       usage: Mapping[str, int] | None = None) -> tuple[str, ...]:
    """The events of a streamed chat completion: ``text`` in ``pieces`` deltas, each tool call
    as a name event then its arguments in two fragments, a finish event with usage, [DONE]."""
    events: list[dict[str, Any]] = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
    size = max(1, -(-len(text) // pieces))
    for start in range(0, len(text), size):
        events.append({"choices": [{"index": 0, "delta": {"content": text[start:start + size]}}]})
    calls = list(tool_calls)
    for index, call in enumerate(calls):
        name, arguments, call_id = _call_parts(call, index)
        half = len(arguments) // 2
        events.append({"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}]}}]})
        for part in (arguments[:half], arguments[half:]):
            events.append({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": index, "function": {"arguments": part}}]}}]})
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls" if calls else "stop"}],
                   "usage": dict(usage or {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})})
    return tuple(json.dumps(event) for event in events) + ("[DONE]",)


def openai_error(status: int, message: str, *, type: str = "invalid_request_error", code: str | None = None,
                 headers: Mapping[str, str] | None = None) -> Reply:
    """An error in OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``."""
    return Reply(status=status, headers=dict(headers or {}),
                 body={"error": {"message": message, "type": type, "param": None, "code": code}})


def rate_limited(*, retry_after: float | str | None = None, retry_after_ms: float | None = None) -> Reply:
    """429 ``rate_limit_exceeded`` with ``Retry-After`` (seconds or HTTP date) and/or ``retry-after-ms``."""
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
    if retry_after_ms is not None:
        headers["retry-after-ms"] = f"{retry_after_ms:g}"
    return openai_error(429, "Rate limit reached for requests", type="requests", code="rate_limit_exceeded",
                        headers=headers)


def insufficient_quota() -> Reply:
    """429 ``insufficient_quota``: must never be retried."""
    return openai_error(429, "You exceeded your current quota, please check your plan and billing details.",
                        type="insufficient_quota", code="insufficient_quota")


def unauthorized(message: str = "Incorrect API key provided.") -> Reply:
    return openai_error(401, message, code="invalid_api_key")


def server_error(status: int = 500,
                 message: str = "The server had an error while processing your request.") -> Reply:
    return openai_error(status, message, type="server_error")


def context_length_error(family: str = "openai", *, limit: int = 8192, requested: int = 16384) -> Reply:
    """A prompt-too-long 400 as ``openai``, ``vllm`` or ``llamacpp`` word it."""
    if family == "openai":
        return openai_error(400, f"This model's maximum context length is {limit} tokens. However, your messages "
                                 f"resulted in {requested} tokens. Please reduce the length of the messages.",
                            code="context_length_exceeded")
    if family == "vllm":
        return Reply(status=400, body={
            "object": "error", "type": "BadRequestError", "param": None, "code": 400,
            "message": f"This model's maximum context length is {limit} tokens. However, you requested "
                       f"{requested} tokens ({requested - 256} in the messages, 256 in the completion). "
                       "Please reduce the length of the messages or completion."})
    if family == "llamacpp":
        return Reply(status=400, body={"error": {
            "code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": requested, "n_ctx": limit,
            "message": "the request exceeds the available context size, try increasing it"}})
    raise ValueError(f"context_length_error family must be openai, vllm or llamacpp, got {family!r}")
