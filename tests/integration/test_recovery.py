"""A worker lost mid-job: its job is re-run under the same lease, or failed at once with the cause.

Real pools against the emulator: workers are killed with SIGKILL from outside, crash on
their own (``[[crash]]``), hang (``[[hang]]``, SIGSTOP), overrun their job deadline or their
memory limit. Whatever happens, the job ends completed or failed with a reason, never
waiting for its lease to expire, and the worker is replaced.
"""
from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from emulator import EmulatorServer
from tests.harness import cloud_stats, enqueue, wait_final
from tests.integration.conftest import StartRunner


def busy_pid(status: dict[str, Any], workspace_id: str) -> int | None:
    """The pid of the worker running ``workspace_id`` according to /status, if any."""
    for worker in status["workers"]:
        if worker["workspaceId"] == workspace_id and worker["state"] == "busy":
            pid: int = worker["pid"]
            return pid
    return None


def test_killed_busy_worker_job_is_rerun_on_a_replacement_under_the_same_lease(
        cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=2)
    [workspace_id] = enqueue(cloud, "A launch plan, slowly. [[sleep:1.5]]")
    status = runner.wait_status(lambda s: busy_pid(s, workspace_id), what=f"a worker busy with {workspace_id}")
    victim = busy_pid(status, workspace_id)
    assert victim is not None   # the status the wait returned has it

    os.kill(victim, signal.SIGKILL)

    job = wait_final(cloud, [workspace_id])[workspace_id]
    assert job["state"] == "completed", job
    assert (job["leaseCount"], job["completeCount"]) == (1, 1), "re-run under the same lease, completed once"
    assert runner.metric("xenon_runner_jobs_total", outcome="retried") == 1
    assert runner.metric("xenon_runner_worker_restarts_total", reason="crash") == 1
    runner.wait_ready()
    assert victim not in runner.pids()
    assert "worker crashed (signal 9 SIGKILL, possible OOM); re-running it (attempt 2 of 2" in runner.log()


@pytest.mark.parametrize("cloud", [22.0], indirect=True)   # seconds of lease
def test_job_waiting_for_a_rerun_is_kept_alive_without_flooding_the_cloud(
        cloud: EmulatorServer, start_runner: StartRunner) -> None:
    # The only worker's replacement starts 4-6 s after the crash, longer than a 22 s lease can
    # wait while keeping the 15 s a re-run needs: the supervisor heartbeats the waiting job.
    runner = start_runner(workers=1, pool={"restart_backoff": 5, "restart_backoff_max": 5})
    [workspace_id] = enqueue(cloud, "Crash once, then wait for the replacement. [[crash-once]]")

    job = wait_final(cloud, [workspace_id], timeout=40)[workspace_id]

    assert job["state"] == "completed"
    assert (job["leaseCount"], job["completeCount"]) == (1, 1)
    assert 1 <= cloud_stats(cloud)["heartbeats"] <= 4, "a few heartbeats while it waited, not a flood"
    assert runner.metric("xenon_runner_heartbeats_total", result="ok") == cloud_stats(cloud)["heartbeats"]


def test_job_whose_worker_keeps_crashing_is_failed_at_once_after_the_last_attempt(
        cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=2, pool={"max_job_attempts": 2})
    [doomed, fine] = enqueue(cloud, "This one kills its worker. [[crash]]", "A table of costs.")

    jobs = wait_final(cloud, [doomed, fine], timeout=30)   # well inside the 60 s lease: not an expiry

    assert jobs[fine]["state"] == "completed"
    assert jobs[doomed]["state"] == "failed"
    assert jobs[doomed]["error"] == ("worker crashed (signal 9 SIGKILL, possible OOM); gave up after 2 attempt(s)")
    assert jobs[doomed]["leaseCount"] == 1
    assert runner.metric("xenon_runner_jobs_total", outcome="retried") == 1
    assert runner.metric("xenon_runner_jobs_total", outcome="failed") == 1
    runner.wait_ready()


