"""Why a worker died, in words for logs and failed jobs, and what its replacement counts as.

The supervisor records why it stopped a worker (``WorkerSlot.stop_reason``) and whether it
had to kill it. A worker asked to exit after its job that does so cleanly is a planned
restart; one we killed is ``hung`` (or ``memory``); anything else is a crash. Only crashes
and hung workers count toward parking a slot.
"""
from __future__ import annotations

import signal

from shared.config.sections import PoolConfig
from shared.pipe.failures import Failure, FailureClass
from shared.pipe.messages import WorkerExit

from .slots import WorkerStop

# xenon_runner_worker_restarts_total{reason} by why we asked a worker to exit after its job;
# None: not a restart worth counting (the pool shrank or stops).
ASKED_FOR: dict[WorkerStop, str | None] = {WorkerStop.RECYCLE: "recycle", WorkerStop.ROLL: "recycle",
                                           WorkerStop.MEMORY: "memory", WorkerStop.SCALE: None, WorkerStop.DRAIN: None}
# ... and by why we killed one.
KILLED_FOR: dict[WorkerStop, str | None] = {WorkerStop.HUNG: "hung", WorkerStop.BOOT: "hung",
                                            WorkerStop.DEADLINE: "hung", WorkerStop.STUCK: "hung",
                                            WorkerStop.MEMORY: "memory", WorkerStop.SHUTDOWN: None}
FAILURES = ("crash", "hung")   # restart reasons that count toward parking the slot
CLEAN_EXITS = (WorkerExit.STOPPED, WorkerExit.RECYCLE)


def restart_reason(*, stop_reason: WorkerStop | None, exit_code: int | None, killed: bool) -> str | None:
    """``recycle``, ``memory``, ``hung`` or ``crash``; None when the worker is not to be replaced."""
    if killed and stop_reason in KILLED_FOR:
        return KILLED_FOR[stop_reason]
    if stop_reason in ASKED_FOR and exit_code in CLEAN_EXITS:
        return ASKED_FOR[stop_reason]
    return "crash"


def death_cause(*, stop_reason: WorkerStop | None, exit_code: int | None, fatal: str | None,
                pool: PoolConfig) -> Failure:
    """What ended the worker, as the failure of the job it held (if it is not re-run)."""
    other = FailureClass.OTHER
    if stop_reason == WorkerStop.HUNG:
        return Failure(other, f"worker hung (no sign of life for {pool.hung_timeout:g}s)")
    if stop_reason == WorkerStop.STUCK:
        return Failure(other, f"worker stuck (its main thread did not come back from a cloud or model call within "
                              f"the call's bounds + {pool.hung_timeout:g}s)")
    if stop_reason == WorkerStop.BOOT:
        return Failure(other, f"worker did not become READY within pool.boot_timeout ({pool.boot_timeout:g}s)")
    if stop_reason == WorkerStop.MEMORY and exit_code not in CLEAN_EXITS:
        return Failure(other, f"worker killed: memory over {mib(pool.max_worker_memory)} limit")
    if stop_reason == WorkerStop.DEADLINE:
        return Failure(FailureClass.DEADLINE, f"job deadline exceeded ({pool.job_timeout:g}s)")
    if stop_reason == WorkerStop.SHUTDOWN:
        return Failure(FailureClass.SHUTDOWN, "runner shutting down")
    if exit_code is not None and exit_code < 0:
        number = -exit_code
        name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
        hint = ", possible OOM" if number == signal.SIGKILL else ""
        return Failure(FailureClass.WORKER_CRASHED, f"worker crashed (signal {number} {name}{hint})")
    if fatal:
        return Failure(other, fatal)
    return Failure(FailureClass.WORKER_CRASHED, f"worker crashed (exit code {exit_code})")


def mib(size: int | float) -> str:
    """``size`` bytes as whole mebibytes, for messages."""
    return f"{size / 2 ** 20:.0f} MiB"
