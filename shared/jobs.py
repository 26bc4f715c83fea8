"""The one record of a leased job, made by the cloud client and carried across the worker pipe.

It lives apart from both (``shared.cloud.jobs`` makes it, ``shared.pipe.messages`` carries it)
so that neither imports the other.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class LeasedJob:
    """A job this runner holds the lease of: the one record of it from lease to outcome.

    The cloud client makes it; it crosses the pipe whole (``LeaseResult.lease``, ``AssignJob.job``),
    the worker's ``JobRunner`` runs it and the supervisor keeps it (``InFlightJob.lease``) to
    re-run or fail the job if its worker dies. A renewal or a re-run is a new record
    (``dataclasses.replace``): ``lease_expires_at_ms`` and ``attempt`` are those of this copy.
    """

    workspace_id: str
    lease_expires_at_ms: int                 # epoch ms, on this machine's clock
    workspace: dict[str, Any] = field(default_factory=dict)   # the lease answer's workspace record
    attempt: int = 1                         # runs of this lease so far, this one included
