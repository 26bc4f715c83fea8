"""When the loop rebuilds the /status snapshot (supervisor/observability/publisher.py), on a fake clock.

Soon after a change, at most every ``PUBLISH_EVERY`` seconds; every ``REFRESH_EVERY`` seconds
regardless; and a big snapshot (workers plus jobs in flight) spaces the next one so that a busy
pool builds at most ``VIEWS_PER_SECOND`` views a second (issue 12).
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor.observability.publisher import (
    PUBLISH_EVERY,
    REFRESH_EVERY,
    VIEWS_PER_SECOND,
    SnapshotPublisher,
    publish_interval,
)
from supervisor.observability.snapshot import JobView, PoolSnapshot, WorkerView
from tests.core.fakes import FakeClock


def _snapshot(workers: int, jobs_each: int) -> PoolSnapshot:
    jobs = tuple(JobView(workspaceId=f"ws-{n}", attempt=1, running_seconds=0.0) for n in range(jobs_each))
    return PoolSnapshot(workers=tuple(
        WorkerView(slot=n, pid=100 + n, state="busy", workspaceId=None, attempt=None, jobs_done=0, restarts=0,
                   rss_bytes=0, cpu_percent=0.0, uptime_seconds=1.0, generation=0, key="k.***",
                   job_slots=jobs_each, jobs=jobs) for n in range(workers)))


def _publishes(publisher: SnapshotPublisher, clock: FakeClock, *, seconds: float, step: float,
               snapshot: PoolSnapshot) -> int:
    """Snapshots built in ``seconds`` of a loop turning every ``step`` seconds with a change every turn."""
    built = 0
    end = clock() + seconds
    while clock() < end:
        publisher.touch()
        if publisher.due(clock()):
            publisher.publish(snapshot)
            built += 1
        clock.advance(step)
    return built


def test_a_change_is_published_at_most_every_quarter_second_and_nothing_new_every_refresh() -> None:
    clock = FakeClock(0.0)
    publisher = SnapshotPublisher(started=0.0, clock=clock)
    assert publisher.due(0.0)                    # the first turn publishes
    publisher.publish(_snapshot(4, 1))
    publisher.touch()
    assert publisher.next_due() == PUBLISH_EVERY and not publisher.due(PUBLISH_EVERY - 0.01)
    assert publisher.due(PUBLISH_EVERY) and publisher.next_due() is None
    assert not publisher.due(PUBLISH_EVERY + REFRESH_EVERY - 0.01)
    assert publisher.due(PUBLISH_EVERY + REFRESH_EVERY)   # unchanged, but aged out


def test_a_busy_pool_of_1000_jobs_builds_about_1000_views_a_second_not_4000() -> None:
    clock = FakeClock(0.0)
    publisher = SnapshotPublisher(started=0.0, clock=clock)
    big = _snapshot(50, 20)                      # 50 workers x 20 jobs: 1,050 views
    built = _publishes(publisher, clock, seconds=60.0, step=0.005, snapshot=big)
    views_per_second = (built - 1) * 1050 / 60.0   # the first one is built at once
    assert views_per_second <= VIEWS_PER_SECOND and built >= 55   # about one a second, still fresh
    small = _snapshot(4, 1)                      # a small pool keeps the quarter second
    assert _publishes(SnapshotPublisher(started=0.0, clock=clock), clock, seconds=10.0, step=0.005,
                      snapshot=small) >= 39


@settings(max_examples=100)
@given(views=st.integers(0, 512 * 65))
def test_the_interval_is_bounded_both_ways_and_caps_the_views_built_a_second(views: int) -> None:
    interval = publish_interval(views)
    assert PUBLISH_EVERY <= interval <= REFRESH_EVERY
    assert views / interval <= VIEWS_PER_SECOND * (1 + 1e-9) or interval == REFRESH_EVERY
