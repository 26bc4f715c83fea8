"""What every section gets: the settings, a progress printer, a seeded RNG, builders for pools, a warm-up.

A section opens its own clouds and pools through these builders, so every pool in one run
has the same poll interval and the same 300 ms model, and every working directory lives
under the run's ``workdir``.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cloud import BenchCloud
from bench.naive import NaivePool
from bench.pool import RunnerPool
from bench.settings import BenchSettings

SAFETY_FACTOR = 10.0   # a wait's deadline = this × the time the work should take, plus MIN_WAIT
MIN_WAIT = 60.0        # seconds
WARMUP_JOBS_PER_WORKER = 2
SETTLE = 1.0           # seconds a warmed-up pool idles before it is measured


@dataclass(frozen=True, kw_only=True)
class SectionContext:
    settings: BenchSettings
    progress: Callable[[str], None]
    rng: random.Random

    def workdir(self, name: str) -> Path:
        path = self.settings.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def cloud(self) -> BenchCloud:
        return BenchCloud(seed=self.rng.randrange(2 ** 31))

    def pool(self, cloud: BenchCloud, *, workers: int, name: str, pool: Mapping[str, Any] | None = None,
             model_seconds: float | None = None) -> RunnerPool:
        """Our runner with ``workers`` workers on ``cloud`` (start it with ``with``); a bench job takes
        ``model_seconds`` of model time (2 rounds; default: the run's 300 ms model)."""
        rounds = self.settings.model_round_seconds if model_seconds is None else model_seconds / 2
        return RunnerPool(workdir=self.workdir(name), cloud_url=cloud.url, token=cloud.token, workers=workers,
                          poll_interval=self.settings.poll_interval, model_round_seconds=rounds, pool=pool)

    def naive(self, cloud: BenchCloud, *, count: int, model_seconds: float | None = None) -> NaivePool:
        """``count`` official-pattern pollers on ``cloud`` with the same poll interval and model time."""
        return NaivePool(count=count, cloud_url=cloud.url, token=cloud.token,
                         poll_interval=self.settings.poll_interval,
                         model_seconds=self.settings.model_seconds if model_seconds is None else model_seconds,
                         rng=self.rng)

    def job_deadline(self, jobs: int, workers: int) -> float:
        """Safety-net seconds for ``jobs`` bench jobs on ``workers`` workers (never a measurement)."""
        expected = jobs / max(1, workers) * (self.settings.model_seconds + 0.1) + self.settings.poll_interval
        return MIN_WAIT + SAFETY_FACTOR * expected

    def warm_up(self, cloud: BenchCloud, pool: RunnerPool, *, workers: int) -> int:
        """Wait for ``pool`` to be READY, run two mixed sample jobs per worker (so lazily imported
        code is loaded), then let it idle ``SETTLE`` seconds; returns how many jobs it ran."""
        pool.wait_ready()
        jobs = WARMUP_JOBS_PER_WORKER * workers
        cloud.enqueue(jobs, sample=True)
        cloud.wait_finished(jobs, timeout=self.job_deadline(jobs, workers))
        time.sleep(SETTLE)
        return jobs
