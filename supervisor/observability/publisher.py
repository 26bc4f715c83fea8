"""The latest picture of the pool for the HTTP thread: when to take a new one, and the last one taken.

The loop publishes soon after a change (at most every ``PUBLISH_EVERY`` seconds) and every
``REFRESH_EVERY`` seconds regardless (RSS, CPU and the loop's heartbeat for /healthz). The
HTTP thread reads the last snapshot by reference only.
"""
from __future__ import annotations

from collections.abc import Callable

import psutil

from .snapshot import PoolSnapshot

PUBLISH_EVERY = 0.25           # seconds between snapshots for the HTTP thread, at most ...
REFRESH_EVERY = 1.0            # ... and at least


class SnapshotPublisher:
    """Holds the published snapshot and decides when the next one is due (loop clock seconds)."""

    def __init__(self, *, started: float, clock: Callable[[], float]) -> None:
        self.changed = True            # something /status shows changed since the last snapshot
        self._published_at = float("-inf")
        self._snapshot = PoolSnapshot(started_at=started, loop_heartbeat=clock())
        self._self_process = psutil.Process()
        self._self_process.cpu_percent(None)

    def touch(self) -> None:
        """Something /status shows changed: publish soon."""
        self.changed = True

    def next_due(self) -> float | None:
        """When a pending change is to be published, or None when nothing changed."""
        return self._published_at + PUBLISH_EVERY if self.changed else None

    def due(self, now: float) -> bool:
        """True (and the change is taken as published) when a snapshot is due at ``now``."""
        since = now - self._published_at
        if since < PUBLISH_EVERY or (not self.changed and since < REFRESH_EVERY):
            return False
        self._published_at, self.changed = now, False
        return True

    def own_usage(self) -> tuple[int, float]:
        """The supervisor's own RSS (bytes) and CPU percent since the last call."""
        try:
            return self._self_process.memory_info().rss, self._self_process.cpu_percent(None)
        except psutil.Error:
            return 0, 0.0

    def publish(self, snapshot: PoolSnapshot) -> None:
        self._snapshot = snapshot

    def snapshot(self) -> PoolSnapshot:
        """The latest published snapshot (safe from any thread: a reference read)."""
        return self._snapshot
