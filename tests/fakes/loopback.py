"""The life cycle every scripted loopback HTTP server in the tests shares.

``LoopbackServer`` binds a ``ThreadingHTTPServer`` on 127.0.0.1 (a free port), serves it on a
daemon thread inside a ``with`` block, and on leaving sets ``stopping`` (so handlers that hang
or trickle can end) before it shuts the server down. Subclasses give the handler class.
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar

ServerT = TypeVar("ServerT", bound="LoopbackServer")


class LoopbackServer:
    """Serve ``handler_class`` on 127.0.0.1; ``url`` is the base URL."""

    def __init__(self, handler_class: type[BaseHTTPRequestHandler]) -> None:
        self.stopping = threading.Event()  # set when the with block ends
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self: ServerT) -> ServerT:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
