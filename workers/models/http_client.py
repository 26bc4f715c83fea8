"""The HTTP layer both OpenAI handles share: one POST, retried, bounded, with clear errors.

- Every try goes through a ``BoundedSession``: ``connect_timeout`` to connect,
  ``read_timeout`` of silence, and ``call_timeout`` for the whole try (connect, send and the
  whole answer; a server trickling bytes cannot hold a worker longer), the answer capped at
  ``max_answer_bytes`` (``ModelAnswerTooLarge``, never retried).
- The optional per-call ``timeout`` (the job's remaining time) bounds the whole call,
  retries and their sleeps included; running out of it raises ``ModelDeadlineExceeded``,
  which the job reports as a deadline, not as a model error.
- A try that ran out of time (``call_timeout`` or ``read_timeout``) is not retried: a
  one-at-a-time local server is still computing the abandoned answer, and a retry would
  only queue behind it. Connect failures, dropped connections and 408/409/429/5xx are
  retried with ``RetryPolicy``'s jittered backoff, or as long as the server asked
  (``retry-after-ms`` / ``Retry-After``, capped by the policy); each retry is logged with
  its reason.
- Failures become the ``workers.models.base`` errors: 404 on the API path, or a network
  error or 5xx on every try → ``ModelEndpointDown``; 401/403 → ``ModelAuthError``, 429
  ``insufficient_quota`` → ``ModelQuotaError`` (never retried), a prompt over the model's
  context → ``ContextOverflow`` (a ``ModelContextTooLong`` the handles trim and retry once),
  anything else → ``ModelError`` with the server's message cut and redacted. Network errors
  are named by kind ("connection refused"), never with the model host's address. A 500
  that reads as the server choking on our request (a program error about its input) is
  tried twice, not ``max_attempts`` times: the same answer twice ends the call.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import requests

from shared.config.sections import ModelConfig
from shared.http.bounded import AnswerTooLarge, BoundedSession, DeadlineExceeded, ExchangeLimits, StreamedAnswer
from shared.http.redact import redact, register_secret
from shared.http.retry import RETRYABLE_STATUS, RetryPolicy
from shared.http.urls import insecure_url_problem
from workers.models.base import (
    ModelAnswerTooLarge,
    ModelAuthError,
    ModelContextTooLong,
    ModelDeadlineExceeded,
    ModelEndpointDown,
    ModelError,
    ModelQuotaError,
)
from workers.models.network_errors import is_timeout, network_failure
from workers.models.server_errors import (
    ServerError,
    context_fit_ratio,
    context_limit,
    is_context_length,
    is_insufficient_quota,
    is_request_shape_failure,
    parse_server_error,
)

RequestObserver = Callable[[str, str, float], None]
"""``(endpoint, code, seconds)`` once per HTTP try; code is the status or "network"/"timeout"."""

MODEL_RETRYABLE_STATUS = RETRYABLE_STATUS | {409} | frozenset(range(500, 600))
DEFAULT_MAX_ANSWER_BYTES = 32 * 1024 * 1024  # the default of model.max_answer_bytes
_USER_AGENT = "xenonflare-runner"
PROBE_TIMEOUT = 10.0  # seconds of silence allowed to a quick question (window, tokenizer, health)
PROBE_MAX_BYTES = 1024 * 1024  # largest answer to a quick question
PROBE_DEADLINE = 30.0  # seconds for a whole quick question: connect, send and the whole answer
PROBE_DETAIL_BYTES = 4096  # of a probe's answer read for its error detail
PROBE_HEADER = "X-Xenon-Probe"  # marks the start-up probe, so a test server can tell it from real calls

log = logging.getLogger("xenon.worker.model")
T = TypeVar("T")   # what an exchange's consumer makes of the answer


class ContextOverflow(ModelContextTooLong):
    """The prompt does not fit; ``fit_ratio`` is limit/requested tokens when the server said."""

    def __init__(self, reason: str, *, status: int | None, code: str | None, fit_ratio: float | None,
                 limit: int | None = None) -> None:
        super().__init__(reason, status=status, code=code)
        self.fit_ratio = fit_ratio
        self.limit = limit  # the model's context window in tokens, when the error named it


@dataclass(frozen=True, kw_only=True)
class _Failure:
    """Why one try failed, and whether another try may help."""

    reason: str
    retry: bool
    status: int | None = None
    code: str = "retries_exhausted"
    shape: bool = False  # a 5xx that reads as the server choking on what we sent


class ModelHttpClient:
    """POSTs JSON to ``{base_url}/{endpoint}`` of one OpenAI-compatible server."""

    def __init__(self, *, base_url: str, api_key: str | None, connect_timeout: float, read_timeout: float,
                 max_attempts: int, call_timeout: float = 600.0,
                 max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES, on_request: RequestObserver | None = None,
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
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout  # seconds
        self._call_timeout = call_timeout  # seconds for one whole try
        self._max_answer_bytes = max_answer_bytes
        self._policy = RetryPolicy(max_attempts=max_attempts, retryable_status=MODEL_RETRYABLE_STATUS)
        self._on_request = on_request
        self._sleep = sleep
        self._clock = clock
        self._http = BoundedSession(clock=clock)

    @classmethod
    def from_config(cls, config: ModelConfig, *, on_request: RequestObserver | None = None,
                    sleep: Callable[[float], None] = time.sleep) -> ModelHttpClient:
        """The client for ``config``'s endpoint, key, timeouts, size cap and attempts."""
        return cls(base_url=config.base_url, api_key=config.api_key, connect_timeout=config.connect_timeout,
                   read_timeout=config.read_timeout, max_attempts=config.max_attempts,
                   call_timeout=config.call_timeout, max_answer_bytes=config.max_answer_bytes,
                   on_request=on_request, sleep=sleep)

    @property
    def base_url(self) -> str:
        return self._base_url

    def post(self, endpoint: str, body: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        """POST ``body`` to ``endpoint`` (e.g. "responses") and return the JSON object answered.

        ``timeout`` (seconds) bounds the whole call including retries; None = only
        ``call_timeout`` per try. Raises ``ModelError`` (or a subclass) when the call fails for good.
        """
        def read_whole(answer: StreamedAnswer) -> dict[str, Any]:
            return self._decode(endpoint, answer.read())

        return self.exchange(endpoint, body, read_whole, timeout=timeout)

    def exchange(self, endpoint: str, body: Mapping[str, Any], consume: Callable[[StreamedAnswer], T], *,
                 timeout: float | None = None, streamed: bool = False) -> T:
        """POST ``body`` and hand a 2xx answer to ``consume`` while its body still arrives;
        errors, retries and limits as ``post``. A ``streamed`` answer (server-sent events)
        may take the caller's whole ``timeout`` rather than ``call_timeout``: it is alive as
        long as events keep coming within ``read_timeout``."""
        deadline = None if timeout is None else self._clock() + timeout
        payload = json.dumps(body).encode("utf-8")
        attempts = self._policy.max_attempts
        previous: _Failure | None = None
        for attempt in range(attempts):
            headers: Mapping[str, str] = {}
            limits = self._limits(endpoint, timeout, deadline, streamed=streamed)
            with self._observed(endpoint) as observe:
                try:
                    with self._http.stream("POST", f"{self._base_url}/{endpoint}", data=payload,
                                           headers=self._headers(streamed), limits=limits) as answer:
                        observe(str(answer.status))
                        headers = answer.headers
                        if 200 <= answer.status < 300:
                            return consume(answer)
                        failure = self._http_failure(endpoint, parse_server_error(answer.status, answer.read()))
                except requests.RequestException as exc:
                    failure = self._exception_failure(endpoint, exc, timeout, deadline, limits, streamed)
                    observe("timeout" if isinstance(exc, requests.Timeout) or is_timeout(exc) else "network")
            if failure.shape and previous is not None and previous.reason == failure.reason:
                raise ModelError(f"{endpoint}: {failure.reason} (the server failed the same way twice on this "
                                 "request: it cannot handle the request, this is not load; not retried further)",
                                 status=failure.status, code="request_rejected")
            if not failure.retry or attempt + 1 >= attempts:
                break
            previous = failure
            delay = self._policy.delay(attempt, headers)  # seconds
            if deadline is not None and self._clock() + delay >= deadline:
                raise self._deadline_error(endpoint, timeout, failure.reason)
            log.warning("%s: try %d/%d failed (%s); retrying in %.1fs", endpoint, attempt + 1, attempts,
                        failure.reason, delay)
            self._sleep(delay)
        if not failure.retry:
            raise ModelError(f"{endpoint}: {failure.reason}", status=failure.status, code=failure.code)
        # Every try met a network error or a 5xx: the endpoint is down for every job, not this one.
        raise ModelEndpointDown(f"{endpoint}: {failure.reason} (gave up after {attempts} tries)",
                                status=failure.status, code="retries_exhausted")

    def fetch_json(self, method: str, url: str, body: Mapping[str, Any] | None = None) -> Any:
        """One quick, unretried question to the server (``/props``, ``/tokenize``, …): the
        decoded JSON of a 2xx answer; raises ``ModelError`` or a ``requests`` error otherwise.
        Bounded like every exchange (``_PROBE_LIMITS``): a server that trickles cannot hold start-up."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        answer = self._http.request(method, url, data=data, headers=self._headers(), limits=self._probe_limits())
        if not 200 <= answer.status < 300:
            raise ModelError(redact(parse_server_error(answer.status, answer.content).summary()), status=answer.status)
        return json.loads(answer.content)

    def probe(self, endpoint: str) -> tuple[int | None, str]:
        """POST an empty body to ``endpoint`` once (no retries; a server that has the API
        answers 4xx without running the model): ``(status, detail)``, status None when the
        server could not be reached. Reads at most the first 4 KiB of the answer."""
        headers = {**self._headers(), PROBE_HEADER: "1"}
        try:
            with self._http.stream("POST", f"{self._base_url}/{endpoint}", data=b"{}", headers=headers,
                                   limits=self._probe_limits()) as answer:
                head = b""
                for chunk in answer.iter_chunks():
                    head += chunk
                    if len(head) >= PROBE_DETAIL_BYTES:
                        break
                return answer.status, redact(parse_server_error(answer.status, head[:PROBE_DETAIL_BYTES]).summary())
        except requests.RequestException as exc:
            return None, network_failure(exc)

    def _probe_limits(self) -> ExchangeLimits:
        return ExchangeLimits(connect_timeout=self._connect_timeout, read_timeout=PROBE_TIMEOUT,
                              deadline=PROBE_DEADLINE, max_bytes=PROBE_MAX_BYTES)

    def close(self) -> None:
        """Close the pooled connections; the next call opens fresh ones."""
        self._http.close()

    def _limits(self, endpoint: str, timeout: float | None, deadline: float | None, *,
                streamed: bool) -> ExchangeLimits:
        """This try's limits: ``call_timeout``, or less when the caller's deadline is nearer
        (a streamed try: the caller's whole deadline when it has one)."""
        allowed = self._call_timeout
        if deadline is not None:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise self._deadline_error(endpoint, timeout, "no time left for a try")
            allowed = remaining if streamed else min(allowed, remaining)
        return ExchangeLimits(connect_timeout=self._connect_timeout, read_timeout=self._read_timeout,
                              deadline=allowed, max_bytes=self._max_answer_bytes)

    def _exception_failure(self, endpoint: str, exc: requests.RequestException, timeout: float | None,
                           deadline: float | None, limits: ExchangeLimits, streamed: bool) -> _Failure:
        if isinstance(exc, AnswerTooLarge):
            raise ModelAnswerTooLarge(f"{endpoint}: the answer exceeds model.max_answer_bytes "
                                      f"({self._max_answer_bytes} bytes)", code="answer_too_large") from None
        if isinstance(exc, DeadlineExceeded):
            if deadline is not None and (streamed or limits.deadline < self._call_timeout):
                raise self._deadline_error(endpoint, timeout, "the answer was still arriving") from None
            return _Failure(reason=f"no whole answer within model.call_timeout ({self._call_timeout:g}s)",
                            retry=False, code="timeout")
        if isinstance(exc, requests.ConnectTimeout):
            return _Failure(reason=f"connect timed out ({self._connect_timeout:g}s)", retry=True)
        if isinstance(exc, requests.Timeout) or is_timeout(exc):
            return _Failure(reason=f"the server sent nothing for model.read_timeout ({self._read_timeout:g}s)",
                            retry=False, code="timeout")
        return _Failure(reason=f"network error ({network_failure(exc)})", retry=True)

    def _http_failure(self, endpoint: str, error: ServerError) -> _Failure:
        reason = f"{endpoint}: {redact(error.summary())}"
        code = error.code or error.type
        if error.status in (401, 403):
            raise ModelAuthError(f"{reason} (check the model API key)", status=error.status, code=code)
        if is_insufficient_quota(error):
            raise ModelQuotaError(f"{reason} (quota exhausted; not retried)", status=error.status, code=code)
        if is_context_length(error):
            raise ContextOverflow(reason, status=error.status, code=code, fit_ratio=context_fit_ratio(error),
                                  limit=context_limit(error))
        if error.status == 404:
            raise ModelEndpointDown(f"{reason} (the model server has no such API or model: check model.base_url, "
                                    "model.name and model.model)", status=404, code=code or "not_found")
        if error.status not in self._policy.retryable_status:
            raise ModelError(reason, status=error.status, code=code)
        return _Failure(reason=redact(error.summary()), retry=True, status=error.status,
                        shape=is_request_shape_failure(error))

    @contextmanager
    def _observed(self, endpoint: str) -> Iterator[Callable[[str], None]]:
        """Report one try to ``on_request`` with its last known code and its duration."""
        started = self._clock()
        code = ["network"]

        def observe(value: str) -> None:
            code[0] = value

        try:
            yield observe
        except ModelDeadlineExceeded:
            code[0] = "timeout"
            raise
        finally:
            if self._on_request is not None:
                self._on_request(endpoint, code[0], self._clock() - started)

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
    def _deadline_error(endpoint: str, timeout: float | None, last: str) -> ModelDeadlineExceeded:
        budget = "" if timeout is None else f" of {timeout:g}s"
        return ModelDeadlineExceeded(f"job deadline exceeded during a model call: the call's time{budget} ran out "
                                     f"({endpoint}; last: {last})")

    def _headers(self, streamed: bool = False) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": _USER_AGENT}
        if streamed:  # event-stream servers close the connection after the stream: never reuse it
            headers["Connection"] = "close"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers
