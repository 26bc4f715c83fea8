"""g. Supervisor CPU, idle and under load (psutil ``cpu_times`` over a window), per pool size.

For each size in ``cpu_workers``: a fresh pool settles into its empty-queue polling, then
the CPU seconds of the supervisor (and of the whole tree, for context) are read over
``cpu_idle_window`` seconds; then a burst of ``cpu_load_jobs_per_worker`` jobs per worker
is enqueued and the window runs until the last one finished. Shares are of one core
(100% = one core fully busy). Idle cost that grows with the pool size shows up as the
sizes are compared.
"""
from __future__ import annotations

import time

from bench.procstats import CpuWindow
from bench.report import Row, SectionResult, Target

from .common import SectionContext

KEY = "g"
TITLE = "supervisor CPU idle and under load"
IDLE_TARGET = Target(op="<", value=1.0, source="issue 4: supervisor idle CPU < 1% of a core")
SETTLE_INTERVALS = 3   # poll intervals before the idle window


def measure(ctx: SectionContext, workers: int) -> tuple[CpuWindow, CpuWindow, int, int]:
    """(idle window, load window, supervisor pid, jobs) for a pool of ``workers``."""
    settings = ctx.settings
    with ctx.cloud() as cloud, ctx.pool(cloud, workers=workers, name=f"g-cpu-{workers}") as pool:
        pool.wait_ready()
        time.sleep(SETTLE_INTERVALS * settings.poll_interval)
        pids = [process.pid for process in pool.tree()]
        idle = CpuWindow(pids).start()
        time.sleep(settings.cpu_idle_window)
        idle.stop()
        jobs = workers * settings.cpu_load_jobs_per_worker
        load = CpuWindow(pids).start()
        cloud.enqueue(jobs)
        cloud.wait_finished(jobs, timeout=ctx.job_deadline(jobs, workers))
        load.stop()
    return idle, load, pool.pid, jobs


def run(ctx: SectionContext) -> SectionResult:
    result = SectionResult(key=KEY, title=TITLE)
    result.details["pools"] = []
    for workers in ctx.settings.cpu_workers:
        idle, load, supervisor, jobs = measure(ctx, workers)
        ctx.progress(f"[g] {workers} workers: supervisor CPU idle {100 * idle.share_of_core(supervisor):.2f}%, "
                     f"load {100 * load.share_of_core(supervisor):.1f}%")
        result.rows += [
            Row(metric=f"supervisor CPU idle, {workers} workers", unit="% core",
                ours=100 * idle.share_of_core(supervisor), target=IDLE_TARGET),
            Row(metric=f"whole pool CPU idle, {workers} workers (+ fork server)", unit="% core",
                ours=100 * idle.total_seconds() / idle.wall_seconds),
            Row(metric=f"supervisor CPU under load, {workers} workers", unit="% core",
                ours=100 * load.share_of_core(supervisor)),
            Row(metric=f"supervisor CPU per job under load, {workers} workers", unit="ms",
                ours=1000 * load.process_seconds.get(supervisor, 0.0) / jobs),
        ]
        result.details["pools"].append({
            "workers": workers, "idle_seconds": idle.wall_seconds, "load_seconds": load.wall_seconds,
            "load_jobs": jobs, "supervisor_idle_cpu_seconds": idle.process_seconds.get(supervisor, 0.0),
            "supervisor_load_cpu_seconds": load.process_seconds.get(supervisor, 0.0),
            "tree_idle_cpu_seconds": idle.total_seconds(), "tree_load_cpu_seconds": load.total_seconds()})
    result.notes.append(f"idle windows of {ctx.settings.cpu_idle_window:g}s after {SETTLE_INTERVALS} poll intervals "
                        "of settling; load windows run from the enqueue of the burst to its last job")
    return result
