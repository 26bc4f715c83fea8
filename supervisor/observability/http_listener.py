"""A bounded HTTP front door: a slow or hostile client costs one socket for a few seconds, never a thread.

``ThreadingHTTPServer`` gives every connection a thread that blocks reading the request for
as long as the client likes, so 300 half-sent requests held 300 supervisor threads until the
clients left. Here one selector thread accepts connections and reads each request head
(request line and headers) without blocking; only a complete head is handed, through a
bounded queue, to a small fixed pool of handler threads. So /healthz answers while a flood of
slow clients is connected, and the supervisor's thread count is fixed. Bounds (``Limits``):

- ``header_timeout`` 5 s: the whole head must arrive within this time of connecting;
- ``idle_timeout`` 2 s: a connection that sends nothing for this long is dropped;
- ``max_head_bytes`` 16 KiB: a longer request line + headers gets 431 and is closed;
- ``max_connections`` 128 connections still sending their head; a new one beyond that
  evicts the oldest (a flood evicts its own connections; a quick request gets through);
- ``handler_threads`` 4 threads answer complete requests; ``max_queued`` 32 wait for them,
  beyond that the request gets 503 at once;
- ``write_timeout`` 5 s for each send of an answer to a client that does not read.

One request per connection: answers close the connection (``Connection: close``), so there is
no keep-alive idle time to bound. Expiry is a pure rule (``Pending.expired``) on a monotonic
clock, tested on a fake one.
"""
from __future__ import annotations

import io
import logging
import queue
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

log = logging.getLogger("xenon.supervisor.http")

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_SELECT_TICK = 0.25  # seconds: the longest the selector sleeps, so expiry and stop are noticed


@dataclass(frozen=True)
class Limits:
    """The listener's bounds; the defaults are the documented ones."""

    header_timeout: float = 5.0    # seconds from connect to a complete request head
    idle_timeout: float = 2.0      # seconds without a byte from the client
    max_head_bytes: int = 16384    # bytes of request line + headers
    max_connections: int = 128     # connections still sending their head
    handler_threads: int = 4       # threads answering complete requests
    max_queued: int = 32           # complete requests waiting for a handler thread
    write_timeout: float = 5.0     # seconds for each send of an answer


@dataclass
class Pending:
    """A connection still sending its request head."""

    sock: socket.socket
    address: tuple[Any, ...]   # the peer: (host, port), plus flow info and scope id for IPv6
    connected_at: float            # monotonic seconds
    last_byte_at: float            # monotonic seconds
    head: bytearray = field(default_factory=bytearray)

    def expired(self, now: float, limits: Limits) -> bool:
        """True once the head is overdue or the client has been silent too long."""
        return (now - self.connected_at >= limits.header_timeout
                or now - self.last_byte_at >= limits.idle_timeout)


class HeadRequestHandler(BaseHTTPRequestHandler):
    """A ``BaseHTTPRequestHandler`` fed a request head that was already read (one request)."""

    protocol_version = "HTTP/1.1"

    def __init__(self, sock: socket.socket, address: tuple[Any, ...], head: bytes, write_timeout: float) -> None:
        self._head = head
        self._write_timeout = write_timeout
        # No socketserver behind it: the listener read the head itself and runs the handler directly.
        super().__init__(sock, address, None)  # type: ignore[arg-type]

    def setup(self) -> None:
        self.connection = self.request
        self.connection.settimeout(self._write_timeout)
        self.rfile = io.BytesIO(self._head)
        self.wfile = self.connection.makefile("wb")


