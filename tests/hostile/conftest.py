"""Fixtures the hostile suite shares: the integration fixtures (an emulator on loopback, real pools)
and the log-capture fixture, made visible here so test modules need not import them by name."""
from tests.hostile.logs_support import captured  # noqa: F401 - fixture
from tests.integration.conftest import cloud, instance, start_runner  # noqa: F401 - fixtures
