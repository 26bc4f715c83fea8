"""The exception a job step raises when the job cannot succeed."""
from __future__ import annotations


class JobFailure(Exception):
    """The job must be failed; ``reason`` is the short text the Studio user sees
    (``empty_context``, ``deliverable_placeholder_mismatch: chart:q3``, …)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
