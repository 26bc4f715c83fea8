"""Keep a job's lease alive from a thread, timed from ``leaseExpiresAt``.

The next heartbeat is due when a third of the lease is left, and never more than
``MAX_INTERVAL`` seconds (120) after the last one, whichever comes first — so a short job
sends none at all, and a 10-minute lease is renewed every 2 minutes like the official
runner. A 409 means the lease is lost: ``lost`` is set and the job stops at its next safe
point. Failed heartbeats are retried sooner; once the lease has run out by our own clock
without a renewal, it is treated as lost too.

The timing rules (credible lease times, the interval bounds) are in ``shared.cloud.renewal``,
which the supervisor's recovery shares.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from shared.cloud.errors import CloudError, LeaseLost
from shared.cloud.renewal import (
    MIN_CREDIBLE_LEASE,
    MIN_INTERVAL,
    RETRY_INTERVAL,
    UNCREDIBLE_INTERVAL,
    lease_seconds,
    renewal_interval,
)
from shared.metrics import metrics

from .logs import JobTag

log = logging.getLogger("xenon.worker.heartbeat")

class LeaseKeeper:
    """One job's lease: when it expires, renewing it, and whether it was lost."""

    def __init__(self, *, heartbeat: Callable[[str], int], workspace_id: str, lease_expires_at_ms: int,
                 on_renewed: Callable[[int], None], clock: Callable[[], float] = time.monotonic,
                 epoch: Callable[[], float] = time.time) -> None:
        self._heartbeat = heartbeat
        self._workspace_id = workspace_id
        self._on_renewed = on_renewed
        self._clock = clock   # monotonic seconds: every due time and expiry below
        self._epoch = epoch   # wall-clock epoch seconds, only to measure a lease time at receipt
        self._lock = threading.Lock()
        self._expires_at = 0.0  # monotonic seconds
        self._due = 0.0         # monotonic seconds: the next heartbeat
        self._renewed(lease_expires_at_ms)
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
            self.beat()

    @property
    def due(self) -> float:
        """When the next heartbeat is due (monotonic seconds)."""
        return self._due

    def _renewed(self, expires_at_ms: int) -> None:
        """Measure the lease just granted or renewed and schedule its next renewal."""
        now, length = self._clock(), lease_seconds(expires_at_ms, epoch_now=self._epoch())
        # A lease time we cannot believe is no proof the lease ended (the heartbeat just worked):
        # failed renewals get a few tries before the keeper calls it lost by its own clock.
        self._expires_at = now + (length if length >= MIN_CREDIBLE_LEASE else 3 * UNCREDIBLE_INTERVAL)
        self._due = now + renewal_interval(length)

    def _run(self) -> None:
        JobTag.workspace_id = self._workspace_id   # this thread's log records name the job
        while not self._stopped.wait(max(0.0, self._due - self._clock())):
            if self.lost.is_set():
                return
            self.beat()

    def beat(self) -> None:
        """Renew now (the keeper's thread calls this when due; ``ensure`` when asked)."""
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
                self._due = self._clock() + max(MIN_INTERVAL, min(RETRY_INTERVAL, left / 3))
                log.warning("heartbeat failed (%s); retrying in %.1fs, %.0fs of lease left",
                            exc, self._due - self._clock(), left)
                return
            metrics().heartbeats.labels("ok").inc()
            self._renewed(expires_ms)
        self._on_renewed(expires_ms)
