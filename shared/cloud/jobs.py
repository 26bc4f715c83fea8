"""The job client: the six job routes, called with a runner key (``credentialId.secret``).

A worker creates one ``JobClient`` after it starts (one ``requests.Session`` per
process) and keeps it for its life. The client knows only the job routes; the
instance routes, which take a Studio ID token instead, live in ``InstanceClient``.
"""
from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from typing import Any

from shared.cloud.errors import InvalidRequest, LeaseLost, MalformedLease, MalformedResponse
from shared.cloud.fields import id_problem, json_object, optional_object, require_bool, require_epoch_ms, require_id
from shared.cloud.transport import (
    DEFAULT_CALL_TIMEOUT,
    DEFAULT_MAX_ANSWER_BYTES,
    JsonTransport,
    Reply,
    RequestObserver,
    TransportClient,
)
from shared.config.sections import EMBEDDED, CloudConfig
from shared.http.bounded import BoundedSession
from shared.http.redact import redact_and_cut
from shared.http.retry import RetryPolicy
from shared.jobs import LeasedJob

LEASE = "/leaseWorkspaceJob"
HEARTBEAT = "/heartbeatWorkspaceJob"
CONTEXT = "/getWorkspaceRunnerContext"
SUMMARY = "/updateWorkspaceRunnerSummary"
COMPLETE = "/completeWorkspaceJob"
FAIL = "/failWorkspaceJob"
JOB_ROUTES = frozenset({LEASE, HEARTBEAT, CONTEXT, SUMMARY, COMPLETE, FAIL})

MAX_FAIL_ERROR_CHARS = 500  # the official runner cuts failWorkspaceJob's error to this length
SKEW_TOLERANCE = 5.0  # seconds of clock difference ignored (Date has 1 s resolution, plus latency)

log = logging.getLogger(__name__)


class CompleteOutcome(enum.Enum):
    """How ``completeWorkspaceJob`` ended (see ``JobClient.complete``)."""

    COMPLETED = "completed"
    PROBABLY_COMPLETED_EARLIER = "probably_completed_earlier"


class FailOutcome(enum.Enum):
    """How ``failWorkspaceJob`` ended (see ``JobClient.fail``)."""

    FAILED = "failed"
    PROBABLY_FAILED_EARLIER = "probably_failed_earlier"


