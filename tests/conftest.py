"""Suite-wide settings and fixtures: hypothesis runs seeded and bounded so property tests are
deterministic and keep `make test` fast.

Profiles (select with HYPOTHESIS_PROFILE): ``ci`` (default) — derandomized, 200 examples
per test; ``deep`` — 5,000 examples, for a local soak of the property tests.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from shared.pipe import liveness
from shared.pipe.messages import Progress

settings.register_profile("ci", derandomize=True, max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("deep", derandomize=True, max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def sent() -> Iterator[list[Progress]]:
    """The ``Progress`` reports of ``shared.pipe.liveness``, collected instead of sent up a pipe."""
    messages: list[Progress] = []
    liveness.install(messages.append)  # type: ignore[arg-type]
    yield messages
    liveness._send = None
