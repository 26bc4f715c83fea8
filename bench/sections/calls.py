"""c. Cloud calls per job: ours vs the official runner's pattern, counted by the emulators.

Our pool and a naive pool of the same size each get the same number of short jobs at the
same time, on their own emulators. Calls per job = (granted leases + every context,
heartbeat, summary, complete and fail request) ÷ finished jobs. Lease requests answered
empty are the idle cost of section b, reported here separately.
"""
from __future__ import annotations

import time
from typing import Any

from bench.cloud import calls_per_job, route_totals
from bench.report import Row, SectionResult, Target
from shared.cloud.jobs import LEASE

from .common import SectionContext

KEY = "c"
TITLE = "cloud calls per job: ours vs the official runner's pattern"
CALLS_TARGET = Target(op="<=", value=3.0, source="issue 3: a short job costs 3 calls (official: >= 5)")


def _tally(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Calls per job between two ``/admin/stats`` bodies (the jobs were enqueued after ``before``)."""
    start = route_totals(before)
    by_route = {route: count - start.get(route, 0) for route, count in route_totals(after).items()}
    granted = after["leasesGranted"] - before["leasesGranted"]
    finished = after["jobs"]["completed"] + after["jobs"]["failed"]
    per_route = calls_per_job(by_route, leases_granted=granted, jobs=finished)
    return {"finished": finished, "failed": after["jobs"]["failed"], "per_route": per_route,
            "per_job": sum(per_route.values()), "empty_leases_per_job": (by_route.get(LEASE, 0) - granted) / finished}


def run(ctx: SectionContext) -> SectionResult:
    settings = ctx.settings
    workers, jobs = settings.calls_workers, settings.calls_jobs
    result = SectionResult(key=KEY, title=TITLE)
    with ctx.cloud() as ours_cloud, ctx.cloud() as naive_cloud:
        with ctx.pool(ours_cloud, workers=workers, name="c-calls") as pool:
            pool.wait_ready()
            with ctx.naive(naive_cloud, count=workers) as naive:
                time.sleep(ctx.settings.poll_interval)   # every naive poller has started
                ours_before, naive_before = ours_cloud.stats(), naive_cloud.stats()
                ours_cloud.enqueue(jobs)
                naive_cloud.enqueue(jobs)
                deadline = ctx.job_deadline(jobs, workers)
                ours_cloud.wait_finished(jobs, timeout=deadline)
                naive_cloud.wait_finished(jobs, timeout=deadline)
                ours, base = _tally(ours_before, ours_cloud.stats()), _tally(naive_before, naive_cloud.stats())
                errors = naive.stop()
    ctx.progress(f"[c] calls per job: ours {ours['per_job']:.2f}, naive {base['per_job']:.2f}")
    result.rows += [
        Row(metric="cloud calls per job", unit="calls", ours=ours["per_job"], baseline=base["per_job"],
            baseline_name="naive", target=CALLS_TARGET),
        Row(metric="empty lease answers per job (same burst)", unit="calls", ours=ours["empty_leases_per_job"],
            baseline=base["empty_leases_per_job"], baseline_name="naive"),
    ]
    result.details = {"workers": workers, "jobs": jobs, "ours": ours, "naive": base}
    for name, tally in (("ours", ours), ("naive", base)):
        breakdown = ", ".join(f"{route.strip('/')} {count:.2f}" for route, count in tally["per_route"].items()
                              if count)
        result.notes.append(f"{name}: {breakdown} ({tally['finished']} jobs, {tally['failed']} failed)")
    result.notes.extend(f"naive poller error: {error}" for error in errors)
    return result
