"""Everything a worker process needs to start, passed as one picklable argument.

Under forkserver and spawn a child sees the environment as it was when the fork server
started, so per-worker values (slot, runner key, resolved cloud URL) travel here, not in env.

The spec is narrow on purpose: a worker gets its own runner key and the settings it reads,
never the whole ``RunnerConfig`` — no other slot's key, no metrics, emulator or pool sections
it does not use. ``WorkerSpec.for_slot`` cuts it out of the pool's config.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from shared.config.sections import CloudConfig, ModelConfig, RunnerConfig


@dataclass(frozen=True, kw_only=True)
class WorkerSpec:
    """What one worker process starts with: its slot, its one runner key and the settings it reads."""

    slot: int
    cloud: CloudConfig        # the cloud call settings; base_url resolved, no keys (``token`` is the one key)
    token: str                # the runner key of this slot
    model: ModelConfig        # the model section, read by the model handles
    job_timeout: float        # seconds one job may take (pool.job_timeout)
    jobs_per_worker: int      # jobs run at once (pool.jobs_per_worker; 1 if the model cannot)
    log_level: str            # logging.level
    metrics_dir: str          # prometheus_client multiprocess directory
    supervisor_pid: int
    alive_interval: float     # seconds between Alive messages when otherwise silent

    @classmethod
    def for_slot(cls, config: RunnerConfig, *, slot: int, token: str, cloud_url: str, metrics_dir: str,
                 supervisor_pid: int, alive_interval: float) -> WorkerSpec:
        """The spec of worker ``slot`` leasing with ``token``, cut out of the pool's ``config``.

        ``cloud_url`` is the resolved cloud URL (the embedded emulator's when ``cloud.base_url``
        is ``embedded``); it replaces ``cloud.base_url``, so the worker sees one URL. The
        config's keys (``cloud.token``, ``cloud.tokens``) are dropped: ``token`` is the only
        key a worker gets.
        """
        return cls(slot=slot, cloud=replace(config.cloud, base_url=cloud_url, token=None, tokens=()), token=token,
                   model=config.model, job_timeout=config.pool.job_timeout,
                   jobs_per_worker=config.pool.jobs_per_worker, log_level=config.logging.level,
                   metrics_dir=metrics_dir, supervisor_pid=supervisor_pid, alive_interval=alive_interval)

    @property
    def name(self) -> str:
        return f"w{self.slot}"
