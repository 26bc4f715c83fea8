"""a. Throughput for 1 … 32 workers on a 300 ms model, scaling efficiency, and what bounds it.

For each pool size N a fresh pool gets N × ``throughput_jobs_per_worker`` jobs at once.
Throughput = jobs ÷ (last ``finishedAtMs`` − first ``leasedAtMs``), both stamped by the
emulator. Efficiency = jobs/s ÷ (N × jobs/s of 1 worker). CPU time of every process
involved (supervisor, fork server, workers, and this process, which hosts the emulator)
over the run gives CPU seconds per job; cores ÷ that is the most this machine can do
whatever the pool size, which is what bounds the large pools on a 2-core machine.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

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
    seconds: float                 # first lease → last finish
    runner_cpu_seconds: float      # supervisor + fork server + workers
    emulator_cpu_seconds: float    # this process (the emulator's threads)
    machine_busy: float            # share of all cores busy during the run (0..1)

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.seconds if self.seconds > 0 else float("nan")

    def to_json(self) -> dict[str, float]:
        return {"workers": self.workers, "jobs": self.jobs, "failed": self.failed, "seconds": self.seconds,
                "jobs_per_second": self.jobs_per_second, "runner_cpu_seconds": self.runner_cpu_seconds,
                "emulator_cpu_seconds": self.emulator_cpu_seconds, "machine_busy": self.machine_busy}


def measure(ctx: SectionContext, workers: int) -> ThroughputRun:
    jobs = workers * ctx.settings.throughput_jobs_per_worker
    with ctx.cloud() as cloud, ctx.pool(cloud, workers=workers, name=f"a-throughput-{workers}") as pool:
        pool.wait_ready()
        runner_pids = [process.pid for process in pool.tree()]
        window = CpuWindow([*runner_pids, os.getpid()]).start()
        cloud.enqueue(jobs)
        finished = cloud.wait_finished(jobs, timeout=ctx.job_deadline(jobs, workers))
        window.stop()
    first_lease = min(job["leasedAtMs"] for job in finished)
    last_finish = max(job["finishedAtMs"] for job in finished)
    emulator_cpu = window.process_seconds.get(os.getpid(), 0.0)
    return ThroughputRun(workers=workers, jobs=jobs, failed=sum(job["state"] == "failed" for job in finished),
                         seconds=(last_finish - first_lease) / 1000, emulator_cpu_seconds=emulator_cpu,
                         runner_cpu_seconds=window.total_seconds() - emulator_cpu, machine_busy=window.machine_busy)


def run(ctx: SectionContext) -> SectionResult:
    result = SectionResult(key=KEY, title=TITLE)
    runs: list[ThroughputRun] = []
    for workers in ctx.settings.throughput_workers:
        runs.append(measure(ctx, workers))
        ctx.progress(f"[a] {workers} workers: {runs[-1].jobs_per_second:.1f} jobs/s")
    result.details["runs"] = [measured.to_json() for measured in runs]
    single = next((run for run in runs if run.workers == 1), None)
    ideal_single = 1 / ctx.settings.model_seconds
    for measured in runs:
        linear = single.jobs_per_second * measured.workers if single else None
        result.rows.append(Row(metric=f"throughput, {measured.workers} worker{'s' if measured.workers > 1 else ''}",
                               unit="jobs/s", ours=measured.jobs_per_second, baseline=linear,
                               baseline_name="N × 1 worker"))
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
    result.rows += [
        Row(metric=f"runner CPU per job ({largest.workers} workers)", unit="ms", ours=runner_ms),
        Row(metric=f"emulator CPU per job ({largest.workers} workers)", unit="ms", ours=emulator_ms),
        Row(metric=f"machine CPU busy ({largest.workers} workers)", unit="%", ours=100 * largest.machine_busy),
        Row(metric=f"CPU-bound ceiling on {cores} cores (runner + emulator)", unit="jobs/s", ours=ceiling),
    ]
    result.details.update({"ideal_single_jobs_per_second": ideal_single, "cores": cores,
                           "ceiling_jobs_per_second": ceiling,
                           "runner_only_ceiling_jobs_per_second": cores / (runner_ms / 1000)})
    result.notes.append(
        f"a job is 2 model rounds of {ctx.settings.model_round_seconds:g}s (builtin latency "
        f"{ctx.settings.model_round_seconds:g}) = a {1000 * ctx.settings.model_seconds:.0f} ms model, so the "
        f"model-bound ideal is N × {ideal_single:.2f} jobs/s; ratio = scaling efficiency")
    result.notes.append(
        f"what bounds it: at {largest.workers} workers the model-bound ideal is "
        f"{largest.workers * ideal_single:.0f} jobs/s, but each job costs {runner_ms:.1f} ms of runner CPU + "
        f"{emulator_ms:.1f} ms of emulator CPU, so {cores} cores cap the whole system at ~{ceiling:.0f} jobs/s "
        f"(the runner alone at ~{cores / (runner_ms / 1000):.0f}); machine CPU was "
        f"{100 * largest.machine_busy:.0f}% busy")
    failed = sum(measured.failed for measured in runs)
    if failed:
        result.notes.append(f"{failed} jobs failed during the throughput runs (see runner.log in the workdir)")
    return result