class BoundedHTTPListener:
    """Accepts on ``address`` and answers with ``handler`` (a ``HeadRequestHandler`` subclass)."""

    def __init__(self, address: tuple[str, int], handler: type[HeadRequestHandler], *,
                 limits: Limits = Limits(), clock: Callable[[], float] = time.monotonic) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._listener = socket.create_server(address, family=family, backlog=socket.SOMAXCONN)
        self._listener.setblocking(False)
        self._handler = handler
        self._limits = limits
        self._clock = clock
        self._pending: dict[socket.socket, Pending] = {}   # in connect order: the first is the oldest
        self._ready: queue.Queue[tuple[socket.socket, tuple[Any, ...], bytes] | None] = queue.Queue(limits.max_queued)
        self._selector = selectors.DefaultSelector()
        self._waker_r, self._waker_w = socket.socketpair()
        self._stopping = False
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Serve from one selector thread and ``handler_threads`` daemon threads."""
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._selector.register(self._waker_r, selectors.EVENT_READ)
        self._threads = [threading.Thread(target=self._select_loop, name="status-http", daemon=True)]
        self._threads += [threading.Thread(target=self._answer_loop, name=f"status-http-{index}", daemon=True)
                          for index in range(self._limits.handler_threads)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop accepting, drop pending connections, let the handler threads finish."""
        self._stopping = True
        self._waker_w.send(b"x")
        for _ in range(self._limits.handler_threads):
            self._ready.put(None)   # blocks only while the queue is full of requests being answered
        for thread in self._threads:
            thread.join(timeout=self._limits.write_timeout)
        self._listener.close()
        self._waker_r.close()
        self._waker_w.close()

    def _select_loop(self) -> None:
        try:
            while not self._stopping:
                for key, _ in self._selector.select(timeout=_SELECT_TICK):
                    if key.fileobj is self._listener:
                        self._accept()
                    elif (isinstance(key.fileobj, socket.socket)   # a pending one, unless evicted meanwhile
                          and (pending := self._pending.get(key.fileobj)) is not None):
                        try:
                            self._read(pending)
                        except Exception:   # one bad connection must not stop the endpoint
                            log.exception("status endpoint: error reading from %s", pending.address)
                            self._drop(pending.sock)
                self._drop_expired()
        finally:
            for sock in list(self._pending):
                self._drop(sock)
            self._selector.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:   # e.g. EMFILE: leave the rest in the backlog for the next round
                log.warning("status endpoint: cannot accept a connection: %s", exc)
                return
            if len(self._pending) >= self._limits.max_connections:
                self._drop(next(iter(self._pending)))   # the oldest half-sent request makes room
            sock.setblocking(False)
            now = self._clock()
            self._pending[sock] = Pending(sock, address, connected_at=now, last_byte_at=now)
            self._selector.register(sock, selectors.EVENT_READ)

    def _read(self, pending: Pending) -> None:
        try:
            chunk = pending.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(pending.sock)
            return
        pending.head += chunk
        pending.last_byte_at = self._clock()
        end = _HEAD_END.search(pending.head)
        if end is None and len(pending.head) > self._limits.max_head_bytes:
            self._refuse(pending.sock, b"431 Request Header Fields Too Large")
        elif end is not None:
            self._selector.unregister(pending.sock)
            del self._pending[pending.sock]
            try:
                self._ready.put_nowait((pending.sock, pending.address, bytes(pending.head[:end.end()])))
            except queue.Full:
                self._refuse(pending.sock, b"503 Service Unavailable")

    def _refuse(self, sock: socket.socket, status: bytes) -> None:
        """Best-effort short answer without blocking, then close."""
        try:
            sock.send(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass
        self._drop(sock)

    def _drop_expired(self) -> None:
        now = self._clock()
        for sock in [sock for sock, pending in self._pending.items() if pending.expired(now, self._limits)]:
            self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        if self._pending.pop(sock, None) is not None:
            self._selector.unregister(sock)
        sock.close()

    def _answer_loop(self) -> None:
        while (item := self._ready.get()) is not None:
            sock, address, head = item
            try:
                self._handler(sock, address, head, self._limits.write_timeout)
            except OSError as exc:   # the client left or stopped reading: its problem, not ours
                log.debug("status endpoint: %s: %s", address, exc)
            except Exception:   # a broken answer must not kill a handler thread
                log.exception("status endpoint: error answering %s", address)
            finally:
                sock.close()
