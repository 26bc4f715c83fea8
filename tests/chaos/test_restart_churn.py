"""Many worker restarts: no deadlock, and the supervisor leaks neither fds, threads nor metrics files.

``max_jobs_per_worker: 1`` recycles a worker after every job, so N jobs make N restarts
through the whole path: planned exit, reap, metrics files of the slot reopened, new pipe,
new process. Some workers are SIGKILLed on top (the crash path). The supervisor's open fds,
threads and the metrics-directory file count are compared at two quiet moments.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from emulator import EmulatorServer
from tests.harness import Runner, enqueue, wait_final
from tests.integration.conftest import StartRunner

WORKERS = 4
WARM_UP = 20   # restarts before the first measurement
SETTLE = 0.5   # seconds with no worker change on each side of a sample


def quiet_figures(runner: Runner, metrics_dir: Path) -> tuple[int, int, int]:
    """Open fds and threads of the supervisor and metrics files at a quiet moment.

    Quiet = every worker idle and READY, no job waiting for a re-run, and the same worker pids
    before and after the sample: a worker being recycled around the sample (its replacement's
    pipe opened, or the old one not yet closed) would shift the fd count by one either way.
    """
    assert runner.process is not None
    supervisor = psutil.Process(runner.process.pid)
    while True:
        status = runner.wait_status(lambda s: s["states"]["idle"] == WORKERS and s["recovering_jobs"] == 0,
                                    what="every worker idle")
        pids = {worker["pid"] for worker in status["workers"]}
        time.sleep(SETTLE)
        figures = supervisor.num_fds(), supervisor.num_threads(), len(list(metrics_dir.glob("*.db")))
        time.sleep(SETTLE)
        after = runner.status()
        if after and after["states"]["idle"] == WORKERS and {w["pid"] for w in after["workers"]} == pids:
            return figures


@pytest.mark.parametrize("restarts", [
    pytest.param(100, id="quick"),
    pytest.param(1000, id="long", marks=[pytest.mark.slow, pytest.mark.timeout(600)]),
])
def test_many_restarts_leak_nothing_and_never_deadlock(
        cloud: EmulatorServer, start_runner: StartRunner, restarts: int) -> None:
    runner = start_runner(workers=WORKERS, pool={"max_jobs_per_worker": 1, "max_crashes": 100_000})
    metrics_dir = Path(runner.config["metrics"]["multiproc_dir"])
    wait_final(cloud, enqueue(cloud, *(f"Warm-up {n}: a table." for n in range(WARM_UP))))
    before = quiet_figures(runner, metrics_dir)

    ids = enqueue(cloud, *(f"Job {n}: a table." for n in range(restarts - WARM_UP)))
    for pid in sorted(runner.pids())[:2]:   # the crash path too
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass   # already recycled since /status was read
    states = wait_final(cloud, ids, timeout=60 + restarts / 5)
    after = quiet_figures(runner, metrics_dir)

    assert all(job["state"] == "completed" for job in states.values())
    recycled = runner.metric("xenon_runner_worker_restarts_total", reason="recycle")
    assert recycled >= restarts - WORKERS
    fds, threads, files = before
    assert after[0] <= fds, f"supervisor fds {fds} → {after[0]}"
    assert after[1] <= threads + 2, f"supervisor threads {threads} → {after[1]}"   # + idle HTTP/cloud-call threads
    assert after[2] == files, f"metrics files {files} → {after[2]}"
    assert runner.answer("/healthz").status_code == 200
    print(f"\nrestart churn: {int(recycled)} recycles + up to 2 kills; supervisor fds {fds} → {after[0]}, "
          f"threads {threads} → {after[1]}, metrics files {files} → {after[2]}")
