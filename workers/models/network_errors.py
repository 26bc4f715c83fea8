"""Name a failed connection by its kind, never by its address.

requests' messages quote the pool (``HTTPConnectionPool(host='10.0.0.7', port=8080): Max
retries exceeded …``). A model failure reason travels to the cloud, where the Studio user
reads it: it must say what went wrong ("connection refused") without telling the internal
host and port of the model server.
"""
from __future__ import annotations

import socket
from collections.abc import Iterator

import requests
import urllib3

_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset by the server"),
    (ConnectionAbortedError, "connection aborted"),
    (BrokenPipeError, "connection closed while sending"),
    (socket.gaierror, "the model host name does not resolve"),
    (TimeoutError, "timed out"),
)


def network_failure(exc: BaseException) -> str:
    """A short, address-free description of why a connection to the model server failed."""
    for cause in _causes(exc):
        for kind, description in _KINDS:
            if isinstance(cause, kind):
                return description
    text = " ".join(str(cause) for cause in _causes(exc)).lower()
    if "remotedisconnected" in text or "without response" in text or "connection aborted" in text:
        return "the server closed the connection without answering"
    if "name or service not known" in text or "failed to resolve" in text or "nodename" in text:
        return "the model host name does not resolve"
    if "refused" in text:
        return "connection refused"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed"
    return type(exc).__name__


def is_timeout(exc: BaseException) -> bool:
    """A read that timed out, however requests wrapped it (``iter_content`` turns urllib3's
    ``ReadTimeoutError`` into a ``ConnectionError``)."""
    return any(isinstance(cause, (TimeoutError, urllib3.exceptions.ReadTimeoutError)) for cause in _causes(exc))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, its causes/contexts and the ``reason`` urllib3 wraps, each once."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (current.__cause__, current.__context__, getattr(current, "reason", None),
                       *(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))):
            if isinstance(linked, BaseException):
                pending.append(linked)
