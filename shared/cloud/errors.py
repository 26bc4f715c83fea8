"""Typed errors of the cloud clients, so callers branch on meaning instead of status codes.

Every message is one short line that starts with the route (``POST /heartbeatWorkspaceJob:
HTTP 409 …``), quotes at most ``MAX_QUOTED_CHARS`` of what the server said and passes
through ``shared.http.redact`` both when built and when printed, so a runner key or ID
token never reaches a log line or a traceback. Errors survive pickling (workers send them
to the supervisor).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shared.http.redact import redact, redact_and_cut

MAX_QUOTED_CHARS = 300  # characters of server text (error, detail, body) quoted in a message


def quote_server_text(value: object, *, limit: int = MAX_QUOTED_CHARS) -> str:
    """``value`` (text or JSON data) as one redacted line of at most ``limit`` characters.

    Redaction happens before truncation: cutting first could leave half a secret that no
    longer matches the registry.
    """
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        except (TypeError, ValueError):
            text = repr(value)
    return redact_and_cut(" ".join(text.split()), limit)


def redact_json(value: Any) -> Any:
    """A copy of JSON data with every string redacted (server details may echo our input)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    if isinstance(value, dict):
        return {redact(str(key)): redact_json(item) for key, item in value.items()}
    return value


class CloudError(Exception):
    """A cloud call failed. Base of every error the cloud clients raise.

    ``route`` is the path called (``/leaseWorkspaceJob``), ``status`` the HTTP status or
    None when no answer arrived, ``attempts`` how many tries were made, and
    ``earlier_try_may_have_landed`` whether a previous try of the same call may have
    reached the server's handler (it ended in a 5xx, a timeout or a dropped connection).
    """

    def __init__(self, message: str, *, route: str, status: int | None = None, attempts: int = 1,
                 earlier_try_may_have_landed: bool = False) -> None:
        super().__init__(redact(message))
        self.route = route
        self.status = status
        self.attempts = attempts
        self.earlier_try_may_have_landed = earlier_try_may_have_landed

    def __str__(self) -> str:
        # Redact again: a secret registered after this error was built is masked too.
        return redact(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(cls: type[CloudError], args: tuple[Any, ...], state: dict[str, Any]) -> CloudError:
    """Unpickle a CloudError without calling its keyword-only constructor."""
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class LeaseLost(CloudError):
    """409: this runner holds no active lease on the workspace; stop working on the job."""


class ValidationRejected(CloudError):
    """400: the server refused the request body; ``detail`` is the server's detail (redacted)."""

    def __init__(self, message: str, *, detail: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.detail = redact_json(detail)


class CredentialRejected(CloudError):
    """401/403: the credential is unknown, revoked, or lacks the right (e.g. global kind)."""


class TransientCloudError(CloudError):
    """5xx, 408, 429 or a network failure, after retries ran out or when retrying is not allowed.

    ``retry_after`` is the wait in seconds the server asked for (``Retry-After``), else None.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class MalformedResponse(CloudError):
    """A 2xx answer we cannot use: not JSON, not an object, or a field missing, wrong-typed or
    out of its range."""


class MalformedLease(MalformedResponse):
    """A lease answer we cannot use. ``workspace_id`` is the leased job's id when that field was
    valid (so the job can be failed with the reason at once), else None."""

    def __init__(self, message: str, *, workspace_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.workspace_id = workspace_id


class InvalidRequest(CloudError):
    """The call was not sent: one of its arguments is unusable (an empty or control-character
    workspace id). Typed like every other cloud error so no caller crashes on it."""


def is_transient_status(status: int) -> bool:
    """Statuses that describe a passing condition of the server, not a problem with our call."""
    return status >= 500 or status in (408, 429)


def error_for_status(*, route: str, status: int, content: bytes, retry_after: float | None,
                     attempts: int, earlier_try_may_have_landed: bool) -> CloudError:
    """The typed error for a non-2xx answer whose body is ``content``.

    Bodies are expected as ``{"error": str, "detail"?: any}``; anything else is quoted
    as text, truncated.
    """
    error_text, detail = _error_and_detail(content)
    message = f"POST {route}: {_describe(status, error_text, detail)}"
    if attempts > 1:
        message += f" (after {attempts} tries)"
    common: Mapping[str, Any] = {"route": route, "status": status, "attempts": attempts,
                                 "earlier_try_may_have_landed": earlier_try_may_have_landed}
    if status == 400:
        return ValidationRejected(message, detail=detail, **common)
    if status in (401, 403):
        return CredentialRejected(message, **common)
    if status == 409:
        return LeaseLost(message, **common)
    if is_transient_status(status):
        return TransientCloudError(message, retry_after=retry_after, **common)
    return CloudError(message, **common)


def describe_status(status: int, content: bytes) -> str:
    """``HTTP <status> <server's error> | detail: <detail>``, redacted and cut short."""
    return _describe(status, *_error_and_detail(content))


def _describe(status: int, error_text: str, detail: Any) -> str:
    text = f"HTTP {status}"
    if error_text:
        text += f" {quote_server_text(error_text)}"
    if detail is not None:
        text += f" | detail: {quote_server_text(detail)}"
    return text


def _error_and_detail(content: bytes) -> tuple[str, Any]:
    """The server's ``error`` text and ``detail`` from an error body, or the body as text."""
    try:
        body = json.loads(content) if content.strip() else None
    except ValueError:
        return content.decode("utf-8", errors="replace"), None
    if isinstance(body, dict):
        error = body.get("error")
        error_text = error if isinstance(error, str) else ("" if error is None else quote_server_text(error))
        return error_text, body.get("detail")
    if body is None:
        return "", None
    return quote_server_text(body), None
