"""A loopback proxy in front of the emulator that garbles chosen answers on their way back.

The emulator can answer non-JSON or a JSON body missing every field on its own; wrong field
types and huge bodies it cannot. ``Mangler`` forwards every request to the emulator (so the
cloud's state changes as it really would) and replaces the answer of the next requests to
a route with what a ``Garble`` makes of it. Binds 127.0.0.1 on a free port.
"""
from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

Garble = Callable[[bytes], bytes]
"""The real answer body (JSON bytes) → the body sent instead, with the real status."""

HUGE_BYTES = 20 * 2 ** 20   # a 20 MiB body: far more than any real answer


def not_json(_: bytes) -> bytes:
    return b"<html><body><h1>502 Bad Gateway</h1></body></html>"


def missing_fields(_: bytes) -> bytes:
    return b'{"garbled": true}'


def huge(_: bytes) -> bytes:
    return b'{"padding": "' + b"x" * HUGE_BYTES + b'"'   # and unterminated: not JSON either


def wrong_types(body: bytes) -> bytes:
    """Every top-level field of the real answer replaced by a value of another JSON type."""
    answer: dict[str, Any] = json.loads(body)
    swapped = {bool: "yes", int: "soon", float: "soon", str: 42, list: {"not": "a list"}, dict: ["not", "an object"]}
    return json.dumps({key: swapped.get(type(value), 0) for key, value in answer.items()}).encode()


class Mangler:
    """Forward to ``upstream``; garble the next answers of routes armed with ``arm``."""

    def __init__(self, upstream: str) -> None:
        self._upstream = upstream.rstrip("/")
        self._lock = threading.Lock()
        self._armed: dict[str, deque[_Conditional]] = defaultdict(deque)
        self.garbled: list[tuple[str, str]] = []   # (route, garble name), in order
        self._session = requests.Session()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="mangler", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def arm(self, route: str, *garbles: Garble, only_if: Callable[[bytes], bool] = lambda body: True) -> None:
        """Garble the next ``len(garbles)`` answers of ``route`` for which ``only_if(real body)`` holds."""
        with self._lock:
            self._armed[route].extend(_Conditional(g, only_if) for g in garbles)

    def __enter__(self) -> Mangler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._session.close()

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        upstream = self._session.post(self._upstream + path, data=body, headers=headers, timeout=30)
        content = upstream.content
        with self._lock:
            armed = self._armed.get(path)
            if armed and upstream.status_code == 200 and armed[0].applies(content):
                garble = armed.popleft()
                self.garbled.append((path, garble.name))
                return 200, garble(content)
        return upstream.status_code, content

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        mangler = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # the stdlib's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                forwarded = {name: self.headers[name] for name in ("Authorization", "Content-Type")
                             if self.headers.get(name)}
                status, content = mangler._answer(self.path, forwarded, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:  # stdlib signature
                pass

        return Handler


class _Conditional:
    def __init__(self, garble: Garble, only_if: Callable[[bytes], bool]) -> None:
        self._garble, self.applies = garble, only_if
        self.name = garble.__name__

    def __call__(self, body: bytes) -> bytes:
        return self._garble(body)
