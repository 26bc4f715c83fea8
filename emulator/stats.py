"""Counters for ``GET /admin/stats``: requests by route and status, lifecycle events, faults.

Thread-safe; job counts by state come from the state itself at read time.
"""
from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any

DROPPED = "dropped"  # the "status" of a request whose connection was closed unanswered

EVENTS = ("leasesGranted", "leasesExpired", "leasesRefusedAtLimit", "heartbeats", "completions",
          "failures", "validationRejections", "summariesStored", "instancesCreated", "instancesRevoked")


class Stats:
    """Request, event and fault counters of one emulator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._events: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()

    def count_request(self, route: str, status: int | str) -> None:
        with self._lock:
            self._requests[route][str(status)] += 1

    def event(self, name: str, count: int = 1) -> None:
        if name not in EVENTS:
            raise ValueError(f"unknown stats event {name!r}")
        with self._lock:
            self._events[name] += count

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            body: dict[str, Any] = {name: self._events[name] for name in EVENTS}
            body["requests"] = {route: dict(codes) for route, codes in sorted(self._requests.items())}
            body["faultsInjected"] = dict(self._faults)
        return body

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._events.clear()
            self._faults.clear()
