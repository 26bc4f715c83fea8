"""One HTTP exchange bounded in wall-clock time and in size: connect, headers and whole body.

requests' ``timeout=(connect, read)`` bounds each socket operation, not the exchange: a
server that sends one byte a second never trips a 30 s read timeout, in the status line, the
headers or the body, and holds the caller for ever. ``BoundedSession`` adds what a caller
needs to promise a deadline:

- **A deadline for the whole exchange** (``ExchangeLimits.deadline``, seconds from the start
  of the try). Every connection made through the session records itself as the connection of
  the exchange running on its thread; when the deadline passes, one timer thread per process
  (``_Guillotine``) shuts that socket down, which makes a blocked ``recv`` in the caller's
  thread return at once, and the call raises ``DeadlineExceeded``. Nothing is polled: an
  exchange that finishes in time only arms and cancels one heap entry.
- **A size cap for the answer body** (``ExchangeLimits.max_bytes``, counted after content
  decoding, so a gzip bomb is caught too): a ``Content-Length`` over the cap is refused before
  reading, a longer body as soon as it passes the cap (``AnswerTooLarge``).

Both errors are ``requests.RequestException`` subclasses: a caller that already treats
network failures as transient keeps doing so; ``DeadlineExceeded`` is also a
``requests.Timeout``. ``stream`` serves callers that consume an answer as it arrives
(server-sent events): the read timeout still fails a stalled stream fast, the deadline bounds
the whole of it.
"""
from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_CHUNK_BYTES = 64 * 1024


class ExchangeLimitExceeded(requests.exceptions.RequestException):
    """An exchange broke one of its ``ExchangeLimits``."""


class DeadlineExceeded(ExchangeLimitExceeded, requests.exceptions.Timeout):
    """The exchange (connect, headers and body) took longer than its deadline."""


class AnswerTooLarge(ExchangeLimitExceeded):
    """The answer body is larger than the exchange's ``max_bytes``."""


@dataclass(frozen=True, kw_only=True)
class ExchangeLimits:
    """The bounds of one HTTP try. Times are seconds, sizes bytes."""

    connect_timeout: float  # to open the TCP (and TLS) connection
    read_timeout: float  # of silence between two reads: a stalled server fails this fast
    deadline: float  # for the whole try: connect, send, status line, headers and body
    max_bytes: int  # of the (decoded) answer body; a longer answer is refused, not buffered

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "deadline"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {getattr(self, name)!r}")
        if self.max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {self.max_bytes!r}")


@dataclass(frozen=True, kw_only=True)
class Answer:
    """A whole answer: its status, headers (case-insensitive) and body bytes."""

    status: int
    headers: Mapping[str, str]
    content: bytes


class StreamedAnswer:
    """An answer whose body is read as it arrives, within the exchange's limits."""

    def __init__(self, response: requests.Response, exchange: _Exchange, max_bytes: int) -> None:
        self._response = response
        self._exchange = exchange
        self._max_bytes = max_bytes
        self.status: int = response.status_code
        self.headers: Mapping[str, str] = response.headers

    def iter_chunks(self) -> Iterator[bytes]:
        """The body's chunks as they arrive; raises ``AnswerTooLarge`` or ``DeadlineExceeded``."""
        received = 0  # bytes
        with self._exchange.translating_errors():
            for chunk in self._response.iter_content(_CHUNK_BYTES):
                received += len(chunk)
                if received > self._max_bytes:
                    raise AnswerTooLarge(f"answer body exceeds {self._max_bytes} bytes")
                yield chunk
        self._exchange.raise_if_fired()

    def read(self) -> bytes:
        """The whole body (within the limits)."""
        return b"".join(self.iter_chunks())


