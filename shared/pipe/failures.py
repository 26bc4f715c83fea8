"""Why a job failed: the short reason the Studio user sees, and its class for the metrics.

The class travels with the failure from where it is decided (``JobFailure(reason, kind=...)``
in a job step, ``Failure`` in the supervisor's recovery), never read back from the text.
Its values are the ``reason`` labels of ``xenon_runner_job_failures_total``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from shared.enums import StrEnum


class FailureClass(StrEnum):
    """The low-cardinality label of a failure (``xenon_runner_job_failures_total{reason}``)."""

    EMPTY_CONTEXT = "empty_context"
    PLACEHOLDER_MISMATCH = "placeholder_mismatch"
    DEADLINE = "deadline"
    MODEL_ERROR = "model_error"
    CLOUD_REJECTED = "cloud_rejected"
    WORKER_CRASHED = "worker_crashed"
    SHUTDOWN = "shutdown"
    OTHER = "other"


@dataclass(frozen=True)
class Failure:
    """A job's failure: its class and the reason reported to the cloud."""

    kind: FailureClass
    reason: str

    def amended(self, more: str) -> Failure:
        """The same failure with ``; more`` added to its reason."""
        return replace(self, reason=f"{self.reason}; {more}")


class JobFailure(Exception):
    """The job must be failed; ``reason`` is the short text the Studio user sees
    (``empty_context``, ``deliverable_placeholder_mismatch: chart:q3``, …), ``kind`` its class."""

    def __init__(self, reason: str, *, kind: FailureClass = FailureClass.OTHER) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
