"""The HTTP layer both OpenAI handles share: one POST, retried, bounded, with clear errors.

- One ``requests.Session`` per client, created lazily in the process that uses it (and
  again after a fork), so a handle built before the worker starts never shares sockets.
- Every try has ``(connect, read)`` timeouts; the optional per-call ``timeout`` bounds the
  whole call, retries and their sleeps included (a job deadline, not a socket timeout).
- Retries 408/409/429/5xx and network errors with ``RetryPolicy``'s jittered backoff, or
  as long as the server asked (``retry-after-ms`` / ``Retry-After``, capped by the policy).
- Failures become the ``workers.models.base`` errors: 401/403 → ``ModelAuthError``, 429
  ``insufficient_quota`` → ``ModelQuotaError`` (never retried), a prompt over the model's
  context → ``ContextOverflow`` (a ``ModelContextTooLong`` the handles trim and retry once),
  anything else → ``ModelError`` with the server's message cut and redacted.
"""
from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

import requests

from workers.http.redact import redact, register_secret
from workers.http.retry import RETRYABLE_STATUS, RetryPolicy
from workers.http.urls import insecure_url_problem
from workers.models.base import ModelAuthError, ModelContextTooLong, ModelError, ModelQuotaError
from workers.models.server_errors import (
    ServerError,
    context_fit_ratio,
    is_context_length,
    is_insufficient_quota,
    parse_server_error,
)

if TYPE_CHECKING:  # type-only: importing supervisor.config here would be circular
    from supervisor.config.sections import ModelConfig

RequestObserver = Callable[[str, str, float], None]
"""``(endpoint, code, seconds)`` once per HTTP try; code is the status or "network"/"timeout"."""

MODEL_RETRYABLE_STATUS = RETRYABLE_STATUS | {409} | frozenset(range(500, 600))
MAX_BODY_BYTES = 32 * 1024 * 1024  # a model answer bigger than this is refused, not buffered
_CHUNK_BYTES = 64 * 1024
_USER_AGENT = "xenonflare-runner"


class ContextOverflow(ModelContextTooLong):
    """The prompt does not fit; ``fit_ratio`` is limit/requested tokens when the server said."""

    def __init__(self, reason: str, *, status: int | None, code: str | None, fit_ratio: float | None) -> None:
        super().__init__(reason, status=status, code=code)
        self.fit_ratio = fit_ratio


class _DeadlineExceeded(Exception):
    """Raised internally when the call's overall timeout runs out."""


