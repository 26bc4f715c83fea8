"""Jobs that arrive spread over time instead of all at once, and the completion rate of a window.

A burst of identical jobs moves a whole pool in step: every slot finishes, completes and
leases again at the same moment, so what each job costs in CPU lands on the machine at
once. Real traffic arrives spread out. ``feed`` enqueues at a steady rate (rates are jobs
per second, times seconds; the emulator stamps jobs in epoch milliseconds).
"""
from __future__ import annotations

import time
from collections.abc import Iterable

from bench.cloud import BenchCloud

FEED_TICK = 0.05   # seconds between enqueue rounds


def feed(cloud: BenchCloud, *, rate: float, seconds: float) -> list[str]:
    """Enqueue bench jobs at ``rate`` per second for ``seconds``; returns their ids in order."""
    if rate <= 0 or seconds <= 0:
        raise ValueError(f"feed needs a positive rate and duration, got rate={rate} seconds={seconds}")
    ids: list[str] = []
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        due = int(rate * elapsed) + 1 - len(ids)
        if due > 0:
            ids += cloud.enqueue(due)
        time.sleep(FEED_TICK)
    return ids


def window_rate(finished_ms: Iterable[int], *, start_ms: float, end_ms: float) -> float:
    """Jobs per second that finished within [start_ms, end_ms)."""
    if end_ms <= start_ms:
        raise ValueError(f"the window must end after it starts, got {start_ms}..{end_ms}")
    count = sum(1 for stamp in finished_ms if start_ms <= stamp < end_ms)
    return count / ((end_ms - start_ms) / 1000)
