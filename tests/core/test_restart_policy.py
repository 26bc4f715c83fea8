"""Restart backoff and parking (supervisor/restart_policy.py), on given crash times.

A worker READY for ``startsecs`` is healthy: when it crashes it is replaced at once. Crashes of
workers that never got healthy back off per slot, ``base`` doubling up to ``cap``, jittered
0.8–1.2. Any ``max_crashes`` crashes within ``window`` seconds park the slot.
"""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor.restart_policy import RestartDecision, RestartPolicy
from tests.core.fakes import ScriptedRandom

BASE, CAP = 1.0, 16.0      # seconds
WINDOW, MAX_CRASHES = 60.0, 5
STARTSECS = 2.0            # seconds READY before a worker counts as healthy


def _policy(rng: object = None, *, max_crashes: int = 100) -> RestartPolicy:
    return RestartPolicy(base=BASE, cap=CAP, window=WINDOW, max_crashes=max_crashes, startsecs=STARTSECS,
                         rng=rng or ScriptedRandom(1.0))  # type: ignore[arg-type]


def test_a_healthy_worker_that_crashes_is_replaced_at_once() -> None:
    policy = _policy()
    assert policy.on_crash(0, now=100.0, ready_for=STARTSECS) == RestartDecision(park=False, delay=0.0)
    assert policy.on_crash(0, now=200.0, ready_for=3600.0) == RestartDecision(park=False, delay=0.0)


def test_crashes_before_healthy_back_off_doubling_from_base_up_to_cap() -> None:
    """Never READY, or READY for less than startsecs: base, 2 × base, … up to cap."""
    policy = _policy()
    delays = [policy.on_crash(0, now=float(100 * n), ready_for=None if n % 2 else STARTSECS - 0.1).delay
              for n in range(7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 16.0, 16.0]


def test_a_healthy_run_resets_the_backoff() -> None:
    policy = _policy()
    for n in range(4):
        policy.on_crash(0, now=float(100 * n), ready_for=None)
    assert policy.on_crash(0, now=500.0, ready_for=STARTSECS).delay == 0.0
    assert policy.on_crash(0, now=600.0, ready_for=None).delay == BASE


def test_the_backoff_is_jittered_0_8_to_1_2_and_never_over_cap() -> None:
    """Jittered 0.8–1.2 so slots do not restart in step; the jitter never takes a delay past cap."""
    low, high = ScriptedRandom(0.8), ScriptedRandom(1.2)
    assert _policy(low).on_crash(0, now=0.0, ready_for=None).delay == 0.8 * BASE
    assert _policy(high).on_crash(0, now=0.0, ready_for=None).delay == 1.2 * BASE
    assert low.ranges == high.ranges == [(0.8, 1.2)]
    capped = _policy(ScriptedRandom(1.2))
    delays = [capped.on_crash(0, now=float(100 * n), ready_for=None).delay for n in range(6)]
    assert delays[-1] == CAP


@settings(max_examples=50)
@given(seed=st.integers(0, 2 ** 32), crashes=st.integers(1, 12))
def test_any_jitter_keeps_the_delay_between_0_8_times_the_rule_and_cap(seed: int, crashes: int) -> None:
    policy = _policy(random.Random(seed))
    for n in range(1, crashes + 1):
        delay = policy.on_crash(3, now=float(100 * n), ready_for=None).delay
        rule = min(CAP, BASE * 2 ** (n - 1))
        assert 0.8 * rule <= delay <= min(CAP, 1.2 * rule)


def test_max_crashes_within_the_window_park_the_slot() -> None:
    """Any max_crashes crashes within window seconds park the slot (healthy ones count too)."""
    policy = _policy(max_crashes=MAX_CRASHES)
    times = [0.0, 10.0, 20.0, 30.0]
    for now in times:
        assert not policy.on_crash(0, now=now, ready_for=3600.0).park
    assert policy.on_crash(0, now=WINDOW, ready_for=None) == RestartDecision(park=True, delay=0.0)


def test_crashes_older_than_the_window_are_forgotten() -> None:
    policy = _policy(max_crashes=MAX_CRASHES)
    for now in (0.0, 10.0, 20.0, 30.0):
        policy.on_crash(0, now=now, ready_for=3600.0)
    assert not policy.on_crash(0, now=WINDOW + 0.5, ready_for=3600.0).park   # the crash at 0 has left the window
    assert policy.on_crash(0, now=WINDOW + 1.0, ready_for=3600.0).park       # five within 10..61


def test_slots_keep_their_own_history() -> None:
    policy = _policy(max_crashes=2)
    assert policy.on_crash(0, now=0.0, ready_for=None).delay == BASE
    assert policy.on_crash(1, now=1.0, ready_for=None) == RestartDecision(park=False, delay=BASE)
    assert policy.on_crash(0, now=2.0, ready_for=None).park
