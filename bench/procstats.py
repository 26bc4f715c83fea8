"""Process figures via psutil: memory, CPU time, open fds, threads; and a bare interpreter to compare.

Sizes are bytes, CPU times are seconds (user + system of the process itself, children
excluded). A process that is gone when sampled yields None rather than an error: pools
restart workers while we look at them.
"""
from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psutil

BARE_SETTLE = 0.5   # seconds the bare interpreter sits idle before it is measured, as pool workers do


@dataclass(frozen=True, kw_only=True)
class ProcessSample:
    pid: int
    rss_bytes: int
    uss_bytes: int | None      # unique set size (memory only this process holds); None unless asked
    pss_bytes: int | None      # proportional set size (shared pages split among sharers)
    open_fds: int
    threads: int


def sample_process(pid: int, *, unique: bool = False) -> ProcessSample | None:
    """Figures of process ``pid`` now; ``unique`` adds USS/PSS (slower: it reads smaps)."""
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            rss = process.memory_info().rss
            fds, threads = process.num_fds(), process.num_threads()
        uss = pss = None
        if unique:
            full = process.memory_full_info()
            uss, pss = full.uss, getattr(full, "pss", None)
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return None
    return ProcessSample(pid=pid, rss_bytes=rss, uss_bytes=uss, pss_bytes=pss, open_fds=fds, threads=threads)


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """CPU seconds used so far by each live process of ``pids``."""
    used: dict[int, float] = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
        used[pid] = times.user + times.system
    return used


class CpuWindow:
    """CPU used by some processes, and by the whole machine, between ``start`` and ``stop``."""

    def __init__(self, pids: Iterable[int]) -> None:
        self._pids = list(pids)
        self._start: dict[int, float] = {}
        self._machine_start = psutil.cpu_times()
        self._wall_start = 0.0
        self.wall_seconds = 0.0
        self.process_seconds: dict[int, float] = {}   # pid -> CPU seconds within the window
        self.machine_busy = 0.0                        # share of all cores busy (0..1) within the window

    def start(self) -> CpuWindow:
        self._start = cpu_seconds(self._pids)
        self._machine_start = psutil.cpu_times()
        self._wall_start = time.monotonic()
        return self

    def stop(self) -> CpuWindow:
        self.wall_seconds = time.monotonic() - self._wall_start
        end = cpu_seconds(self._pids)
        self.process_seconds = {pid: end[pid] - self._start[pid] for pid in end if pid in self._start}
        self.machine_busy = machine_busy_share(self._machine_start, psutil.cpu_times())
        return self

    def share_of_core(self, pid: int) -> float:
        """CPU seconds of ``pid`` per wall second (1.0 = one core fully busy)."""
        return self.process_seconds.get(pid, 0.0) / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def total_seconds(self) -> float:
        return sum(self.process_seconds.values())


def machine_busy_share(before: Any, after: Any) -> float:
    """Share (0..1) of all CPU time between two ``psutil.cpu_times()`` tuples that was not idle or iowait."""
    total = _total(after) - _total(before)
    idle = (after.idle - before.idle) + (getattr(after, "iowait", 0.0) - getattr(before, "iowait", 0.0))
    return max(0.0, min(1.0, 1 - idle / total)) if total > 0 else 0.0


def _total(times: Any) -> float:
    """All CPU time in a ``cpu_times()`` tuple; Linux counts guest time inside user time already."""
    seconds: float = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    return seconds


def bare_interpreter_sample() -> ProcessSample:
    """RSS (and USS) of ``python -c`` doing nothing, measured exactly as the workers are."""
    script = "import sys, time; sys.stdout.write('up\\n'); sys.stdout.flush(); time.sleep(120)"
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert child.stdout is not None
        child.stdout.readline()   # the interpreter is up
        time.sleep(BARE_SETTLE)
        sample = sample_process(child.pid, unique=True)
        if sample is None:
            raise RuntimeError("the bare interpreter exited before it could be measured")
        return sample
    finally:
        child.kill()
        child.wait()
