"""An immutable picture of the pool, built by the supervisor's loop and read by the HTTP thread.

The loop owns every slot; the HTTP server must never read them directly. Instead the loop
publishes a fresh ``PoolSnapshot`` (a plain value) when something changed, and /status,
/readyz and the pool gauges of /metrics are all answered from the latest one; figures that
move with time alone (uptimes, backoff and pause left) are aged to the moment of reading,
and RSS and CPU are filled in at scrape time (``usage.ProcessUsage``).
No secret goes in: runner keys appear only as ``credentialId.***``, the cloud URL and the model
name are redacted (a ``user:password@`` in a URL shows as ``user:***@``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from shared.http.redact import describe_token, redact

from ..slots import WorkerSlot


@dataclass(frozen=True)
class JobView:
    """One in-flight job of a worker, as /status shows it (``workers[].jobs``)."""

    workspaceId: str
    attempt: int
    running_seconds: float


@dataclass(frozen=True)
class WorkerView:
    slot: int
    pid: int | None
    state: str
    workspaceId: str | None
    attempt: int | None
    jobs_done: int
    restarts: int
    rss_bytes: int
    cpu_percent: float
    uptime_seconds: float | None
    generation: int
    key: str
    job_slots: int = 1                      # jobs this worker runs at once (pool.jobs_per_worker, or 1)
    jobs: tuple[JobView, ...] = ()          # its in-flight jobs, oldest first (workspaceId/attempt: the oldest)

    @classmethod
    def of(cls, slot: WorkerSlot, *, now: float) -> WorkerView:
        """The slot as /status shows it (its runner key as ``credentialId.***``; RSS and CPU are
        filled in at scrape time)."""
        job = slot.oldest_job()
        jobs = tuple(JobView(workspaceId=held.lease.workspace_id, attempt=held.lease.attempt,
                             running_seconds=round(now - held.started_at, 3)) for held in slot.jobs.values())
        return cls(slot=slot.slot, pid=slot.pid, state=slot.state.value,
                   workspaceId=job.lease.workspace_id if job else None, attempt=job.lease.attempt if job else None,
                   jobs_done=slot.jobs_total, restarts=slot.restarts, rss_bytes=0, cpu_percent=0.0,
                   uptime_seconds=round(now - slot.started_at, 3) if slot.process is not None else None,
                   generation=slot.generation, key=describe_token(slot.key), job_slots=slot.lanes, jobs=jobs)


@dataclass(frozen=True)
class PoolSnapshot:
    workers: tuple[WorkerView, ...] = ()
    draining: bool = False
    desired_workers: int = 0
    loop_heartbeat: float = 0.0      # monotonic time of the loop's last turn
    taken_at: float = 0.0            # monotonic time the loop built this snapshot
    started_at: float = 0.0          # monotonic
    supervisor_pid: int = 0
    supervisor_rss_bytes: int = 0
    supervisor_cpu_percent: float = 0.0
    memory_limit_bytes: int = 0
    cloud_url: str = ""
    model: str = ""
    recovering_jobs: int = 0
    lease_backoff_seconds: float = 0.0
    model_pauses: int = 0            # leasing pauses begun because the model endpoint refused us or was down
    model_pause_left: float = 0.0    # seconds until the current model pause ends (0 = none)
    version: str = ""
    stop_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ready_workers(self) -> int:
        return sum(1 for worker in self.workers if worker.state in ("idle", "busy"))

    def job_slot_counts(self) -> dict[str, int]:
        """Job slots of the workers able to take jobs (idle or busy), by state: busy (a job in it) or free."""
        busy = free = 0
        for worker in self.workers:
            if worker.state in ("idle", "busy"):
                busy += len(worker.jobs)
                free += max(0, worker.job_slots - len(worker.jobs))
        return {"busy": busy, "free": free}

    def state_counts(self) -> dict[str, int]:
        counts = {state: 0 for state in ("starting", "idle", "busy", "stopping", "parked")}
        for worker in self.workers:
            state = "starting" if worker.state == "waiting" else worker.state
            counts[state] = counts.get(state, 0) + 1
        return counts

    def aged(self, seconds: float, *, now: float) -> float:
        """``seconds`` left when the snapshot was taken, as left at ``now`` (never below 0)."""
        return max(0.0, seconds - max(0.0, now - self.taken_at))

    def to_json(self, *, now: float) -> dict[str, Any]:
        """The /status document."""
        age = max(0.0, now - self.taken_at)
        workers = [asdict(worker) for worker in self.workers]
        for worker in workers:
            if worker["uptime_seconds"] is not None:
                worker["uptime_seconds"] = round(worker["uptime_seconds"] + age, 3)
            for job in worker["jobs"]:
                job["running_seconds"] = round(job["running_seconds"] + age, 3)
        return {
            "version": self.version,
            "pid": self.supervisor_pid,
            "uptime_seconds": round(now - self.started_at, 3),
            "draining": self.draining,
            "stop_reason": self.stop_reason,
            "desired_workers": self.desired_workers,
            "ready_workers": self.ready_workers,
            "states": self.state_counts(),
            "recovering_jobs": self.recovering_jobs,
            "lease_backoff_seconds": round(self.aged(self.lease_backoff_seconds, now=now), 3),
            "cloud": redact(self.cloud_url),
            "model": redact(self.model),
            "supervisor": {"rss_bytes": self.supervisor_rss_bytes, "cpu_percent": self.supervisor_cpu_percent},
            "workers": workers,
        }
