"""Everything a worker process needs to start, passed as one picklable argument.

Under forkserver and spawn a child sees the environment as it was when the fork server
started, so per-worker values (slot, runner key, resolved cloud URL) travel here, not in env.
"""
from __future__ import annotations

from dataclasses import dataclass

from shared.config.sections import RunnerConfig


@dataclass(frozen=True, kw_only=True)
class WorkerSpec:
    slot: int
    generation: int           # how many workers this slot has had before, for logs
    config: RunnerConfig
    cloud_url: str            # resolved: the embedded emulator's URL when cloud.base_url is "embedded"
    token: str                # the runner key of this slot
    metrics_dir: str          # prometheus_client multiprocess directory
    supervisor_pid: int
    alive_interval: float     # seconds between Alive messages when otherwise silent

    @property
    def name(self) -> str:
        return f"w{self.slot}"
