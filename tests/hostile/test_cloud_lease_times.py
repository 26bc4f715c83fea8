"""Defect 8 of issue 9: lease times from the cloud's clock never cause hot or runaway renewals.

A ``leaseExpiresAt`` in the past made the lease keeper heartbeat in a hot loop (100 heartbeats
for two 2 s jobs). The keeper now measures the lease at receipt against this machine's clock,
keeps it on the monotonic clock, and never renews closer than its floors; a cloud clock that
differs from ours (seen in the answer's ``Date``) is corrected for. Fake clocks, except where the
real wall clock meets a loopback server's ``Date`` header.
"""
from __future__ import annotations

import email.utils
import itertools
import json
import time
from collections.abc import Sequence

import pytest

from shared.cloud import JobClient
from shared.cloud.errors import TransientCloudError
from shared.cloud.jobs import FailOutcome
from shared.cloud.renewal import (
    MAX_INTERVAL,
    MIN_INTERVAL,
    UNCREDIBLE_INTERVAL,
    lease_seconds,
    next_renewal,
    renewal_interval,
)
from shared.cloud.transport import clock_offset
from shared.http.retry import RetryPolicy
from shared.jobs import LeasedJob
from shared.pipe.failures import Failure, FailureClass
from supervisor.recovery import Recovery
from supervisor.slots import InFlightJob
from tests.cloud.conftest import RUNNER_KEY
from tests.fakes.trickle import TrickleServer, http_answer
from workers.heartbeat import LeaseKeeper

EPOCH = 1_800_000_000.0   # seconds: this machine's wall clock at the start of each test


class Clocks:
    """A monotonic and a wall clock that move together, by hand."""

    def __init__(self) -> None:
        self.elapsed = 0.0

    def monotonic(self) -> float:
        return 1000.0 + self.elapsed

    def epoch(self) -> float:
        return EPOCH + self.elapsed


