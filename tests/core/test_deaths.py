"""Why a worker died and what its replacement counts as (supervisor/deaths.py).

A worker asked to exit after its job that does so cleanly is a planned restart; one we killed is
``hung`` (or ``memory``); anything else is a crash. Only crashes and hung workers count toward
parking a slot. The cause becomes the failure reason of a job that is not re-run.
"""
from __future__ import annotations

import signal

import pytest

from shared.config.sections import PoolConfig
from shared.pipe.failures import Failure, FailureClass
from shared.pipe.messages import WorkerExit
from supervisor.deaths import FAILURES, death_cause, restart_reason
from supervisor.slots import WorkerStop as W

POOL = PoolConfig(hung_timeout=60.0, boot_timeout=120.0, job_timeout=1800.0, max_worker_memory=512 * 2 ** 20)


@pytest.mark.parametrize(("stop_reason", "exit_code", "killed", "reason"), [
    (W.RECYCLE, WorkerExit.RECYCLE, False, "recycle"),    # planned: max_jobs_per_worker
    (W.ROLL, WorkerExit.STOPPED, False, "recycle"),       # planned: SIGHUP roll
    (W.MEMORY, WorkerExit.RECYCLE, False, "memory"),      # recycled after its job for memory
    (W.SCALE, WorkerExit.STOPPED, False, None),           # the pool shrank: not a restart
    (W.DRAIN, WorkerExit.STOPPED, False, None),
    (W.HUNG, -signal.SIGKILL, True, "hung"),        # killed by a clock
    (W.BOOT, -signal.SIGTERM, True, "hung"),
    (W.DEADLINE, -signal.SIGKILL, True, "hung"),
    (W.STUCK, -signal.SIGKILL, True, "hung"),
    (W.MEMORY, -signal.SIGKILL, True, "memory"),    # killed mid-job for memory
    (W.SHUTDOWN, -signal.SIGTERM, True, None),
    (W.RECYCLE, 1, False, "crash"),                 # asked to stop, but did not exit cleanly
    (W.ROLL, -signal.SIGSEGV, False, "crash"),
    (None, WorkerExit.STOPPED, False, "crash"),           # exited without being asked
    (None, WorkerExit.CREDENTIAL_REJECTED, False, "crash"),
    (None, -signal.SIGKILL, False, "crash"),        # the OOM killer, not us
])
def test_restart_reason(stop_reason: W | None, exit_code: int, killed: bool, reason: str | None) -> None:
    assert restart_reason(stop_reason=stop_reason, exit_code=exit_code, killed=killed) == reason

OTHER, CRASHED = FailureClass.OTHER, FailureClass.WORKER_CRASHED


def test_only_crashes_and_hung_workers_count_toward_parking() -> None:
    assert set(FAILURES) == {"crash", "hung"}


@pytest.mark.parametrize(("stop_reason", "exit_code", "fatal", "kind", "cause"), [
    (W.HUNG, -9, None, OTHER, "worker hung (no sign of life for 60s)"),
    (W.STUCK, -9, None, OTHER, "worker stuck (its main thread did not come back from a cloud or model call within "
                               "the call's bounds + 60s)"),
    (W.BOOT, -15, None, OTHER, "worker did not become READY within pool.boot_timeout (120s)"),
    (W.MEMORY, -15, None, OTHER, "worker killed: memory over 512 MiB limit"),
    (W.DEADLINE, -9, None, FailureClass.DEADLINE, "job deadline exceeded (1800s)"),
    (W.SHUTDOWN, -15, None, FailureClass.SHUTDOWN, "runner shutting down"),
    (None, -9, None, CRASHED, "worker crashed (signal 9 SIGKILL, possible OOM)"),
    (None, -11, "ignored: a signal says more", CRASHED, "worker crashed (signal 11 SIGSEGV)"),
    (None, -200, None, CRASHED, "worker crashed (signal 200 200)"),
    (None, 4, "model load failed: no such file", OTHER, "model load failed: no such file"),
    (None, 1, None, CRASHED, "worker crashed (exit code 1)"),
    (W.MEMORY, 5, None, CRASHED, "worker crashed (exit code 5)"),   # recycled for memory, yet holding a job
])
def test_death_cause_is_the_failure_of_the_job_it_held(stop_reason: W | None, exit_code: int, fatal: str | None,
                                                       kind: FailureClass, cause: str) -> None:
    """The reason and its metric class (the class the old text-prefix rule gave each reason)."""
    assert death_cause(stop_reason=stop_reason, exit_code=exit_code, fatal=fatal, pool=POOL) == Failure(kind, cause)
