"""Jobs whose worker died: re-run them under the same lease, or fail them with the cause.

The supervisor always knows each worker's in-flight job (``InFlightJob``). When the worker
dies mid-job, the job is queued for another worker of the same runner key while
``max_job_attempts`` allows and the lease has time left; otherwise it is failed at once with
the cause (``worker crashed (signal 9 SIGKILL, possible OOM)``), so no job waits for its lease to
expire because of us. Queued jobs are kept alive with heartbeats until a worker takes them:
by the rule the workers use (``shared.cloud.renewal.next_renewal``), and early enough that a
re-run always finds ``MIN_LEASE_LEFT`` seconds of lease, but never more often than every
``MIN_RENEW_GAP`` seconds whatever the lease length (a failed heartbeat is retried no sooner
either). A lease time in the past leaves the job too little lease to re-run: it is failed,
not heartbeated in a loop.

Cloud calls run on a small thread pool so the supervisor's loop never blocks on HTTP; their
results come back through ``results()`` and the loop is woken by ``wake``. Each job is
called for with the runner key that leased it: a client per key is made on first use.
"""
from __future__ import annotations

import logging
import queue
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

from shared.cloud.errors import CloudError, LeaseLost
from shared.cloud.jobs import FailOutcome
from shared.cloud.renewal import MIN_INTERVAL, RETRY_INTERVAL, next_renewal
from shared.metrics import metrics
from shared.pipe.failures import Failure, FailureClass
from shared.pipe.messages import JobOutcome

from .slots import InFlightJob

log = logging.getLogger("xenon.supervisor.recovery")

MIN_LEASE_LEFT = 15.0     # seconds of lease a re-run needs at least to be worth starting
RENEW_MARGIN = 5.0        # seconds: renew a queued job's lease this long before it drops under MIN_LEASE_LEFT
MIN_RENEW_GAP = MIN_INTERVAL  # seconds between two heartbeats of one queued job, at least (the workers' floor)
CALL_THREADS = 4

class RecoveryClientLike(Protocol):
    """What recovery needs of the cloud for one runner key (``shared.cloud.jobs.JobClient``; fakes in tests)."""

    def heartbeat(self, workspace_id: str) -> int: ...

    def fail(self, workspace_id: str, error: str) -> FailOutcome: ...

    def close(self) -> None: ...


ClientFactory = Callable[[str], RecoveryClientLike]
"""``make_client(runner_key)`` → a client for that key."""


@dataclass(frozen=True)
class CallResult:
    """How one of recovery's cloud calls (fail or heartbeat of a job) ended."""

    action: str            # fail | heartbeat
    workspace_id: str
    ok: bool
    lease_lost: bool = False
    lease_expires_at_ms: int | None = None
    detail: str = ""


