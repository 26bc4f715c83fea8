"""The lease gate's pacing rules (docs/design-notes.md, "Leasing"), on a fake clock.

Per runner key: one probe at a time while the queue is empty, the delay growing ¼ → ½ → 1 ×
``poll_interval`` (±10% jitter); after a successful lease the number of requests in flight
doubles (slow start); an empty answer drops it to one, a failed or throttled one halves it; a
global token bucket (burst = pool size) stops hot loops; a 429/503 pauses every key for
``Retry-After``.
"""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.pipe.messages import LeaseOutcome
from supervisor.lease_gate import LeaseGate
from tests.core.fakes import FakeClock, ScriptedRandom

POLL = 4.0   # seconds: poll_interval (a power of two, so every delay below is exact)


def _gate(clock: FakeClock, *, burst: int = 8, rate: float = 1000.0, rng: object = None) -> LeaseGate:
    return LeaseGate(burst=burst, rate=rate, poll_interval=POLL, clock=clock,
                     rng=rng or ScriptedRandom(1.0))  # type: ignore[arg-type]


def _ask(gate: LeaseGate, key: str, slots: range | list[int]) -> None:
    for slot in slots:
        gate.want(slot, key)


def _report_all(gate: LeaseGate, key: str, slots: list[int], result: LeaseOutcome) -> None:
    for slot in slots:
        gate.report(slot, key, result)


def test_an_idle_key_sends_one_probe_at_a_time() -> None:
    """While the queue is empty, one request at a time per key, however many workers are idle."""
    clock = FakeClock()
    gate = _gate(clock)
    _ask(gate, "a", range(6))
    assert gate.grant() == [0]
    assert gate.grant() == []   # the probe is still out
    gate.report(0, "a", LeaseOutcome.EMPTY)
    gate.want(0, "a")
    clock.advance(POLL)
    assert gate.grant() == [1]


def test_empty_answers_back_off_a_quarter_a_half_then_all_of_poll_interval() -> None:
    """The delay after empty answers grows ¼ → ½ → 1 × poll_interval and stays there."""
    clock = FakeClock()
    gate = _gate(clock)
    _ask(gate, "a", range(8))
    waits = []
    for _ in range(5):
        [slot] = gate.grant()
        gate.report(slot, "a", LeaseOutcome.EMPTY)
        change = gate.next_change()
        assert change is not None   # the empty answer set a delay
        waits.append(change - clock())
        clock.advance(waits[-1] - 0.5)
        assert gate.grant() == []      # not a moment before the delay ends
        clock.advance(0.5)
        gate.want(slot, "a")
    assert waits == [POLL / 4, POLL / 2, POLL, POLL, POLL]


def test_the_idle_delay_is_jittered_plus_or_minus_ten_percent() -> None:
    """±10% jitter so pools on different machines do not poll in step."""
    for factor in (0.9, 1.1):
        clock, rng = FakeClock(), ScriptedRandom(factor)
        gate = _gate(clock, rng=rng)
        _ask(gate, "a", [0])
        gate.grant()
        gate.report(0, "a", LeaseOutcome.EMPTY)
        gate.want(0, "a")
        assert gate.next_change() == clock() + POLL / 4 * factor
        assert rng.ranges == [(0.9, 1.1)]


@settings(max_examples=50)
@given(seed=st.integers(0, 2 ** 32), answers=st.integers(1, 6))
def test_any_jitter_keeps_the_delay_within_ten_percent_of_the_rule(seed: int, answers: int) -> None:
    """With a real random generator the n-th delay lies in 0.9..1.1 × min(1, 2ⁿ⁻¹/4) × poll_interval."""
    clock = FakeClock()
    gate = _gate(clock, rng=random.Random(seed))
    _ask(gate, "a", [0])
    for streak in range(1, answers + 1):
        clock.advance(POLL * 2)
        assert gate.grant() == [0]
        gate.report(0, "a", LeaseOutcome.EMPTY)
        gate.want(0, "a")
        share = min(1.0, 2 ** (streak - 1) / 4)
        assert POLL * share * 0.9 <= gate.backoff_left() <= POLL * share * 1.1


def _slow_start(gate: LeaseGate, clock: FakeClock, key: str, rounds: int) -> list[int]:
    """Lease ``rounds`` times with every permit the gate gives; the permits granted per round."""
    granted_per_round = []
    for _ in range(rounds):
        granted = gate.grant()
        granted_per_round.append(len(granted))
        _report_all(gate, key, granted, LeaseOutcome.LEASED)   # no clock advance: no waiting after a lease
        _ask(gate, key, granted)
        clock.advance(1.0)                          # only to refill the token bucket
    return granted_per_round


