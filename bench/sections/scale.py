"""i. Idle cost and start-up at scale: supervisor CPU of an idle pool of 64, 256 and 512 workers,
and the time from ``xenon-runner run`` to every worker READY at 256 and 512.

For each size in ``scale_idle_workers`` a fresh pool is started; the time to ready runs from
just before the supervisor process is started to the first /readyz answer that counts every
worker READY (polled every 20 ms; /readyz is cheap to answer, so the polling does not slow
the start it measures). The pool then settles into its empty-queue polling and the
supervisor's CPU seconds (psutil, user + system) are read over ``scale_idle_window`` seconds.
Nobody scrapes /status or /metrics during the window: what is measured is the cost of the
pool itself. Idle cost that grows with the pool shows up as the sizes are compared.
"""
from __future__ import annotations

import time

from bench.procstats import CpuWindow
from bench.report import Row, SectionResult, Target

from .common import SectionContext

KEY = "i"
TITLE = "idle supervisor CPU and time to ready at 64 / 256 / 512 workers"
IDLE_TARGET = Target(op="<", value=1.0, source="issue 12: supervisor < 1% of a core idle at 512 workers")
READY_TARGETS = {256: Target(op="<=", value=5.0, source="issue 12: ready <= 5 s at 256 workers"),
                 512: Target(op="<=", value=10.0, source="issue 12: ready <= 10 s at 512 workers")}
SETTLE_INTERVALS = 3   # poll intervals before the idle window


def measure(ctx: SectionContext, workers: int) -> tuple[float, CpuWindow, int]:
    """(seconds to ready, idle CPU window, supervisor pid) of a fresh pool of ``workers``."""
    with ctx.cloud() as cloud:
        pool = ctx.pool(cloud, workers=workers, name=f"i-scale-{workers}")
        started = time.monotonic()
        with pool:
            pool.wait_ready()
            ready = time.monotonic() - started
            time.sleep(SETTLE_INTERVALS * ctx.settings.poll_interval)
            idle = CpuWindow([pool.pid]).start()
            time.sleep(ctx.settings.scale_idle_window)
            idle.stop()
    return ready, idle, pool.pid


def run(ctx: SectionContext) -> SectionResult:
    result = SectionResult(key=KEY, title=TITLE)
    settings = ctx.settings
    result.details["pools"] = []
    ready_rows: list[Row] = []
    for workers in settings.scale_idle_workers:
        ready, idle, supervisor = measure(ctx, workers)
        share = 100 * idle.share_of_core(supervisor)
        ctx.progress(f"[i] {workers} workers: ready in {ready:.2f}s, supervisor CPU idle {share:.2f}% "
                     f"(machine {100 * idle.machine_busy:.0f}% busy)")
        result.rows.append(Row(metric=f"supervisor CPU idle, {workers} workers", unit="% core", ours=share,
                               target=IDLE_TARGET if workers == max(settings.scale_idle_workers) else None))
        if workers in settings.scale_ready_workers:
            ready_rows.append(Row(metric=f"time to ready, {workers} workers", unit="s", ours=ready,
                                  target=READY_TARGETS.get(workers)))
        result.details["pools"].append({"workers": workers, "ready_seconds": ready, "idle_seconds": idle.wall_seconds,
                                        "supervisor_idle_cpu_seconds": idle.process_seconds.get(supervisor, 0.0),
                                        "machine_busy": idle.machine_busy})
    result.rows += ready_rows
    busy = ", ".join(f"{pool['workers']}: {100 * pool['machine_busy']:.0f}%" for pool in result.details["pools"])
    result.notes.append(f"idle windows of {settings.scale_idle_window:g}s after {SETTLE_INTERVALS} poll intervals of "
                        f"settling, nobody scraping; machine busy during each window (all processes, other "
                        f"users included): {busy}")
    return result
