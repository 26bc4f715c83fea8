"""Whether, how and with which exit code the runner stops: the one place that decides.

A stop is a drain (stop leasing; in-flight jobs have ``graceful_timeout`` seconds to finish)
which an abort cuts short (fail the jobs now; workers still alive ``kill_timeout`` seconds
later are killed). A drain starts on SIGTERM, pool.max_runtime or pool.max_empty_polls; an
abort on a second SIGTERM, SIGINT/SIGQUIT, the end of the graceful timeout, a rejected
runner key (exit 3) or workers that cannot boot (exit 2). The run ends once a drain is over
(no worker left, no cloud call under way), or at once when the runner cannot start or its
loop fails. Each abort sets the exit code (the latest one wins); the graceful timeout keeps it.
``PoolManager`` carries the decisions out on the workers.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from shared.config.sections import PoolConfig
from shared.enums import StrEnum
from shared.pipe.failures import Failure, FailureClass
from shared.pipe.messages import WorkerExit

from .exitcodes import EXIT_CONFIG, EXIT_CREDENTIAL_REJECTED, EXIT_OK

log = logging.getLogger("xenon.supervisor")


class StopReason(StrEnum):
    """Why the pool stops (``stop_reason`` in /status; the first reason is kept)."""

    SIGTERM = "SIGTERM"
    MAX_RUNTIME = "max runtime reached"
    QUEUE_EMPTY = "queue empty"
    SHUTTING_DOWN = "runner shutting down"
    KEY_REJECTED = "runner stopping: the cloud rejected its runner key"
    CANNOT_BOOT = "runner stopping: workers cannot boot"

    @property
    def failure(self) -> Failure:
        """How the jobs this stop fails are reported: a shutdown, or (a fatal stop) another failure."""
        kind = FailureClass.SHUTDOWN if self is StopReason.SHUTTING_DOWN else FailureClass.OTHER
        return Failure(kind, self.value)


# The worker exits that stop the whole pool, with the runner's own exit code for each (the one
# place worker exit codes map to the process's): a rejected key, and workers that never got READY.
FATAL_WORKER_EXITS: dict[WorkerExit, tuple[StopReason, int]] = {
    WorkerExit.CREDENTIAL_REJECTED: (StopReason.KEY_REJECTED, EXIT_CREDENTIAL_REJECTED),
    WorkerExit.BOOT_FAILED: (StopReason.CANNOT_BOOT, EXIT_CONFIG),
}


class Shutdown:
    """The stop decision and the one exit code of the run (see the module docstring)."""

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.reason: StopReason | None = None      # set when the drain starts
        self.exit_code = EXIT_OK
        self.ended = False                         # the loop is over
        self._drain_deadline: float | None = None  # clock seconds
        self._abort_deadline: float | None = None  # clock seconds: kill what still runs

    @property
    def draining(self) -> bool:
        return self.reason is not None

    @property
    def aborting(self) -> bool:
        return self._abort_deadline is not None

    def drain(self, reason: StopReason, *, graceful_timeout: float) -> bool:
        """Start draining for ``reason`` (seconds to finish); False if already draining."""
        if self.draining:
            return False
        self.reason = reason
        self._drain_deadline = self._clock() + graceful_timeout
        return True

    def abort(self, *, exit_code: int | None, kill_timeout: float) -> bool:
        """Fail the jobs now, exit with ``exit_code`` (None: keep the current one); False if aborting already."""
        if exit_code is not None:
            self.exit_code = exit_code
        if self.aborting:
            return False
        self._abort_deadline = self._clock() + kill_timeout
        return True

    def end(self, exit_code: int) -> None:
        """Stop the loop now with ``exit_code`` (the runner cannot start, or its loop failed)."""
        self.exit_code, self.ended = exit_code, True

    def graceful_timeout_over(self) -> bool:
        """The drain's time is up and no abort is under way yet: the jobs left must be failed."""
        return self._drain_deadline is not None and self._clock() >= self._drain_deadline and not self.aborting

    def kill_due(self) -> bool:
        """The abort's kill timeout is over: whatever still runs gets killed."""
        return self._abort_deadline is not None and self._clock() >= self._abort_deadline

    def limit_reached(self, *, started: float, limits: PoolConfig, empty_polls: int) -> StopReason | None:
        """pool.max_runtime (seconds since ``started``) or pool.max_empty_polls reached while not draining."""
        if self.draining:
            return None
        if limits.max_runtime and self._clock() - started >= limits.max_runtime:
            log.info("ran for pool.max_runtime (%gs, RUNNER_JOB_MAX_RUNTIME_MS): draining", limits.max_runtime)
            return StopReason.MAX_RUNTIME
        if limits.max_empty_polls and empty_polls >= limits.max_empty_polls:
            log.info("%d empty lease answers in a row (pool.max_empty_polls, RUNNER_JOB_MAX_EMPTY_POLLS): "
                     "draining", empty_polls)
            return StopReason.QUEUE_EMPTY
        return None

    def settle(self, *, pool_empty: bool) -> bool:
        """End the run if a drain is under way and the pool is empty (no worker, no cloud call); True if ended."""
        if self.draining and pool_empty:
            self.ended = True
        return self.ended
