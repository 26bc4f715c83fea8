"""The benchmark's sections, a … h, in the order the issue lists them.

Each module has ``KEY``, ``TITLE`` and ``run(ctx) -> SectionResult``; each opens its own
emulators and pools, so any subset can run alone (``--only``).
"""
from __future__ import annotations

from types import ModuleType

from . import calls, cpu, crash, idle, memory, pickup, soak, throughput
from .common import SectionContext

SECTIONS: dict[str, ModuleType] = {module.KEY: module for module in
                                   (throughput, idle, calls, pickup, crash, memory, cpu, soak)}

__all__ = ["SECTIONS", "SectionContext"]
