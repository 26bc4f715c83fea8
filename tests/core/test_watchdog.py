"""The watchdog's clocks (supervisor/watchdog.py), on given times; no processes.

``pool.boot_timeout`` (model load → READY), ``pool.hung_timeout`` (no message at all → TERM, then
KILL after ``pool.kill_timeout``), main-thread progress (``stuck``: tests/worker/test_liveness.py)
and ``pool.job_timeout`` (the supervisor kills a worker that overruns it by 30 s); memory over
``max_worker_memory`` recycles after the job, over ``memory_kill_factor`` × that kills mid-job.
"""
from __future__ import annotations

import signal
from types import SimpleNamespace

from shared.config.sections import PoolConfig
from shared.jobs import LeasedJob
from shared.pipe.messages import LeasePermit
from supervisor.slots import InFlightJob, SlotState, WorkerStop
from supervisor.watchdog import CHECK_EVERY, DEADLINE_GRACE, SAMPLE_EVERY, SAMPLES_PER_SECOND, Watchdog
from tests.core.fakes import FakeSlot, live_slot, walk_to

BOOT, HUNG, KILL, JOB = 120.0, 60.0, 5.0, 1800.0   # seconds
LIMIT = 100 * 2 ** 20                              # bytes: pool.max_worker_memory


def _watchdog(recycled: list[tuple[int, str]] | None = None) -> Watchdog:
    pool = PoolConfig(boot_timeout=BOOT, hung_timeout=HUNG, kill_timeout=KILL, job_timeout=JOB,
                      max_worker_memory=LIMIT, memory_kill_factor=1.5)
    sink = recycled if recycled is not None else []
    return Watchdog(pool=pool, recycle=lambda slot, reason: sink.append((slot.slot, reason)))


def _alive(watchdog: Watchdog, slot: FakeSlot, now: float) -> None:
    """A loop turn at ``now`` with the worker's sign of life just in."""
    slot.last_seen = now
    watchdog.check([slot], now)


def test_a_worker_not_ready_within_boot_timeout_is_killed() -> None:
    watchdog, slot = _watchdog(), live_slot(state=SlotState.STARTING, now=0.0)
    watchdog.check([slot], BOOT)
    assert slot.signals == []
    watchdog.check([slot], BOOT + 0.5)
    assert (slot.stop_reason, slot.state, slot.term_sent_at, slot.signals) == \
        ("boot", SlotState.STOPPING, BOOT + 0.5, [signal.SIGTERM])


def test_a_booting_worker_is_judged_by_boot_timeout_not_hung_timeout() -> None:
    watchdog, slot = _watchdog(), live_slot(state=SlotState.STARTING, now=0.0)
    watchdog.check([slot], HUNG + 1.0)   # silent while loading its model: allowed
    assert slot.signals == []


def test_a_ready_worker_silent_for_hung_timeout_is_killed_as_hung() -> None:
    watchdog, slot = _watchdog(), live_slot(state=SlotState.IDLE, now=0.0)
    watchdog.check([slot], HUNG)
    assert slot.signals == []
    watchdog.check([slot], HUNG + 0.5)
    assert (slot.stop_reason, slot.signals) == ("hung", [signal.SIGTERM])


def test_term_is_followed_by_kill_after_kill_timeout() -> None:
    watchdog, slot = _watchdog(), live_slot(state=SlotState.IDLE, now=0.0)
    watchdog.check([slot], HUNG + 1.0)
    watchdog.check([slot], HUNG + 1.0 + KILL - 0.5)
    assert slot.signals == [signal.SIGTERM]
    watchdog.check([slot], HUNG + 1.0 + KILL)
    assert slot.signals == [signal.SIGTERM, signal.SIGKILL]
    assert slot.stop_reason == "hung"   # the first reason stays


def test_a_worker_past_the_job_deadline_plus_30_s_is_killed() -> None:
    """job_timeout is checked by the job itself; the supervisor kills a worker that overruns it by 30 s."""
    assert DEADLINE_GRACE == 30.0
    watchdog, slot = _watchdog(), live_slot(now=0.0)
    slot.jobs["ws-1"] = InFlightJob(lease=LeasedJob(workspace_id="ws-1", lease_expires_at_ms=0), key="k.s",
                                    started_at=10.0)
    _alive(watchdog, slot, 10.0 + JOB + DEADLINE_GRACE)
    assert slot.signals == []
    _alive(watchdog, slot, 10.0 + JOB + DEADLINE_GRACE + 0.5)
    assert (slot.stop_reason, slot.signals) == ("deadline", [signal.SIGTERM])


def test_memory_over_the_limit_recycles_after_the_job_once() -> None:
    recycled: list[tuple[int, str]] = []
    watchdog, slot = _watchdog(recycled), live_slot(now=0.0)
    slot.rss_bytes = LIMIT + 1
    _alive(watchdog, slot, 0.0)
    assert recycled == [(0, "memory")] and slot.signals == []
    slot.stop_reason = WorkerStop.MEMORY   # what the pool's recycle does
    _alive(watchdog, slot, SAMPLE_EVERY)
    assert recycled == [(0, "memory")]


def test_memory_far_over_the_limit_kills_mid_job() -> None:
    watchdog, slot = _watchdog(), live_slot(now=0.0)
    slot.jobs["ws-1"] = InFlightJob(lease=LeasedJob(workspace_id="ws-1", lease_expires_at_ms=0), key="k.s",
                                    started_at=0.0)
    slot.rss_bytes = int(LIMIT * 1.5)
    _alive(watchdog, slot, 0.0)
    assert slot.signals == []                    # at the factor: recycled, not killed
    slot.rss_bytes += 1
    _alive(watchdog, slot, SAMPLE_EVERY)
    assert (slot.stop_reason, slot.signals) == ("memory", [signal.SIGTERM])