def test_after_a_lease_the_next_idle_worker_may_lease_at_once() -> None:
    clock = FakeClock()
    gate = _gate(clock)
    _ask(gate, "a", [0, 1])
    assert gate.grant() == [0]
    gate.report(0, "a", LeaseOutcome.EMPTY)
    gate.want(0, "a")
    clock.advance(POLL)
    [probe] = gate.grant()
    gate.report(probe, "a", LeaseOutcome.LEASED)
    assert gate.grant() == [0]   # the backoff of the empty answer is over with the lease


def test_requests_in_flight_double_per_successful_lease_up_to_the_pool_size() -> None:
    """Slow start: each successful lease doubles the requests in flight, capped at burst (pool size)."""
    clock = FakeClock()
    gate = _gate(clock, burst=16)
    _ask(gate, "a", range(16))
    assert _slow_start(gate, clock, "a", 5) == [1, 2, 8, 16, 16]   # 1 → 2, then 2 → 4 → 8, then 16 (cap)


def test_an_empty_answer_drops_requests_in_flight_to_one() -> None:
    """An empty answer: one request at a time finds out when the queue is not empty any more."""
    clock = FakeClock()
    gate = _gate(clock)
    _ask(gate, "a", range(8))
    assert _slow_start(gate, clock, "a", 3)[-1] == 8
    granted = gate.grant()
    gate.report(granted[0], "a", LeaseOutcome.EMPTY)
    for slot in granted[1:]:
        gate.forget(slot)   # the other requests' workers died: their answers never come
    _ask(gate, "a", granted)
    clock.advance(POLL)
    assert len(gate.grant()) == 1


def test_a_failed_or_throttled_request_halves_requests_in_flight() -> None:
    """Push-back or failure halves the requests in flight (never below one)."""
    clock = FakeClock()
    gate = _gate(clock)
    _ask(gate, "a", range(8))
    assert _slow_start(gate, clock, "a", 3)[-1] == 8
    seen = []
    for result in (LeaseOutcome.ERROR, LeaseOutcome.THROTTLED, LeaseOutcome.ERROR, LeaseOutcome.ERROR,
                   LeaseOutcome.ERROR):
        granted = gate.grant()
        seen.append(len(granted))
        gate.report(granted[0], "a", result, retry_after=1.0)
        for slot in granted[1:]:
            gate.forget(slot)
        _ask(gate, "a", granted)
        clock.advance(POLL * 4)   # past any backoff
    assert seen == [8, 4, 2, 1, 1]


def test_a_failed_lease_request_backs_off_like_an_empty_answer() -> None:
    """A bad lease answer is a failed lease: the gate backs off (¼ × poll_interval first)."""
    clock = FakeClock()
    gate = _gate(clock)
    _ask(gate, "a", [0, 1])
    gate.report(gate.grant()[0], "a", LeaseOutcome.ERROR)
    assert gate.next_change() == clock() + POLL / 4


def test_keys_are_paced_apart() -> None:
    """Per runner key: an empty queue on one key does not hold another key back."""
    clock = FakeClock()
    gate = _gate(clock)
    _ask(gate, "a", [0, 1])
    _ask(gate, "b", [2, 3])
    assert gate.grant() == [0, 2]
    gate.report(0, "a", LeaseOutcome.EMPTY)
    gate.report(2, "b", LeaseOutcome.LEASED)
    assert gate.grant() == [3]


def test_a_429_or_503_pauses_every_key_for_retry_after() -> None:
    """A throttled answer pauses every key, even one first seen during the pause, for Retry-After."""
    clock = FakeClock()
    gate = _gate(clock)
    _ask(gate, "a", [0, 1])
    _ask(gate, "b", [2])
    gate.grant()
    gate.report(0, "a", LeaseOutcome.THROTTLED, retry_after=30.0)
    gate.forget(2)
    _ask(gate, "b", [2])
    _ask(gate, "c", [3])
    assert gate.backoff_left() == 30.0
    clock.advance(29.5)
    assert gate.grant() == []
    clock.advance(0.5)
    assert sorted(gate.grant()) == [1, 2, 3]


def test_a_lease_that_lands_during_a_pause_does_not_end_the_pause_for_its_key() -> None:
    """A 429/503 pauses every key for Retry-After — a request already out when it came back
    and then answered with a job must not reopen leasing for its key (same for a model-refusal pause)."""
    clock = FakeClock()
    gate = _gate(clock)
    _ask(gate, "a", [0, 1, 2])
    _ask(gate, "b", [3])
    assert gate.grant() == [0, 3]
    gate.report(0, "a", LeaseOutcome.THROTTLED, retry_after=30.0)
    gate.report(3, "b", LeaseOutcome.LEASED)   # b's request was already on its way
    _ask(gate, "b", [3])
    clock.advance(1.0)
    assert gate.grant() == []


