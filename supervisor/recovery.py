"""Jobs whose worker died: re-run them under the same lease, or fail them with the cause.

The supervisor always knows each worker's in-flight job (``InFlightJob``). When the worker
dies mid-job, the job is queued for another worker of the same runner key while
``max_job_attempts`` allows and the lease has time left; otherwise it is failed at once with
the cause (``worker crashed (signal 9, possible OOM)``), so no job waits for its lease to
expire because of us. Queued jobs are kept alive with heartbeats until a worker takes them.
Cloud calls run on a small thread pool so the supervisor's loop never blocks on HTTP; their
results come back through ``results()`` and the loop is woken by ``wake``.
"""
from __future__ import annotations

import logging
import queue
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from workers.cloud.errors import CloudError, LeaseLost
from workers.job import failure_class
from workers.metrics import metrics

from .slots import InFlightJob

log = logging.getLogger("xenon.supervisor.recovery")

MIN_LEASE_LEFT = 15.0     # seconds of lease a re-run needs at least to be worth starting
RENEW_WHEN_LEFT = 60.0    # seconds: heartbeat a queued job's lease when less than this is left


@dataclass(frozen=True)
class CallResult:
    action: str            # fail | heartbeat
    workspace_id: str
    ok: bool
    lease_lost: bool = False
    lease_expires_at_ms: int | None = None
    detail: str = ""


class Recovery:
    def __init__(self, *, clients: Sequence, max_attempts: int, wake: Callable[[], None],
                 epoch: Callable[[], float] = time.time) -> None:
        self._clients = clients                 # one JobClient per runner key
        self._max_attempts = max_attempts
        self._wake = wake
        self._epoch = epoch                     # wall clock, to compare with leaseExpiresAt
        self._queues: dict[int, deque[InFlightJob]] = {}
        self._results: "queue.Queue[CallResult]" = queue.Queue()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cloud-call")
        self._pending = 0
        self._renewing: set[str] = set()

    # --- decisions (loop thread) ---------------------------------------------------------

    def worker_lost(self, job: InFlightJob, cause: str, *, may_retry: bool) -> None:
        """Decide the fate of ``job`` whose worker died of ``cause``."""
        left = self._lease_left(job)
        if may_retry and job.attempt < self._max_attempts and left > MIN_LEASE_LEFT:
            metrics().jobs.labels("retried").inc()
            log.warning("%s: %s; re-running it (attempt %d of %d, %.0fs of lease left)",
                        job.workspace_id, cause, job.attempt + 1, self._max_attempts, left)
            self._queues.setdefault(job.key, deque()).append(replace(job, attempt=job.attempt + 1))
            return
        why = cause if job.attempt < self._max_attempts else f"{cause}; gave up after {job.attempt} attempt(s)"
        self.fail(job, why)

    def replace_clients(self, clients: Sequence) -> None:
        """New runner keys after SIGHUP. Jobs already queued keep their key index."""
        self._clients = clients

    def take(self, key: int) -> InFlightJob | None:
        """A queued job for a worker of runner key ``key``, if any."""
        jobs = self._queues.get(key)
        while jobs:
            job = jobs.popleft()
            if self._lease_left(job) > MIN_LEASE_LEFT:
                return job
            log.warning("%s: its lease ran out while waiting for a worker; the cloud will re-queue it",
                        job.workspace_id)
        return None

    def keep_alive(self) -> None:
        """Heartbeat queued jobs whose lease is running low."""
        for key, jobs in self._queues.items():
            for job in jobs:
                if job.workspace_id not in self._renewing and self._lease_left(job) < RENEW_WHEN_LEFT:
                    self._renewing.add(job.workspace_id)
                    self._submit(self._heartbeat, key, job.workspace_id)

    def fail_queued(self, reason: str) -> None:
        """Fail every job still waiting for a worker (shutdown)."""
        for jobs in self._queues.values():
            while jobs:
                self.fail(jobs.popleft(), reason)

    def fail(self, job: InFlightJob, reason: str) -> None:
        self._submit(self._fail, job.key, job.workspace_id, reason)

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

    def queued(self, key: int) -> int:
        return len(self._queues.get(key, ()))

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

    # --- calls (thread pool) -------------------------------------------------------------

    def _submit(self, call: Callable[..., CallResult], key: int, *args: object) -> None:
        self._pending += 1
        client = self._clients[key]

        def run() -> None:
            try:
                result = call(client, *args)
            except Exception as exc:  # noqa: BLE001 - a failed call must still be reported back
                result = CallResult(call.__name__.strip("_"), str(args[0]), ok=False, detail=str(exc))
            self._results.put(result)
            self._wake()

        self._pool.submit(run)

    @staticmethod
    def _fail(client, workspace_id: str, reason: str) -> CallResult:
        installed = metrics()
        try:
            client.fail(workspace_id, reason)
        except LeaseLost:
            installed.jobs.labels("lease_lost").inc()
            log.warning("%s: lease already gone, could not fail it (%s)", workspace_id, reason)
            return CallResult("fail", workspace_id, ok=False, lease_lost=True)
        except CloudError as exc:
            log.error("%s: could not fail it (%s); the cloud re-queues it when the lease expires",
                      workspace_id, exc)
            return CallResult("fail", workspace_id, ok=False, detail=str(exc))
        installed.jobs.labels("failed").inc()
        installed.job_failures.labels(failure_class(reason)).inc()
        log.warning("failed %s: %s", workspace_id, reason)
        return CallResult("fail", workspace_id, ok=True)

    @staticmethod
    def _heartbeat(client, workspace_id: str) -> CallResult:
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
        for jobs in self._queues.values():
            for index, job in enumerate(jobs):
                if job.workspace_id != result.workspace_id:
                    continue
                if result.lease_lost:
                    del jobs[index]
                    metrics().jobs.labels("lease_lost").inc()
                    log.warning("%s: lease lost while waiting for a worker", job.workspace_id)
                elif result.lease_expires_at_ms:
                    jobs[index] = replace(job, lease_expires_at_ms=result.lease_expires_at_ms)
                return

    def _lease_left(self, job: InFlightJob) -> float:
        return job.lease_expires_at_ms / 1000.0 - self._epoch()