class JobClient(TransportClient):
    """Lease, heartbeat, read context, save summaries, complete and fail jobs.

    Every try is bounded (connect and read timeouts, ``call_timeout`` for the whole try,
    ``max_answer_bytes`` for the answer); calls other than ``lease`` are retried on
    408/429/5xx, network errors, passed deadlines and oversized answers under ``retry``.
    ``on_request(route, code, seconds)`` hears of every HTTP try (for
    ``xenon_runner_api_requests_total``). Lease times are returned on this machine's clock
    when the answer's ``Date`` shows the cloud's differs (``SKEW_TOLERANCE``). Errors are the
    typed ``CloudError`` family of ``shared.cloud.errors``.

    Create it inside the worker process (its HTTP session must not cross a fork). The job
    threads and heartbeat threads may call it at the same time: each call is a separate request
    over the session's thread-safe connection pool.
    """

    def __init__(self, *, base_url: str, token: str, connect_timeout: float, read_timeout: float,
                 retry: RetryPolicy, call_timeout: float = DEFAULT_CALL_TIMEOUT,
                 max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES, session: BoundedSession | None = None,
                 on_request: RequestObserver | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(JsonTransport(base_url=base_url, credential=token, credential_name="runner key",
                                       routes=JOB_ROUTES, connect_timeout=connect_timeout,
                                       read_timeout=read_timeout, retry=retry, call_timeout=call_timeout,
                                       max_answer_bytes=max_answer_bytes, session=session,
                                       on_request=on_request, sleep=sleep))
        self._skew_reported = False

    @classmethod
    def from_config(cls, cfg: CloudConfig, *, token: str, on_request: RequestObserver | None = None,
                    base_url: str | None = None) -> JobClient:
        """A client for ``cfg``'s cloud, using ``token`` (the key of this worker's slot).

        ``base_url`` replaces ``cfg.base_url``: the URL of the emulator started for
        ``embedded``, which is not a URL itself.
        """
        url = base_url or cfg.base_url
        if url == EMBEDDED:
            raise ValueError("cloud.base_url is 'embedded': start the emulator first and pass its URL as base_url")
        return cls(base_url=url, token=token, connect_timeout=cfg.connect_timeout,
                   read_timeout=cfg.read_timeout, retry=RetryPolicy(max_attempts=cfg.max_attempts),
                   call_timeout=cfg.call_timeout, max_answer_bytes=cfg.max_answer_bytes, on_request=on_request)

    def lease(self) -> LeasedJob | None:
        """Lease the next job for this key, or None when the queue is empty.

        Tried once, never retried: the pool-wide lease gate paces leasing, so 429/503 and
        network errors raise ``TransientCloudError`` at once (with ``retry_after`` when the
        server sent ``Retry-After``) for the gate to slow the whole pool.
        """
        reply = self._transport.post(LEASE, {}, max_attempts=1)
        body = json_object(reply)
        if not require_bool(reply, body, "leased"):
            return None
        workspace_id = None
        try:
            workspace_id = require_id(reply, body, "workspaceId")
            expires_at_ms = require_epoch_ms(reply, body, "leaseExpiresAt")
            return LeasedJob(workspace_id=workspace_id,
                             lease_expires_at_ms=self._on_our_clock(reply, expires_at_ms),
                             workspace=optional_object(reply, body, "workspace"))
        except MalformedResponse as bad:
            raise MalformedLease(bad.args[0], workspace_id=workspace_id, route=LEASE, status=reply.status) from None

    def heartbeat(self, workspace_id: str) -> int:
        """Extend the lease; return its new expiry in epoch ms. ``LeaseLost`` on 409."""
        reply = self._transport.post(HEARTBEAT, {"workspaceId": _workspace_id(HEARTBEAT, workspace_id)})
        return self._on_our_clock(reply, require_epoch_ms(reply, json_object(reply), "leaseExpiresAt"))

    def _on_our_clock(self, reply: Reply, expires_at_ms: int) -> int:
        """``leaseExpiresAt`` moved onto this machine's clock when the answer's ``Date`` shows the
        two clocks differ by more than ``SKEW_TOLERANCE``: every lease time the runner keeps
        (renewals, re-runs) is then local, so skew makes renewals neither early nor late."""
        offset = reply.clock_offset
        if offset is None or abs(offset) <= SKEW_TOLERANCE:
            return expires_at_ms
        if not self._skew_reported:
            self._skew_reported = True
            log.warning("the cloud's clock is %.0fs %s this machine's; lease times are taken on this machine's clock",
                        abs(offset), "ahead of" if offset > 0 else "behind")
        return expires_at_ms - round(offset * 1000)

    def get_context(self, workspace_id: str) -> dict[str, Any]:
        """The job's context JSON object (checked field by field by ``workers.context``)."""
        reply = self._transport.post(CONTEXT, {"workspaceId": _workspace_id(CONTEXT, workspace_id)})
        return json_object(reply)

    def update_summary(self, *, workspace_id: str, summary_text: str, from_message_id: str,
                       through_message_id: str) -> None:
        """Persist a summary of the prior messages ``from_message_id``..``through_message_id``."""
        for name, value in (("summary_text", summary_text), ("from_message_id", from_message_id),
                            ("through_message_id", through_message_id)):
            if not isinstance(value, str):
                raise ValueError(f"{name} must be a string, got {type(value).__name__}")
        self._transport.post(SUMMARY, {"workspaceId": _workspace_id(SUMMARY, workspace_id),
                                       "summaryText": summary_text, "fromMessageId": from_message_id,
                                       "throughMessageId": through_message_id})

    def complete(self, payload: dict[str, Any]) -> CompleteOutcome:
        """Deliver the job's result (``payload`` is the §4 body, ``workspaceId`` included).

        Completing is not idempotent, yet a lost answer must not lose the job, so a 5xx or
        network failure is retried. A successful complete releases the lease, so a retry
        of a try that did land is answered 409. Hence:

        - 2xx → ``COMPLETED``;
        - 409 after an earlier try that may have reached the server (5xx, timeout,
          dropped connection) → ``PROBABLY_COMPLETED_EARLIER``: count the job as done,
          do not fail it; the rare other cause (the lease expired between the tries)
          cannot be told apart from the client;
        - 409 on the first try, or after tries that provably never ran (408, 429,
          connect timeout) → ``LeaseLost``;
        - 400 → ``ValidationRejected`` (never retried; ``.detail`` says what is wrong).
        """
        if not isinstance(payload, dict):
            raise ValueError(f"the completion payload must be a dict, got {type(payload).__name__}")
        _workspace_id(COMPLETE, payload.get("workspaceId"))
        try:
            self._transport.post(COMPLETE, payload)
        except LeaseLost as lost:
            if lost.earlier_try_may_have_landed:
                return CompleteOutcome.PROBABLY_COMPLETED_EARLIER
            raise
        return CompleteOutcome.COMPLETED

    def fail(self, workspace_id: str, error: str) -> FailOutcome:
        """Fail the job with a short reason (redacted, then cut to 500 characters).

        Retried like ``complete``, with the same rule: a 409 after an earlier try that may
        have landed → ``PROBABLY_FAILED_EARLIER``; a 409 otherwise → ``LeaseLost``. An
        unusable ``workspace_id`` raises ``InvalidRequest`` (a ``CloudError``), never anything
        a caller handling cloud errors would not expect.
        """
        reason = redact_and_cut(error, MAX_FAIL_ERROR_CHARS)
        try:
            self._transport.post(FAIL, {"workspaceId": _workspace_id(FAIL, workspace_id), "error": reason})
        except LeaseLost as lost:
            if lost.earlier_try_may_have_landed:
                return FailOutcome.PROBABLY_FAILED_EARLIER
            raise
        return FailOutcome.FAILED


def _workspace_id(route: str, value: object) -> str:
    """``value`` checked to be a usable workspace id (the rule of ``fields.id_problem``)."""
    problem = "is not a string" if not isinstance(value, str) else id_problem(value)
    if problem:
        raise InvalidRequest(f"POST {route}: not sent: the workspaceId {problem}", route=route)
    return value  # type: ignore[return-value]
