"""Fixtures shared by the supervisor-core unit tests."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.core.fakes import MessagesRig


@pytest.fixture
def rig() -> Iterator[MessagesRig]:
    """A pool's message handling on a fake clock and fake cloud (``MessagesRig``), closed after the test."""
    made = MessagesRig()
    yield made
    made.recovery.close(timeout=5)
