"""Emulator faults on 20% of requests (5xx, 429 + Retry-After, dropped connections) plus latency.

Every job still completes exactly once, and the pool's request rate stays bounded: the
transport retries what failed, the lease gate backs the whole pool off on errors and 429s
instead of hammering the cloud. The quick run also goes with 4 jobs per worker process
(``pool.jobs_per_worker``): the same jobs on 2 processes, sharing each one's HTTP session.
"""
from __future__ import annotations

import time

import pytest
import requests

from emulator import EmulatorServer
from tests.harness import cloud_stats, enqueue, wait_final
from tests.integration.conftest import StartRunner

FAULTS = {"error_rate": 0.07, "throttle_rate": 0.07, "retry_after": 0.2, "drop_rate": 0.06, "latency": 0.01}
PROTOCOL_ROUTES = ("/leaseWorkspaceJob", "/getWorkspaceRunnerContext", "/completeWorkspaceJob",
                   "/heartbeatWorkspaceJob", "/failWorkspaceJob", "/updateWorkspaceRunnerSummary")
POLL_INTERVAL = 0.5   # seconds


@pytest.mark.parametrize("workers,jobs,jobs_per_worker", [
    pytest.param(4, 40, 1, id="quick"),
    pytest.param(2, 40, 4, id="quick-4-jobs-per-worker"),
    pytest.param(8, 400, 1, id="long", marks=[pytest.mark.slow, pytest.mark.timeout(600)]),
])
def test_every_job_completes_under_20_percent_faults_with_bounded_requests(
        cloud: EmulatorServer, start_runner: StartRunner, workers: int, jobs: int, jobs_per_worker: int) -> None:
    # Enough tries per call that a job never fails for bad luck (0.2^8: one call in 400,000).
    runner = start_runner(workers=workers, cloud_options={"max_attempts": 8},
                          pool={"poll_interval": POLL_INTERVAL, "jobs_per_worker": jobs_per_worker})
    requests.post(cloud.url + "/admin/faults", json=FAULTS, timeout=5).raise_for_status()
    began = time.monotonic()
    ids = enqueue(cloud, *(f"Job {n}: a table of costs. [[sleep:0.2]]" for n in range(jobs)))

    states = wait_final(cloud, ids, timeout=60 + jobs / workers)
    elapsed = time.monotonic() - began

    assert all(job["state"] == "completed" for job in states.values())
    assert all((job["leaseCount"], job["completeCount"]) == (1, 1) for job in states.values())
    stats = cloud_stats(cloud)
    injected = stats["faultsInjected"]
    assert injected.get("error", 0) and injected.get("throttle", 0) and injected.get("drop", 0)
    sent = {route: sum(stats["requests"].get(route, {}).values()) for route in PROTOCOL_ROUTES}
    # 3 calls per job without faults; retries after ~20% faults make it ~3.75.
    assert sum(sent.values()) <= 5 * jobs, sent
    # Leases: one per job plus retries of failed ones, plus the idle pool's ~1 per poll interval.
    assert sent["/leaseWorkspaceJob"] <= 1.5 * jobs + 2 * elapsed / POLL_INTERVAL, sent
    print(f"\nfaults: {workers} workers x {jobs_per_worker} jobs, {jobs} jobs in {elapsed:.1f}s, "
          f"faults injected {injected}, requests {sent}")
    runner.expect_running()
