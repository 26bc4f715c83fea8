"""The retry policy shared by every outbound HTTP call (cloud routes and model endpoints).

It follows the protocol file: retry 408, 429, 500, 502, 503, 504 and network errors, at
most ``max_attempts`` tries in all, sleeping ``min(cap, base × 2^attempt × jitter)`` with
jitter drawn from 0.85–1.15, unless the server said how long to wait (``Retry-After`` in
seconds or as an HTTP date, or OpenAI's ``retry-after-ms``), which wins up to
``retry_after_cap`` seconds.
"""
from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how long to retry one logical request.

    Times are seconds. ``max_attempts`` counts the first try (4 = 1 try + 3 retries).
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    retry_after_cap: float = 120.0
    retryable_status: frozenset[int] = RETRYABLE_STATUS

    def should_retry_status(self, status: int) -> bool:
        return status in self.retryable_status

    def backoff(self, attempt: int, *, rng: random.Random | None = None) -> float:
        """Seconds to sleep after failed try number ``attempt`` (0-based), before jitter caps."""
        jitter = (rng or random).uniform(0.85, 1.15)
        return min(self.max_delay, self.base_delay * (2.0 ** attempt) * jitter)

    def delay(self, attempt: int, headers: Mapping[str, str] | None = None) -> float:
        """Seconds to wait before the next try: the server's hint if it gave one, else backoff."""
        hinted = retry_after_seconds(headers or {})
        if hinted is not None:
            return min(hinted, self.retry_after_cap)
        return self.backoff(attempt)


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Parse ``retry-after-ms`` / ``Retry-After`` (seconds or HTTP date) into seconds, or None.

    ``headers`` must be case-insensitive for real responses (requests' headers are);
    plain dicts are looked up with the usual spellings as well.
    """
    ms = _header(headers, "retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = _header(headers, "retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    when = http_date_epoch(value)
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when - current)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key in (name, name.title(), name.upper()):
        if key in headers:
            return headers[key]
    return None


def http_date_epoch(value: str | None) -> float | None:
    """An HTTP date (``Retry-After``, ``Date``) as epoch seconds, or None when absent or not a
    plausible date. Hostile values (huge years, 10 kB strings) give None, never an exception."""
    if not value or len(value) > 64:  # an HTTP date is 29 characters
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
