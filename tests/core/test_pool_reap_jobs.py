"""A worker holding several jobs dies: each of its jobs goes through recovery on its own.

``PoolManager`` reaps a pretend worker process (no process is started) on a fake clock; the
supervisor's recovery runs against a fake cloud. A crash re-runs every job; a deadline kill
fails only the job that overran and re-runs the others, which were within their time.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from shared.config.sections import CloudConfig, PoolConfig, RunnerConfig
from shared.jobs import LeasedJob
from supervisor.cloud_target import CloudTarget
from supervisor.pool import PoolManager
from supervisor.recovery import Recovery
from supervisor.slots import InFlightJob, SlotState
from supervisor.stopping import Shutdown
from supervisor.waiter import Waiter
from tests.core.fakes import FakeClock, FakeCloud, Wakes, live_slot

KEY = "cred.secret"
JOB_TIMEOUT = 100.0   # seconds


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = FakeClock(0.0)
        self.cloud = FakeCloud()
        self.wakes = Wakes()
        config = RunnerConfig(cloud=CloudConfig(token=KEY),
                              pool=PoolConfig(jobs_per_worker=3, job_timeout=JOB_TIMEOUT, max_job_attempts=2))
        self.waiter = Waiter()
        self.pool = PoolManager(config=config, cloud=CloudTarget(url="http://127.0.0.1:9", tokens=(KEY,)),
                                metrics_dir=str(tmp_path), waiter=self.waiter, wake=lambda: None, started=0.0,
                                shutdown=Shutdown(clock=self.clock), clock=self.clock)
        self.pool.recovery = Recovery(make_client=lambda key: self.cloud, keys=[KEY], max_attempts=2, wake=self.wakes)

    def worker_with_jobs(self, started: dict[str, float]) -> SimpleNamespace:
        """Slot 0 with a pretend worker holding a job per workspace id, started at the given times."""
        slot = live_slot(0, state=SlotState.IDLE)
        expires_ms = int((time.time() + 600) * 1000)   # recovery measures lease time on the epoch clock
        for workspace_id, at in started.items():
            slot.assigned(InFlightJob(lease=LeasedJob(workspace_id=workspace_id, lease_expires_at_ms=expires_ms),
                                      key=KEY, started_at=at))
        sentinel, writer = os.pipe()   # a real fd: the pool finds a ready slot by its sentinel's owner
        os.close(writer)               # closed writer: the sentinel is readable, as a dead process's is
        process = SimpleNamespace(pid=4242, exitcode=-9, sentinel=sentinel, close=lambda: os.close(sentinel))
        slot.process = process   # type: ignore[assignment]
        self.waiter.watch(sentinel, owner=slot)
        self.pool.slots[0] = slot
        return process

    def queued(self) -> list[tuple[str, int]]:
        jobs = []
        while (job := self.pool.recovery.take(KEY)) is not None:
            jobs.append((job.lease.workspace_id, job.lease.attempt))
        return jobs


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.pool.recovery.close(timeout=5)
    made.waiter.close()


def test_a_crash_re_runs_each_of_the_workers_jobs(rig: Rig) -> None:
    process = rig.worker_with_jobs({"ws-1": 0.0, "ws-2": 1.0, "ws-3": 2.0})
    rig.clock.advance(10.0)
    rig.pool.reap_workers({process.sentinel})
    assert rig.queued() == [("ws-1", 2), ("ws-2", 2), ("ws-3", 2)]
    assert rig.cloud.failed == [] and rig.pool.slots[0].jobs == {}


def test_a_deadline_kill_fails_the_job_that_overran_and_re_runs_the_others(rig: Rig) -> None:
    process = rig.worker_with_jobs({"ws-late": 0.0, "ws-2": 90.0, "ws-3": 95.0})
    rig.clock.advance(JOB_TIMEOUT + 31.0)   # ws-late is past job_timeout + the watchdog's 30 s grace
    rig.pool.slots[0].last_seen = rig.clock()   # the worker is alive: only the deadline rule applies
    rig.pool.watchdog.check(rig.pool.slots.values(), rig.clock())
    assert rig.pool.slots[0].stop_reason == "deadline"
    rig.pool.reap_workers({process.sentinel})
    assert rig.queued() == [("ws-2", 2), ("ws-3", 2)]
    rig.wakes.wait_for(1)
    assert [workspace_id for workspace_id, _ in rig.cloud.failed] == ["ws-late"]
