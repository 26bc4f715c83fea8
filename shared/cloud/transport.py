"""POST JSON to the XenonFlare cloud with one credential, bounded tries, retries and an observer.

One ``JsonTransport`` belongs to one client (a ``TransportClient``) and knows the only
routes that client may call, so a credential cannot be sent to a route meant for the other
credential. Every HTTP try goes through ``shared.http.bounded.BoundedSession``: connect
and read timeouts, a wall-clock ``call_timeout`` for the whole try (connect, headers and
body: a server that trickles one byte a second cannot hold a worker) and a
``max_answer_bytes`` cap on the answer body. Each try is reported to
``on_request(route, code, seconds)`` (code = the status as a string, ``"network"``,
``"timeout"`` or ``"too_large"``) and, when it fails with 408/429/5xx, a network error, a
passed deadline or an answer over the cap, is retried under the shared ``RetryPolicy``
(jittered backoff, ``Retry-After`` honoured). Waiting goes through an injectable ``sleep``
so tests never sleep for real. A whole call (tries and waits) declares its worst-case
length to ``shared.pipe.liveness`` so the supervisor can tell a slow call from a stuck thread.
"""
from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from requests.auth import AuthBase

from shared.cloud.errors import CloudError, TransientCloudError, describe_status, error_for_status, quote_server_text
from shared.http.bounded import AnswerTooLarge, BoundedSession, ExchangeLimitExceeded, ExchangeLimits
from shared.http.redact import register_secret
from shared.http.retry import RetryPolicy, http_date_epoch, retry_after_seconds
from shared.http.urls import insecure_url_problem
from shared.pipe import liveness

logger = logging.getLogger(__name__)

RequestObserver = Callable[[str, str, float], None]
"""``on_request(route, code, seconds)``: one call per HTTP try; seconds of wall time."""

USER_AGENT = "xenonflare-runner"
DEFAULT_CALL_TIMEOUT = 60.0  # seconds for one try: connect, send, headers and the whole answer
DEFAULT_MAX_ANSWER_BYTES = 8 * 2 ** 20  # bytes of one answer body (decoded)
MAX_CLOCK_OFFSET = 86_400.0  # seconds: a Date header further from our clock than this is ignored
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, kw_only=True)
class Reply:
    """A 2xx answer: the route called, the status, the raw body bytes and, from the answer's
    ``Date`` header, how many seconds the server's clock is ahead of ours (None: no usable
    header, or one more than ``MAX_CLOCK_OFFSET`` away, which is a broken clock, not skew)."""

    route: str
    status: int
    content: bytes
    clock_offset: float | None = None


@dataclass(frozen=True, kw_only=True)
class _FailedTry:
    """Why one try did not succeed, kept to decide on a retry and to build the final error."""

    description: str
    status: int | None
    content: bytes
    retry_after: float | None  # seconds the server asked us to wait, capped by the policy
    may_have_landed: bool  # whether the server's handler may have run the request


