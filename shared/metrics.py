"""Prometheus metrics written by workers and the supervisor, in multiprocess mode.

Every process writes its own mmap files into one directory that the supervisor wipes at
start and serves with ``MultiProcessCollector``. Files are named by *worker slot*, not by
pid (``counter_w3.db``): never two live processes share a slot, so a restarted worker
reopens its slot's files and its counters carry on, and the directory holds a bounded
number of files however many restarts happen (the pid naming grows without bound).

Metric objects are created by ``install`` after the value class is chosen, never at import:
under forkserver this module may be imported in the fork server before the slot is known.
Pool-state gauges (workers by state, RSS) are not here: the supervisor computes them at
scrape time from its own view of the pool (``supervisor.observability.pool_collector``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

JOB_OUTCOMES = ("completed", "failed", "lease_lost", "retried")
LEASE_RESULTS = ("leased", "empty", "error")
HEARTBEAT_RESULTS = ("ok", "lease_lost", "error")
RESTART_REASONS = ("crash", "recycle", "memory", "hung")
DELIVERABLE_KINDS = ("file", "chart", "table", "list", "checklist", "svg")
FAILURE_REASONS = ("empty_context", "placeholder_mismatch", "deadline", "model_error", "cloud_rejected",
                   "worker_crashed", "shutdown", "other")

# Histogram buckets, all in seconds. Jobs run from a second (builtin) to tens of minutes
# (reasoning models); a cloud request takes milliseconds to a read timeout; a model request
# up to minutes.
JOB_BUCKETS = (0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
MODEL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


@dataclass(frozen=True)
class Metrics:
    """This process's metric objects, made by ``install`` (or ``metrics`` outside a pool)."""

    jobs: Counter
    job_failures: Counter
    job_duration: Histogram
    jobs_in_progress: Gauge
    lease_requests: Counter
    restarts: Counter
    api_requests: Counter
    api_duration: Histogram
    heartbeats: Counter
    deliverables: Counter
    model_requests: Counter
    model_duration: Histogram


_installed: Metrics | None = None


def install(*, directory: str, identifier: str) -> Metrics:
    """Create this process's metrics, writing files named ``*_<identifier>.db`` in ``directory``."""
    global _installed
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values.ValueClass = values.MultiProcessValue(lambda: identifier)
    _installed = _create()
    return _installed


def metrics() -> Metrics:
    """The installed metrics; a process that never installed them gets in-memory ones (tests, tools)."""
    global _installed
    if _installed is None:
        _installed = _create()
    return _installed


def _create() -> Metrics:
    # Each process registers in a private registry: the supervisor serves the merged
    # files, never a process's own registry.
    registry = CollectorRegistry(auto_describe=False)
    return Metrics(
        jobs=Counter("xenon_runner_jobs", "Jobs by outcome: completed, failed, lease_lost, retried (re-run "
                     "after a worker died).", ["outcome"], registry=registry),
        job_failures=Counter("xenon_runner_job_failures", "Failed jobs by reason class.", ["reason"],
                             registry=registry),
        job_duration=Histogram("xenon_runner_job_duration_seconds", "Seconds from leasing a job to "
                               "completing or failing it.", buckets=JOB_BUCKETS, registry=registry),
        jobs_in_progress=Gauge("xenon_runner_jobs_in_progress", "Jobs being worked on right now (live "
                               "workers only).", multiprocess_mode="livesum", registry=registry),
        lease_requests=Counter("xenon_runner_lease_requests", "Lease requests by result: leased, empty, "
                               "error.", ["result"], registry=registry),
        restarts=Counter("xenon_runner_worker_restarts", "Worker replacements by reason: crash, recycle, "
                         "memory, hung.", ["reason"], registry=registry),
        api_requests=Counter("xenon_runner_api_requests", "HTTP requests to the cloud by route and status "
                             "code (network, timeout when no answer).", ["endpoint", "code"], registry=registry),
        api_duration=Histogram("xenon_runner_api_request_duration_seconds", "Seconds per cloud HTTP request.",
                               ["endpoint"], buckets=REQUEST_BUCKETS, registry=registry),
        heartbeats=Counter("xenon_runner_heartbeats", "Lease heartbeats by result: ok, lease_lost, error.",
                           ["result"], registry=registry),
        deliverables=Counter("xenon_runner_deliverables", "Deliverables in completed jobs by kind.", ["kind"],
                             registry=registry),
        model_requests=Counter("xenon_runner_model_requests", "HTTP requests to the model endpoint by status "
                               "code (network, timeout when no answer).", ["code"], registry=registry),
        model_duration=Histogram("xenon_runner_model_request_duration_seconds", "Seconds per model HTTP "
                                 "request.", buckets=MODEL_BUCKETS, registry=registry),
    )


def touch_known_labels(installed: Metrics) -> None:
    """Create every known label value at zero, so dashboards and alerts see 0 rather than no data."""
    for counter, known in ((installed.jobs, JOB_OUTCOMES), (installed.job_failures, FAILURE_REASONS),
                           (installed.lease_requests, LEASE_RESULTS), (installed.restarts, RESTART_REASONS),
                           (installed.heartbeats, HEARTBEAT_RESULTS), (installed.deliverables, DELIVERABLE_KINDS)):
        for label in known:
            counter.labels(label)
