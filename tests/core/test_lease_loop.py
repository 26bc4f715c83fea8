"""The worker's loop (workers/lease_loop.py) with a fake link, cloud client and job runner.

A worker leases only after a ``LeasePermit`` and reports every lease request's result at once;
the lease is never retried by the client (the gate is the retry policy for leasing); a 429/503
is ``throttled`` with the server's Retry-After; an unusable answer is an ``error`` and, when it
named a usable workspace id, that job is failed at once; nothing an answer holds crashes the
worker; a rejected key ends it with WorkerExit.CREDENTIAL_REJECTED.
"""
from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from shared.cloud.errors import CredentialRejected, MalformedLease, MalformedResponse, TransientCloudError
from shared.jobs import LeasedJob
from shared.pipe.messages import AssignJob, Fatal, LeaseOutcome, LeasePermit, LeaseResult, Stop, WantWork, WorkerExit
from tests.core.fakes import FakeCloud
from workers.lease_loop import LeaseLoop

EXPIRES_MS = 1_800_000_600_000


class FakeLink:
    """The worker's end of the pipe: hands out scripted work in order, records what is sent."""

    def __init__(self, *work: Any) -> None:
        self.work = deque(work)
        self.sent: list[Any] = []

    def send(self, message: Any) -> None:
        self.sent.append(message)

    def next_work(self, lane: int = 0, timeout: float | None = None) -> Any:
        return self.work.popleft()


class FakeRunner:
    def __init__(self, lane: int = 0) -> None:
        self.jobs: list[LeasedJob] = []
        self.lane = lane

    def run(self, job: LeasedJob) -> None:
        self.jobs.append(job)


def _run(link: FakeLink, cloud: FakeCloud) -> tuple[int, FakeRunner]:
    runner = FakeRunner()
    code = LeaseLoop(link=link, client=cloud, runner=runner).run()   # type: ignore[arg-type]
    return code, runner


def _lease_results(link: FakeLink) -> list[LeaseResult]:
    return [message for message in link.sent if isinstance(message, LeaseResult)]


def test_a_worker_leases_only_when_permitted_and_runs_what_it_leased() -> None:
    leased = LeasedJob(workspace_id="ws-1", lease_expires_at_ms=EXPIRES_MS, workspace={"id": "ws-1"})
    cloud = FakeCloud(leases=[leased, None])
    link = FakeLink(LeasePermit(), LeasePermit(), Stop(WorkerExit.RECYCLE))
    code, runner = _run(link, cloud)
    assert code == WorkerExit.RECYCLE
    assert link.sent == [WantWork(),
                         LeaseResult(LeaseOutcome.LEASED,
                                     lease=LeasedJob(workspace_id="ws-1", lease_expires_at_ms=EXPIRES_MS,
                                                     workspace={"id": "ws-1"})),
                         WantWork(), LeaseResult(LeaseOutcome.EMPTY), WantWork()]
    assert runner.jobs == [LeasedJob(workspace_id="ws-1", lease_expires_at_ms=EXPIRES_MS, workspace={"id": "ws-1"})]


def test_an_assigned_job_runs_without_a_lease_request() -> None:
    cloud = FakeCloud(leases=[AssertionError("no lease request for a recovered job")])
    link = FakeLink(AssignJob(LeasedJob(workspace_id="ws-9", lease_expires_at_ms=EXPIRES_MS, workspace={"id": "ws-9"},
                                        attempt=2)), Stop())
    code, runner = _run(link, cloud)
    assert code == 0 and runner.jobs == [LeasedJob(workspace_id="ws-9", lease_expires_at_ms=EXPIRES_MS, attempt=2,
                                                   workspace={"id": "ws-9"})]
    assert link.sent == [WantWork(), WantWork()]


@pytest.mark.parametrize(("status", "result"), [(429, "throttled"), (503, "throttled"), (500, "error"),
                                                 (None, "error")])
def test_a_failed_lease_is_reported_once_not_retried(status: int | None, result: str) -> None:
    """The gate paces the retry: one lease request per permit, its result reported at once."""
    error = TransientCloudError("POST /leaseWorkspaceJob: busy", route="/leaseWorkspaceJob", status=status,
                                retry_after=7.0)
    cloud = FakeCloud(leases=[error, None])
    link = FakeLink(LeasePermit(), Stop())
    _run(link, cloud)
    [reported] = _lease_results(link)
    assert (reported.result, reported.retry_after) == (result, 7.0)
    assert len(cloud.leases) == 1   # the error answer was consumed once; the next answer was never asked for


def test_an_unusable_lease_answer_naming_a_job_fails_that_job_at_once() -> None:
    cloud = FakeCloud(leases=[MalformedLease("leaseExpiresAt: not a number", route="/leaseWorkspaceJob",
                                             workspace_id="ws-3"),
                              MalformedLease("workspaceId: empty", route="/leaseWorkspaceJob"),
                              MalformedResponse("not JSON", route="/leaseWorkspaceJob"), None])
    link = FakeLink(LeasePermit(), LeasePermit(), LeasePermit(), Stop())
    _run(link, cloud)
    assert [reported.result for reported in _lease_results(link)] == ["error", "error", "error"]
    assert cloud.failed == [("ws-3", "invalid lease answer: leaseExpiresAt: not a number")]


def test_an_unexpected_error_costs_one_lease_request_not_the_worker() -> None:
    cloud = FakeCloud(leases=[KeyError("workspace"), None])
    link = FakeLink(LeasePermit(), LeasePermit(), Stop())
    code, _ = _run(link, cloud)
    assert code == 0
    assert [(r.result, r.detail) for r in _lease_results(link)] == [
        ("error", "internal error: KeyError: 'workspace'"), ("empty", "")]


def test_a_rejected_key_ends_the_worker_with_exit_credential_rejected() -> None:
    cloud = FakeCloud(leases=[CredentialRejected("POST /leaseWorkspaceJob: 401", route="/leaseWorkspaceJob",
                                                 status=401)])
    link = FakeLink(LeasePermit(), Stop())
    with pytest.raises(SystemExit) as exited:
        _run(link, cloud)
    assert exited.value.code == WorkerExit.CREDENTIAL_REJECTED
    assert [type(message) for message in link.sent] == [WantWork, LeaseResult, Fatal]
    assert link.sent[1].result == "rejected" and link.sent[2].exit_code == WorkerExit.CREDENTIAL_REJECTED
