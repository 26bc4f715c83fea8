"""Keep a job's lease alive from a thread, timed from ``leaseExpiresAt``.

The next heartbeat is due when a third of the lease is left, and never more than
``MAX_INTERVAL`` seconds (120) after the last one, whichever comes first — so a short job
sends none at all, and a 10-minute lease is renewed every 2 minutes like the official
runner. A 409 means the lease is lost: ``lost`` is set and the job stops at its next safe
point. Failed heartbeats are retried sooner; once the lease has run out by our own clock
without a renewal, it is treated as lost too.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .cloud.errors import CloudError, LeaseLost
from .metrics import metrics

log = logging.getLogger("xenon.worker.heartbeat")

MAX_INTERVAL = 120.0       # seconds between heartbeats at most
RETRY_INTERVAL = 5.0       # seconds before retrying a failed heartbeat (less if the lease is shorter)


def next_renewal(*, now: float, expires_at: float) -> float:
    """When a lease just renewed (or leased) at ``now`` should be renewed next: once a third of
    it is left, and at most ``MAX_INTERVAL`` seconds later. Epoch seconds in and out.

    The supervisor keeps jobs waiting for a re-run alive by the same rule.
    """
    return now + min(MAX_INTERVAL, max(0.0, expires_at - now) * 2 / 3)


class LeaseKeeper:
    """One job's lease: when it expires, renewing it, and whether it was lost."""

    def __init__(self, *, heartbeat: Callable[[str], int], workspace_id: str, lease_expires_at_ms: int,
                 on_renewed: Callable[[int], None]) -> None:
        self._heartbeat = heartbeat
        self._workspace_id = workspace_id
        self._on_renewed = on_renewed
        self._clock = time.time   # epoch seconds, to compare with leaseExpiresAt
        self._lock = threading.Lock()
        self._expires_at = lease_expires_at_ms / 1000.0   # epoch seconds
        self._due = self._due_after_renewal()
        self._stopped = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def seconds_left(self) -> float:
        return self._expires_at - self._clock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)

    def ensure(self, seconds: float) -> None:
        """Renew now (in the caller's thread) if less than ``seconds`` of lease are left."""
        if self.seconds_left() < seconds and not self.lost.is_set():
            self._beat()

    def _due_after_renewal(self) -> float:
        return next_renewal(now=self._clock(), expires_at=self._expires_at)

    def _run(self) -> None:
        while not self._stopped.wait(max(0.0, self._due - self._clock())):
            if self.lost.is_set():
                return
            self._beat()

    def _beat(self) -> None:
        with self._lock:
            try:
                expires_ms = self._heartbeat(self._workspace_id)
            except LeaseLost:
                metrics().heartbeats.labels("lease_lost").inc()
                log.warning("lease lost: the cloud answered 409 to a heartbeat; stopping this job")
                self.lost.set()
                return
            except CloudError as exc:
                metrics().heartbeats.labels("error").inc()
                left = self.seconds_left()
                if left <= 0:
                    log.warning("lease expired after failed heartbeats (%s); treating it as lost", exc)
                    self.lost.set()
                    return
                self._due = self._clock() + min(RETRY_INTERVAL, left / 3)
                log.warning("heartbeat failed (%s); retrying in %.1fs, %.0fs of lease left",
                            exc, self._due - self._clock(), left)
                return
            metrics().heartbeats.labels("ok").inc()
            self._expires_at = expires_ms / 1000.0
            self._due = self._due_after_renewal()
        self._on_renewed(expires_ms)