def test_an_idle_worker_far_over_the_limit_is_recycled_not_killed() -> None:
    recycled: list[tuple[int, str]] = []
    watchdog, slot = _watchdog(recycled), live_slot(state=SlotState.IDLE, now=0.0)
    slot.rss_bytes = LIMIT * 10
    _alive(watchdog, slot, 0.0)
    assert recycled == [(0, "memory")] and slot.signals == []


def test_memory_is_sampled_once_per_second() -> None:
    recycled: list[tuple[int, str]] = []
    watchdog, slot = _watchdog(recycled), live_slot(now=0.0)
    _alive(watchdog, slot, 0.0)
    slot.rss_bytes = LIMIT + 1
    _alive(watchdog, slot, SAMPLE_EVERY - 0.25)
    assert recycled == []
    _alive(watchdog, slot, SAMPLE_EVERY)
    assert recycled == [(0, "memory")]


def test_an_empty_slot_is_left_alone() -> None:
    watchdog, slot = _watchdog(), live_slot(state=SlotState.WAITING, now=0.0)
    slot.process = None
    watchdog.check([slot], 10 * BOOT)
    assert slot.signals == [] and slot.term_sent_at is None


def test_a_worker_holding_a_job_owes_signs_of_life_even_when_another_lane_asks_for_work() -> None:
    """With several job lanes, WantWork from one lane does not make a worker with a job quiet."""
    watchdog, slot = _watchdog(), live_slot(state=SlotState.IDLE, now=0.0)
    slot.lanes = 2
    slot.assigned(InFlightJob(lease=LeasedJob(workspace_id="ws-1", lease_expires_at_ms=1_800_000_600_000),
                              key="k.s", started_at=0.0))
    slot.wants_work()                     # lane 1 asks while lane 0 runs ws-1
    assert slot.awaiting_work
    watchdog.check([slot], HUNG + 0.5)
    assert slot.signals == [signal.SIGTERM]


def test_a_worker_waiting_for_the_supervisor_may_be_silent_until_it_is_sent_something() -> None:
    """An idle worker that asked for work sends no sign of life (workers/link.py); once the supervisor
    sends it something it owes one again, counted from the last check that saw it waiting."""
    watchdog, slot = _watchdog(), live_slot(state=SlotState.IDLE, now=0.0)
    slot.wants_work()
    watchdog.check([slot], 10 * HUNG)
    assert slot.signals == []
    slot.send(LeasePermit())              # (no pipe in the test: only the bookkeeping)
    assert slot.awaiting_work is False
    watchdog.check([slot], 10 * HUNG + HUNG)
    assert slot.signals == []
    watchdog.check([slot], 10 * HUNG + HUNG + 0.5)
    assert (slot.stop_reason, slot.signals) == ("hung", [signal.SIGTERM])


def test_a_worker_that_answered_after_the_permit_is_judged_from_its_answer() -> None:
    watchdog, slot = _watchdog(), live_slot(state=SlotState.IDLE, now=0.0)
    slot.wants_work()
    watchdog.check([slot], 100.0)
    slot.send(LeasePermit())
    slot.last_seen = 130.0                # its Progress for the lease call
    watchdog.check([slot], 100.0 + HUNG + 1.0)
    assert slot.signals == []
    watchdog.check([slot], 130.0 + HUNG + 0.5)
    assert slot.stop_reason == "hung"


def test_the_loop_has_the_clocks_checked_at_most_every_check_every() -> None:
    watchdog, slot = _watchdog(), live_slot(state=SlotState.STARTING, now=0.0)
    watchdog.check_due([slot], BOOT - CHECK_EVERY / 2)
    watchdog.check_due([slot], BOOT + 0.01)         # too soon after the last check: nothing looked at
    assert slot.signals == []
    watchdog.check_due([slot], BOOT - CHECK_EVERY / 2 + CHECK_EVERY)
    assert (slot.stop_reason, slot.signals) == ("boot", [signal.SIGTERM])


def test_memory_is_sampled_only_with_a_limit() -> None:
    pool = PoolConfig(max_worker_memory=0)
    watchdog, slot = Watchdog(pool=pool, recycle=lambda slot, reason: None), _CountingSlot.live()
    for second in range(5):
        _alive(watchdog, slot, float(second))
    assert slot.samples == 0


def test_a_big_pool_samples_at_most_samples_per_second_pool_wide() -> None:
    """Each worker every SAMPLE_EVERY seconds, or every N / SAMPLES_PER_SECOND seconds when N is larger."""
    count = int(4 * SAMPLES_PER_SECOND)
    watchdog, slots = _watchdog(), [_CountingSlot.live(index) for index in range(count)]
    now = 0.0
    while now < 40.0:
        watchdog.check(slots, now)
        now += CHECK_EVERY
    per_slot = {slot.samples for slot in slots}
    assert per_slot == {10}               # every 4 s over 40 s: 4 × SAMPLES_PER_SECOND workers
    assert sum(slot.samples for slot in slots) / 40.0 <= SAMPLES_PER_SECOND


class _CountingSlot(FakeSlot):
    samples: int = 0

    def sample_memory(self) -> None:
        self.samples += 1

    @classmethod
    def live(cls, index: int = 0) -> _CountingSlot:
        slot = cls(slot=index, key="k.s")
        walk_to(slot, SlotState.BUSY)
        slot.process = SimpleNamespace(pid=10_000 + index)  # type: ignore[assignment]
        return slot
