"""Fault injection for the 9 protocol routes (never the admin API).

Settings exist globally and, optionally, per route; a route's own settings replace the
global ones for that route entirely. For each request the injector decides, with one
seeded ``random.Random`` per emulator (so a fixed seed gives a fixed sequence):

1. ``latency`` seconds of delay (always, when set);
2. then, each with its own draw and in this order: ``drop_rate`` (close the connection
   unanswered), ``error_rate`` (500 ``{"error": "injected fault"}``), ``throttle_rate``
   (429 with ``Retry-After: retry_after``), ``malformed_rate`` (200 with a non-JSON body or
   a JSON body missing every documented field). The first that hits wins; a rate of 0
   draws nothing. Faults are decided before the route runs, so a faulted request changes
   no state.
"""
from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from emulator.errors import ApiError
from emulator.fields import optional_bool, optional_number, reject_unknown

DROP = "drop"
ERROR = "error"
THROTTLE = "throttle"
MALFORMED = "malformed"
LATENCY = "latency"

_MAXIMA = {"latency": 600.0, "retry_after": 3600.0}  # seconds; rates are capped at 1


@dataclass(frozen=True, kw_only=True)
class FaultSettings:
    """Rates are shares of requests (0–1); ``latency`` and ``retry_after`` are seconds."""

    error_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after: float = 1.0
    drop_rate: float = 0.0
    latency: float = 0.0
    malformed_rate: float = 0.0

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> FaultSettings:
        """Settings from an admin request; absent fields take their defaults. 400 on bad values."""
        defaults = cls()
        values = {spec.name: optional_number(body, spec.name, default=getattr(defaults, spec.name), minimum=0.0,
                                             maximum=_MAXIMA.get(spec.name, 1.0))
                  for spec in fields(cls)}
        return cls(**values)

    def to_json(self) -> dict[str, float]:
        return asdict(self)


SETTING_KEYS = tuple(spec.name for spec in fields(FaultSettings))


@dataclass(frozen=True, kw_only=True)
class FaultDecision:
    """What to do to one request: sleep ``latency`` seconds, then ``kind`` (None = answer normally)."""

    latency: float = 0.0
    kind: str | None = None
    retry_after: float = 0.0
    malformed_json: bool = False  # for MALFORMED: a JSON body missing fields rather than non-JSON


class FaultInjector:
    """Thread-safe fault settings and the seeded random source that applies them."""

    def __init__(self, *, defaults: FaultSettings, seed: int | None) -> None:
        self._lock = threading.Lock()
        self._defaults = defaults
        self._global = defaults
        self._routes: dict[str, FaultSettings] = {}
        self._rng = random.Random(seed)

    def configure(self, *, route: str | None, settings: FaultSettings) -> None:
        """Set the global settings (``route`` None) or one route's own settings."""
        with self._lock:
            if route is None:
                self._global = settings
            else:
                self._routes[route] = settings

    def remove_route(self, route: str) -> None:
        """Let ``route`` follow the global settings again."""
        with self._lock:
            self._routes.pop(route, None)

    def reset(self) -> None:
        """Back to the configured defaults, with no per-route settings."""
        with self._lock:
            self._global = self._defaults
            self._routes.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"global": self._global.to_json(),
                    "routes": {route: s.to_json() for route, s in sorted(self._routes.items())}}

    def decide(self, route: str) -> FaultDecision:
        with self._lock:
            settings = self._routes.get(route, self._global)
            for kind, rate in ((DROP, settings.drop_rate), (ERROR, settings.error_rate),
                               (THROTTLE, settings.throttle_rate), (MALFORMED, settings.malformed_rate)):
                if rate > 0 and self._rng.random() < rate:
                    return FaultDecision(latency=settings.latency, kind=kind, retry_after=settings.retry_after,
                                         malformed_json=kind == MALFORMED and self._rng.random() < 0.5)
            return FaultDecision(latency=settings.latency)


def parse_fault_request(body: Mapping[str, Any], routes: tuple[str, ...]) -> tuple[str | None, FaultSettings | None]:
    """The route (None = global) and settings of ``POST /admin/faults``.

    Settings None means ``{"route": ..., "remove": true}``: drop the route's own settings.
    """
    reject_unknown(body, ("route", "remove", *SETTING_KEYS))
    route = body.get("route")
    if route is not None and route not in routes:
        raise ApiError(400, f"route must be one of the protocol routes, got {route!r}", {"routes": list(routes)})
    if optional_bool(body, "remove", default=False):
        if route is None:
            raise ApiError(400, "remove needs a route")
        return route, None
    return route, FaultSettings.from_json(body)
