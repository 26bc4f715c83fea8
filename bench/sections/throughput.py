"""a. Throughput for 1 … 32 workers on a 300 ms model, scaling efficiency, and what bounds it.

For each pool size N a fresh, idle pool gets N × ``throughput_jobs_per_worker`` jobs at
once. All times are the emulator's stamps (``leasedAtMs``, ``finishedAtMs``):

* steady throughput: the jobs that finished after the first wave and up to the last wave,
  ÷ the time between (the first N finishes and the last N are the ramp and the tail);
  efficiency = steady jobs/s ÷ (N × steady jobs/s of 1 worker);
* ramp-up: first lease → N-th lease, i.e. how long a burst takes to get every worker busy;
* overhead per job: a worker's cycle (N ÷ jobs/s) beyond the 300 ms of model time.

CPU time of every process involved (supervisor, fork server, workers, and this process,
which hosts the emulator) over the run gives CPU seconds per job; cores ÷ that is the most
this machine could do whatever the pool size.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import psutil

from bench.procstats import CpuWindow
from bench.report import Row, SectionResult, Target

from .common import SectionContext

KEY = "a"
TITLE = "throughput vs workers on a 300 ms model; scaling efficiency"
SPEEDUP_WORKERS = 8
SPEEDUP_TARGET = Target(op=">=", value=7.0, source="issue 4: 8 workers vs 1 on a 300 ms model")


@dataclass(frozen=True, kw_only=True)
class ThroughputRun:
    workers: int
    jobs: int
    failed: int
    jobs_per_second: float         # steady state (see the module docstring)
    burst_jobs_per_second: float   # all jobs ÷ (first lease → last finish), ramp and tail included
    ramp_up_ms: float              # first lease → N-th lease
    runner_cpu_seconds: float      # supervisor + fork server + workers
    emulator_cpu_seconds: float    # this process (the emulator's threads)
    machine_busy: float            # share of all cores busy during the run (0..1)

    def overhead_ms(self, model_seconds: float) -> float:
        """Milliseconds of a worker's cycle beyond the model time (lease, context, complete, waiting)."""
        return 1000 * (self.workers / self.jobs_per_second - model_seconds)


def steady_rate(finish_ms: list[float], workers: int) -> float:
    """Jobs per second between the end of the first wave and the end of the last but one.

    Falls back to the whole span when there are not at least three waves of jobs.
    """
    ordered = sorted(finish_ms)
    if len(ordered) >= 3 * workers:
        first, last = ordered[workers - 1], ordered[len(ordered) - workers - 1]
        return (len(ordered) - 2 * workers) / ((last - first) / 1000)
    return (len(ordered) - 1) / ((ordered[-1] - ordered[0]) / 1000)


def measure(ctx: SectionContext, workers: int) -> ThroughputRun:
    jobs = workers * ctx.settings.throughput_jobs_per_worker
    with ctx.cloud() as cloud, ctx.pool(cloud, workers=workers, name=f"a-throughput-{workers}") as pool:
        pool.wait_ready()
        window = CpuWindow([*(process.pid for process in pool.tree()), os.getpid()]).start()
        cloud.enqueue(jobs)
        finished = cloud.wait_finished(jobs, timeout=ctx.job_deadline(jobs, workers))
        window.stop()
    leases = sorted(job["leasedAtMs"] for job in finished)
    finishes = [job["finishedAtMs"] for job in finished]
    emulator_cpu = window.process_seconds.get(os.getpid(), 0.0)
    return ThroughputRun(workers=workers, jobs=jobs, failed=sum(job["state"] == "failed" for job in finished),
                         jobs_per_second=steady_rate(finishes, workers),
                         burst_jobs_per_second=jobs / ((max(finishes) - leases[0]) / 1000),
                         ramp_up_ms=float(leases[min(workers, jobs) - 1] - leases[0]),
                         emulator_cpu_seconds=emulator_cpu, runner_cpu_seconds=window.total_seconds() - emulator_cpu,
                         machine_busy=window.machine_busy)


