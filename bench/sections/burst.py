"""j. A burst into an idle pool: how fast the pool reaches full width, and throughput vs the model.

For each size N in ``burst_workers``, a fresh idle pool (settled into its empty-queue
polling) gets ``burst_jobs_per_worker`` × N jobs at once, each taking ``burst_model_seconds``
of model time. From the emulator's stamps:

* fill time: first lease → N-th lease (the pool at full width);
* throughput: jobs ÷ (first lease → last finish), against the model-bound limit
  N ÷ model seconds (every worker always in the model).

Then the same burst again into the same pool, now warm: every worker has leased and run
jobs, so what a freshly forked worker pays once (pages it shares with the fork server are
copied as it first writes them, caches are filled) is out of the way; the difference
between the two is that first-use cost. The same burst then goes to N naive
official-pattern pollers (bench/naive.py) on a fresh emulator, one after the other rather
than at once, so neither slows the other.

Then the same bursts into the same number of job SLOTS held by fewer processes
(``burst_lane_layouts``: workers × ``pool.jobs_per_worker``, e.g. 16 × 8 = 128), fresh
pools again: the fill is first lease → slots-th lease, the limit slots ÷ model seconds.
Fewer fresh processes pay the first-use cost fewer times.
"""
from __future__ import annotations

import time
from typing import Any

from bench.cloud import BenchCloud
from bench.report import Row, SectionResult, Target

from .common import SectionContext

KEY = "j"
TITLE = "burst into an idle pool: time to full width, throughput vs the model-bound limit"
FILL_TARGET = Target(op="<=", value=300.0, source="issue 12: first -> 128th lease <= 0.3 s")
THROUGHPUT_TARGET = Target(op=">=", value=95.0, source="issue 12: >= 95% of the model-bound limit")
SETTLE_INTERVALS = 3   # poll intervals an idle pool (or the pollers) settle before the burst


def burst_figures(jobs: list[dict[str, Any]], workers: int, model_seconds: float) -> dict[str, float]:
    """Fill time (ms), jobs/s and its share of the model-bound limit (%), from the jobs' stamps."""
    leased = sorted(job["leasedAtMs"] for job in jobs)
    finished = max(job["finishedAtMs"] for job in jobs)
    span = (finished - leased[0]) / 1000
    rate = len(jobs) / span
    limit = workers / model_seconds
    failed = sum(1 for job in jobs if job["state"] != "completed")
    return {"fill_ms": leased[min(workers, len(leased)) - 1] - leased[0], "jobs_per_second": rate,
            "limit": limit, "share": 100 * rate / limit, "failed": failed}


def _burst(ctx: SectionContext, cloud: BenchCloud, workers: int) -> list[dict[str, Any]]:
    """Idle a while, enqueue the burst, wait for it; returns the burst's jobs (not earlier ones).
    ``workers`` counts job slots (workers × jobs per worker)."""
    jobs = workers * ctx.settings.burst_jobs_per_worker
    time.sleep(SETTLE_INTERVALS * ctx.settings.poll_interval)
    before = cloud.finished_count()
    ids = set(cloud.enqueue(jobs))
    deadline = ctx.job_deadline(jobs, workers) + jobs / workers * ctx.settings.burst_model_seconds
    return [job for job in cloud.wait_finished(before + jobs, timeout=deadline) if job["workspaceId"] in ids]


