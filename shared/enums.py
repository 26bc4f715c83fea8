"""``StrEnum`` on every Python this package supports.

``enum.StrEnum`` arrived in Python 3.11; ``python_requires`` is 3.10, where importing a module
that subclasses it fails. This base gives the same behaviour on both: a member *is* its string
value (``==``, ``str()``, f-strings, JSON, Prometheus labels all see ``"leased"``, never
``"LeaseOutcome.LEASED"``).
"""
from __future__ import annotations

import enum


class StrEnum(str, enum.Enum):
    """An enum of strings whose members format as their values, like 3.11's ``enum.StrEnum``."""

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, format_spec: str) -> str:
        return str.__format__(self, format_spec)
