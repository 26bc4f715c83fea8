"""What the supervisor and a worker say to each other over the worker's pipe.

Each worker has its own duplex ``multiprocessing`` pipe: a SIGKILLed worker can only break
its own pipe, never another worker's. Messages are small frozen dataclasses (pickled by
the pipe). Any message from a worker is also a sign of life for the hung-worker watchdog.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.enums import StrEnum
from shared.jobs import LeasedJob

from .failures import Failure, FailureClass


class WorkerExit(enum.IntEnum):
    """A worker process's exit codes (not the runner's: ``supervisor.exitcodes``). The supervisor
    reads them to tell a crash from a planned exit; any other code is a crash (1: an unexpected
    exception escaped the worker; negative: killed by a signal)."""

    STOPPED = 0               # asked to stop (drain, scale down, roll) and did
    CREDENTIAL_REJECTED = 3   # the cloud answered 401/403 to a lease: the key is bad
    BOOT_FAILED = 4           # config or model load failed before READY
    RECYCLE = 5               # planned recycle (max_jobs_per_worker or memory)


class LeaseOutcome(StrEnum):
    """How a permitted lease request went (the ``result`` label of ``xenon_runner_lease_requests_total``
    is the same word, with ``throttled`` and ``rejected`` counted as ``error``)."""

    LEASED = "leased"
    EMPTY = "empty"
    ERROR = "error"
    THROTTLED = "throttled"
    REJECTED = "rejected"


class JobOutcome(StrEnum):
    """How a job this runner held ended (the ``outcome`` label of ``xenon_runner_jobs_total``)."""

    COMPLETED = "completed"
    FAILED = "failed"
    LEASE_LOST = "lease_lost"


# --- worker → supervisor -------------------------------------------------------------

@dataclass(frozen=True)
class Ready:
    """The model handle is loaded; the worker can take jobs, up to ``jobs`` at once (its job lanes:
    ``pool.jobs_per_worker``, or 1 when its model handle cannot run sessions concurrently)."""

    pid: int
    jobs: int = 1


@dataclass(frozen=True)
class Alive:
    """Periodic sign of life from the worker's link thread, sent when nothing else was. It proves
    the process runs, not that its main thread makes progress (see ``Progress``)."""


@dataclass(frozen=True)
class Progress:
    """From a job lane's thread only (``shared.pipe.liveness``): it starts a wait of at most ``within``
    seconds on ``what`` (a cloud call, a model round), or with ``within=0`` it is back. ``lane`` is the
    job lane (0 to jobs - 1; lane 0 runs on the worker's main thread)."""

    within: float
    what: str = ""
    lane: int = 0


@dataclass(frozen=True)
class WantWork:
    """Job lane ``lane`` of the worker is idle and asks for a lease permit (or a recovered job)."""

    lane: int = 0


@dataclass(frozen=True)
class LeaseResult:
    """How the permitted lease request went.

    ``retry_after`` is the server's hint in seconds (429/503). When leased, ``lease`` is the job.
    """

    result: LeaseOutcome
    retry_after: float | None = None
    lease: LeasedJob | None = None
    detail: str = ""
    lane: int = 0   # the job lane that sent the request


@dataclass(frozen=True)
class LeaseRenewed:
    """A heartbeat extended the lease of the job ``workspace_id`` (to ``lease_expires_at_ms``, epoch ms)."""

    workspace_id: str
    lease_expires_at_ms: int


@dataclass(frozen=True)
class JobFinished:
    """The job in hand ended. ``failure`` is the class of a failed job's ``reason``.

    ``model_unavailable`` says the model endpoint refused us (bad API key, no quota):
    every job would fail the same way, so the supervisor pauses leasing for the pool.
    """

    workspace_id: str
    outcome: JobOutcome
    reason: str = ""
    duration: float = 0.0   # seconds, lease to complete/fail
    model_unavailable: bool = False
    failure: FailureClass | None = None
    lane: int = 0   # the job lane that ran it


# Caps of what one log record may show, in characters (capped in the worker, and again by the
# supervisor's formatters: a record is hostile text).
MESSAGE_LIMIT = 8192   # the message
FIELD_LIMIT = 200      # each tag: slot, workspaceId, logger name
TRACE_LIMIT = 16384    # a traceback


# A log record whose ``extra`` carries this attribute (a short text key) is relayed once per pool:
# the supervisor drops later records with a key it already relayed (``supervisor.log_once``).
ONCE_PER_POOL = "once_per_pool"


@dataclass(frozen=True)
class LogRecordMessage:
    """A log record, already formatted and redacted in the worker (``logging.LogRecord.__dict__``)."""

    record: Mapping[str, Any]


@dataclass(frozen=True)
class Fatal:
    """The worker is about to exit with ``exit_code`` for ``reason`` (boot failure, bad key)."""

    reason: str
    exit_code: WorkerExit


# --- supervisor → worker -------------------------------------------------------------

@dataclass(frozen=True)
class LeasePermit:
    """Go ahead: job lane ``lane`` sends one lease request now."""

    lane: int = 0


@dataclass(frozen=True)
class AssignJob:
    """Run this already-leased job (recovered from a worker that died, ``job.attempt`` > 1) instead of leasing."""

    job: LeasedJob
    lane: int = 0   # the job lane that asked for work


@dataclass(frozen=True)
class Stop:
    """Finish the jobs in hand (if any), then exit with ``exit_code`` (STOPPED or RECYCLE)."""

    exit_code: WorkerExit = WorkerExit.STOPPED


@dataclass(frozen=True)
class Abort:
    """Fail the jobs in hand with ``failure`` now and exit (second SIGTERM, graceful timeout)."""

    failure: Failure


WorkerMessage = (Ready | Alive | Progress | WantWork | LeaseResult | LeaseRenewed | JobFinished | LogRecordMessage
                 | Fatal)

# The messages a job lane sends from its own thread, each naming its lane (``Ready``: lane 0):
# what the supervisor's per-lane clock hears (``supervisor.watchdog.MainThreadClock``), and what
# carries a lane's held "back" report (``workers.link``). ``Alive``, log records and renewals
# come from other threads.
LANE_REPORTS = (Ready, Progress, WantWork, LeaseResult, JobFinished)


def lane_of(message: Ready | Progress | WantWork | LeaseResult | JobFinished) -> int:
    """The job lane a lane report speaks for (``Ready`` is lane 0's)."""
    return 0 if isinstance(message, Ready) else message.lane
SupervisorMessage = LeasePermit | AssignJob | Stop | Abort
