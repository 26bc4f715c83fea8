"""What the supervisor and a worker say to each other over the worker's pipe.

Each worker has its own duplex ``multiprocessing`` pipe: a SIGKILLed worker can only break
its own pipe, never another worker's. Messages are small frozen dataclasses (pickled by
the pipe). Any message from a worker is also a sign of life for the hung-worker watchdog.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Union

from .failures import Failure, FailureClass


class WorkerExit(enum.IntEnum):
    """A worker process's exit codes (not the runner's: ``supervisor.exitcodes``). The supervisor
    reads them to tell a crash from a planned exit; any other code is a crash (1: an unexpected
    exception escaped the worker; negative: killed by a signal)."""

    STOPPED = 0               # asked to stop (drain, scale down, roll) and did
    CREDENTIAL_REJECTED = 3   # the cloud answered 401/403 to a lease: the key is bad
    BOOT_FAILED = 4           # config or model load failed before READY
    RECYCLE = 5               # planned recycle (max_jobs_per_worker or memory)


class LeaseOutcome(enum.StrEnum):
    """How a permitted lease request went (the ``result`` label of ``xenon_runner_lease_requests_total``
    is the same word, with ``throttled`` and ``rejected`` counted as ``error``)."""

    LEASED = "leased"
    EMPTY = "empty"
    ERROR = "error"
    THROTTLED = "throttled"
    REJECTED = "rejected"


class JobOutcome(enum.StrEnum):
    """How a job this runner held ended (the ``outcome`` label of ``xenon_runner_jobs_total``)."""

    COMPLETED = "completed"
    FAILED = "failed"
    LEASE_LOST = "lease_lost"


# --- worker → supervisor -------------------------------------------------------------

@dataclass(frozen=True)
class Ready:
    """The model handle is loaded; the worker can take jobs."""

    pid: int


@dataclass(frozen=True)
class Alive:
    """Periodic sign of life from the worker's link thread, sent when nothing else was. It proves
    the process runs, not that its main thread makes progress (see ``Progress``)."""


@dataclass(frozen=True)
class Progress:
    """From the main thread only (``workers.liveness``): it starts a wait of at most ``within``
    seconds on ``what`` (a cloud call, a model round), or with ``within=0`` it is back."""

    within: float
    what: str = ""


@dataclass(frozen=True)
class WantWork:
    """The worker is idle and asks for a lease permit (or a recovered job)."""


@dataclass(frozen=True)
class LeaseResult:
    """How the permitted lease request went.

    ``retry_after`` is the server's hint in seconds (429/503). When leased, the job fields are set.
    """

    result: LeaseOutcome
    retry_after: Optional[float] = None
    workspace_id: Optional[str] = None
    lease_expires_at_ms: Optional[int] = None
    workspace: Mapping[str, Any] = field(default_factory=dict)
    detail: str = ""


@dataclass(frozen=True)
class LeaseRenewed:
    """A heartbeat extended the lease of the job in hand."""

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
    failure: Optional[FailureClass] = None


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
    """Go ahead: send one lease request now."""


@dataclass(frozen=True)
class AssignJob:
    """Run this already-leased job (recovered from a worker that died) instead of leasing."""

    workspace_id: str
    lease_expires_at_ms: int
    attempt: int
    workspace: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stop:
    """Finish the job in hand (if any), then exit with ``exit_code`` (STOPPED or RECYCLE)."""

    exit_code: WorkerExit = WorkerExit.STOPPED


@dataclass(frozen=True)
class Abort:
    """Fail the job in hand with ``failure`` now and exit (second SIGTERM, graceful timeout)."""

    failure: Failure


WorkerMessage = Union[Ready, Alive, Progress, WantWork, LeaseResult, LeaseRenewed, JobFinished, LogRecordMessage,
                      Fatal]
SupervisorMessage = Union[LeasePermit, AssignJob, Stop, Abort]