class ModelHttpClient:
    """POSTs JSON to ``{base_url}/{endpoint}`` of one OpenAI-compatible server."""

    def __init__(self, *, base_url: str, api_key: str | None, connect_timeout: float, read_timeout: float,
                 max_attempts: int, on_request: RequestObserver | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        problem = insecure_url_problem(base_url)
        if problem:
            raise ValueError(f"model base_url: {problem}")
        if max_attempts < 1:
            raise ValueError(f"model max_attempts must be at least 1, got {max_attempts}")
        register_secret(api_key)
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeouts = (connect_timeout, read_timeout)  # seconds
        self._policy = RetryPolicy(max_attempts=max_attempts, retryable_status=MODEL_RETRYABLE_STATUS)
        self._on_request = on_request
        self._sleep = sleep
        self._clock = clock
        self._session: requests.Session | None = None
        self._session_pid = 0

    @classmethod
    def from_config(cls, config: ModelConfig, *, on_request: RequestObserver | None = None,
                    sleep: Callable[[float], None] = time.sleep) -> ModelHttpClient:
        """The client for ``config``'s endpoint, key, timeouts and attempts."""
        return cls(base_url=config.base_url, api_key=config.api_key, connect_timeout=config.connect_timeout,
                   read_timeout=config.read_timeout, max_attempts=config.max_attempts, on_request=on_request,
                   sleep=sleep)

    def post(self, endpoint: str, body: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        """POST ``body`` to ``endpoint`` (e.g. "responses") and return the JSON object answered.

        ``timeout`` (seconds) bounds the whole call including retries; None = only the
        per-try timeouts. Raises ``ModelError`` (or a subclass) when the call fails for good.
        """
        deadline = None if timeout is None else self._clock() + timeout
        payload = json.dumps(body).encode("utf-8")
        failure = "no try made"
        last_status: int | None = None  # of the last try that got an HTTP answer
        for attempt in range(self._policy.max_attempts):
            headers: Mapping[str, str] = {}
            try:
                status, headers, raw = self._try_once(endpoint, payload, deadline)
            except _DeadlineExceeded:
                raise self._timeout_error(endpoint, timeout, failure) from None
            except requests.Timeout as exc:
                failure, last_status = f"timed out ({type(exc).__name__})", None
            except requests.RequestException as exc:
                failure, last_status = f"network error ({type(exc).__name__}: {redact(exc)[:200]})", None
            else:
                if 200 <= status < 300:
                    return self._decode(endpoint, raw)
                error = parse_server_error(status, raw)
                self._raise_unless_retryable(endpoint, error)
                failure, last_status = redact(error.summary()), status
            if attempt + 1 >= self._policy.max_attempts:
                break
            delay = self._policy.delay(attempt, headers)  # seconds
            if deadline is not None and self._clock() + delay >= deadline:
                raise self._timeout_error(endpoint, timeout, failure)
            self._sleep(delay)
        raise ModelError(f"{endpoint}: {failure} (gave up after {self._policy.max_attempts} tries)",
                         status=last_status, code="retries_exhausted")

    def close(self) -> None:
        """Close the pooled connections; the next call opens a fresh session."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def _try_once(self, endpoint: str, payload: bytes,
                  deadline: float | None) -> tuple[int, Mapping[str, str], bytes]:
        remaining = self._remaining(deadline)
        connect, read = self._timeouts
        if remaining is not None:
            connect, read = min(connect, remaining), min(read, remaining)
        started = self._clock()
        code = "network"
        try:
            response = self._get_session().post(
                f"{self._base_url}/{endpoint}", data=payload, headers=self._headers(),
                timeout=(connect, read), stream=True)
            with response:
                code = str(response.status_code)
                raw = self._read_body(response, deadline)
            return response.status_code, response.headers, raw
        except (requests.Timeout, _DeadlineExceeded):
            code = "timeout"
            raise
        finally:
            if self._on_request is not None:
                self._on_request(endpoint, code, self._clock() - started)

    def _read_body(self, response: requests.Response, deadline: float | None) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(_CHUNK_BYTES):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ModelError(f"model answer exceeds {MAX_BODY_BYTES} bytes", status=response.status_code)
            self._remaining(deadline)
        return b"".join(chunks)

    def _remaining(self, deadline: float | None) -> float | None:
        if deadline is None:
            return None
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise _DeadlineExceeded()
        return remaining

    def _raise_unless_retryable(self, endpoint: str, error: ServerError) -> None:
        reason = f"{endpoint}: {redact(error.summary())}"
        code = error.code or error.type
        if error.status in (401, 403):
            raise ModelAuthError(f"{reason} (check the model API key)", status=error.status, code=code)
        if is_insufficient_quota(error):
            raise ModelQuotaError(f"{reason} (quota exhausted; not retried)", status=error.status, code=code)
        if is_context_length(error):
            raise ContextOverflow(reason, status=error.status, code=code, fit_ratio=context_fit_ratio(error))
        if error.status not in self._policy.retryable_status:
            raise ModelError(reason, status=error.status, code=code)

    @staticmethod
    def _decode(endpoint: str, raw: bytes) -> dict[str, Any]:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ModelError(f"{endpoint}: answer is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ModelError(f"{endpoint}: answer is JSON {type(data).__name__}, expected an object")
        return data

    @staticmethod
    def _timeout_error(endpoint: str, timeout: float | None, failure: str) -> ModelError:
        return ModelError(f"{endpoint}: call timeout of {timeout:g}s exceeded (last: {failure})", code="timeout")

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": _USER_AGENT}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _get_session(self) -> requests.Session:
        if self._session is None or self._session_pid != os.getpid():
            self._session = requests.Session()
            self._session_pid = os.getpid()
        return self._session
