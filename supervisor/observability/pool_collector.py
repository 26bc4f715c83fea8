"""Prometheus gauges computed at scrape time from the latest ``PoolSnapshot``.

Pool state lives in the supervisor alone, so these gauges need no multiprocess files:
``xenon_runner_workers{state}``, ``xenon_runner_job_slots{state}`` (busy, free), per-slot RSS and
CPU, the desired pool size, draining, the memory limit and the supervisor's own RSS, model
pauses (count and seconds left), and ``xenon_runner_config_reloads_total{result}`` (SIGHUP
reloads, ok or error), which the arbiter adds to each snapshot it hands out.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from .snapshot import PoolSnapshot

CONFIG_RELOADS = "config_reloads"   # key of PoolSnapshot.extra: {"ok": n, "error": n}
RELOAD_RESULTS = ("ok", "error")


class PoolCollector(Collector):
    """A custom collector: each scrape reads the latest snapshot, never the loop's live objects."""

    def __init__(self, snapshot: Callable[[], PoolSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | InfoMetricFamily]:
        snap = self._snapshot()
        workers = GaugeMetricFamily("xenon_runner_workers", "Worker slots by state.", labels=["state"])
        for state, count in snap.state_counts().items():
            workers.add_metric([state], count)
        yield workers
        job_slots = GaugeMetricFamily("xenon_runner_job_slots", "Job slots of the ready workers (pool.jobs_per_worker "
                                      "each) by state: busy (running a job) or free.", labels=["state"])
        for state, count in snap.job_slot_counts().items():
            job_slots.add_metric([state], count)
        yield job_slots
        rss = GaugeMetricFamily("xenon_runner_worker_rss_bytes", "Resident memory of each worker.",
                                labels=["slot"])
        cpu = GaugeMetricFamily("xenon_runner_worker_cpu_percent", "CPU use of each worker (percent of "
                                "one core) since the previous sample.", labels=["slot"])
        for worker in snap.workers:
            if worker.pid is not None:
                rss.add_metric([str(worker.slot)], worker.rss_bytes)
                cpu.add_metric([str(worker.slot)], worker.cpu_percent)
        yield rss
        yield cpu
        yield GaugeMetricFamily("xenon_runner_pool_workers_desired", "Worker slots the pool aims to run.",
                                value=snap.desired_workers)
        yield GaugeMetricFamily("xenon_runner_draining", "1 while the pool drains for shutdown.",
                                value=1 if snap.draining else 0)
        yield GaugeMetricFamily("xenon_runner_worker_memory_limit_bytes", "pool.max_worker_memory (0 = none).",
                                value=snap.memory_limit_bytes)
        yield GaugeMetricFamily("xenon_runner_supervisor_rss_bytes", "Resident memory of the supervisor.",
                                value=snap.supervisor_rss_bytes)
        yield GaugeMetricFamily("xenon_runner_recovering_jobs", "Jobs of dead workers waiting for a re-run.",
                                value=snap.recovering_jobs)
        yield CounterMetricFamily("xenon_runner_model_pauses", "Leasing pauses begun because the model endpoint "
                                  "refused the runner or was down (bad key, no quota, wrong URL, unreachable).",
                                  value=snap.model_pauses)
        yield GaugeMetricFamily("xenon_runner_model_pause_seconds", "Seconds until leasing resumes after a model "
                                "pause (0 = not paused for the model).",
                                value=snap.aged(snap.model_pause_left, now=time.monotonic()))
        reloads = CounterMetricFamily("xenon_runner_config_reloads", "SIGHUP configuration reloads by result: "
                                      "ok (applied) or error (refused, the running config kept).", labels=["result"])
        counts = snap.extra.get(CONFIG_RELOADS, {})
        for result in RELOAD_RESULTS:
            reloads.add_metric([result], counts.get(result, 0))
        yield reloads
        info = InfoMetricFamily("xenon_runner_build", "Runner version.")
        info.add_metric([], {"version": snap.version})
        yield info
