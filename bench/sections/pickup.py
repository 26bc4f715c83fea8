"""d. Pickup latency of a job enqueued into an idle pool: ours vs naive pollers, side by side.

Our pool and a naive pool of the same size idle on their own emulators. One job at a time
is enqueued into both at the same moment, a random time after the previous job finished
(at least two poll intervals, so both pools are back to idle polling, plus a uniform draw
over one interval, so the moment is random relative to the polling phase). Pickup =
``leasedAtMs`` − ``createdAtMs``, both stamped by the emulator.
"""
from __future__ import annotations

import time

from bench.numbers import percentile
from bench.report import Row, SectionResult

from .common import SectionContext

KEY = "d"
TITLE = "pickup latency of a job enqueued into an idle pool"
IDLE_INTERVALS = 2   # poll intervals to wait after a job before the next enqueue


def run(ctx: SectionContext) -> SectionResult:
    settings = ctx.settings
    workers, poll, samples = settings.pickup_workers, settings.poll_interval, settings.pickup_samples
    result = SectionResult(key=KEY, title=TITLE)
    ours_ms: list[float] = []
    naive_ms: list[float] = []
    with ctx.cloud() as ours_cloud, ctx.cloud() as naive_cloud:
        with ctx.pool(ours_cloud, workers=workers, name="d-pickup") as pool:
            pool.wait_ready()
            with ctx.naive(naive_cloud, count=workers) as naive:
                deadline = ctx.job_deadline(1, 1)
                for index in range(samples):
                    time.sleep(IDLE_INTERVALS * poll + ctx.rng.uniform(0, poll))
                    ours_id, naive_id = ours_cloud.enqueue()[0], naive_cloud.enqueue()[0]
                    for cloud, workspace_id, sink in ((ours_cloud, ours_id, ours_ms),
                                                      (naive_cloud, naive_id, naive_ms)):
                        job = cloud.wait_leased(workspace_id, timeout=deadline)
                        sink.append(float(job["leasedAtMs"] - job["createdAtMs"]))
                    ours_cloud.wait_finished(index + 1, timeout=deadline)
                    naive_cloud.wait_finished(index + 1, timeout=deadline)
                errors = naive.stop()
    ctx.progress(f"[d] pickup p50: ours {percentile(ours_ms, 0.5):.0f} ms, naive {percentile(naive_ms, 0.5):.0f} ms")
    label = f"{workers} workers"
    for name, share in (("p50", 0.5), ("p99", 0.99)):
        result.rows.append(Row(metric=f"pickup latency {name}, idle pool of {label}", unit="ms",
                               ours=percentile(ours_ms, share), baseline=percentile(naive_ms, share),
                               baseline_name="naive"))
    result.details = {"workers": workers, "poll_interval": poll, "ours_ms": ours_ms, "naive_ms": naive_ms}
    result.notes.append(
        f"{samples} jobs (p99 of so few samples is close to the maximum); poll interval {poll:g}s. The naive "
        f"pool's {workers} flat pollers started at random phases reach a job sooner by sending {workers} lease "
        "requests per interval where ours sends about one (section b): its pickup is ~interval/(N+1), ours "
        "~interval/2")
    result.notes.extend(f"naive poller error: {error}" for error in errors)
    return result
