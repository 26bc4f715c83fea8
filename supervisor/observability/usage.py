"""RSS and CPU of the supervisor and its workers, sampled when /status or /metrics is read.

Only those two answers show them, so the loop does not sample anybody: an idle pool nobody
scrapes costs no psutil call at all, and a scraped one costs one sample per process per
scrape, however often the loop turns. Samples younger than ``FRESH_FOR`` seconds are served
again, so a client polling /status many times a second (a dashboard, a benchmark waiting for
READY) does not multiply the cost. CPU percent is per process since its previous sample (the
first sample of a process reads 0). Memory policing (``pool.max_worker_memory``) samples on
its own, in the watchdog.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import psutil

from .snapshot import PoolSnapshot

FRESH_FOR = 1.0   # seconds a sample is served again before the process is read anew


class ProcessUsage:
    """Samples processes by pid on demand (any thread), keeping one ``psutil.Process`` each."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._processes: dict[int, psutil.Process] = {}
        self._samples: dict[int, tuple[float, int, float]] = {}   # pid -> (clock seconds, RSS bytes, CPU %)

    def annotate(self, snapshot: PoolSnapshot) -> PoolSnapshot:
        """``snapshot`` with the RSS and CPU of the supervisor and of every live worker filled in."""
        pids = [worker.pid for worker in snapshot.workers if worker.pid is not None]
        if snapshot.supervisor_pid:
            pids.append(snapshot.supervisor_pid)
        usage = self.sample(pids)
        workers = tuple(replace(worker, rss_bytes=usage[worker.pid][0], cpu_percent=usage[worker.pid][1])
                        if worker.pid is not None else worker for worker in snapshot.workers)
        rss, cpu = usage.get(snapshot.supervisor_pid, (0, 0.0))
        return replace(snapshot, workers=workers, supervisor_rss_bytes=rss, supervisor_cpu_percent=cpu)

    def sample(self, pids: list[int]) -> dict[int, tuple[int, float]]:
        """(RSS bytes, CPU percent) of each pid; (0, 0.0) for a process that is gone."""
        now = self._clock()
        with self._lock:
            for pid in [pid for pid in self._processes if pid not in pids]:
                del self._processes[pid]
                self._samples.pop(pid, None)
            return {pid: self._read(pid, now) for pid in pids}

    def _read(self, pid: int, now: float) -> tuple[int, float]:
        cached = self._samples.get(pid)
        if cached is not None and now - cached[0] < FRESH_FOR:
            return cached[1], cached[2]
        try:
            process = self._processes.get(pid)
            if process is None:
                process = self._processes[pid] = psutil.Process(pid)
                process.cpu_percent(None)   # the baseline: the first reading is 0
            with process.oneshot():
                rss, cpu = process.memory_info().rss, process.cpu_percent(None)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            self._processes.pop(pid, None)
            rss, cpu = 0, 0.0
        self._samples[pid] = (now, rss, cpu)
        return rss, cpu
