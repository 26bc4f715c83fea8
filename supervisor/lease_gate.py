"""The pool-wide lease gate: who may send a lease request, and when.

Workers ask for a permit when idle; the gate hands them out so that

* an idle pool of any size sends about one lease request per ``poll_interval`` per runner
  key: an empty answer makes the whole pool (for that key) back off together, the delay
  growing from a quarter of ``poll_interval`` to all of it, jittered ±10% so pools on
  different machines do not poll in step;
* after a successful lease the next idle worker may lease at once, and the number of
  requests in flight doubles per success (slow start), so a full queue drains at pool speed;
  an empty answer drops it to one, a failed or throttled request halves it;
* a token bucket (burst = pool size, ``rate`` per second) caps lease requests, so jobs
  that fail fast cannot turn the pool into a hot loop;
* a 429/503 answer pauses every key for the server's ``Retry-After``.

The gate is plain logic with an injected clock: the supervisor's loop calls it and sends
the permits. It never holds more permits out than there are idle workers asking. Keys are
opaque strings (the runner keys themselves); their state is made on first use, so a key
added by a reload needs no set-up and a key dropped by one keeps working until its last
worker is rolled.
"""
from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.pipe.messages import LeaseOutcome


@dataclass
class _KeyState:
    waiting: deque[int] = field(default_factory=deque)       # slots asking for a permit, oldest first
    outstanding: set[int] = field(default_factory=set)        # slots holding a permit, not yet reported
    concurrency: int = 1       # permits allowed out at once for this key
    not_before: float = 0.0    # clock seconds; no permit before this
    empty_streak: int = 0      # empty answers in a row


class LeaseGate:
    """Lease permits for the pool's idle workers, paced per runner key (see the module docstring)."""

    def __init__(self, *, burst: int, rate: float, poll_interval: float,
                 clock: Callable[[], float], rng: random.Random | None = None) -> None:
        self._keys: dict[str, _KeyState] = {}
        self._poll_interval = poll_interval   # seconds
        self._clock = clock
        self._rng = rng or random.Random()
        self._burst = float(burst)
        self._rate = rate                      # tokens per second
        self._tokens = float(burst)
        self._refilled_at = clock()
        self.consecutive_empty = 0             # pool-wide, for RUNNER_JOB_MAX_EMPTY_POLLS
        self._paused_until = 0.0               # clock seconds: a pause also holds keys not seen yet

    @property
    def poll_interval(self) -> float:
        """Seconds between lease requests of a key whose queue is empty (pool.poll_interval)."""
        return self._poll_interval

    def resize(self, *, burst: int, rate: float, poll_interval: float | None = None) -> None:
        """Follow a pool size change (burst = pool size) or a reloaded ``poll_interval``."""
        self._refill()
        self._burst, self._rate = float(burst), rate
        self._tokens = min(self._tokens, self._burst)
        if poll_interval is not None:
            self._poll_interval = poll_interval

    def want(self, slot: int, key: str) -> None:
        """Slot ``slot`` (leasing with key ``key``) is idle and asks for a permit."""
        state = self._key(key)
        if slot not in state.waiting and slot not in state.outstanding:
            state.waiting.append(slot)

    def forget(self, slot: int) -> None:
        """The slot stopped, died or got other work: drop its request and any permit it held."""
        for state in self._keys.values():
            if slot in state.waiting:
                state.waiting.remove(slot)
            state.outstanding.discard(slot)

    def report(self, slot: int, key: str, result: LeaseOutcome, retry_after: float | None = None) -> None:
        """The permitted request of ``slot`` came back: leased, empty, error, throttled or rejected."""
        state = self._key(key)
        state.outstanding.discard(slot)
        now = self._clock()
        if result == LeaseOutcome.LEASED:
            self.consecutive_empty = 0
            state.empty_streak = 0
            state.not_before = max(now, self._paused_until)  # a job landing during a pause does not end it
            state.concurrency = min(state.concurrency * 2, max(1, int(self._burst)))
            return
        if result == LeaseOutcome.EMPTY:
            state.concurrency = 1          # the queue is empty: one request at a time finds out when it is not
            self.consecutive_empty += 1
        else:
            state.concurrency = max(1, state.concurrency // 2)   # push-back or failure: halve, as GitLab does
        if result == LeaseOutcome.THROTTLED:
            self.pause(retry_after if retry_after is not None else self._poll_interval)
            return
        state.empty_streak += 1
        state.not_before = max(state.not_before, now + self._backoff(state.empty_streak))

    def pause(self, seconds: float) -> None:
        """No permits for any key for ``seconds`` (server push-back, model endpoint down)."""
        until = self._clock() + seconds
        self._paused_until = max(self._paused_until, until)
        for state in self._keys.values():
            state.not_before = max(state.not_before, until)

    def resume(self) -> None:
        """Forget every backoff and pause (SIGHUP: the operator fixed what made us wait)."""
        self._paused_until = 0.0
        for state in self._keys.values():
            state.not_before, state.empty_streak, state.concurrency = 0.0, 0, 1

    def grant(self) -> list[int]:
        """The slots that may send a lease request now (their permits are taken)."""
        now = self._clock()
        self._refill()
        granted: list[int] = []
        for state in self._keys.values():
            while (state.waiting and now >= state.not_before and self._tokens >= 1
                   and len(state.outstanding) < state.concurrency):
                slot = state.waiting.popleft()
                state.outstanding.add(slot)
                self._tokens -= 1
                granted.append(slot)
        return granted

    def next_change(self) -> float | None:
        """Clock time at which ``grant`` may hand out more permits, or None if nothing waits on time."""
        times = []
        for state in self._keys.values():
            if state.waiting and len(state.outstanding) < state.concurrency:
                when = state.not_before
                if self._tokens < 1 and self._rate > 0:
                    when = max(when, self._clock() + (1 - self._tokens) / self._rate)
                times.append(when)
        return min(times) if times else None

    def backoff_left(self) -> float:
        """Seconds until the first key may lease again (0 when it may now), for /status."""
        now = self._clock()
        soonest = min((state.not_before for state in self._keys.values()), default=self._paused_until)
        return max(0.0, soonest - now)

    def _key(self, key: str) -> _KeyState:
        if key not in self._keys:
            self._keys[key] = _KeyState(not_before=self._paused_until)
        return self._keys[key]

    def _backoff(self, streak: int) -> float:
        """Seconds to wait after ``streak`` unproductive answers in a row: ¼, ½, then 1 × poll_interval."""
        share = min(1.0, 2.0 ** (streak - 1) / 4)
        return self._poll_interval * share * self._rng.uniform(0.9, 1.1)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._refilled_at) * self._rate)
        self._refilled_at = now
