"""b. Idle lease requests: our pool of N workers vs N naive pollers, side by side on an empty queue.

Both run at the same time, each against its own emulator, with the same poll interval.
After a settling time (our pool's backoff grows from ¼ to the whole poll interval; every
naive poller has started), lease requests are counted on each emulator over one window.
"""
from __future__ import annotations

import time

from bench.report import Row, SectionResult, Target

from .common import SectionContext

KEY = "b"
TITLE = "idle lease requests: our pool vs a pool of naive pollers"
PER_INTERVAL_TARGET = Target(op="<=", value=1.5, source="issue 4: idle 16-worker pool (naive: 16)")
SETTLE_INTERVALS = 3   # poll intervals to wait before counting


def run(ctx: SectionContext) -> SectionResult:
    settings = ctx.settings
    workers, window, poll = settings.idle_workers, settings.idle_window, settings.poll_interval
    result = SectionResult(key=KEY, title=TITLE)
    with ctx.cloud() as ours_cloud, ctx.cloud() as naive_cloud:
        with ctx.pool(ours_cloud, workers=workers, name="b-idle") as pool:
            pool.wait_ready()
            with ctx.naive(naive_cloud, count=workers) as naive:
                time.sleep(SETTLE_INTERVALS * poll)
                ours_before, naive_before = ours_cloud.lease_requests(), naive_cloud.lease_requests()
                started = time.monotonic()
                time.sleep(window)
                ours_after, naive_after = ours_cloud.lease_requests(), naive_cloud.lease_requests()
                seconds = time.monotonic() - started
                errors = naive.stop()
    ours_rate, naive_rate = (ours_after - ours_before) / seconds, (naive_after - naive_before) / seconds
    ctx.progress(f"[b] idle lease requests/s: ours {ours_rate:.2f}, naive {naive_rate:.2f}")
    label = f"{workers} workers"
    result.rows += [
        Row(metric=f"idle lease requests per second, {label}", unit="req/s", ours=ours_rate, baseline=naive_rate,
            baseline_name="naive"),
        Row(metric=f"idle lease requests per poll interval, {label}", unit="req", ours=ours_rate * poll,
            baseline=naive_rate * poll, baseline_name="naive", target=PER_INTERVAL_TARGET),
    ]
    result.details = {"workers": workers, "window_seconds": seconds, "poll_interval": poll,
                      "ours_requests": ours_after - ours_before, "naive_requests": naive_after - naive_before}
    result.notes.append(f"poll interval {poll:g}s for both (pool.poll_interval / POLL_MS); counted over "
                        f"{seconds:.1f}s after {SETTLE_INTERVALS} intervals of settling, on each emulator")
    result.notes.extend(f"naive poller error: {error}" for error in errors)
    return result
