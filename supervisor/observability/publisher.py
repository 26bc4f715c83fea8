"""The latest picture of the pool for the HTTP thread: when to take a new one, and the last one taken.

The loop publishes soon after a change (at most every ``PUBLISH_EVERY`` seconds) and every
``REFRESH_EVERY`` seconds regardless. Building a snapshot costs O(workers + jobs in flight), so
a busy pool, which changes all the time, builds at most ``VIEWS_PER_SECOND`` views a second:
the interval after a snapshot grows with its size (1,000 jobs in flight: about a second; it was
a quarter of the supervisor's Python time at 4 snapshots a second, issue 12). An idle pool
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
VIEWS_PER_SECOND = 1000.0      # worker and job views built a second, at most (within REFRESH_EVERY)


def publish_interval(views: int) -> float:
    """Seconds from a snapshot of ``views`` worker and job views to the next one, at least."""
    return min(REFRESH_EVERY, max(PUBLISH_EVERY, views / VIEWS_PER_SECOND))


class SnapshotPublisher:
    """Holds the published snapshot and decides when the next one is due (loop clock seconds)."""

    def __init__(self, *, started: float, clock: Callable[[], float]) -> None:
        self.changed = True            # something /status shows changed since the last snapshot
        self._published_at = float("-inf")
        self._snapshot = PoolSnapshot(started_at=started, loop_heartbeat=clock(), taken_at=clock())
        self._heartbeat = clock()      # the loop's last turn (clock seconds), for /healthz
        self._interval = PUBLISH_EVERY  # seconds from the last snapshot to the next, at least (its size)

    def touch(self) -> None:
        """Something /status shows changed: publish soon."""
        self.changed = True

    def next_due(self) -> float | None:
        """When a pending change is to be published, or None when nothing changed."""
        return self._published_at + self._interval if self.changed else None

    def due(self, now: float) -> bool:
        """True (and the change is taken as published) when a snapshot is due at ``now``; the loop
        asks every turn, which is its heartbeat."""
        self._heartbeat = now
        since = now - self._published_at
        if since < self._interval or (not self.changed and since < REFRESH_EVERY):
            return False
        self._published_at, self.changed = now, False
        return True

    def publish(self, snapshot: PoolSnapshot) -> None:
        self._snapshot = snapshot
        self._interval = publish_interval(len(snapshot.workers) + sum(len(view.jobs) for view in snapshot.workers))

    def snapshot(self) -> PoolSnapshot:
        """The latest published snapshot with the loop's latest heartbeat (safe from any thread)."""
        return replace(self._snapshot, loop_heartbeat=self._heartbeat)
