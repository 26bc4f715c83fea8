"""Restart policy with real processes: crash loops park a slot, boot failures stop the pool, recycling."""
from __future__ import annotations

import signal

from emulator import EmulatorServer
from tests.harness import enqueue, wait_final
from tests.integration.conftest import StartRunner


def test_crash_loop_parks_the_slot_until_sighup(cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=1, pool={"max_crashes": 3, "crash_window": 60, "max_job_attempts": 1,
                                           "startsecs": 30})
    crashing = enqueue(cloud, *(f"Job {n} kills its worker. [[crash]]" for n in range(3)))

    jobs = wait_final(cloud, crashing)
    status = runner.wait_status(lambda s: s["states"]["parked"] == 1, what="the slot parked")

    assert all(job["error"].startswith("worker crashed (signal 9") for job in jobs.values())
    assert status["workers"][0]["state"] == "parked" and status["workers"][0]["pid"] is None
    assert runner.metric("xenon_runner_workers", state="parked") == 1
    assert runner.metric("xenon_runner_worker_restarts_total", reason="crash") == 3
    assert runner.answer("/readyz").status_code == 503
    assert "parked (FATAL) until SIGHUP" in runner.log()

    runner.signal(signal.SIGHUP)

    runner.wait_ready(1)
    assert runner.metric("xenon_runner_workers", state="parked") == 0
    [after] = enqueue(cloud, "A table of costs.")
    assert wait_final(cloud, [after])[after]["state"] == "completed"


def test_workers_that_cannot_boot_stop_the_pool_with_exit_2(start_runner: StartRunner) -> None:
    runner = start_runner(workers=3, ready=False, model={"name": "nonexistent_module_xyz:make"})

    assert runner.wait_exit(timeout=30) == 2

    log = runner.log()
    assert log.count("workers cannot boot with this configuration") == 1
    assert "cannot import module 'nonexistent_module_xyz'" in log
    assert log.count("worker boot failed") <= 3, "no crash loop: each slot tried once at most"


def test_boot_that_never_finishes_is_ended_by_the_boot_timeout_not_the_hang_watchdog(
        start_runner: StartRunner) -> None:
    runner = start_runner(workers=1, ready=False, env={"CHAOS_BOOT_STOP": "1"},
                          pool={"boot_timeout": 2, "hung_timeout": 1, "kill_timeout": 0.5, "max_crashes": 2})

    status = runner.wait_status(lambda s: s["states"]["parked"] == 1, what="the slot parked", timeout=30)

    log = runner.log()
    assert log.count("did not become READY within pool.boot_timeout (2s): killing it") == 2
    assert "sent no sign of life" not in log, "a slow boot is not a hang"
    assert runner.metric("xenon_runner_worker_restarts_total", reason="hung") == 2
    assert status["workers"][0]["restarts"] == 1


def test_workers_are_recycled_after_max_jobs_per_worker(cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=1, pool={"max_jobs_per_worker": 2})
    first_pid = runner.pids()
    jobs = enqueue(cloud, *(f"Job {n}: a table of costs." for n in range(5)))

    states = wait_final(cloud, jobs)

    assert all(job["state"] == "completed" for job in states.values())
    runner.wait_status(lambda s: s["workers"][0]["restarts"] == 2, what="two recycles")
    assert runner.metric("xenon_runner_worker_restarts_total", reason="recycle") == 2
    assert runner.metric("xenon_runner_worker_restarts_total", reason="crash") == 0
    assert runner.pids().isdisjoint(first_pid)
    assert runner.log().count("(pool.max_jobs_per_worker): recycling it") == 2