def test_killed_worker_job_is_failed_at_once_when_no_rerun_is_allowed(
        cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=1, pool={"max_job_attempts": 1})
    [workspace_id] = enqueue(cloud, "Slow enough to be killed. [[sleep:30]]")
    status = runner.wait_status(lambda s: busy_pid(s, workspace_id), what=f"a worker busy with {workspace_id}")
    victim = busy_pid(status, workspace_id)
    assert victim is not None   # the status the wait returned has it

    os.kill(victim, signal.SIGKILL)

    job = wait_final(cloud, [workspace_id], timeout=20)[workspace_id]
    assert job["state"] == "failed"
    assert job["error"].startswith("worker crashed (signal 9 SIGKILL, possible OOM)")
    assert runner.metric("xenon_runner_jobs_total", outcome="retried") == 0
    assert runner.metric("xenon_runner_job_failures_total", reason="worker_crashed") == 1


def test_hung_worker_is_killed_and_its_job_rerun_or_failed(cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=2, pool={"hung_timeout": 2, "kill_timeout": 1, "max_job_attempts": 2})
    [recovers, hangs_again] = enqueue(cloud, "Hang on the first try only. [[once:hang]]",
                                      "Hang on every try. [[hang]]")

    jobs = wait_final(cloud, [recovers, hangs_again], timeout=40)

    assert jobs[recovers]["state"] == "completed"
    assert jobs[recovers]["leaseCount"] == 1
    assert jobs[hangs_again]["state"] == "failed"
    assert jobs[hangs_again]["error"] == "worker hung (no sign of life for 2s); gave up after 2 attempt(s)"
    assert runner.metric("xenon_runner_worker_restarts_total", reason="hung") == 3
    assert runner.metric("xenon_runner_worker_restarts_total", reason="crash") == 0
    assert "sent no sign of life for 2s (pool.hung_timeout): killing it" in runner.log()
    runner.wait_ready()


def test_job_past_its_deadline_is_failed(cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=1, pool={"job_timeout": 1})
    [slow, quick] = enqueue(cloud, "Too slow. [[sleep:2]]", "A table of costs.")

    jobs = wait_final(cloud, [slow, quick])

    assert jobs[slow]["state"] == "failed"
    assert jobs[slow]["error"] == "job deadline exceeded (1s)"
    assert jobs[quick]["state"] == "completed"
    assert runner.metric("xenon_runner_job_failures_total", reason="deadline") == 1


def test_worker_over_its_memory_limit_is_recycled_after_its_job_or_killed_mid_job(
        cloud: EmulatorServer, start_runner: StartRunner) -> None:
    # Workers start at ~30 MiB. Limit 100 MiB, kill factor 2: a 100 MiB leak is over the soft
    # limit (recycle after the job), a 250 MiB one over the hard limit (kill, re-run the job).
    runner = start_runner(workers=2, pool={"max_worker_memory": "100MiB", "memory_kill_factor": 2})
    [soft] = enqueue(cloud, "Leak a little. [[leak:100]]")
    wait_final(cloud, [soft])
    runner.wait_log("over pool.max_worker_memory (100 MiB): recycling it after its job")
    runner.wait_status(lambda s: s["ready_workers"] == 2 and all(w["rss_bytes"] < 100 * 2 ** 20 for w in s["workers"]),
                       what="the leaking worker replaced")

    [hard] = enqueue(cloud, "Leak a lot, once. [[once:leak:250]] [[sleep:3]]")
    job = wait_final(cloud, [hard])[hard]

    assert job["state"] == "completed" and job["leaseCount"] == 1
    assert "far over pool.max_worker_memory (100 MiB): killing it mid-job" in runner.log()
    assert runner.metric("xenon_runner_worker_restarts_total", reason="memory") == 2
    assert runner.metric("xenon_runner_jobs_total", outcome="retried") == 1