class BoundedSession:
    """Sends requests through one ``requests.Session`` (made lazily in the process that uses it) with
    every try bounded by ``ExchangeLimits``.

    Safe to share between threads (a worker's job lanes and their heartbeats): each exchange is its
    own request over urllib3's locked connection pool, the session is made once under a lock, and
    the pool keeps up to ``POOL_CONNECTIONS`` idle connections per host, so concurrent jobs reuse
    their connections instead of discarding them.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._session: requests.Session | None = None
        self._session_pid = 0
        self._session_lock = threading.Lock()

    def request(self, method: str, url: str, *, data: bytes | None, headers: Mapping[str, str],
                limits: ExchangeLimits, auth: requests.auth.AuthBase | None = None) -> Answer:
        """Send ``method`` with ``data`` and return the whole answer, or raise a
        ``requests.RequestException`` (``DeadlineExceeded`` and ``AnswerTooLarge`` included)."""
        with self.stream(method, url, data=data, headers=headers, limits=limits, auth=auth) as streamed:
            content = streamed.read()
            return Answer(status=streamed.status, headers=streamed.headers, content=content)

    @contextmanager
    def stream(self, method: str, url: str, *, data: bytes | None, headers: Mapping[str, str],
               limits: ExchangeLimits, auth: requests.auth.AuthBase | None = None) -> Iterator[StreamedAnswer]:
        """Send ``method`` with ``data`` and yield the answer before its body is read; leaving the
        block closes the connection unless the body was read whole. The deadline covers the whole block."""
        exchange = _Exchange()
        ticket = _guillotine().arm(self._clock() + limits.deadline, exchange.fire, clock=self._clock)
        outer, _current.exchange = _current.exchange, exchange
        try:
            with exchange.translating_errors():
                response = self._get_session().request(
                    method, url, data=data, headers=dict(headers), auth=auth, stream=True, allow_redirects=False,
                    timeout=(min(limits.connect_timeout, limits.deadline), min(limits.read_timeout, limits.deadline)))
            with response:
                try:
                    exchange.raise_if_fired()
                    _refuse_declared_size(response, limits.max_bytes)
                    yield StreamedAnswer(response, exchange, limits.max_bytes)
                finally:
                    exchange.finish()  # before the connection goes back to the pool
        finally:
            exchange.finish()
            ticket.cancel()
            _current.exchange = outer

    def close(self) -> None:
        """Close the pooled connections; the next call opens a fresh session."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def _get_session(self) -> requests.Session:
        # A session must not cross a fork: its pooled sockets would be shared by two processes.
        with self._session_lock:
            if self._session is None or self._session_pid != os.getpid():
                session = requests.Session()
                adapter = _TrackingAdapter(pool_maxsize=POOL_CONNECTIONS)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                self._session, self._session_pid = session, os.getpid()
            return self._session


def _refuse_declared_size(response: requests.Response, max_bytes: int) -> None:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and len(declared) < 20 and int(declared) > max_bytes:
        raise AnswerTooLarge(f"answer body of {declared} bytes exceeds {max_bytes} bytes")