class Recovery:
    """Jobs of dead workers: re-run queues per runner key, and the cloud calls that keep or fail them."""

    def __init__(self, *, make_client: ClientFactory, keys: Iterable[str], max_attempts: int,
                 wake: Callable[[], None], epoch: Callable[[], float] = time.time) -> None:
        self._make_client = make_client
        self._clients: dict[str, RecoveryClientLike] = {}
        self._retired: list[RecoveryClientLike] = []           # clients of an earlier config, closed at the end
        self._keys = frozenset(keys)            # runner keys the pool is configured with
        self._max_attempts = max_attempts
        self._wake = wake
        self._epoch = epoch                     # wall-clock epoch seconds, to compare with leaseExpiresAt
        self._queues: dict[str, deque[InFlightJob]] = {}
        self._results: queue.Queue[CallResult] = queue.Queue()
        self._pool = ThreadPoolExecutor(max_workers=CALL_THREADS, thread_name_prefix="cloud-call")
        self._pending = 0
        self._renewing: set[str] = set()

    # --- decisions (loop thread) ---------------------------------------------------------

    def worker_lost(self, job: InFlightJob, cause: Failure, *, may_retry: bool) -> None:
        """Decide the fate of ``job`` whose worker died of ``cause``."""
        left, attempt = self._lease_left(job), job.lease.attempt
        if may_retry and attempt < self._max_attempts and left > MIN_LEASE_LEFT and job.key in self._keys:
            metrics().jobs.labels("retried").inc()
            log.warning("%s: %s; re-running it (attempt %d of %d, %.0fs of lease left)",
                        job.lease.workspace_id, cause.reason, attempt + 1, self._max_attempts, left)
            self._queue(replace(job, lease=replace(job.lease, attempt=attempt + 1), lost_to=cause))
            return
        why = cause if attempt < self._max_attempts else cause.amended(f"gave up after {attempt} attempt(s)")
        self.fail(job, why)

    def reconfigure(self, *, make_client: ClientFactory, keys: Iterable[str], max_attempts: int) -> None:
        """A reloaded config: new client settings and runner keys.

        Jobs waiting for a worker of a key that is no longer configured would never find one,
        so they are failed now (with the key that leased them).
        """
        self._retired.extend(self._clients.values())
        self._clients.clear()
        self._make_client, self._keys, self._max_attempts = make_client, frozenset(keys), max_attempts
        for key in [key for key in self._queues if key not in self._keys]:
            for job in self._queues.pop(key):
                self.fail(job, Failure(FailureClass.OTHER, "runner key replaced before the job could be re-run"))

    def take(self, key: str) -> InFlightJob | None:
        """A queued job for a worker of runner key ``key``, if any."""
        jobs = self._queues.get(key)
        while jobs:
            job = jobs.popleft()
            if self._lease_left(job) > MIN_LEASE_LEFT:
                return job
            self._fail_ran_low(job)
        return None

    def keep_alive(self) -> None:
        """Heartbeat queued jobs whose renewal is due; fail those whose lease ran low all the same."""
        now = self._epoch()
        for jobs in self._queues.values():
            for job in list(jobs):
                if self._lease_left(job) <= MIN_LEASE_LEFT:
                    jobs.remove(job)
                    self._fail_ran_low(job)
                elif job.lease.workspace_id not in self._renewing and now >= job.renew_at:
                    self._renewing.add(job.lease.workspace_id)
                    self._submit(self._heartbeat, job.key, job.lease.workspace_id)

    def fail_queued(self, failure: Failure) -> None:
        """Fail every job still waiting for a worker (shutdown)."""
        for jobs in self._queues.values():
            while jobs:
                self.fail(jobs.popleft(), failure)

    def fail(self, job: InFlightJob, failure: Failure) -> None:
        """Fail ``job`` in the cloud with ``failure`` (on a call thread; the result comes back via ``results``)."""
        self._submit(self._fail, job.key, job.lease.workspace_id, failure)

    def results(self) -> list[CallResult]:
        """Finished cloud calls since the last look; also applies heartbeat results to queued jobs."""
        done = []
        while True:
            try:
                result = self._results.get_nowait()
            except queue.Empty:
                break
            self._pending -= 1
            if result.action == "heartbeat":
                self._apply_heartbeat(result)
            done.append(result)
        return done

    @property
    def busy(self) -> bool:
        """True while cloud calls are under way or jobs wait for a worker."""
        return self._pending > 0 or any(self._queues.values())

    def queued(self) -> int:
        """Jobs waiting for a worker, over every key."""
        return sum(len(jobs) for jobs in self._queues.values())

    def close(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for calls under way, then stop the thread pool."""
        deadline = time.monotonic() + timeout
        while self._pending > 0 and time.monotonic() < deadline:
            try:
                self._results.get(timeout=max(0.0, deadline - time.monotonic()))
                self._pending -= 1
            except queue.Empty:
                break
        self._pool.shutdown(wait=False, cancel_futures=True)
        for client in [*self._clients.values(), *self._retired]:
            client.close()

    # --- internals -----------------------------------------------------------------------

    def _queue(self, job: InFlightJob) -> None:
        self._queues.setdefault(job.key, deque()).append(replace(job, renew_at=self._renewal_due(job)))

    def _renewal_due(self, job: InFlightJob) -> float:
        """Epoch seconds at which a queued job, just queued or renewed, needs its next heartbeat."""
        now, expires_at = self._epoch(), job.lease.lease_expires_at_ms / 1000.0
        keep_enough = expires_at - MIN_LEASE_LEFT - RENEW_MARGIN
        return max(now + MIN_RENEW_GAP, min(next_renewal(now=now, expires_at=expires_at), keep_enough))

    def _fail_ran_low(self, job: InFlightJob) -> None:
        lost_to = job.lost_to or Failure(FailureClass.OTHER, "")
        self.fail(job, lost_to.amended("its lease ran low before a re-run could start"))

    def _client(self, key: str) -> RecoveryClientLike:
        if key not in self._clients:
            self._clients[key] = self._make_client(key)
        return self._clients[key]

    def _submit(self, call: Callable[..., CallResult], key: str, workspace_id: str, *args: Failure) -> None:
        self._pending += 1
        client = self._client(key)

        def run() -> None:
            try:
                result = call(client, workspace_id, *args)
            except Exception as exc:  # a failed call must still be reported back
                result = CallResult(call.__name__.strip("_"), workspace_id, ok=False, detail=str(exc))
            self._results.put(result)
            self._wake()

        self._pool.submit(run)

    @staticmethod
    def _fail(client: RecoveryClientLike, workspace_id: str, failure: Failure) -> CallResult:
        installed, reason = metrics(), failure.reason
        try:
            client.fail(workspace_id, reason)
        except LeaseLost:
            installed.jobs.labels(JobOutcome.LEASE_LOST).inc()
            log.warning("%s: lease already gone, could not fail it (%s)", workspace_id, reason)
            return CallResult("fail", workspace_id, ok=False, lease_lost=True)
        except CloudError as exc:
            log.error("%s: could not fail it (%s); the cloud re-queues it when the lease expires",
                      workspace_id, exc)
            return CallResult("fail", workspace_id, ok=False, detail=str(exc))
        installed.jobs.labels(JobOutcome.FAILED).inc()
        installed.job_failures.labels(failure.kind).inc()
        log.warning("failed %s: %s", workspace_id, reason)
        return CallResult("fail", workspace_id, ok=True)

    @staticmethod
    def _heartbeat(client: RecoveryClientLike, workspace_id: str) -> CallResult:
        try:
            expires = client.heartbeat(workspace_id)
        except LeaseLost:
            metrics().heartbeats.labels("lease_lost").inc()
            return CallResult("heartbeat", workspace_id, ok=False, lease_lost=True)
        except CloudError as exc:
            metrics().heartbeats.labels("error").inc()
            return CallResult("heartbeat", workspace_id, ok=False, detail=str(exc))
        metrics().heartbeats.labels("ok").inc()
        return CallResult("heartbeat", workspace_id, ok=True, lease_expires_at_ms=expires)

    def _apply_heartbeat(self, result: CallResult) -> None:
        self._renewing.discard(result.workspace_id)
        now = self._epoch()
        for jobs in self._queues.values():
            for index, job in enumerate(jobs):
                if job.lease.workspace_id != result.workspace_id:
                    continue
                if result.lease_lost:
                    del jobs[index]
                    metrics().jobs.labels(JobOutcome.LEASE_LOST).inc()
                    log.warning("%s: lease lost while waiting for a worker", job.lease.workspace_id)
                elif result.lease_expires_at_ms:
                    renewed = job.renewed(result.lease_expires_at_ms)
                    jobs[index] = replace(renewed, renew_at=self._renewal_due(renewed))
                else:   # the heartbeat failed: try again soon, as a worker would
                    retry_in = max(MIN_RENEW_GAP, min(RETRY_INTERVAL, self._lease_left(job) / 3))
                    jobs[index] = replace(job, renew_at=now + retry_in)
                return

    def _lease_left(self, job: InFlightJob) -> float:
        return job.lease.lease_expires_at_ms / 1000.0 - self._epoch()
