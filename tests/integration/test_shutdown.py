"""The shutdown ladder with real processes: drain on SIGTERM, abort on a second signal, no orphans."""
from __future__ import annotations

import os
import signal
from typing import Any

import psutil
import pytest

from emulator import EmulatorServer
from tests.harness import cloud_stats, enqueue, gone, job_states, wait_final, wait_for
from tests.integration.conftest import StartRunner


def busy_with(status: dict[str, Any], workspace_ids: list[str]) -> bool:
    return {w["workspaceId"] for w in status["workers"] if w["state"] == "busy"} == set(workspace_ids)


@pytest.mark.parametrize("cloud", [3.0], indirect=True)   # seconds of lease: shorter than the jobs
def test_sigterm_drains_in_flight_jobs_leases_nothing_new_and_exits_0(
        cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=2)
    running = enqueue(cloud, "Slow job one. [[sleep:4]]", "Slow job two. [[sleep:4]]")
    runner.wait_status(lambda s: busy_with(s, running), what="both slow jobs running")
    queued = enqueue(cloud, *(f"Queued job {n}." for n in range(3)))

    runner.signal(signal.SIGTERM)

    runner.wait_status(lambda s: s["draining"], what="draining")
    assert runner.answer("/readyz").status_code == 503
    assert runner.answer("/healthz").status_code == 200
    assert runner.wait_exit(timeout=30) == 0
    jobs = job_states(cloud)
    assert [(jobs[w]["state"], jobs[w]["leaseCount"]) for w in running] == [("completed", 1)] * 2
    assert [(jobs[w]["state"], jobs[w]["leaseCount"]) for w in queued] == [("pending", 0)] * 3
    assert cloud_stats(cloud)["heartbeats"] >= 2, "leases kept alive while draining"


def test_jobs_still_running_after_the_graceful_timeout_are_failed_then_exit_0(
        cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=2, pool={"graceful_timeout": 1})
    running = enqueue(cloud, "Endless one. [[sleep:60]]", "Endless two. [[sleep:60]]")
    runner.wait_status(lambda s: busy_with(s, running), what="both endless jobs running")

    runner.signal(signal.SIGTERM)

    assert runner.wait_exit(timeout=30) == 0
    jobs = wait_final(cloud, running, timeout=5)
    assert [(jobs[w]["state"], jobs[w]["error"]) for w in running] == [("failed", "runner shutting down")] * 2
    assert "graceful timeout (1s) over: failing the jobs still running" in runner.log()


@pytest.mark.parametrize("signals", [(signal.SIGTERM, signal.SIGTERM), (signal.SIGINT,)],
                         ids=["sigterm-twice", "sigint"])
def test_second_signal_fails_in_flight_jobs_now_and_exits(
        cloud: EmulatorServer, start_runner: StartRunner, signals: tuple[int, ...]) -> None:
    runner = start_runner(workers=2, pool={"graceful_timeout": 600})
    running = enqueue(cloud, "Endless one. [[sleep:60]]", "Endless two. [[sleep:60]]")
    runner.wait_status(lambda s: busy_with(s, running), what="both endless jobs running")

    for signum in signals:
        runner.signal(signum)
        if signum == signal.SIGTERM and len(signals) > 1:
            runner.wait_status(lambda s: s["draining"], what="draining after the first SIGTERM")

    assert runner.wait_exit(timeout=20) == 0
    jobs = job_states(cloud)
    assert [(jobs[w]["state"], jobs[w]["error"]) for w in running] == [("failed", "runner shutting down")] * 2


def test_supervisor_killed_leaves_no_orphan_process(cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=2)
    [workspace_id] = enqueue(cloud, "Start a helper process, then work on. [[fork-child]] [[sleep:60]]")
    child_pid = wait_for(lambda: next((int(f.name.split("-")[1]) for f in runner.state_dir.glob("child-*")), None),
                         what="the worker's own child")
    runner.wait_status(lambda s: busy_with(s, [workspace_id]), what="the job running")
    tree = {p.pid for p in runner.tree()}
    assert child_pid in tree and len(tree) >= 5, "supervisor, fork server, 2 workers and the child"
    assert runner.process is not None

    os.kill(runner.process.pid, signal.SIGKILL)
    runner.process.wait(timeout=10)

    left = wait_for(lambda: all(gone(pid) for pid in tree) or None, timeout=10,
                    what=lambda: "every process to exit; still running: "
                    + ", ".join(f"{pid} {psutil.Process(pid).cmdline()[:3]}" for pid in tree if not gone(pid)))
    assert left


@pytest.mark.parametrize("variable,value,said", [
    ("RUNNER_JOB_MAX_EMPTY_POLLS", "3", "3 empty lease answers in a row"),
    ("RUNNER_JOB_MAX_RUNTIME_MS", "1500", "ran for pool.max_runtime (1.5s"),
], ids=["max-empty-polls", "max-runtime"])
def test_official_stop_variables_drain_the_pool_and_exit_0(
        cloud: EmulatorServer, start_runner: StartRunner, variable: str, value: str, said: str) -> None:
    [workspace_id] = enqueue(cloud, "A table of costs.")   # before the start: no empty answer comes first
    runner = start_runner(workers=2, env={variable: value}, ready=False)

    assert runner.wait_exit(timeout=30) == 0

    assert said in runner.log()
    assert job_states(cloud)[workspace_id]["state"] == "completed"
    assert "stopped (exit 0): jobs 1 completed, 0 failed, 0 lease lost" in runner.log()