def run(ctx: SectionContext) -> SectionResult:
    result = SectionResult(key=KEY, title=TITLE)
    model_seconds = ctx.settings.model_seconds
    runs: list[ThroughputRun] = []
    for workers in ctx.settings.throughput_workers:
        runs.append(measure(ctx, workers))
        ctx.progress(f"[a] {workers} workers: {runs[-1].jobs_per_second:.1f} jobs/s")
    result.details["runs"] = [{**asdict(measured), "overhead_ms": measured.overhead_ms(model_seconds)}
                              for measured in runs]
    single = next((measured for measured in runs if measured.workers == 1), None)
    for measured in runs:
        result.rows.append(Row(metric=f"throughput, {measured.workers} worker{'s' if measured.workers > 1 else ''}",
                               unit="jobs/s", ours=measured.jobs_per_second, baseline_name="N × 1 worker",
                               baseline=single.jobs_per_second * measured.workers if single else None))
    by_workers = {measured.workers: measured for measured in runs}
    if single and SPEEDUP_WORKERS in by_workers:
        result.rows.append(Row(metric=f"speedup {SPEEDUP_WORKERS} workers vs 1", unit="×",
                               ours=by_workers[SPEEDUP_WORKERS].jobs_per_second / single.jobs_per_second,
                               baseline=float(SPEEDUP_WORKERS), baseline_name="linear", target=SPEEDUP_TARGET))
    largest = runs[-1]
    cores = psutil.cpu_count() or 1
    runner_ms = 1000 * largest.runner_cpu_seconds / largest.jobs
    emulator_ms = 1000 * largest.emulator_cpu_seconds / largest.jobs
    ceiling = cores / ((runner_ms + emulator_ms) / 1000)
    first = runs[0]
    result.rows += [
        Row(metric=f"overhead per job beyond the model, {largest.workers} workers", unit="ms",
            ours=largest.overhead_ms(model_seconds), baseline=first.overhead_ms(model_seconds),
            baseline_name=f"{first.workers} worker{'s' if first.workers > 1 else ''}"),
        Row(metric=f"ramp-up: burst of {largest.workers} jobs until all {largest.workers} workers leased",
            unit="ms", ours=largest.ramp_up_ms),
        Row(metric=f"burst throughput incl. ramp and tail, {largest.workers} workers", unit="jobs/s",
            ours=largest.burst_jobs_per_second, baseline=largest.jobs_per_second, baseline_name="steady"),
        Row(metric=f"runner CPU per job ({largest.workers} workers)", unit="ms", ours=runner_ms),
        Row(metric=f"emulator CPU per job ({largest.workers} workers)", unit="ms", ours=emulator_ms),
        Row(metric=f"machine CPU busy ({largest.workers} workers)", unit="%", ours=100 * largest.machine_busy),
        Row(metric=f"CPU-bound ceiling on {cores} cores (runner + emulator)", unit="jobs/s", ours=ceiling),
    ]
    result.details.update({"ideal_single_jobs_per_second": 1 / model_seconds, "cores": cores,
                           "ceiling_jobs_per_second": ceiling, "model_seconds": model_seconds,
                           "runner_only_ceiling_jobs_per_second": cores / (runner_ms / 1000)})
    result.notes.append(
        f"a job is 2 model rounds of {ctx.settings.model_round_seconds:g}s (builtin latency "
        f"{ctx.settings.model_round_seconds:g}) = a {1000 * model_seconds:.0f} ms model; throughput is the steady "
        "rate between the first and the last wave of jobs; ratio = scaling efficiency")
    result.notes.append(
        f"what bounds it: not the model (ideal {largest.workers / model_seconds:.0f} jobs/s at {largest.workers} "
        f"workers) and not average CPU ({100 * largest.machine_busy:.0f}% busy; the ceiling of {cores} cores at "
        f"{runner_ms + emulator_ms:.1f} ms CPU per job is ~{ceiling:.0f} jobs/s), but CPU contention in bursts: "
        f"equal model latencies keep the workers in step, so {largest.workers} workers want "
        f"{largest.workers} x {runner_ms + emulator_ms:.1f} ms of CPU at the same moments from {cores} cores, and "
        f"the overhead per job grows from {first.overhead_ms(model_seconds):.1f} to "
        f"{largest.overhead_ms(model_seconds):.1f} ms")
    failed = sum(measured.failed for measured in runs)
    if failed:
        result.notes.append(f"{failed} jobs failed during the throughput runs (see runner.log in the workdir)")
    return result
