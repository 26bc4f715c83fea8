"""Fixtures for the tests of the operations kit in ``deploy/``."""
from __future__ import annotations

import pytest

from tests.harness import installed_tool


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of promtool; tests that need it are skipped (with the reason) where it is absent."""
    return installed_tool("promtool", missing="promtool not installed (Debian: apt-get install prometheus); "
                                              "CI installs it")


@pytest.fixture(scope="session")
def systemd_analyze() -> str:
    """Path of systemd-analyze, or skip."""
    return installed_tool("systemd-analyze", missing="systemd-analyze not installed (Debian: apt-get install systemd)")
