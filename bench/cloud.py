"""The cloud a benchmark runs against: the local emulator on 127.0.0.1, read through its admin API.

Each measurement gets a fresh emulator (no seeded jobs) and one global runner key, so its
request counts belong to exactly one pool. Counts and job timestamps (epoch ms, stamped by
the emulator: ``createdAtMs`` at enqueue, ``leasedAtMs`` at lease, ``finishedAtMs`` at
complete/fail) come from ``/admin/stats`` and ``/admin/jobs``, i.e. from the server's side.
"""
from __future__ import annotations

import time
from typing import Any

import requests

from emulator import EmulatorServer
from shared.cloud.jobs import COMPLETE, CONTEXT, FAIL, HEARTBEAT, LEASE, SUMMARY
from shared.config.sections import EmulatorConfig
from shared.http.redact import register_secret

# A bench job: one table, so the builtin model takes exactly 2 rounds (tool call, narrative).
BENCH_JOB: dict[str, Any] = {
    "target": "global", "title": "Benchmark job",
    "messages": [{"text": "Give me a table of the coffee roastery segments (Downtown, Harbor, Airport) "
                          "with columns for owner, monthly budget and next milestone."}]}
JOB_CALL_ROUTES = (CONTEXT, HEARTBEAT, SUMMARY, COMPLETE, FAIL)   # calls a job makes after its lease
ADMIN_TIMEOUT = 10.0   # seconds per admin request
FINISH_POLL = 0.05     # seconds between checks while waiting for jobs to finish


class BenchCloud:
    """An emulator on an ephemeral loopback port with one global runner key; a context manager."""

    def __init__(self, *, seed: int) -> None:
        self._server = EmulatorServer(config=EmulatorConfig(listen="127.0.0.1:0", seed_jobs=0), seed=seed)
        self._session = requests.Session()
        self.token = ""

    def __enter__(self) -> BenchCloud:
        self._server.start()
        self.token = self._server.create_instance(kind="global", name="bench")["runnerToken"]
        register_secret(self.token)
        return self

    def __exit__(self, *exc: object) -> None:
        self._session.close()
        self._server.stop()

    @property
    def url(self) -> str:
        return self._server.url

    def enqueue(self, count: int = 1, *, sample: bool = False) -> list[str]:
        """Enqueue ``count`` bench jobs (or the emulator's mixed sample jobs); returns their ids."""
        spec = {"sample": True} if sample else BENCH_JOB
        return [self._server.enqueue_job(spec) for _ in range(count)]

    # --- reading --------------------------------------------------------------------------

    def _get(self, path: str) -> dict[str, Any]:
        answer = self._session.get(self.url + path, timeout=ADMIN_TIMEOUT)
        answer.raise_for_status()
        document: dict[str, Any] = answer.json()   # every admin route answers a JSON object
        return document

    def stats(self) -> dict[str, Any]:
        return self._get("/admin/stats")

    def lease_requests(self) -> int:
        return route_totals(self.stats()).get(LEASE, 0)

    def jobs(self) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = self._get("/admin/jobs")["jobs"]
        return jobs

    def finished_count(self) -> int:
        counts: dict[str, int] = self.stats()["jobs"]
        return counts["completed"] + counts["failed"]

    def wait_finished(self, count: int, *, timeout: float) -> list[dict[str, Any]]:
        """Wait until ``count`` jobs are completed or failed; returns every job. ``timeout`` is a safety net."""
        deadline = time.monotonic() + timeout
        while self.finished_count() < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.finished_count()} of {count} jobs finished within {timeout:g}s")
            time.sleep(FINISH_POLL)
        return self.jobs()

    def wait_leased(self, workspace_id: str, *, timeout: float) -> dict[str, Any]:
        """Wait until job ``workspace_id`` has been leased; returns its snapshot."""
        deadline = time.monotonic() + timeout
        while True:
            job = self._get(f"/admin/jobs/{workspace_id}")
            if job["leasedAtMs"] is not None:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {workspace_id} was not leased within {timeout:g}s")
            time.sleep(FINISH_POLL / 5)


def route_totals(stats: dict[str, Any]) -> dict[str, int]:
    """Protocol requests answered, by route (every status together), from an ``/admin/stats`` body."""
    return {route: sum(codes.values()) for route, codes in stats["requests"].items()
            if not route.startswith("/admin")}


def calls_per_job(by_route: dict[str, int], *, leases_granted: int, jobs: int) -> dict[str, float]:
    """Cloud calls per finished job, by route: granted leases plus every call after them.

    Empty lease answers are the idle cost (section b), not a job's; they are left out here.
    """
    if jobs <= 0:
        raise ValueError(f"jobs must be positive, got {jobs}")
    per_route = {LEASE: leases_granted / jobs}
    per_route.update({route: by_route.get(route, 0) / jobs for route in JOB_CALL_ROUTES})
    return per_route
