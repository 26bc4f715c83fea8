"""Fixtures for the tests of the operations kit in ``deploy/``."""
from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of promtool; tests that need it are skipped (with the reason) where it is absent."""
    found = shutil.which("promtool")
    if not found:
        pytest.skip("promtool not installed (Debian: apt-get install prometheus); CI installs it")
    return found


@pytest.fixture(scope="session")
def systemd_analyze() -> str:
    """Path of systemd-analyze, or skip."""
    found = shutil.which("systemd-analyze")
    if not found:
        pytest.skip("systemd-analyze not installed (Debian: apt-get install systemd)")
    return found
