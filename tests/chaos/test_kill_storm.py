"""kill -9 storm: a random busy worker is SIGKILLed every 1.5 s while the pool works through a queue.

Every job must end completed or failed with a reason (``worker crashed …`` when it ran out
of attempts), none may stay stuck, none may be completed twice, and the pool keeps its
size (no slot parked, the supervisor never falls over). The quick storm also runs with
4 jobs per worker process (``pool.jobs_per_worker``): one kill then hits up to 4 jobs.
"""
from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter

import pytest

from emulator import EmulatorServer
from tests.harness import enqueue, wait_final
from tests.integration.conftest import StartRunner

KILL_EVERY = 1.5       # seconds between kills
LEASE_SECONDS = 20.0   # a worker killed between the cloud granting a lease and telling the supervisor
#                        strands that job until its lease expires: keep that short
WORKERS = 4


@pytest.mark.parametrize("cloud", [LEASE_SECONDS], indirect=True)
@pytest.mark.parametrize("storm_seconds,jobs_per_worker", [
    pytest.param(20, 1, id="quick"),
    pytest.param(20, 4, id="quick-4-jobs-per-worker"),
    pytest.param(300, 1, id="long", marks=[pytest.mark.slow, pytest.mark.timeout(900)]),
    pytest.param(300, 4, id="long-4-jobs-per-worker", marks=[pytest.mark.slow, pytest.mark.timeout(900)]),
])
def test_every_job_ends_once_with_a_reason_under_a_kill_storm(
        cloud: EmulatorServer, start_runner: StartRunner, storm_seconds: float, jobs_per_worker: int) -> None:
    runner = start_runner(workers=WORKERS, pool={"max_job_attempts": 2, "max_crashes": 100_000,
                                                 "restart_backoff": 0.05, "restart_backoff_max": 0.5,
                                                 "jobs_per_worker": jobs_per_worker})
    rng = random.Random(1)
    # About 1 s per job: enough queue to keep every job slot busy for the whole storm.
    ids = enqueue(cloud, *(f"Job {n}: a table of costs. [[sleep:{rng.choice((0.5, 1, 1.5))}]]"
                           for n in range(int(storm_seconds * WORKERS * jobs_per_worker) + 10)))

    kills = 0
    storm_ends = time.monotonic() + storm_seconds
    while time.monotonic() < storm_ends:
        busy = [w["pid"] for w in runner.workers() if w["state"] == "busy"]
        if busy:
            try:
                os.kill(rng.choice(busy), signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                pass   # it ended between the look and the kill
        time.sleep(KILL_EVERY)
    jobs = wait_final(cloud, ids, timeout=120 + len(ids) / (WORKERS * jobs_per_worker))

    outcomes = Counter(job["state"] for job in jobs.values())
    reasons = Counter(job["error"] for job in jobs.values() if job["state"] == "failed")
    assert kills >= storm_seconds / KILL_EVERY / 2
    assert outcomes["completed"] + outcomes["failed"] == len(ids)
    assert all(reason.startswith("worker crashed (signal 9 SIGKILL, possible OOM)") for reason in reasons), reasons
    assert all(job["completeCount"] <= 1 for job in jobs.values()), "a job was completed twice"
    stranded = sum(job["leaseCount"] > 1 for job in jobs.values())
    # Each job lane of a killed worker may be between lease and report: with one lane, one job per kill.
    assert stranded <= kills * jobs_per_worker, \
        "only a kill between lease and report may leave a job to its lease expiry"
    retried = runner.metric("xenon_runner_jobs_total", outcome="retried")
    assert retried >= 1
    status = runner.wait_ready(WORKERS)
    assert status["states"]["parked"] == 0
    print(f"\nkill storm: {storm_seconds}s x {jobs_per_worker} jobs per worker, {kills} kills, {len(ids)} jobs: "
          f"{dict(outcomes)}, {int(retried)} re-runs, {stranded} back after lease expiry, failures: {dict(reasons)}")
