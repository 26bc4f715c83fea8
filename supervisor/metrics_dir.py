"""The prometheus_client multiprocess directory: wiped at start, removed at exit if we made it.

Stale files from an earlier run would add old counts to new ones, so the directory starts
empty. Its size stays bounded because files are named by worker slot, not pid
(see ``shared.metrics``).
"""
from __future__ import annotations

import glob
import os
import shutil
import tempfile
from dataclasses import dataclass

from shared.metrics import install, touch_known_labels

SUPERVISOR_IDENTIFIER = "supervisor"


@dataclass
class MetricsDirectory:
    path: str
    owned: bool   # we created it, so we remove it at exit

    @classmethod
    def prepare(cls, configured: str | None) -> MetricsDirectory:
        """Create or wipe the directory and install the supervisor's own metrics in it."""
        if configured:
            os.makedirs(configured, exist_ok=True)
            for stale in glob.glob(os.path.join(configured, "*.db")):
                os.remove(stale)
            directory = cls(path=configured, owned=False)
        else:
            directory = cls(path=tempfile.mkdtemp(prefix="xenon-runner-metrics-"), owned=True)
        touch_known_labels(install(directory=directory.path, identifier=SUPERVISOR_IDENTIFIER))
        return directory

    def cleanup(self) -> None:
        if self.owned:
            shutil.rmtree(self.path, ignore_errors=True)
