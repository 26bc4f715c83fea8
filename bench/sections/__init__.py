"""The benchmark's sections, a … l: a … h in the order issue 4 lists them, i, j and l for issue 12
(k, a real small model, is run alone and is not listed here).

Each module has ``KEY``, ``TITLE`` and ``run(ctx) -> SectionResult``; each opens its own
emulators and pools, so any subset can run alone (``--only``).
"""
from __future__ import annotations

from types import ModuleType

from . import burst, calls, cpu, crash, idle, inflight, memory, pickup, scale, soak, throughput
from .common import SectionContext

SECTIONS: dict[str, ModuleType] = {module.KEY: module for module in
                                   (throughput, idle, calls, pickup, crash, memory, cpu, soak, scale, burst,
                                    inflight)}

__all__ = ["SECTIONS", "SectionContext"]
