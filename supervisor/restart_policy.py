"""When to restart a crashed worker slot, and when to give up on it (park it).

A worker counts as healthy once it has been READY for ``startsecs``. A healthy worker that
crashes is replaced at once (fork and boot take milliseconds; gunicorn and supervisord do
the same); crashes of workers that never got healthy back off exponentially per slot
(``base`` doubling up to ``cap``, jittered 0.8–1.2 so slots do not restart in step). Any
``max_crashes`` crashes within ``window`` seconds park the slot: it stays empty, visible as
``parked`` in /status and metrics, until SIGHUP. Planned exits (recycle, stop) never come here.
"""
from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RestartDecision:
    park: bool
    delay: float   # seconds to wait before the replacement starts (0 when parked)


@dataclass
class _SlotHistory:
    crashes: deque[float] = field(default_factory=deque)   # clock times of recent crashes
    streak: int = 0                                  # crashes of never-healthy workers in a row


class RestartPolicy:
    """Crash history per slot, and the restart delay or parking it calls for."""

    def __init__(self, *, base: float, cap: float, window: float, max_crashes: int, startsecs: float,
                 rng: random.Random | None = None) -> None:
        self._base, self._cap = base, cap          # seconds
        self._window = window                      # seconds
        self._max_crashes = max_crashes
        self._startsecs = startsecs                # seconds READY before a worker counts as healthy
        self._rng = rng or random.Random()
        self._slots: dict[int, _SlotHistory] = {}

    def on_crash(self, slot: int, *, now: float, ready_for: float | None) -> RestartDecision:
        """Record a crash of ``slot`` whose worker had been READY for ``ready_for`` seconds (None: never)."""
        history = self._slots.setdefault(slot, _SlotHistory())
        healthy = ready_for is not None and ready_for >= self._startsecs
        history.streak = 0 if healthy else history.streak + 1
        history.crashes.append(now)
        while history.crashes and now - history.crashes[0] > self._window:
            history.crashes.popleft()
        if len(history.crashes) >= self._max_crashes:
            return RestartDecision(park=True, delay=0.0)
        if healthy:
            return RestartDecision(park=False, delay=0.0)
        delay = min(self._cap, self._base * 2 ** (history.streak - 1)) * self._rng.uniform(0.8, 1.2)
        return RestartDecision(park=False, delay=min(delay, self._cap))
