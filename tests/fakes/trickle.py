"""A raw-socket loopback server that answers as slowly or as hugely as a hostile peer would.

``TrickleServer(answer, byte_delay=...)`` reads one request per connection, then sends
``answer`` (the whole HTTP response: status line, headers and body) one byte at a time with
``byte_delay`` seconds between bytes (after the first ``fast_prefix`` bytes, sent at once),
or all at once with ``byte_delay=0``. It binds 127.0.0.1 on
a free port, serves each connection on its own daemon thread, and stops when its ``with``
block ends (a trickle in progress stops at the next byte).
"""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable


def http_answer(body: bytes, *, status: str = "200 OK", headers: Iterable[str] = (),
                content_length: int | None = None) -> bytes:
    """An HTTP/1.1 response; ``content_length`` overrides the declared length (None = the real one)."""
    declared = len(body) if content_length is None else content_length
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json", f"Content-Length: {declared}",
             "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


class TrickleServer:
    """Serve ``answer`` slowly on 127.0.0.1; ``url`` is its base URL; ``served`` counts connections."""

    def __init__(self, answer: bytes, *, byte_delay: float = 0.0, chunk: int = 1, fast_prefix: int = 0) -> None:
        self._answer = answer
        self._fast_prefix = fast_prefix  # bytes sent at once before the trickle starts
        self._byte_delay = byte_delay  # seconds between chunks
        self._chunk = chunk  # bytes per send
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.served = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> TrickleServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.served += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                _read_request(conn)
                conn.sendall(self._answer[:self._fast_prefix])
                for start in range(self._fast_prefix, len(self._answer), self._chunk):
                    if self._stop.is_set():
                        return
                    conn.sendall(self._answer[start:start + self._chunk])
                    if self._byte_delay:
                        time.sleep(self._byte_delay)
            except OSError:
                return  # the client gave up: that is what the tests want to see


def _read_request(conn: socket.socket) -> None:
    """Read headers and a Content-Length body, so the client is never blocked sending."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            return
        body += piece
