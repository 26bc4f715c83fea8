"""g. Supervisor CPU, idle and under load (psutil ``cpu_times`` over a window).

Idle: the pool has settled into its empty-queue polling; CPU seconds of the supervisor
(and of the whole tree, for context) over ``cpu_idle_window`` seconds. Under load: from
enqueueing a burst of jobs (``cpu_load_jobs_per_worker`` per worker) until the last one
finished. Shares are of one core (100% = one core fully busy).
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


def run(ctx: SectionContext) -> SectionResult:
    settings = ctx.settings
    workers = settings.cpu_workers
    result = SectionResult(key=KEY, title=TITLE)
    with ctx.cloud() as cloud, ctx.pool(cloud, workers=workers, name="g-cpu") as pool:
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
    supervisor = pool.pid
    ctx.progress(f"[g] supervisor CPU idle {100 * idle.share_of_core(supervisor):.2f}%, "
                 f"load {100 * load.share_of_core(supervisor):.1f}%")
    result.rows += [
        Row(metric=f"supervisor CPU idle, {workers} workers", unit="% core",
            ours=100 * idle.share_of_core(supervisor), target=IDLE_TARGET),
        Row(metric=f"whole pool CPU idle (supervisor + {workers} workers + fork server)", unit="% core",
            ours=100 * idle.total_seconds() / idle.wall_seconds),
        Row(metric=f"supervisor CPU under load, {workers} workers", unit="% core",
            ours=100 * load.share_of_core(supervisor)),
        Row(metric="supervisor CPU per job under load", unit="ms",
            ours=1000 * load.process_seconds.get(supervisor, 0.0) / jobs),
    ]
    result.details = {"workers": workers, "idle_seconds": idle.wall_seconds, "load_seconds": load.wall_seconds,
                      "load_jobs": jobs, "idle_cpu_seconds": idle.process_seconds,
                      "load_cpu_seconds": load.process_seconds}
    result.notes.append(f"idle window {idle.wall_seconds:.1f}s; load window {load.wall_seconds:.1f}s for {jobs} jobs "
                        f"(includes the wait for the pool's next poll before the first lease)")
    return result
