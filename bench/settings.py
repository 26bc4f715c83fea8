"""How big each measurement is: the full run (the figures in docs/benchmarks.md) or ``--quick``.

Quick mode exists so the smoke test can run every section in well under a minute; its
figures are too small to mean anything. Durations are seconds.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

MODEL_ROUND_SECONDS = 0.15   # builtin latency per model round; a bench job is 2 rounds = a 300 ms model
DEFAULT_POLL_INTERVAL = 1.0  # seconds; pool.poll_interval of our pool and POLL_MS of the naive pool


@dataclass(frozen=True, kw_only=True)
class BenchSettings:
    quick: bool
    workdir: Path                         # configs, logs and metrics directories of this run
    seed: int = 5
    poll_interval: float = DEFAULT_POLL_INTERVAL
    model_round_seconds: float = MODEL_ROUND_SECONDS
    throughput_workers: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    throughput_jobs_per_worker: int = 8   # jobs enqueued per worker in each throughput run
    idle_workers: int = 16
    idle_window: float = 30.0
    calls_workers: int = 4
    calls_jobs: int = 40
    pickup_workers: int = 16
    pickup_samples: int = 30
    crash_workers: int = 4
    crash_kills: int = 10
    memory_workers: int = 8
    cpu_workers: tuple[int, ...] = (16, 32, 64)   # pool sizes whose supervisor CPU is measured
    cpu_idle_window: float = 20.0
    cpu_load_jobs_per_worker: int = 8
    soak_workers: int = 8
    soak_jobs: int = 1000
    soak_sample_every: float = 1.0
    scale_idle_workers: tuple[int, ...] = (64, 256, 512)   # pools whose idle supervisor CPU is measured ...
    scale_ready_workers: tuple[int, ...] = (256, 512)      # ... and of these, the time to ready
    scale_idle_window: float = 20.0
    burst_workers: tuple[int, ...] = (128, 256)           # idle pools that get a burst
    burst_jobs_per_worker: int = 4
    burst_model_seconds: float = 2.0                      # model time of one burst job
    burst_lane_layouts: tuple[tuple[int, int], ...] = ((16, 8), (32, 8))   # (workers, jobs_per_worker): the same
    #                                                     job slots as burst_workers, in fewer processes
    inflight_layouts: tuple[tuple[int, int], ...] = ((50, 20), (512, 1))  # (workers, jobs_per_worker), section l
    inflight_model_seconds: float = 20.0                  # model time of one in-flight job
    inflight_waves: int = 2                               # jobs = waves x job slots
    inflight_steady_layout: tuple[int, int] = (50, 20)    # (workers, jobs_per_worker) fed at a steady rate
    inflight_steady_model_times: float = 4.0              # feeding lasts this many model times

    @property
    def model_seconds(self) -> float:
        """Simulated model time of one bench job (2 rounds)."""
        return 2 * self.model_round_seconds


def make_settings(*, quick: bool, workdir: Path, soak_jobs: int | None = None,
                  poll_interval: float | None = None) -> BenchSettings:
    """The full preset, or the quick one; ``soak_jobs``/``poll_interval`` override either."""
    settings = BenchSettings(quick=False, workdir=workdir)
    if quick:
        settings = replace(settings, quick=True, poll_interval=0.25, throughput_workers=(1, 2),
                           throughput_jobs_per_worker=3, idle_workers=2, idle_window=1.0, calls_workers=2,
                           calls_jobs=4, pickup_workers=2, pickup_samples=2, crash_workers=2, crash_kills=1,
                           memory_workers=2, cpu_workers=(2,), cpu_idle_window=1.0, cpu_load_jobs_per_worker=2,
                           soak_workers=2, soak_jobs=12, soak_sample_every=0.5, scale_idle_workers=(2, 4),
                           scale_ready_workers=(4,), scale_idle_window=1.0, burst_workers=(4,),
                           burst_jobs_per_worker=2, burst_model_seconds=0.2, burst_lane_layouts=((2, 2),),
                           inflight_layouts=((2, 3), (4, 1)), inflight_model_seconds=0.4,
                           inflight_steady_layout=(2, 3))
    if soak_jobs is not None:
        if soak_jobs < 1:
            raise ValueError(f"--soak-jobs must be at least 1, got {soak_jobs}")
        settings = replace(settings, soak_jobs=soak_jobs)
    if poll_interval is not None:
        if poll_interval < 0.05:
            raise ValueError(f"--poll-interval must be at least 0.05 seconds, got {poll_interval}")
        settings = replace(settings, poll_interval=poll_interval)
    return settings
