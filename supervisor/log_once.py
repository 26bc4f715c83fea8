"""Notices logged once per pool, not once per worker.

Some worker notices say something about the whole setup (the model server ignores ``tools``):
every worker finds it out on its own, and a pool of N workers would log it N times, again after
each recycle. A worker marks such a record with a short key (``extra={ONCE_PER_POOL: "…"}``,
``shared.pipe.messages``); the supervisor relays the first record with each key and drops the later ones.

What arrives over a pipe is untrusted: a key that is not text is ignored (the record is relayed),
keys are cut at ``FIELD_LIMIT`` characters, and at most ``MAX_KEYS`` are remembered, the oldest
forgotten first, so a buggy or hostile stream of fresh keys cannot grow the supervisor's memory;
its cost is only that a forgotten notice may show again.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.pipe.messages import FIELD_LIMIT, ONCE_PER_POOL

MAX_KEYS = 256   # once-per-pool keys remembered at most


class OncePerPool:
    """Which once-per-pool keys were relayed already (bounded; oldest forgotten first)."""

    def __init__(self, *, max_keys: int = MAX_KEYS) -> None:
        self._max_keys = max_keys
        self._seen: dict[str, None] = {}   # insertion-ordered: the first key is the oldest

    def admits(self, fields: Mapping[str, Any]) -> bool:
        """Whether to relay the worker record ``fields``: False only for a repeat of a key relayed before."""
        key = fields.get(ONCE_PER_POOL) if isinstance(fields, Mapping) else None
        if not isinstance(key, str) or not key:
            return True
        key = key[:FIELD_LIMIT]
        if key in self._seen:
            return False
        if len(self._seen) >= self._max_keys:
            del self._seen[next(iter(self._seen))]
        self._seen[key] = None
        return True
