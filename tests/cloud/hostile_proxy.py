"""A loopback proxy in front of the emulator that answers chosen requests as a hostile cloud would.

``HostileProxy(upstream_url, script)`` forwards every POST to the emulator and relays its
answer, except when ``script(route, n)`` (``n``: how many requests that route had before
this one) returns a ``Hostile`` answer: then the emulator is not asked at all and the proxy
sends that answer itself, at once or one chunk every ``byte_delay`` seconds (status line and
headers included), as ``tests.fakes.trickle`` does. Binds 127.0.0.1 on a free port.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import requests

from tests.fakes.loopback import LoopbackServer
from tests.fakes.trickle import http_answer


@dataclass(frozen=True, kw_only=True)
class Hostile:
    """An answer the proxy makes up: ``body`` bytes sent with ``status``, ``byte_delay`` seconds
    between chunks of ``chunk`` bytes (0: all at once)."""

    body: bytes
    status: str = "200 OK"
    byte_delay: float = 0.0
    chunk: int = 1


Script = Callable[[str, int], "Hostile | None"]


class HostileProxy(LoopbackServer):
    """Relay to ``upstream`` unless ``script`` says otherwise; ``hostile_sent`` counts made-up answers."""

    def __init__(self, upstream: str, script: Script) -> None:
        self._upstream = upstream.rstrip("/")
        self._script = script
        self._lock = threading.Lock()
        self._seen: Counter[str] = Counter()
        self.hostile_sent = 0
        super().__init__(self._handler_class())

    def seen(self, route: str) -> int:
        """Requests received for ``route`` so far."""
        with self._lock:
            return self._seen[route]

    def _decide(self, route: str) -> Hostile | None:
        with self._lock:
            count = self._seen[route]
            self._seen[route] += 1
            hostile = self._script(route, count)
            if hostile is not None:
                self.hostile_sent += 1
            return hostile

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hostile = proxy._decide(self.path)
                self.close_connection = True
                if hostile is None:
                    self._relay(raw)
                else:
                    self._send_slowly(http_answer(hostile.body, status=hostile.status), hostile)

            def _relay(self, raw: bytes) -> None:
                headers = {name: value for name, value in self.headers.items()
                           if name.lower() in ("authorization", "content-type")}
                answer = requests.post(proxy._upstream + self.path, data=raw, headers=headers, timeout=30)
                reason = answer.reason or "OK"
                kept = [f"Retry-After: {answer.headers['Retry-After']}"] if "Retry-After" in answer.headers else []
                self.wfile.write(http_answer(answer.content, status=f"{answer.status_code} {reason}", headers=kept))

            def _send_slowly(self, data: bytes, hostile: Hostile) -> None:
                if not hostile.byte_delay:
                    self.wfile.write(data)
                    return
                try:
                    for start in range(0, len(data), hostile.chunk):
                        if proxy.stopping.is_set():
                            return
                        self.wfile.write(data[start:start + hostile.chunk])
                        time.sleep(hostile.byte_delay)
                except OSError:
                    return  # the client gave up, as it should

            def log_message(self, format: str, *args: Any) -> None:  # silence test output
                return

        return Handler
