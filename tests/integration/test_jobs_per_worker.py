"""Several jobs in one worker process (``pool.jobs_per_worker``): real pools against the emulator.

One worker runs N jobs at once, each with its own lease and log tag; /status and /metrics show
the job slots; a worker killed with SIGKILL in the middle of 8 jobs loses none of them (each is
re-run under its own lease, or failed at once with the cause when no re-run is allowed: never
left to wait for its lease to expire); a drain waits for every job of a worker.
"""
from __future__ import annotations

import os
import re
import signal
from typing import Any

from emulator import EmulatorServer
from tests.harness import Runner, enqueue, wait_final
from tests.integration.conftest import LEASE_SECONDS, StartRunner

# Well inside the emulator's 60 s lease: a job that ends before this did not wait for its lease to run out.
BEFORE_EXPIRY = LEASE_SECONDS / 2


def _worker_with_jobs(status: dict[str, Any], count: int) -> dict[str, Any] | None:
    """The worker of ``status`` holding ``count`` jobs, if any."""
    return next((w for w in status["workers"] if len(w["jobs"]) == count and w["state"] == "busy"), None)


def _wait_for_worker_with_jobs(runner: Runner, count: int) -> dict[str, Any]:
    """Wait until /status shows a busy worker holding ``count`` jobs; that worker's entry."""
    status = runner.wait_status(lambda s: _worker_with_jobs(s, count), what=f"one worker holding {count} jobs")
    worker = _worker_with_jobs(status, count)
    assert worker is not None   # the status the wait returned has it
    return worker


def test_one_worker_runs_four_jobs_at_once_each_under_its_own_lease_and_log_tag(
        cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=1, pool={"jobs_per_worker": 4})
    ids = enqueue(cloud, *[f"Plan {n}, slowly. [[sleep:3]]" for n in range(4)])

    worker = _wait_for_worker_with_jobs(runner, 4)
    assert sorted(job["workspaceId"] for job in worker["jobs"]) == sorted(ids)
    assert worker["job_slots"] == 4 and worker["workspaceId"] in ids   # the old per-worker field: its oldest job
    assert runner.metric("xenon_runner_job_slots", state="busy") == 4
    assert runner.metric("xenon_runner_job_slots", state="free") == 0

    jobs = wait_final(cloud, ids)
    assert {job["state"] for job in jobs.values()} == {"completed"}
    assert all(job["leaseCount"] == 1 for job in jobs.values())
    log = runner.log()
    for workspace_id in ids:   # each job's completion line carries its own workspaceId tag
        assert re.search(rf"{workspace_id}\b.*completed {workspace_id} ", log), workspace_id
    runner.wait_status(lambda s: s["workers"][0]["jobs"] == [], what="the jobs gone from /status")
    assert runner.metric("xenon_runner_job_slots", state="free") == 4


def test_a_worker_killed_with_8_jobs_in_flight_loses_none_of_them(
        cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=1, pool={"jobs_per_worker": 8})
    ids = enqueue(cloud, *[f"Report {n}, slowly. [[sleep:2]]" for n in range(8)])
    worker = _wait_for_worker_with_jobs(runner, 8)
    victim = worker["pid"]

    os.kill(victim, signal.SIGKILL)

    jobs = wait_final(cloud, ids, timeout=BEFORE_EXPIRY)
    assert {workspace_id: job["state"] for workspace_id, job in jobs.items()} == {i: "completed" for i in ids}
    assert all((job["leaseCount"], job["completeCount"]) == (1, 1) for job in jobs.values()), \
        "each re-run under its own lease, completed once"
    assert runner.metric("xenon_runner_jobs_total", outcome="retried") == 8
    assert victim not in runner.pids()


def test_a_worker_killed_with_8_jobs_and_no_reruns_fails_each_at_once_with_the_cause(
        cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=1, pool={"jobs_per_worker": 8, "max_job_attempts": 1})
    ids = enqueue(cloud, *[f"Memo {n}, slowly. [[sleep:30]]" for n in range(8)])
    worker = _wait_for_worker_with_jobs(runner, 8)

    os.kill(worker["pid"], signal.SIGKILL)

    jobs = wait_final(cloud, ids, timeout=BEFORE_EXPIRY)
    assert {job["state"] for job in jobs.values()} == {"failed"}
    assert {job["error"] for job in jobs.values()} == {
        "worker crashed (signal 9 SIGKILL, possible OOM); gave up after 1 attempt(s)"}
    assert runner.metric("xenon_runner_jobs_total", outcome="failed") == 8


def test_a_drain_waits_for_every_job_of_a_worker(cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=1, pool={"jobs_per_worker": 3})
    ids = enqueue(cloud, *[f"Brief {n}, slowly. [[sleep:2]]" for n in range(3)])
    _wait_for_worker_with_jobs(runner, 3)

    runner.signal(signal.SIGTERM)

    assert runner.wait_exit() == 0
    jobs = wait_final(cloud, ids, timeout=5)
    assert {job["state"] for job in jobs.values()} == {"completed"}
