"""Renewal timing of a job's lease (workers/heartbeat.py ``LeaseKeeper``) on fake clocks.

Heartbeats are due when a third of the lease is left, never more than 120 s apart, so a job
shorter than two thirds of its lease sends none; before completing, the lease is renewed only if
less than 30 s is left; a 409 is a lost lease; failed heartbeats are retried sooner, and a lease
run out by our own clock without a renewal is lost. The uncredible-lease, skew and wall-clock
step rules are pinned in tests/hostile/test_cloud_lease_times.py.
"""
from __future__ import annotations

from shared.cloud.errors import CloudError, LeaseLost
from shared.cloud.renewal import MAX_INTERVAL
from tests.core.fakes import FakeClock, FakeCloud
from workers.heartbeat import LeaseKeeper
from workers.job import COMPLETE_LEASE_MARGIN

EPOCH = 1_800_000_000.0   # seconds: the wall clock when each test starts
START = 1000.0            # seconds: the monotonic clock when each test starts


class Rig:
    """A keeper on a monotonic and a wall clock that move together, with a scripted heartbeat."""

    def __init__(self, lease: float, heartbeats: list[object] | None = None) -> None:
        self.clock = FakeClock(START)
        self.cloud = FakeCloud(heartbeats=heartbeats or [self.expires_ms(lease)])
        self.beats: list[float] = []        # seconds since the start, one per heartbeat sent
        self.renewed: list[int] = []
        self.keeper = LeaseKeeper(heartbeat=self.heartbeat, workspace_id="ws-1",
                                  lease_expires_at_ms=self.expires_ms(lease), on_renewed=self.renewed.append,
                                  clock=self.clock, epoch=lambda: EPOCH + self.elapsed)

    @property
    def elapsed(self) -> float:
        return self.clock() - START

    def expires_ms(self, seconds_from_now: float) -> int:
        return int((EPOCH + self.elapsed + seconds_from_now) * 1000)

    def heartbeat(self, workspace_id: str) -> int:
        self.beats.append(self.elapsed)
        return self.cloud.heartbeat(workspace_id)

    def run_until(self, elapsed: float) -> None:
        """Do what the keeper's thread does: beat whenever due, until ``elapsed`` seconds since the start."""
        while not self.keeper.lost.is_set() and self.keeper.due - START <= elapsed:
            self.clock.now = max(self.clock.now, self.keeper.due)
            self.keeper.beat()
        self.clock.now = max(self.clock.now, START + elapsed)


def test_a_heartbeat_is_due_when_a_third_of_the_lease_is_left() -> None:
    rig = Rig(lease=90.0)
    assert rig.keeper.due == START + 60.0 and rig.keeper.seconds_left() == 90.0


def test_heartbeats_are_never_more_than_120_s_apart() -> None:
    answers = [int((EPOCH + 120.0 * n + 600.0) * 1000) for n in range(1, 6)]   # each renewal: 10 more minutes
    rig = Rig(lease=600.0, heartbeats=list(answers))
    rig.run_until(600.0)
    assert rig.beats == [120.0, 240.0, 360.0, 480.0, 600.0]
    assert rig.renewed == answers


def test_a_job_shorter_than_two_thirds_of_its_lease_sends_no_heartbeat() -> None:
    rig = Rig(lease=60.0)
    rig.run_until(39.5)
    assert rig.beats == []


def test_before_completing_the_lease_is_renewed_only_if_less_than_30_s_is_left() -> None:
    rig = Rig(lease=600.0, heartbeats=[int((EPOCH + 570.5 + 600.0) * 1000)])
    assert COMPLETE_LEASE_MARGIN == 30.0
    rig.clock.advance(570.0)
    rig.keeper.ensure(COMPLETE_LEASE_MARGIN)   # exactly 30 s left: no call
    assert rig.beats == []
    rig.clock.advance(0.5)
    rig.keeper.ensure(COMPLETE_LEASE_MARGIN)
    assert rig.beats == [570.5] and rig.keeper.seconds_left() == 600.0


def test_a_409_to_a_heartbeat_is_a_lost_lease() -> None:
    rig = Rig(lease=90.0, heartbeats=[LeaseLost("409", route="/h", status=409)])
    rig.run_until(60.0)
    assert rig.keeper.lost.is_set() and rig.renewed == []
    rig.keeper.ensure(COMPLETE_LEASE_MARGIN)   # a lost lease is not renewed again
    assert rig.beats == [60.0]


def test_a_failed_heartbeat_is_retried_in_5_s_then_faster_as_the_lease_runs_out() -> None:
    """Retry in min(5 s, a third of what is left), never closer than 1 s; lost once the lease ran out."""
    rig = Rig(lease=90.0, heartbeats=[CloudError("POST /heartbeatWorkspaceJob: 502", route="/h")])
    rig.run_until(3600.0)
    assert rig.beats[:5] == [60.0, 65.0, 70.0, 75.0, 80.0]   # 30, 25, 20, 15 s left: 5 s each
    # then 10 s left: a third each time (3.3, 2.2, 1.5 s), then the 1 s floor until the lease is over
    # (without the floor, thirds of what is left would never reach the end: a hot loop)
    assert len(rig.beats) == 11 and rig.beats[-2] < 90.0 <= rig.beats[-1]
    assert rig.keeper.lost.is_set() and rig.renewed == []


def test_an_uncredible_lease_gets_15_s_before_failed_renewals_count_as_lost() -> None:
    """A lease time in the past is renewed every 5 s and given 15 s before failed renewals lose it."""
    rig = Rig(lease=-60.0, heartbeats=[CloudError("POST /heartbeatWorkspaceJob: 502", route="/h")])
    rig.run_until(3600.0)
    assert rig.beats[0] == 5.0
    assert rig.keeper.lost.is_set() and rig.beats[-2] < 15.0 <= rig.beats[-1]


def test_a_lease_is_clamped_to_a_day_and_renewed_every_120_s() -> None:
    rig = Rig(lease=10 * 86_400.0)
    assert rig.keeper.seconds_left() == 86_400.0 and rig.keeper.due == START + MAX_INTERVAL
