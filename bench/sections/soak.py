"""h. Soak: ``soak_jobs`` mixed jobs through one pool; memory, fds, threads, metrics files over time.

After a warm-up (two sample jobs per worker) and with the pool idle, a "before" sample is
taken; then every job is enqueued at once and the pool is sampled every
``soak_sample_every`` seconds until the last job finished; then, idle again, an "after"
sample. Growth = after − before, both idle, so a job in flight (its heartbeat thread,
its sockets) cannot pass for a leak. The samples in between are kept in the JSON.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from bench.numbers import mib
from bench.pool import RunnerPool
from bench.procstats import sample_process
from bench.report import Row, SectionResult, Target

from .common import SETTLE, SectionContext

KEY = "h"
TITLE = "soak: memory, fds, threads and metrics files over many jobs"
# Our own reading of "flat" (the issue gives no number): no fd, thread or metrics-file growth,
# and memory growth within what allocator noise explains.
NO_GROWTH = Target(op="<=", value=0.0, source="flat")
MEMORY_FLAT_MIB = Target(op="<=", value=5.0, source="flat: within allocator noise")


@dataclass(frozen=True, kw_only=True)
class PoolSample:
    seconds: float                    # since the soak started
    jobs_finished: int
    supervisor_rss_bytes: int
    supervisor_fds: int
    supervisor_threads: int
    workers: int
    worker_rss_bytes_total: int
    worker_rss_bytes_max: int
    worker_fds_total: int
    worker_threads_total: int
    metrics_files: int


def take_sample(pool: RunnerPool, *, seconds: float, jobs_finished: int) -> PoolSample:
    supervisor = sample_process(pool.pid)
    if supervisor is None:
        raise RuntimeError(f"the supervisor is gone:\n{pool.log_tail()}")
    workers = [sample for pid in pool.worker_pids().values() if (sample := sample_process(pid)) is not None]
    return PoolSample(seconds=seconds, jobs_finished=jobs_finished, supervisor_rss_bytes=supervisor.rss_bytes,
                      supervisor_fds=supervisor.open_fds, supervisor_threads=supervisor.threads,
                      workers=len(workers), worker_rss_bytes_total=sum(s.rss_bytes for s in workers),
                      worker_rss_bytes_max=max((s.rss_bytes for s in workers), default=0),
                      worker_fds_total=sum(s.open_fds for s in workers),
                      worker_threads_total=sum(s.threads for s in workers), metrics_files=pool.metrics_file_count())


def run(ctx: SectionContext) -> SectionResult:
    settings = ctx.settings
    workers, jobs = settings.soak_workers, settings.soak_jobs
    result = SectionResult(key=KEY, title=TITLE)
    series: list[PoolSample] = []
    with ctx.cloud() as cloud, ctx.pool(cloud, workers=workers, name="h-soak") as pool:
        warmup = ctx.warm_up(cloud, pool, workers=workers)
        warm_counts = cloud.stats()["jobs"]
        before = take_sample(pool, seconds=0.0, jobs_finished=0)
        started = time.monotonic()
        cloud.enqueue(jobs, sample=True)
        deadline = started + ctx.job_deadline(jobs, workers)
        while (finished := cloud.finished_count() - warmup) < jobs:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {finished} of {jobs} soak jobs finished:\n{pool.log_tail()}")
            series.append(take_sample(pool, seconds=time.monotonic() - started, jobs_finished=finished))
            time.sleep(settings.soak_sample_every)
        soak_seconds = time.monotonic() - started
        time.sleep(SETTLE)
        after = take_sample(pool, seconds=time.monotonic() - started, jobs_finished=jobs)
        counts = {state: count - warm_counts[state] for state, count in cloud.stats()["jobs"].items()}
        restarts = sum(worker["restarts"] for worker in (pool.status() or {"workers": []})["workers"])
    ctx.progress(f"[h] {jobs} jobs in {soak_seconds:.0f}s; supervisor RSS "
                 f"{mib(before.supervisor_rss_bytes):.1f} -> {mib(after.supervisor_rss_bytes):.1f} MiB")
    per_worker = max(1, after.workers)
    result.rows += [
        Row(metric="supervisor RSS growth", unit="MiB", target=MEMORY_FLAT_MIB,
            ours=mib(after.supervisor_rss_bytes - before.supervisor_rss_bytes)),
        Row(metric="worker RSS growth, mean per worker", unit="MiB", target=MEMORY_FLAT_MIB,
            ours=mib((after.worker_rss_bytes_total - before.worker_rss_bytes_total) / per_worker)),
        Row(metric="supervisor open fds growth", unit="fds", ours=after.supervisor_fds - before.supervisor_fds,
            target=NO_GROWTH),
        Row(metric=f"workers' open fds growth ({after.workers} workers)", unit="fds",
            ours=after.worker_fds_total - before.worker_fds_total, target=NO_GROWTH),
        Row(metric="supervisor threads growth", unit="threads", target=NO_GROWTH,
            ours=after.supervisor_threads - before.supervisor_threads),
        Row(metric="workers' threads growth", unit="threads", target=NO_GROWTH,
            ours=after.worker_threads_total - before.worker_threads_total),
        Row(metric="metrics-directory files growth", unit="files", target=NO_GROWTH,
            ours=after.metrics_files - before.metrics_files),
    ]
    peak_worker = max((sample.worker_rss_bytes_max for sample in series), default=after.worker_rss_bytes_max)
    result.details = {"workers": workers, "jobs": jobs, "seconds": soak_seconds, "job_counts": counts,
                      "worker_restarts": restarts, "before": asdict(before), "after": asdict(after),
                      "series": [asdict(sample) for sample in series]}
    result.notes.append(
        f"{jobs} mixed sample jobs (every deliverable kind, long histories to summarise) on {workers} workers in "
        f"{soak_seconds:.0f}s: {counts['completed']} completed, {counts['failed']} failed, {restarts} "
        f"worker restarts; {len(series)} samples; metrics files {before.metrics_files} -> "
        f"{after.metrics_files}; peak worker RSS {mib(peak_worker):.1f} MiB")
    return result
