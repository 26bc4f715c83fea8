"""/status and /metrics figures that are not rebuilt by the loop: RSS and CPU sampled at scrape
time (supervisor/observability/usage.py) and time-moving figures aged when read (snapshot.py).

Real processes (this one, and a child that exits) for psutil; a fake clock for the caching rule.
"""
from __future__ import annotations

import os
import subprocess
import sys

from supervisor.observability.snapshot import PoolSnapshot, WorkerView
from supervisor.observability.usage import FRESH_FOR, ProcessUsage
from tests.core.fakes import FakeClock


def _view(slot: int, pid: int | None, uptime: float | None = None) -> WorkerView:
    return WorkerView(slot=slot, pid=pid, state="idle", workspaceId=None, attempt=None, jobs_done=0, restarts=0,
                      rss_bytes=0, cpu_percent=0.0, uptime_seconds=uptime, generation=1, key="k.***")


def _gone_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_rss_is_sampled_at_scrape_time_for_live_processes_and_zero_for_gone_ones() -> None:
    gone = _gone_pid()
    snapshot = PoolSnapshot(workers=(_view(0, os.getpid()), _view(1, gone), _view(2, None)),
                            supervisor_pid=os.getpid())
    annotated = ProcessUsage().annotate(snapshot)
    assert annotated.supervisor_rss_bytes > 1_000_000
    assert annotated.workers[0].rss_bytes == annotated.supervisor_rss_bytes
    assert (annotated.workers[1].rss_bytes, annotated.workers[1].cpu_percent) == (0, 0.0)
    assert annotated.workers[2] == snapshot.workers[2]


def test_a_sample_is_served_again_for_fresh_for_seconds() -> None:
    clock = FakeClock()
    usage = ProcessUsage(clock=clock)
    first = usage.sample([os.getpid()])
    _ = bytearray(64 * 2 ** 20)   # the process grows; a cached answer does not see it
    clock.advance(FRESH_FOR / 2)
    assert usage.sample([os.getpid()]) == first
    clock.advance(FRESH_FOR / 2)
    assert usage.sample([os.getpid()]) != first


def test_time_moving_figures_are_aged_to_the_moment_of_reading() -> None:
    snapshot = PoolSnapshot(workers=(_view(0, 123, uptime=10.0), _view(1, None)), taken_at=100.0,
                            lease_backoff_seconds=2.0, model_pause_left=30.0)
    document = snapshot.to_json(now=103.0)
    assert document["workers"][0]["uptime_seconds"] == 13.0
    assert document["workers"][1]["uptime_seconds"] is None
    assert document["lease_backoff_seconds"] == 0.0       # 2 s left 3 s ago
    assert snapshot.aged(snapshot.model_pause_left, now=103.0) == 27.0