def _keeper(clocks: Clocks, expires_ms: int, answers: Sequence[int | Exception]) -> tuple[LeaseKeeper, list[float]]:
    beats: list[float] = []

    def heartbeat(_: str) -> int:
        beats.append(clocks.elapsed)
        answer = answers[min(len(beats), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    keeper = LeaseKeeper(heartbeat=heartbeat, workspace_id="ws-1", lease_expires_at_ms=expires_ms,
                         on_renewed=lambda _: None, clock=clocks.monotonic, epoch=clocks.epoch)
    return keeper, beats


def _run_for(clocks: Clocks, keeper: LeaseKeeper, seconds: float) -> None:
    """Do what the keeper's thread does, on the fake clocks: beat whenever due, for ``seconds``."""
    for _ in range(10_000):   # a hot loop would spin here; the assertion below counts the beats
        wait = keeper.due - clocks.monotonic()
        if clocks.elapsed + max(0.0, wait) > seconds or keeper.lost.is_set():
            return
        clocks.elapsed += max(0.0, wait)
        keeper.beat()


@pytest.mark.parametrize("expires_ms", [0, int(EPOCH * 1000) - 3_600_000, int(EPOCH * 1000)])
def test_a_lease_time_in_the_past_is_renewed_every_5_s_not_in_a_hot_loop(expires_ms: int) -> None:
    clocks = Clocks()
    keeper, beats = _keeper(clocks, expires_ms, [expires_ms])   # every renewal answers the same past time
    _run_for(clocks, keeper, 60.0)
    assert len(beats) == 60 / UNCREDIBLE_INTERVAL   # before: thousands (due at once, every time)
    assert all(later - earlier >= MIN_INTERVAL for earlier, later in itertools.pairwise(beats))
    assert not keeper.lost.is_set()


def test_a_cloud_clock_behind_ours_by_more_than_the_lease_costs_a_beat_per_5_s_and_keeps_the_job() -> None:
    clocks = Clocks()
    lease_ms = 600_000
    skew_ms = 660_000   # the cloud is 11 minutes behind: each 10-minute lease looks a minute old
    answers = [int(EPOCH * 1000) - skew_ms + lease_ms + k * 5000 for k in range(100)]
    keeper, beats = _keeper(clocks, answers[0], answers)
    _run_for(clocks, keeper, 120.0)
    assert len(beats) <= 120 / UNCREDIBLE_INTERVAL
    assert not keeper.lost.is_set()


def test_one_failed_renewal_of_an_uncredible_lease_does_not_give_the_job_up() -> None:
    clocks = Clocks()
    past = int(EPOCH * 1000) - 1000
    keeper, beats = _keeper(clocks, past, [TransientCloudError("POST /heartbeatWorkspaceJob: 503", route="/h"), past])
    _run_for(clocks, keeper, 30.0)
    assert not keeper.lost.is_set()
    assert len(beats) >= 2


def test_an_absurdly_far_lease_is_still_renewed_every_120_s() -> None:
    clocks = Clocks()
    far = 7_258_000_000_000   # year 2199: inside the accepted range, ~170 years away
    keeper, beats = _keeper(clocks, far, [far])
    assert keeper.due - clocks.monotonic() == MAX_INTERVAL
    _run_for(clocks, keeper, 600.0)
    assert beats == [120.0, 240.0, 360.0, 480.0, 600.0]


def test_a_wall_clock_jump_after_receipt_does_not_move_the_next_renewal() -> None:
    clocks = Clocks()
    keeper, _ = _keeper(clocks, int(EPOCH * 1000) + 600_000, [0])
    due = keeper.due
    clocks.epoch = lambda: EPOCH - 86_400   # type: ignore[method-assign] # NTP steps the wall clock a day back
    assert keeper.due == due == clocks.monotonic() + MAX_INTERVAL
    assert keeper.seconds_left() == 600.0


@pytest.mark.parametrize(("length", "interval"), [
    (-5.0, UNCREDIBLE_INTERVAL), (0.0, UNCREDIBLE_INTERVAL), (1.0, UNCREDIBLE_INTERVAL), (1.5, MIN_INTERVAL),
    (3.0, 2.0), (60.0, 40.0), (600.0, MAX_INTERVAL), (1e9, MAX_INTERVAL),
])
def test_the_renewal_interval_rule(length: float, interval: float) -> None:
    assert renewal_interval(length) == interval
    assert next_renewal(now=100.0, expires_at=100.0 + length) == 100.0 + interval


@pytest.mark.parametrize("skew", [-660.0, -300.0, 3600.0])
def test_a_skewed_cloud_clock_is_read_from_date_and_lease_times_come_back_on_ours(skew: float) -> None:
    # The cloud's clock is ``skew`` seconds off ours; its 10-minute lease must still look like 10 minutes.
    cloud_now = time.time() + skew
    answer = http_answer(json.dumps({"ok": True, "leaseExpiresAt": int((cloud_now + 600) * 1000)}).encode(),
                         headers=[f"Date: {email.utils.formatdate(cloud_now, usegmt=True)}"])
    with TrickleServer(answer) as server:
        expires_ms = JobClient(base_url=server.url, token=RUNNER_KEY, connect_timeout=2, read_timeout=5,
                               retry=RetryPolicy()).heartbeat("ws-1")
    assert abs(expires_ms / 1000 - (time.time() + 600)) < 3   # Date has 1 s resolution
    assert renewal_interval(lease_seconds(expires_ms, epoch_now=time.time())) == MAX_INTERVAL


def test_a_small_or_absurd_clock_difference_is_left_alone() -> None:
    assert clock_offset("Tue, 01 Dec 2026 12:00:02 GMT", received_at=1_796_126_400.0) == 2.0
    assert clock_offset("Thu, 01 Jan 1970 00:00:00 GMT", received_at=1_796_126_400.0) is None
    assert clock_offset("not a date", received_at=1_796_126_400.0) is None
    assert clock_offset(None, received_at=1_796_126_400.0) is None


class _RecoveryClient:
    """The job client recovery uses: heartbeats answer ``answer_ms``; fails are recorded."""

    def __init__(self, answer_ms: int) -> None:
        self.answer_ms = answer_ms
        self.heartbeats = 0
        self.failed: list[str] = []

    def heartbeat(self, workspace_id: str) -> int:
        self.heartbeats += 1
        return self.answer_ms

    def fail(self, workspace_id: str, reason: str) -> FailOutcome:
        self.failed.append(reason)
        return FailOutcome.FAILED

    def close(self) -> None:
        return None


def _settle(recovery: Recovery) -> None:
    """Wait for recovery's cloud calls (its own threads) to come back, and apply them."""
    deadline = time.monotonic() + 10
    while recovery._pending and time.monotonic() < deadline:   # a safety net, not a timing assertion
        recovery.results()
        time.sleep(0.01)
    recovery.results()


def test_a_queued_job_whose_renewal_answers_a_past_time_is_failed_not_renewed_in_a_loop() -> None:
    clocks = Clocks()
    client = _RecoveryClient(answer_ms=int(EPOCH * 1000) - 60_000)   # the cloud says: expired a minute ago
    recovery = Recovery(make_client=lambda key: client, keys=["k.s"], max_attempts=2, wake=lambda: None,
                        epoch=clocks.epoch)
    job = InFlightJob(lease=LeasedJob(workspace_id="ws-1", lease_expires_at_ms=int(EPOCH * 1000) + 600_000),
                      key="k.s", started_at=0.0)
    try:
        recovery.worker_lost(job, Failure(FailureClass.WORKER_CRASHED, "worker crashed"), may_retry=True)
        [queued] = recovery._queues["k.s"]
        assert queued.renew_at == EPOCH + MAX_INTERVAL
        for _ in range(200):   # one turn a second; a hot loop would heartbeat on every turn past 120 s
            clocks.elapsed += 1.0
            recovery.keep_alive()
            _settle(recovery)
        assert client.heartbeats == 1
        assert client.failed == ["worker crashed; its lease ran low before a re-run could start"]
    finally:
        recovery.close(timeout=5)
