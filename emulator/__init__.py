"""The local XenonFlare cloud emulator: a faithful, stateful stand-in for dry runs, tests and load tests."""
from __future__ import annotations

from emulator.jobspec import JobSpecError
from emulator.samples import sample_jobs
from emulator.serve import serve
from emulator.server import EmulatorServer

__all__ = ["EmulatorServer", "JobSpecError", "sample_jobs", "serve"]
