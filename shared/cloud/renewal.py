"""When to renew a lease: the rule the workers' heartbeats and the supervisor's recovery share.

Lease times come from another machine's clock, so they are not trusted as they are: the
lease's length is measured once, when the answer arrives (``leaseExpiresAt`` minus this
machine's wall clock), clamped to ``MAX_LEASE_SECONDS``, and from then on kept on the
monotonic clock. The next renewal is due when a third of the lease is left, and never more
than ``MAX_INTERVAL`` seconds after the last one; renewals are never closer than
``MIN_INTERVAL``; a lease time that is not credibly in the future (in the past, or less than
``MIN_CREDIBLE_LEASE`` away: a cloud clock behind ours, or nonsense) is renewed every
``UNCREDIBLE_INTERVAL``, never in a hot loop.
"""
from __future__ import annotations

MAX_INTERVAL = 120.0       # seconds between heartbeats at most
MIN_INTERVAL = 1.0         # seconds between heartbeats at least, whatever the lease says
RETRY_INTERVAL = 5.0       # seconds before retrying a failed heartbeat (less if the lease is shorter)
MIN_CREDIBLE_LEASE = 1.5   # seconds: a lease shorter than this at receipt is clock skew or nonsense
UNCREDIBLE_INTERVAL = 5.0  # seconds between heartbeats of a lease whose time is not credible
MAX_LEASE_SECONDS = 86_400.0  # a lease length is clamped to this (a day)


def lease_seconds(expires_at_ms: int, *, epoch_now: float) -> float:
    """The lease's length as measured at receipt (epoch seconds ``epoch_now``), clamped to
    0..``MAX_LEASE_SECONDS``."""
    return min(MAX_LEASE_SECONDS, max(0.0, expires_at_ms / 1000.0 - epoch_now))


def renewal_interval(length: float) -> float:
    """Seconds from a renewal to the next one for a lease ``length`` seconds long: once a third
    of it is left, between ``MIN_INTERVAL`` and ``MAX_INTERVAL``; ``UNCREDIBLE_INTERVAL`` for a
    lease too short to be believed."""
    if length < MIN_CREDIBLE_LEASE:
        return UNCREDIBLE_INTERVAL
    return min(MAX_INTERVAL, max(MIN_INTERVAL, length * 2 / 3))


def next_renewal(*, now: float, expires_at: float) -> float:
    """When a lease just renewed (or leased) at ``now`` should be renewed next (``renewal_interval``
    of what is left of it). Seconds in and out, on one clock.

    The supervisor keeps jobs waiting for a re-run alive by the same rule.
    """
    return now + renewal_interval(min(MAX_LEASE_SECONDS, max(0.0, expires_at - now)))
