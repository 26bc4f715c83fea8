"""From a raw request (method, target, Authorization, body bytes) to a reply, without sockets.

The HTTP handler does only I/O; everything the emulator decides happens here: route
lookup (404/405), fault injection for protocol routes, JSON parsing, the route handler,
and turning every error into the cloud's ``{"error", "detail"?}`` JSON. Nothing a client
sends can escape as an exception: unexpected bugs become a logged 500.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from emulator.errors import ApiError
from emulator.faults import DROP, ERROR, LATENCY, MALFORMED, THROTTLE, FaultDecision, FaultInjector
from emulator.fields import bearer_token, parse_object
from emulator.jobspec import JobSpecError
from emulator.routing import ApiRequest, Route, RouteTable
from emulator.stats import DROPPED, Stats

log = logging.getLogger("xenon.emulator")

UNKNOWN_ROUTE = "(unknown)"
_GARBLED_HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"  # non-JSON "success"
_GARBLED_JSON = b'{"garbled": true}'  # JSON missing every documented field


@dataclass(frozen=True, kw_only=True)
class Reply:
    """What to send: status, body and headers; ``close`` ends the connection after it,
    ``drop`` closes the connection without sending anything."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False
    drop: bool = False


def json_reply(status: int, payload: Any, *, headers: tuple[tuple[str, str], ...] = (),
               close: bool = False) -> Reply:
    return Reply(status=status, body=json.dumps(payload, separators=(",", ":")).encode("utf-8"),
                 headers=headers, close=close)


def error_reply(error: ApiError, *, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return json_reply(error.status, error.body(), headers=headers, close=error.close)


def retry_after_value(seconds: float) -> str:
    """``Retry-After`` text: whole seconds as an integer, fractions kept for fast tests."""
    return str(int(seconds)) if seconds == int(seconds) else f"{seconds:g}"


class Dispatcher:
    """Routes requests and applies faults; shared by every connection thread."""

    def __init__(self, *, table: RouteTable, faults: FaultInjector, stats: Stats) -> None:
        self._table = table
        self._faults = faults
        self._stats = stats

    def dispatch(self, *, method: str, target: str, authorization: str | None, body: bytes,
                 body_error: ApiError | None = None) -> Reply:
        """The reply to one request; ``body_error`` when the body could not be read (411/413/400)."""
        parts = urlsplit(target)
        found = self._table.resolve(parts.path)
        if found is None:
            route_name, reply = UNKNOWN_ROUTE, error_reply(ApiError(404, f"no route {parts.path}"))
        else:
            route, tail = found
            route_name = route.name
            request = _RawRequest(tail=tail, query=parts.query, authorization=authorization, body=body)
            reply = self._answer(route, method, request, body_error)
        if body_error is not None:  # the unread body makes the connection unusable
            reply = replace(reply, close=True)
        self._stats.count_request(route_name, DROPPED if reply.drop else reply.status)
        return reply

    def _answer(self, route: Route, method: str, raw: _RawRequest, body_error: ApiError | None) -> Reply:
        handler = route.handlers.get(method)
        if handler is None:
            allowed = ", ".join(sorted(route.handlers))
            return error_reply(ApiError(405, f"method {method} not allowed on {route.name}; use {allowed}"),
                               headers=(("Allow", allowed),))
        if body_error is not None:
            return error_reply(body_error)
        if route.protocol:
            faulted = self._inject(route.path)
            if faulted is not None:
                return faulted
        try:
            request = ApiRequest(bearer=bearer_token(raw.authorization),
                                 body=parse_object(raw.body, empty_ok=not route.protocol),
                                 tail=raw.tail, query=dict(parse_qsl(raw.query)))
            status, payload = handler(request)
            return json_reply(status, payload)
        except ApiError as exc:
            return error_reply(exc)
        except JobSpecError as exc:
            return json_reply(400, {"error": "invalid job spec", "detail": {"problems": exc.problems}})
        except Exception:  # a bug in the emulator must not kill the connection thread
            log.exception("emulator route %s failed", route.name)
            return json_reply(500, {"error": "internal emulator error"})

    def _inject(self, path: str) -> Reply | None:
        decision = self._faults.decide(path)
        if decision.latency > 0:
            self._stats.fault(LATENCY)
            time.sleep(decision.latency)
        if decision.kind is None:
            return None
        self._stats.fault(decision.kind)
        log.debug("injected %s fault on %s", decision.kind, path)
        return _fault_reply(decision)


@dataclass(frozen=True, kw_only=True)
class _RawRequest:
    """The parts of a request a handler's ``ApiRequest`` is parsed from, once the route is known."""

    tail: str
    query: str
    authorization: str | None
    body: bytes


def _fault_reply(decision: FaultDecision) -> Reply:
    if decision.kind == DROP:
        return Reply(status=0, drop=True)
    if decision.kind == ERROR:
        return json_reply(500, {"error": "injected fault"})
    if decision.kind == THROTTLE:
        return json_reply(429, {"error": "rate limited (injected)"},
                          headers=(("Retry-After", retry_after_value(decision.retry_after)),))
    if decision.kind == MALFORMED and decision.malformed_json:
        return Reply(status=200, body=_GARBLED_JSON)
    return Reply(status=200, body=_GARBLED_HTML, content_type="text/html")
