"""Suite-wide settings: hypothesis runs seeded and bounded so property tests are
deterministic and keep `make test` fast.

Profiles (select with HYPOTHESIS_PROFILE): ``ci`` (default) — derandomized, 200 examples
per test; ``deep`` — 5,000 examples, for a local soak of the property tests.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("deep", derandomize=True, max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
