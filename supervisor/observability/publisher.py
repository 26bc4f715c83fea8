"""The latest picture of the pool for the HTTP thread: when to take a new one, and the last one taken.

The loop publishes soon after a change (at most every ``PUBLISH_EVERY`` seconds) and every
``REFRESH_EVERY`` seconds regardless. Building a snapshot costs O(workers), so an idle pool
does not rebuild it every second: what moves with time alone is aged when it is read
(``PoolSnapshot.to_json``), RSS and CPU are sampled at scrape time (``usage``), and the
loop's heartbeat for /healthz is a float the loop stamps every turn. The HTTP thread reads
the last snapshot by reference only.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from .snapshot import PoolSnapshot

PUBLISH_EVERY = 0.25           # seconds between snapshots for the HTTP thread, at most ...
REFRESH_EVERY = 5.0            # ... and at least (a change nobody announced shows within this)


class SnapshotPublisher:
    """Holds the published snapshot and decides when the next one is due (loop clock seconds)."""

    def __init__(self, *, started: float, clock: Callable[[], float]) -> None:
        self.changed = True            # something /status shows changed since the last snapshot
        self._published_at = float("-inf")
        self._snapshot = PoolSnapshot(started_at=started, loop_heartbeat=clock(), taken_at=clock())
        self._heartbeat = clock()      # the loop's last turn (clock seconds), for /healthz

    def touch(self) -> None:
        """Something /status shows changed: publish soon."""
        self.changed = True

    def next_due(self) -> float | None:
        """When a pending change is to be published, or None when nothing changed."""
        return self._published_at + PUBLISH_EVERY if self.changed else None

    def due(self, now: float) -> bool:
        """True (and the change is taken as published) when a snapshot is due at ``now``; the loop
        asks every turn, which is its heartbeat."""
        self._heartbeat = now
        since = now - self._published_at
        if since < PUBLISH_EVERY or (not self.changed and since < REFRESH_EVERY):
            return False
        self._published_at, self.changed = now, False
        return True

    def publish(self, snapshot: PoolSnapshot) -> None:
        self._snapshot = snapshot

    def snapshot(self) -> PoolSnapshot:
        """The latest published snapshot with the loop's latest heartbeat (safe from any thread)."""
        return replace(self._snapshot, loop_heartbeat=self._heartbeat)