def test_a_throttled_answer_without_retry_after_pauses_for_poll_interval() -> None:
    clock = FakeClock()
    gate = _gate(clock)
    _ask(gate, "a", [0, 1])
    gate.report(gate.grant()[0], "a", LeaseOutcome.THROTTLED, retry_after=None)
    assert gate.next_change() == clock() + POLL


def test_a_shorter_pause_does_not_cut_a_longer_one() -> None:
    clock = FakeClock()
    gate = _gate(clock)
    gate.pause(600.0)   # the model endpoint refused us
    gate.pause(5.0)     # a Retry-After meanwhile
    _ask(gate, "a", [0])
    assert gate.backoff_left() == 600.0


def test_resume_forgets_every_backoff_and_pause() -> None:
    """SIGHUP (the operator fixed what made us wait) resumes leasing at once, one probe per key."""
    clock = FakeClock()
    gate = _gate(clock)
    _ask(gate, "a", range(4))
    for _ in range(3):
        _report_all(gate, "a", gate.grant(), LeaseOutcome.EMPTY)
    gate.pause(600.0)
    _ask(gate, "a", range(4))
    gate.resume()
    assert gate.backoff_left() == 0.0
    assert len(gate.grant()) == 1


def test_the_token_bucket_caps_requests_at_burst_then_rate_per_second() -> None:
    """A global token bucket (burst = pool size, ``rate`` per second) stops hot loops."""
    clock = FakeClock()
    gate = _gate(clock, burst=3, rate=2.0)
    for slot in range(6):                 # six keys, one idle worker each: only the bucket limits them
        gate.want(slot, f"k{slot}")
    assert gate.grant() == [0, 1, 2]
    assert gate.next_change() == clock() + 0.5   # the next token, at 2 per second
    clock.advance(0.25)
    assert gate.grant() == []
    clock.advance(0.25)
    assert gate.grant() == [3]
    clock.advance(10.0)                   # tokens never pile up past the burst
    assert gate.grant() == [4, 5]
    for slot in range(6):
        gate.report(slot, f"k{slot}", LeaseOutcome.LEASED)
        gate.want(slot, f"k{slot}")
    assert len(gate.grant()) == 1


def test_resize_follows_the_pool_size_and_a_reloaded_poll_interval() -> None:
    clock = FakeClock()
    gate = _gate(clock, burst=8, rate=1.0)
    gate.resize(burst=2, rate=1.0, poll_interval=POLL * 2)
    for slot in range(4):
        gate.want(slot, f"k{slot}")
    assert gate.grant() == [0, 1]          # the bucket shrank with the pool
    for slot in (1, 2, 3):
        gate.forget(slot)
    gate.report(0, "k0", LeaseOutcome.EMPTY)
    gate.want(0, "k0")
    assert gate.next_change() == clock() + POLL * 2 / 4   # the new poll_interval, and a token by then


def test_permits_go_only_to_workers_asking_and_a_forgotten_slot_frees_its_permit() -> None:
    """Never more permits out than idle workers asking; a slot that died gives its permit back."""
    clock = FakeClock()
    gate = _gate(clock)
    gate.want(0, "a")
    gate.want(0, "a")   # asking twice queues once
    assert gate.grant() == [0]
    gate.want(0, "a")   # holding a permit: not queued again
    gate.want(1, "a")
    assert gate.grant() == []
    gate.forget(0)
    assert gate.grant() == [1]
    gate.want(2, "a")
    gate.forget(2)
    gate.report(1, "a", LeaseOutcome.LEASED)
    assert gate.grant() == []
    assert gate.next_change() is None


def test_consecutive_empty_counts_empty_answers_over_the_pool_until_a_lease() -> None:
    """``consecutive_empty`` (for RUNNER_JOB_MAX_EMPTY_POLLS) counts over every key; a lease resets it."""
    clock = FakeClock()
    gate = _gate(clock)
    _ask(gate, "a", [0])
    _ask(gate, "b", [1])
    gate.grant()
    gate.report(0, "a", LeaseOutcome.EMPTY)
    gate.report(1, "b", LeaseOutcome.EMPTY)
    assert gate.consecutive_empty == 2
    gate.report(0, "a", LeaseOutcome.ERROR)
    assert gate.consecutive_empty == 2
    gate.report(1, "b", LeaseOutcome.LEASED)
    assert gate.consecutive_empty == 0
