"""A job lane's loop: ask for work, lease (only when permitted and idle), run the job, repeat.

A worker runs ``pool.jobs_per_worker`` lanes, each its own ``LeaseLoop`` (lane 0 on the main
thread); every message a lane sends names it, and the supervisor's permits and assigned jobs
come back to the lane that asked.

The supervisor paces leasing for the whole pool (``supervisor.lease_gate``), so a worker
sends a lease request only after a ``LeasePermit`` and reports the result at once. Whatever
the answer holds, a lease request ends in a result: an unusable answer is an ``error`` (and
when it named a usable workspace id, that job is failed at once with the reason, so it does
not wait out a lease we cannot keep); nothing an answer holds can crash the worker. A job
recovered from a dead worker arrives as ``AssignJob`` instead. ``Stop`` ends the loop
between jobs with the exit code the supervisor chose (stopped or recycle).
"""
from __future__ import annotations

import logging
from typing import Protocol

from shared.cloud.errors import CloudError, CredentialRejected, MalformedLease, TransientCloudError
from shared.cloud.jobs import FailOutcome
from shared.http.redact import redact
from shared.jobs import LeasedJob
from shared.metrics import metrics
from shared.pipe.messages import AssignJob, Fatal, LeaseOutcome, LeaseResult, Stop, WantWork, WorkerExit

from .job import JobRunner
from .link import SupervisorLink

log = logging.getLogger("xenon.worker")

_THROTTLE_STATUS = (429, 503)


class LeaseClientLike(Protocol):
    """What the lease loop needs of the cloud (``shared.cloud.jobs.JobClient``; a fake in tests)."""

    def lease(self) -> LeasedJob | None: ...

    def fail(self, workspace_id: str, error: str) -> FailOutcome: ...


class LeaseLoop:
    """Asks for work, leases when permitted, runs each job (see the module docstring)."""

    def __init__(self, *, link: SupervisorLink, client: LeaseClientLike, runner: JobRunner) -> None:
        self._link = link
        self._client = client
        self._runner = runner
        self.lane = runner.lane   # the job lane this loop serves: its messages name it

    def run(self) -> int:
        """Work until told to stop; returns the worker's exit code."""
        while True:
            self._link.send(WantWork(lane=self.lane))
            work = self._link.next_work(self.lane)
            if isinstance(work, Stop):
                return work.exit_code
            if isinstance(work, AssignJob):
                job: LeasedJob | None = work.job
                log.info("resuming %s (attempt %d) after its previous worker died", work.job.workspace_id,
                         work.job.attempt)
            else:
                job = self._lease()
            if job is not None:
                self._runner.run(job)

    def _lease(self) -> LeasedJob | None:
        try:
            lease = self._client.lease()
        except CredentialRejected as exc:
            metrics().lease_requests.labels(LeaseOutcome.ERROR).inc()
            self._link.send(LeaseResult(LeaseOutcome.REJECTED, detail=str(exc), lane=self.lane))
            self._link.send(Fatal(f"the cloud rejected the runner key ({exc})", WorkerExit.CREDENTIAL_REJECTED))
            raise SystemExit(WorkerExit.CREDENTIAL_REJECTED) from None
        except TransientCloudError as exc:
            metrics().lease_requests.labels(LeaseOutcome.ERROR).inc()
            result = LeaseOutcome.THROTTLED if exc.status in _THROTTLE_STATUS else LeaseOutcome.ERROR
            self._link.send(LeaseResult(result, retry_after=exc.retry_after, detail=str(exc), lane=self.lane))
            return None
        except CloudError as exc:   # the supervisor logs it, with this worker's name
            metrics().lease_requests.labels(LeaseOutcome.ERROR).inc()
            self._link.send(LeaseResult(LeaseOutcome.ERROR, detail=str(exc), lane=self.lane))
            if isinstance(exc, MalformedLease) and exc.workspace_id is not None:
                self._fail_unusable(exc.workspace_id, str(exc))
            return None
        except Exception as exc:  # a bug must cost one lease request, not the worker
            metrics().lease_requests.labels(LeaseOutcome.ERROR).inc()
            detail = f"internal error: {type(exc).__name__}: {redact(str(exc))}"
            self._link.send(LeaseResult(LeaseOutcome.ERROR, detail=detail, lane=self.lane))
            return None
        if lease is None:
            metrics().lease_requests.labels(LeaseOutcome.EMPTY).inc()
            self._link.send(LeaseResult(LeaseOutcome.EMPTY, lane=self.lane))
            return None
        metrics().lease_requests.labels(LeaseOutcome.LEASED).inc()
        self._link.send(LeaseResult(LeaseOutcome.LEASED, lease=lease, lane=self.lane))
        log.info("leased %s", lease.workspace_id)
        return lease

    def _fail_unusable(self, workspace_id: str, reason: str) -> None:
        """Fail a job whose lease answer we cannot use (best effort: else its lease runs out)."""
        try:
            self._client.fail(workspace_id, f"invalid lease answer: {reason}")
        except CloudError as exc:
            log.warning("could not fail %s after its unusable lease answer (%s)", workspace_id, exc)
