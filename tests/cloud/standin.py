"""A scripted loopback HTTP server for what the emulator cannot produce on demand.

Each request pops the next scripted ``Step`` (answer with a status/body/headers, drop the
connection, or hang until released) and is recorded with its path, headers and JSON body,
so tests can assert exactly what the client sent. Binds 127.0.0.1 on a free port.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackServer


@dataclass(frozen=True, kw_only=True)
class Step:
    """One scripted answer. ``action`` is ``answer``, ``drop`` (close, no reply) or ``hang``."""

    action: str = "answer"
    status: int = 200
    body: Any = None  # JSON data, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)


def answer(status: int = 200, body: Any = None, **headers: str) -> Step:
    return Step(status=status, body=body, headers={key.replace("_", "-"): value for key, value in headers.items()})


DROP = Step(action="drop")
HANG = Step(action="hang")


@dataclass(frozen=True, kw_only=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


class StandIn(LoopbackServer):
    """Serve scripted steps on 127.0.0.1; use as a context manager."""

    def __init__(self, *steps: Step) -> None:
        self._steps = list(steps)
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        super().__init__(self._handler_class())
        self.release = self.stopping  # set to let hanging requests end (also when the with block ends)

    def script(self, *steps: Step) -> None:
        """Queue more steps (a server shared by many examples of a property test)."""
        with self._lock:
            self._steps.extend(steps)

    def _next(self, recorded: Recorded) -> Step:
        with self._lock:
            self.requests.append(recorded)
            if not self._steps:
                return answer(599, {"error": "stand-in script exhausted"})
            return self._steps.pop(0)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                step = standin._next(Recorded(path=self.path, headers=dict(self.headers.items()),
                                              body=json.loads(raw) if raw else None))
                if step.action == "drop":
                    self.close_connection = True
                    return
                if step.action == "hang":
                    standin.release.wait(timeout=30)
                    self.close_connection = True
                    return
                payload = step.body if isinstance(step.body, bytes) else (
                    b"" if step.body is None else json.dumps(step.body).encode())
                self.send_response(step.status)
                for key, value in step.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # silence test output
                return

        return Handler
