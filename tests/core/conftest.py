"""Fixtures shared by the supervisor-core unit tests."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.core.test_pool_messages import Rig


@pytest.fixture
def rig() -> Iterator[Rig]:
    """A pool's message handling on a fake clock and fake cloud (``Rig``), closed after the test."""
    made = Rig()
    yield made
    made.recovery.close(timeout=5)
