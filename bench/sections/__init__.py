"""The benchmark's sections, a … l: a … h in the order issue 4 lists them, i, j and l for issue 12
(k, a real small model, is run alone and is not listed here).

Each module has ``KEY``, ``TITLE`` and ``run(ctx) -> SectionResult``; each opens its own
emulators and pools, so any subset can run alone (``--only``).
"""
from __future__ import annotations

from typing import Protocol

from bench.report import SectionResult

from . import burst, calls, cpu, crash, idle, inflight, memory, pickup, scale, soak, throughput
from .common import SectionContext


class Section(Protocol):
    """What each section module has (mypy checks the modules below against it)."""

    KEY: str     # one letter, for --only
    TITLE: str

    def run(self, ctx: SectionContext) -> SectionResult: ...


_LISTED: tuple[Section, ...] = (throughput, idle, calls, pickup, crash, memory, cpu, soak, scale, burst, inflight)
SECTIONS: dict[str, Section] = {module.KEY: module for module in _LISTED}

__all__ = ["SECTIONS", "Section", "SectionContext"]