def run(ctx: SectionContext) -> SectionResult:
    result = SectionResult(key=KEY, title=TITLE)
    settings = ctx.settings
    model = settings.burst_model_seconds
    result.details["bursts"] = []
    result.details["model_seconds"] = model
    for workers in settings.burst_workers:
        with ctx.cloud() as cloud, ctx.pool(cloud, workers=workers, name=f"j-burst-{workers}",
                                            model_seconds=model) as pool:
            pool.wait_ready()
            ours = burst_figures(_burst(ctx, cloud, workers), workers, model)
            warm = burst_figures(_burst(ctx, cloud, workers), workers, model)
        with ctx.cloud() as cloud, ctx.naive(cloud, count=workers, model_seconds=model) as naive:
            jobs = _burst(ctx, cloud, workers)
            errors = naive.stop()
        theirs = burst_figures(jobs, workers, model)
        ctx.progress(f"[j] {workers} workers: fill {ours['fill_ms']:.0f} ms (warm {warm['fill_ms']:.0f}, naive "
                     f"{theirs['fill_ms']:.0f}), {ours['share']:.1f}% of the limit (warm {warm['share']:.1f}%, "
                     f"naive {theirs['share']:.1f}%)")
        result.rows += [
            Row(metric=f"burst fill, first -> {workers}th lease, {workers} workers", unit="ms", ours=ours["fill_ms"],
                baseline=theirs["fill_ms"], baseline_name="naive", target=FILL_TARGET if workers == 128 else None),
            Row(metric=f"burst throughput, {workers} workers, {model:g} s model", unit="jobs/s",
                ours=ours["jobs_per_second"], baseline=ours["limit"], baseline_name="model-bound limit"),
            Row(metric=f"burst throughput vs the limit, {workers} workers", unit="%", ours=ours["share"],
                baseline=theirs["share"], baseline_name="naive", target=THROUGHPUT_TARGET),
            Row(metric=f"same burst, warm workers: fill, {workers} workers", unit="ms", ours=warm["fill_ms"],
                baseline=ours["fill_ms"], baseline_name="fresh workers"),
            Row(metric=f"same burst, warm workers: vs the limit, {workers} workers", unit="%", ours=warm["share"],
                baseline=theirs["share"], baseline_name="naive"),
        ]
        result.details["bursts"].append({"workers": workers, "ours": ours, "warm": warm, "naive": theirs})
        result.notes.extend(f"naive poller error: {error}" for error in errors)
    result.notes.append(f"{settings.burst_jobs_per_worker} jobs per worker, {model:g} s of model per job; throughput "
                        f"= jobs / (first lease -> last finish); limit = workers / model seconds; ours and the "
                        f"naive pollers run one after the other, each on a fresh emulator, after "
                        f"{SETTLE_INTERVALS} poll intervals of idling")
    _lane_bursts(ctx, result)
    return result


def _lane_bursts(ctx: SectionContext, result: SectionResult) -> None:
    """The same fresh-pool bursts into the same job slots held by ``jobs_per_worker`` > 1 workers."""
    settings = ctx.settings
    model = settings.burst_model_seconds
    single = {burst["workers"]: burst["ours"] for burst in result.details["bursts"]}
    result.details["lane_bursts"] = []
    for workers, lanes in settings.burst_lane_layouts:
        slots = workers * lanes
        with ctx.cloud() as cloud, ctx.pool(cloud, workers=workers, name=f"j-lanes-{workers}x{lanes}",
                                            model_seconds=model, pool={"jobs_per_worker": lanes}) as pool:
            pool.wait_ready()
            ours = burst_figures(_burst(ctx, cloud, slots), slots, model)
        alone = single.get(slots)
        compared = "" if alone is None else f" (1 job each: {alone['fill_ms']:.0f} ms)"
        ctx.progress(f"[j] {workers} workers x {lanes} jobs: fill {ours['fill_ms']:.0f} ms{compared}, "
                     f"{ours['share']:.1f}% of the limit")
        name = f"{slots} slots = {workers} workers x {lanes} jobs"
        result.rows += [
            Row(metric=f"burst fill, first -> {slots}th lease, {name}", unit="ms", ours=ours["fill_ms"],
                baseline=None if alone is None else alone["fill_ms"], baseline_name=f"{slots} x 1 job",
                target=FILL_TARGET if slots == 128 else None),
            Row(metric=f"burst throughput vs the limit, {name}", unit="%", ours=ours["share"],
                baseline=None if alone is None else alone["share"], baseline_name=f"{slots} x 1 job",
                target=THROUGHPUT_TARGET),
        ]
        result.details["lane_bursts"].append({"workers": workers, "jobs_per_worker": lanes, "slots": slots,
                                              "ours": ours})
