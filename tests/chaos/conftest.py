"""The chaos suite uses the integration fixtures: an emulator on loopback and real pools."""
from tests.integration.conftest import cloud, instance, start_runner  # noqa: F401 - fixtures
