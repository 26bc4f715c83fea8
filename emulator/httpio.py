"""The socket side of the emulator: a threaded HTTP/1.1 server whose handler only does I/O.

Connections are kept alive (``HTTP/1.1``) and served on daemon threads. Every answer is
JSON with a Content-Length, including the errors ``http.server`` itself produces (bad
request line, oversized headers) and any method (``405``). Bodies need a Content-Length
(411 otherwise) of at most ``max_body_bytes`` (413 otherwise; an oversized body is read
and dropped, up to ``DISCARD_CAP`` bytes, so the client sees the 413 rather than a reset).
A connection idle or stalled for ``CONNECTION_TIMEOUT`` seconds is closed. The server
tracks open connections so ``close_connections`` can end kept-alive ones on stop. The listen
backlog is ``LISTEN_BACKLOG``, not socketserver's 5: a pool of hundreds of workers (or
1,000 job lanes) opens connections at once, and a full accept queue drops their SYNs, which
Linux retries only after 1 s, 3 s, ...
"""
from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from emulator.dispatch import Dispatcher, Reply, json_reply
from emulator.errors import ApiError

log = logging.getLogger("xenon.emulator")

CONNECTION_TIMEOUT = 60.0  # seconds
LISTEN_BACKLOG = 1024  # pending connections the kernel queues before accept (capped by net.core.somaxconn)
DISCARD_CAP = 64 * 1024 * 1024  # bytes of an oversized body read and dropped before answering 413
_CHUNK = 64 * 1024  # bytes


class EmulatorHttpServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with the dispatcher, a body limit and connection tracking."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], *, family: socket.AddressFamily, dispatcher: Dispatcher,
                 max_body_bytes: int) -> None:
        self.address_family = family
        self.dispatcher = dispatcher
        self.max_body_bytes = max_body_bytes
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every open (kept-alive) connection, so a stopped emulator answers nobody."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "XenonFlareEmulator/1.0"
    timeout = CONNECTION_TIMEOUT
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: EmulatorHttpServer

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def __getattr__(self, name: str) -> Callable[[], None]:
        # http.server answers a method without a do_<METHOD> with an HTML 501; route every
        # method through the dispatcher instead, which answers 405 with an Allow header.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        body, body_error = self._read_body()
        reply = self.server.dispatcher.dispatch(method=self.command, target=self.path,
                                                authorization=self.headers.get("Authorization"),
                                                body=body, body_error=body_error)
        self._send(reply)

    def _read_body(self) -> tuple[bytes, ApiError | None]:
        if self.headers.get("Transfer-Encoding"):
            return b"", ApiError(411, "send the body with a Content-Length header "
                                 "(chunked transfer encoding is not supported)", close=True)
        declared = self.headers.get("Content-Length")
        if declared is None:
            return b"", None
        try:
            length = int(declared)
            if length < 0:
                raise ValueError(declared)
        except ValueError:
            return b"", ApiError(400, f"invalid Content-Length header {declared[:40]!r}", close=True)
        limit = self.server.max_body_bytes
        if length > limit:
            self._discard(length)
            return b"", ApiError(413, f"request body is {length} bytes, at most {limit} allowed",
                                 {"limitBytes": limit}, close=True)
        return self.rfile.read(length), None

    def _discard(self, length: int) -> None:
        remaining = min(length, DISCARD_CAP)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, _CHUNK))
            if not chunk:
                return
            remaining -= len(chunk)

    def _send(self, reply: Reply) -> None:
        if reply.drop:
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors ``http.server`` finds itself (bad request line, huge headers), as JSON."""
        self.close_connection = True
        # A request line too broken to parse leaves the HTTP/0.9 default, which would make
        # http.server omit the status line; always answer with a full HTTP/1.1 response.
        self.request_version = self.protocol_version
        self._send(json_reply(code, {"error": message or HTTPStatus(code).phrase}, close=True))

    def log_message(self, format: str, *args: Any) -> None:  # the base class's name
        log.debug("%s " + format, self.address_string(), *args)
