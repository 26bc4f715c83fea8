"""Clients for the XenonFlare cloud API.

``JobClient`` speaks the six job routes with a runner key; ``InstanceClient`` speaks the
three instance routes with a Studio ID token. Both raise the ``CloudError`` family.
"""
from __future__ import annotations

from shared.cloud.errors import (
                                  CloudError,
                                  CredentialRejected,
                                  InvalidRequest,
                                  LeaseLost,
                                  MalformedLease,
                                  MalformedResponse,
                                  TransientCloudError,
                                  ValidationRejected,
)
from shared.cloud.instances import CreatedInstance, InstanceClient
from shared.cloud.jobs import CompleteOutcome, FailOutcome, JobClient
from shared.cloud.transport import RequestObserver

__all__ = [
    "CloudError", "CompleteOutcome", "CreatedInstance", "CredentialRejected", "FailOutcome", "InstanceClient",
    "InvalidRequest", "JobClient", "LeaseLost", "MalformedLease", "MalformedResponse", "RequestObserver",
    "TransientCloudError", "ValidationRejected",
]