class _Exchange:
    """One try in flight on one thread: the connection it uses and whether its deadline fired."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._finished = False
        self.fired = False

    def bind(self, connection: HTTPConnection) -> None:
        """Remember ``connection``'s socket. Kept here, not read from the connection at the
        deadline: http.client drops ``connection.sock`` once it has the headers of a
        ``Connection: close`` answer, while the body is still read from that socket."""
        with self._lock:
            if self._finished:
                return
            self._sock = getattr(connection, "sock", None) or self._sock
            fired = self.fired
        if fired:  # the deadline passed while the connection was being made
            _shut_down(self._sock)

    def fire(self) -> None:
        """Called by the timer thread at the deadline: cut the connection under the caller."""
        with self._lock:
            if self._finished:
                return
            self.fired = True
            _shut_down(self._sock)

    def finish(self) -> None:
        """The caller is done; from now on the connection may serve another exchange, so the
        deadline must not touch it (under the lock: a firing in progress completes first)."""
        with self._lock:
            self._finished = True
            self._sock = None

    def raise_if_fired(self) -> None:
        if self.fired:
            raise DeadlineExceeded("the exchange's deadline passed")

    @contextmanager
    def translating_errors(self) -> Iterator[None]:
        """Whatever a cut socket made requests raise becomes ``DeadlineExceeded``."""
        try:
            yield
        except ExchangeLimitExceeded:
            raise
        except (requests.RequestException, OSError, ValueError) as exc:
            # A cut socket can surface as a reset, a protocol error, or http.client's ValueError.
            if self.fired:
                raise DeadlineExceeded("the exchange's deadline passed") from None
            if isinstance(exc, requests.RequestException):
                raise
            raise requests.exceptions.ConnectionError(str(exc)) from None


def _shut_down(sock: socket.socket | None) -> None:
    if sock is None:
        return
    try:
        # socket.socket's own shutdown, also for an SSLSocket: unblocks a recv in another thread.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class _CurrentExchange(threading.local):
    exchange: _Exchange | None = None


_current = _CurrentExchange()


class _TrackedHTTPConnection(HTTPConnection):
    """Binds itself to the exchange running on this thread, so its deadline can cut it."""

    def connect(self) -> None:
        super().connect()
        exchange = _current.exchange
        if exchange is not None:
            exchange.bind(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        exchange = _current.exchange
        if exchange is not None:  # a reused connection is already connected
            exchange.bind(self)
        super().request(*args, **kwargs)


class _TrackedHTTPSConnection(_TrackedHTTPConnection, HTTPSConnection):
    """The HTTPS twin of ``_TrackedHTTPConnection`` (same hooks, TLS connect)."""


class _TrackedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


_TRACKED_POOLS = {"http": _TrackedHTTPPool, "https": _TrackedHTTPSPool}


# Idle connections kept per host: two per job at pool.jobs_per_worker's maximum (64), a job's call and its
# heartbeat. urllib3's default (10) would discard, with a warning, the connections of a busier worker.
POOL_CONNECTIONS = 128


class _TrackingAdapter(HTTPAdapter):
    """requests' adapter with pools whose connections bind to the running exchange."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _TRACKED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS managers bring their own pool classes
            manager.pool_classes_by_scheme = _TRACKED_POOLS
        return manager


class _Ticket:
    """An armed deadline; ``cancel()`` before it fires and nothing happens."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class _Guillotine:
    """One daemon thread per process that runs each armed action at its time (monotonic seconds)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, _Ticket, Callable[[], None]]] = []
        self._order = itertools.count()  # ties in time keep arming order; tickets never compare
        self._thread = threading.Thread(target=self._run, name="http-deadlines", daemon=True)
        self._thread.start()

    def arm(self, when: float, action: Callable[[], None], *, clock: Callable[[], float]) -> _Ticket:
        """Run ``action`` at ``when`` (on ``clock``'s scale, converted to monotonic seconds)."""
        ticket = _Ticket()
        at = time.monotonic() + (when - clock())
        with self._condition:
            heapq.heappush(self._heap, (at, next(self._order), ticket, action))
            if self._heap[0][2] is ticket:
                self._condition.notify()
        return ticket

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._condition.wait()
                    continue
                at, _, ticket, action = self._heap[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._condition.wait(min(wait, 60.0))  # re-check cancellations at least every minute
                    continue
                heapq.heappop(self._heap)
            if not ticket.cancelled:
                action()


_guillotine_lock = threading.Lock()
_guillotine_of: tuple[int, _Guillotine] | None = None


def _guillotine() -> _Guillotine:
    """This process's timer thread (a fork gets its own: threads do not survive fork)."""
    global _guillotine_of
    with _guillotine_lock:
        if _guillotine_of is None or _guillotine_of[0] != os.getpid():
            _guillotine_of = (os.getpid(), _Guillotine())
        return _guillotine_of[1]