class JsonTransport:
    """Sends ``POST <base_url><route>`` with a JSON body and ``Authorization: Bearer <credential>``."""

    def __init__(self, *, base_url: str, credential: str, credential_name: str, routes: frozenset[str],
                 connect_timeout: float, read_timeout: float, retry: RetryPolicy,
                 call_timeout: float = DEFAULT_CALL_TIMEOUT, max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
                 session: BoundedSession | None = None, on_request: RequestObserver | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        problem = insecure_url_problem(base_url)
        if problem:
            raise ValueError(f"cloud base URL refused: {problem}")
        check_credential(credential, name=credential_name)
        if retry.max_attempts < 1:
            raise ValueError(f"retry.max_attempts must be at least 1, got {retry.max_attempts}")
        # ExchangeLimits refuses non-positive times and sizes, naming the field.
        self._limits = ExchangeLimits(connect_timeout=connect_timeout, read_timeout=read_timeout,
                                      deadline=call_timeout, max_bytes=max_answer_bytes)
        register_secret(credential)
        self._base_url = base_url.rstrip("/")
        self._routes = routes
        self._retry = retry
        self._session = session if session is not None else BoundedSession()
        self._on_request = on_request
        self._sleep = sleep
        self._auth = BearerAuth(credential)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT}

    @property
    def base_url(self) -> str:
        return self._base_url

    def post(self, route: str, body: dict[str, Any], *, max_attempts: int | None = None) -> Reply:
        """POST ``body`` to ``route``; return the 2xx reply or raise a ``CloudError``.

        ``max_attempts`` (default: the policy's) limits the tries of this call; 1 means
        no retry, for calls whose pacing or idempotency the caller manages.
        """
        if route not in self._routes:
            raise ValueError(f"{route} is not a route of this client (its routes: {', '.join(sorted(self._routes))})")
        data = encode_body(route, body)
        tries = max_attempts if max_attempts is not None else self._retry.max_attempts
        with liveness.bounded_wait(self.worst_case_seconds(tries), what=f"POST {route}"):
            return self._post(route, data, tries)

    def worst_case_seconds(self, tries: int) -> float:
        """The longest a call of ``tries`` tries can take: every try to its deadline, every wait
        between tries as long as the policy allows (a server hint or the backoff cap)."""
        longest_wait = max(self._retry.retry_after_cap, self._retry.max_delay)
        return tries * self._limits.deadline + (tries - 1) * longest_wait

    def _post(self, route: str, data: bytes, tries: int) -> Reply:
        landed_before = False
        for attempt in range(tries):
            outcome = self._try_once(route, data, attempt=attempt, landed_before=landed_before)
            if isinstance(outcome, Reply):
                return outcome
            if attempt + 1 >= tries:
                raise self._final_error(route, outcome, attempts=attempt + 1, landed_before=landed_before)
            delay = outcome.retry_after if outcome.retry_after is not None else self._retry.backoff(attempt)
            logger.warning("POST %s: %s (try %d of %d); retrying in %.2f s",
                           route, outcome.description, attempt + 1, tries, delay)
            landed_before = landed_before or outcome.may_have_landed
            self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def close(self) -> None:
        """Close the HTTP session and its pooled connections."""
        self._session.close()

    def _try_once(self, route: str, data: bytes, *, attempt: int, landed_before: bool) -> Reply | _FailedTry:
        """One HTTP try: a ``Reply`` on 2xx, a ``_FailedTry`` when a retry may help, else raise."""
        started = time.monotonic()
        try:
            response = self._session.request("POST", self._base_url + route, data=data, headers=self._headers,
                                          auth=self._auth, limits=self._limits)
        except requests.RequestException as exc:
            code = ("timeout" if isinstance(exc, requests.Timeout)
                    else "too_large" if isinstance(exc, AnswerTooLarge) else "network")
            self._observe(route, code, time.monotonic() - started)
            if not is_network_failure(exc):
                raise CloudError(f"POST {route}: request failed: {describe_exception(exc)}", route=route,
                                 attempts=attempt + 1, earlier_try_may_have_landed=landed_before) from None
            return _FailedTry(description=f"{code} error: {describe_exception(exc)}", status=None, content=b"",
                              retry_after=None, may_have_landed=not isinstance(exc, requests.ConnectTimeout))
        status = response.status
        self._observe(route, str(status), time.monotonic() - started)
        if 200 <= status < 300:
            return Reply(route=route, status=status, content=response.content,
                         clock_offset=clock_offset(response.headers.get("Date"), received_at=time.time()))
        hinted = retry_after_seconds(response.headers)
        retry_after = None if hinted is None else min(hinted, self._retry.retry_after_cap)
        if not self._retry.should_retry_status(status):
            raise error_for_status(route=route, status=status, content=response.content, retry_after=retry_after,
                                   attempts=attempt + 1, earlier_try_may_have_landed=landed_before)
        return _FailedTry(description=describe_status(status, response.content), status=status,
                          content=response.content, retry_after=retry_after,
                          may_have_landed=status not in (408, 429))

    def _final_error(self, route: str, failed: _FailedTry, *, attempts: int, landed_before: bool) -> CloudError:
        """The error for the last try of a call whose tries all failed transiently."""
        if failed.status is not None:
            return error_for_status(route=route, status=failed.status, content=failed.content,
                                    retry_after=failed.retry_after, attempts=attempts,
                                    earlier_try_may_have_landed=landed_before)
        suffix = f" (after {attempts} tries)" if attempts > 1 else ""
        return TransientCloudError(f"POST {route}: {failed.description}{suffix}", route=route, attempts=attempts,
                                   earlier_try_may_have_landed=landed_before)

    def _observe(self, route: str, code: str, seconds: float) -> None:
        """Report one try; a failing observer (metrics) must never change a call's outcome."""
        if self._on_request is None:
            return
        try:
            self._on_request(route, code, seconds)
        except Exception:  # the observer is foreign code; log and go on
            logger.warning("request observer failed for POST %s", route, exc_info=True)


