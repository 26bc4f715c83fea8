"""Jobs of dead workers (supervisor/recovery.py) on a fake epoch clock, with a fake cloud client.

The job is re-run under the same lease while ``pool.max_job_attempts`` allows and more than
``MIN_LEASE_LEFT`` (15 s) of lease is left, else failed with the cause. Queued jobs are renewed by
the workers' rule (``next_renewal``), early enough that a re-run finds 15 s of lease, never closer
than 1 s apart. The cloud calls run on recovery's own threads; the test waits for their ``wake``.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.cloud.errors import CloudError, LeaseLost
from shared.jobs import LeasedJob
from shared.pipe.failures import Failure, FailureClass
from supervisor.recovery import MIN_LEASE_LEFT, RENEW_MARGIN, Recovery
from supervisor.slots import InFlightJob
from tests.core.fakes import FakeClock, FakeCloud, Wakes

EPOCH = 1_800_000_000.0   # seconds: the wall clock when each test starts
KEYS = ("k.a", "k.b")
MAX_ATTEMPTS = 2


class Rig:
    """A ``Recovery`` with a fake epoch clock and one fake client per runner key."""

    def __init__(self) -> None:
        self.clock = FakeClock(EPOCH)
        self.wakes = Wakes()
        self.clients: dict[str, FakeCloud] = {}
        self.calls = 0   # cloud calls submitted so far, to wait for their results
        self.recovery = Recovery(make_client=self.client, keys=KEYS, max_attempts=MAX_ATTEMPTS,
                                 wake=self.wakes, epoch=self.clock)

    def client(self, key: str) -> FakeCloud:
        return self.clients.setdefault(key, FakeCloud(heartbeats=[int((EPOCH + 600) * 1000)]))

    def settle(self, calls: int) -> None:
        """Wait for ``calls`` more cloud calls to come back, and apply them."""
        self.calls += calls
        self.wakes.wait_for(self.calls)
        self.recovery.results()

    def failed(self) -> list[tuple[str, str]]:
        return [fail for client in self.clients.values() for fail in client.failed]


@pytest.fixture
def rig() -> Iterator[Rig]:
    made = Rig()
    yield made
    made.recovery.close(timeout=5)


def _job(left: float, *, attempt: int = 1, key: str = "k.a", workspace_id: str = "ws-1") -> InFlightJob:
    """A job whose lease has ``left`` seconds to run at the start of the test."""
    lease = LeasedJob(workspace_id=workspace_id, lease_expires_at_ms=int((EPOCH + left) * 1000), attempt=attempt)
    return InFlightJob(lease=lease, key=key, started_at=0.0)


def _lost(cause: str, kind: FailureClass = FailureClass.WORKER_CRASHED) -> Failure:
    """What the pool passes for a worker that died of ``cause`` (``death_cause``, see test_deaths)."""
    return Failure(kind, cause)


def test_a_job_of_a_dead_worker_is_re_run_under_the_same_lease(rig: Rig) -> None:
    rig.recovery.worker_lost(_job(600.0), _lost("worker crashed (exit code 1)"), may_retry=True)
    assert rig.recovery.take("k.b") is None   # only a worker of the key that leased it
    job = rig.recovery.take("k.a")
    assert job is not None and (job.lease.workspace_id, job.lease.attempt, job.lost_to) == \
        ("ws-1", 2, _lost("worker crashed (exit code 1)"))
    assert job.lease.lease_expires_at_ms == int((EPOCH + 600) * 1000)
    assert rig.recovery.take("k.a") is None and not rig.recovery.busy and rig.clients == {}


def test_the_re_run_budget_is_max_job_attempts(rig: Rig) -> None:
    rig.recovery.worker_lost(_job(600.0, attempt=MAX_ATTEMPTS), _lost("worker crashed (exit code 1)"),
                             may_retry=True)
    rig.settle(1)
    assert rig.failed() == [("ws-1", "worker crashed (exit code 1); gave up after 2 attempt(s)")]
    assert rig.recovery.take("k.a") is None


def test_a_job_not_to_be_retried_is_failed_with_the_cause(rig: Rig) -> None:
    rig.recovery.worker_lost(_job(600.0), _lost("job deadline exceeded (1800s)", FailureClass.DEADLINE),
                             may_retry=False)
    rig.settle(1)
    assert rig.failed() == [("ws-1", "job deadline exceeded (1800s)")]


@pytest.mark.parametrize(("left", "queued"), [(MIN_LEASE_LEFT, False), (MIN_LEASE_LEFT + 0.5, True)])
def test_a_re_run_needs_more_than_15_s_of_lease(rig: Rig, left: float, queued: bool) -> None:
    """The lease-time floor: a job with 15 s of lease or less is failed, not queued."""
    rig.recovery.worker_lost(_job(left), _lost("worker crashed"), may_retry=True)
    if queued:
        assert rig.recovery.take("k.a") is not None
    else:
        rig.settle(1)
        assert rig.failed() == [("ws-1", "worker crashed")]


def test_a_job_of_a_key_no_longer_configured_is_failed(rig: Rig) -> None:
    rig.recovery.worker_lost(_job(600.0, key="k.gone"), _lost("worker crashed"), may_retry=True)
    rig.settle(1)
    assert rig.clients["k.gone"].failed == [("ws-1", "worker crashed")]   # called with the key that leased it


def test_a_queued_job_whose_lease_ran_low_is_failed_when_taken(rig: Rig) -> None:
    rig.recovery.worker_lost(_job(60.0), _lost("worker crashed"), may_retry=True)
    rig.recovery.worker_lost(_job(600.0, workspace_id="ws-2"), _lost("worker hung", FailureClass.OTHER), may_retry=True)
    rig.clock.advance(60.0 - MIN_LEASE_LEFT)
    assert rig.recovery.take("k.a").lease.workspace_id == "ws-2"   # type: ignore[union-attr]
    rig.settle(1)
    assert rig.failed() == [("ws-1", "worker crashed; its lease ran low before a re-run could start")]


@pytest.mark.parametrize(("left", "renew_in"), [
    (600.0, 120.0),                                       # a third left, at most 120 s: the workers' rule
    (60.0, 40.0),                                         # a third of 60 s left
    (30.0, 30.0 - MIN_LEASE_LEFT - RENEW_MARGIN),         # early enough that a re-run finds 15 s (10 s)
    (16.0, 1.0),                                          # never closer than 1 s (MIN_RENEW_GAP)
])
def test_a_queued_job_is_renewed_by_the_workers_rule_and_early_enough_for_a_re_run(
        rig: Rig, left: float, renew_in: float) -> None:
    rig.recovery.worker_lost(_job(left), _lost("worker crashed"), may_retry=True)
    assert rig.recovery.take("k.a").renew_at == EPOCH + renew_in   # type: ignore[union-attr]


def test_keep_alive_heartbeats_a_queued_job_when_due_once_at_a_time(rig: Rig) -> None:
    rig.recovery.worker_lost(_job(600.0), _lost("worker crashed"), may_retry=True)
    rig.clock.advance(119.5)
    rig.recovery.keep_alive()
    assert rig.calls == 0 and "k.a" not in rig.clients
    rig.clock.advance(0.5)
    rig.recovery.keep_alive()
    rig.recovery.keep_alive()          # the first heartbeat is not back yet: no second one
    rig.settle(1)
    assert rig.clients["k.a"].heartbeat_calls == ["ws-1"]
    job = rig.recovery.take("k.a")     # renewed to EPOCH + 600 at EPOCH + 120: 480 s left, a third is 160 s
    assert job is not None and job.renew_at == EPOCH + 120 + 120


def test_a_failed_heartbeat_of_a_queued_job_is_retried_in_5_s(rig: Rig) -> None:
    """As a worker would: retry in min(5 s, a third of what is left), at least 1 s."""
    rig.client("k.a").heartbeats.appendleft(CloudError("POST /heartbeatWorkspaceJob: 502", route="/h"))
    rig.recovery.worker_lost(_job(600.0), _lost("worker crashed"), may_retry=True)
    rig.clock.advance(120.0)
    rig.recovery.keep_alive()
    rig.settle(1)
    assert rig.recovery.take("k.a").renew_at == EPOCH + 125.0   # type: ignore[union-attr]


def test_a_queued_job_whose_lease_was_lost_is_dropped(rig: Rig) -> None:
    rig.client("k.a").heartbeats.appendleft(LeaseLost("409", route="/h", status=409))
    rig.recovery.worker_lost(_job(600.0), _lost("worker crashed"), may_retry=True)
    rig.clock.advance(120.0)
    rig.recovery.keep_alive()
    rig.settle(1)
    assert rig.recovery.take("k.a") is None and rig.failed() == [] and not rig.recovery.busy


def test_a_reload_that_drops_a_key_fails_its_queued_jobs(rig: Rig) -> None:
    rig.recovery.worker_lost(_job(600.0, key="k.b"), _lost("worker crashed"), may_retry=True)
    rig.recovery.worker_lost(_job(600.0, workspace_id="ws-2"), _lost("worker crashed"), may_retry=True)
    rig.recovery.reconfigure(make_client=rig.client, keys=["k.a"], max_attempts=MAX_ATTEMPTS)
    rig.settle(1)
    assert rig.failed() == [("ws-1", "runner key replaced before the job could be re-run")]
    assert rig.recovery.queued() == 1


def test_shutdown_fails_every_queued_job(rig: Rig) -> None:
    rig.recovery.worker_lost(_job(600.0), _lost("worker crashed"), may_retry=True)
    rig.recovery.worker_lost(_job(600.0, key="k.b", workspace_id="ws-2"), _lost("worker crashed"), may_retry=True)
    rig.recovery.fail_queued(Failure(FailureClass.SHUTDOWN, "runner shutting down"))
    rig.settle(2)
    assert sorted(rig.failed()) == [("ws-1", "runner shutting down"), ("ws-2", "runner shutting down")]
    assert rig.recovery.queued() == 0