ClientT = TypeVar("ClientT", bound="TransportClient")


class TransportClient:
    """Base of ``JobClient`` and ``InstanceClient``: owns one ``JsonTransport``; ``close()``, or
    leaving a ``with`` block, closes its HTTP session."""

    def __init__(self, transport: JsonTransport) -> None:
        self._transport = transport

    def close(self) -> None:
        """Close the HTTP session."""
        self._transport.close()

    def __enter__(self: ClientT) -> ClientT:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class BearerAuth(AuthBase):
    """Sets ``Authorization: Bearer <credential>``.

    Passed as ``auth=`` rather than as a plain header: with no ``auth``, requests reads
    ``~/.netrc`` and would replace our header with a Basic one for a listed host.
    """

    def __init__(self, credential: str) -> None:
        self._credential = credential

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._credential}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


def check_credential(credential: str, *, name: str) -> None:
    """Refuse a credential that cannot travel in a header; the message never shows the value."""
    if not isinstance(credential, str) or not credential.strip():
        raise ValueError(f"{name} is missing or empty")
    if any(char.isspace() or not char.isprintable() for char in credential):
        raise ValueError(f"{name} contains whitespace or control characters (copy-paste damage?)")


def clock_offset(date_header: str | None, *, received_at: float) -> float | None:
    """Seconds the server's clock (its ``Date`` header, 1 s resolution) is ahead of ours at
    ``received_at`` (epoch seconds); None when absent, unparseable or implausibly far."""
    sent = http_date_epoch(date_header)
    if sent is None:
        return None
    offset = sent - received_at
    return offset if abs(offset) <= MAX_CLOCK_OFFSET else None


def encode_body(route: str, body: dict[str, Any]) -> bytes:
    """``body`` as UTF-8 JSON. Lone surrogates (text that is not valid Unicode, e.g. cut out of
    a model's answer mid-pair) cannot be encoded: each is sent as U+FFFD instead of failing
    the call. Data that is not JSON at all is a bug of the caller: ``ValueError``."""
    try:
        text = json.dumps(body, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"POST {route}: the request body is not JSON-serialisable: {exc}") from None
    return _SURROGATE.sub("\ufffd", text).encode("utf-8")


def is_network_failure(exc: requests.RequestException) -> bool:
    """True for failures a retry may cure: refused or dropped connections, timeouts, a passed
    deadline and an answer over the size cap (a proxy's error page, a passing server fault).

    TLS errors are ConnectionErrors to requests but do not heal by retrying (a bad
    certificate stays bad), so they are not counted here.
    """
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    return isinstance(exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                            ExchangeLimitExceeded))


def describe_exception(exc: BaseException) -> str:
    """``ExceptionType: cause``, redacted and cut short for error texts and logs.

    requests wraps urllib3's errors; when one carries a ``reason`` (the refused or
    failed connection) that reason is shown instead of urllib3's misleading "Max
    retries exceeded" (it is told not to retry; we do).
    """
    wrapped = exc.args[0] if exc.args else None
    cause = getattr(wrapped, "reason", None) or wrapped or exc
    return quote_server_text(f"{type(exc).__name__}: {cause}")
