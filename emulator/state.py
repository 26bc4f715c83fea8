"""The emulator's in-memory cloud: accounts, runner instances, the job queue and leases.

One lock guards everything, so every operation is atomic and the emulator is safe under
a threaded HTTP server. Leases expire lazily: every operation first returns expired
leases' jobs to pending (``leasesExpired`` in the stats), so no timer thread is needed and
an injected clock makes expiry testable without sleeping. A lease is gone once the clock
reaches ``leaseExpiresAt``.

Queues are per audience (global jobs; user jobs per owner), each a heap ordered by enqueue
sequence, so the oldest pending job is leased first even after an expired lease puts it back.
"""
from __future__ import annotations

import hashlib
import heapq
import hmac
import secrets
import threading
from collections.abc import Callable
from typing import Any

from emulator.contexts import build_context
from emulator.errors import ApiError
from emulator.jobspec import JobSpec
from emulator.records import (
    COMPLETED,
    FAILED,
    GLOBAL,
    JOB_STATES,
    LEASED,
    PENDING,
    Account,
    Instance,
    Job,
    Message,
    StoredSummary,
)
from emulator.stats import Stats

MAX_ERROR_CHARS = 500  # failWorkspaceJob keeps this much of the error text, like the official runner
MESSAGE_SPACING_MS = 60_000  # seeded messages are one minute apart, the last at enqueue time

_NO_LEASE_REASONS = {
    PENDING: "the lease expired or was never granted",
    LEASED: "the job is leased by another runner instance",
    COMPLETED: "the job is already completed",
    FAILED: "the job is already failed",
}


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


class EmulatorState:
    """Thread-safe state of one emulated cloud. Times are epoch milliseconds."""

    def __init__(self, *, lease_seconds: float, max_leases_per_instance: int,
                 clock: Callable[[], float], stats: Stats) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._lease_ms = round(lease_seconds * 1000)
        self._max_leases = max_leases_per_instance
        self._stats = stats
        self._accounts: dict[str, Account] = {}  # by uid
        self._id_tokens: dict[str, str] = {}  # ID token -> uid
        self._instances: dict[str, Instance] = {}  # by instance id
        self._by_credential: dict[str, Instance] = {}
        self._jobs: dict[str, Job] = {}
        self._queues: dict[tuple[str, str | None], list[tuple[int, str]]] = {}
        self._leased: set[str] = set()
        self._next_job = 1
        self._next_instance = 1

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    # --- accounts and credentials -------------------------------------------------------

    def add_account(self, *, uid: str, admin: bool) -> str:
        """Register (or update) account ``uid`` and mint a new opaque ID token for it."""
        token = "idt_" + secrets.token_urlsafe(32)
        with self._lock:
            self._accounts[uid] = Account(uid=uid, admin=admin)
            self._id_tokens[token] = uid
        return token

    def account_for_id_token(self, token: str) -> Account:
        """The account of an ID token; 401 for runner keys and unknown tokens."""
        with self._lock:
            uid = self._id_tokens.get(token)
            if uid is not None:
                return self._accounts[uid]
            if self._find_instance_locked(token) is not None:
                raise ApiError(401, "runner keys cannot manage runner instances: use a Studio account ID token")
        raise ApiError(401, "unknown or expired ID token")

    def instance_for_runner_key(self, token: str) -> Instance:
        """The active instance of a runner key; 401 for ID tokens, unknown and revoked keys."""
        with self._lock:
            if token in self._id_tokens:
                raise ApiError(401, "Studio account ID tokens are not accepted on job routes: use a runner key")
            instance = self._find_instance_locked(token)
        if instance is None:
            raise ApiError(401, "unknown runner key")
        if not instance.active:
            raise ApiError(401, "runner key revoked")
        return instance

    def _find_instance_locked(self, token: str) -> Instance | None:
        credential_id, dot, secret = token.partition(".")
        instance = self._by_credential.get(credential_id) if dot else None
        if instance is None or not hmac.compare_digest(instance.secret_digest, _digest(secret)):
            return None
        return instance

    # --- runner instances -----------------------------------------------------------------

    def create_instance(self, *, kind: str, owner: str, name: str | None) -> dict[str, Any]:
        """A new instance and its key; the answer body of ``/createRunnerInstance``."""
        secret = secrets.token_urlsafe(32)
        with self._lock:
            number = self._next_instance
            self._next_instance += 1
            instance = Instance(instance_id=f"ri_{number:04d}_{secrets.token_hex(4)}",
                                credential_id=f"cred{secrets.token_hex(8)}", secret_digest=_digest(secret),
                                kind=kind, owner=owner, name=name or f"runner-{number}",
                                created_at_ms=self.now_ms())
            self._instances[instance.instance_id] = instance
            self._by_credential[instance.credential_id] = instance
        self._stats.event("instancesCreated")
        return {"instanceId": instance.instance_id, "credentialId": instance.credential_id,
                "runnerToken": f"{instance.credential_id}.{secret}", "kind": kind, "name": instance.name}

    def revoke_instance(self, *, account: Account, instance_id: str) -> None:
        """Revoke at once; the instance's leased jobs go back to pending."""
        with self._lock:
            instance = self._owned_instance_locked(account, instance_id)
            if not instance.active:
                return
            instance.revoked_at_ms = self.now_ms()
            for workspace_id in [w for w in self._leased if self._jobs[w].holder == instance_id]:
                self._return_to_queue_locked(self._jobs[workspace_id])
        self._stats.event("instancesRevoked")

    def rename_instance(self, *, account: Account, instance_id: str, name: str) -> str:
        with self._lock:
            instance = self._owned_instance_locked(account, instance_id)
            if not instance.active:
                raise ApiError(409, f"runner instance {instance_id} is revoked")
            instance.name = name
        return name

    def _owned_instance_locked(self, account: Account, instance_id: str) -> Instance:
        instance = self._instances.get(instance_id)
        if instance is None:
            raise ApiError(404, f"no runner instance {instance_id}")
        if instance.owner != account.uid and not account.admin:
            raise ApiError(403, f"runner instance {instance_id} belongs to another account")
        return instance

    # --- the queue ----------------------------------------------------------------------------

    def enqueue(self, spec: JobSpec) -> str:
        """Add a pending job built from ``spec``; returns its workspace id."""
        with self._lock:
            seq = self._next_job
            self._next_job += 1
            workspace_id = f"ws-{seq:06d}"
            now = self.now_ms()
            count = len(spec.messages)
            messages = tuple(
                Message(id=f"{workspace_id}-m{index + 1:03d}", text=m.text, subtitle=m.subtitle,
                        created_at_ms=now - (count - 1 - index) * MESSAGE_SPACING_MS)
                for index, m in enumerate(spec.messages))
            job = Job(workspace_id=workspace_id, seq=seq, target=spec.target,
                      owner=spec.owner, title=spec.title, legacy_idea=spec.legacy_idea, messages=messages,
                      summary_threshold=spec.summary_threshold, created_at_ms=now)
            self._jobs[workspace_id] = job
            self._push_locked(job)
        return workspace_id

    def lease(self, instance: Instance) -> dict[str, Any]:
        """Lease the oldest pending job this instance may see; the ``/leaseWorkspaceJob`` answer."""
        with self._lock:
            now = self._sweep_locked()
            if self._max_leases and self._held_locked(instance) >= self._max_leases:
                self._stats.event("leasesRefusedAtLimit")
                return {"leased": False}
            job = self._pop_locked(self._audience(instance.kind, instance.owner))
            if job is None:
                return {"leased": False}
            job.state, job.holder = LEASED, instance.instance_id
            job.lease_expires_at_ms = now + self._lease_ms
            job.leased_at_ms = now
            job.lease_count += 1
            self._leased.add(job.workspace_id)
            answer = {"leased": True, "workspaceId": job.workspace_id,
                      "leaseExpiresAt": job.lease_expires_at_ms, "workspace": job.workspace_json()}
        self._stats.event("leasesGranted")
        return answer

    def heartbeat(self, instance: Instance, workspace_id: str) -> int:
        """Extend the lease by the lease length; returns the new ``leaseExpiresAt``."""
        with self._lock:
            job = self._leased_job_locked(instance, workspace_id)
            job.lease_expires_at_ms = self.now_ms() + self._lease_ms
            expires = job.lease_expires_at_ms
        self._stats.event("heartbeats")
        return expires

    def context(self, instance: Instance, workspace_id: str) -> dict[str, Any]:
        with self._lock:
            return build_context(self._leased_job_locked(instance, workspace_id))

    def store_summary(self, instance: Instance, workspace_id: str, summary: StoredSummary) -> None:
        """Keep ``summary``; 400 unless both ids are messages of the job, in order."""
        with self._lock:
            job = self._leased_job_locked(instance, workspace_id)
            positions = {m.id: index for index, m in enumerate(job.messages)}
            for key, message_id in (("fromMessageId", summary.from_message_id),
                                    ("throughMessageId", summary.through_message_id)):
                if message_id not in positions:
                    raise ApiError(400, f"{key} {message_id!r} is not a message of workspace {workspace_id}")
            if positions[summary.from_message_id] > positions[summary.through_message_id]:
                raise ApiError(400, "fromMessageId comes after throughMessageId")
            job.summary = summary
        self._stats.event("summariesStored")

    def check_lease(self, instance: Instance, workspace_id: str) -> None:
        """409 unless ``instance`` holds an active lease on ``workspace_id``."""
        with self._lock:
            self._leased_job_locked(instance, workspace_id)

    def complete(self, instance: Instance, workspace_id: str, payload: dict[str, Any]) -> None:
        """Store the (already validated) payload, mark completed, release the lease."""
        with self._lock:
            job = self._leased_job_locked(instance, workspace_id)
            job.payload = payload
            job.complete_count += 1
            self._finish_locked(job, COMPLETED)
        self._stats.event("completions")

    def fail(self, instance: Instance, workspace_id: str, error: str) -> None:
        with self._lock:
            job = self._leased_job_locked(instance, workspace_id)
            job.error = error[:MAX_ERROR_CHARS]
            self._finish_locked(job, FAILED)
        self._stats.event("failures")

    # --- admin reads -----------------------------------------------------------------------

    def job_snapshot(self, workspace_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._sweep_locked()
            job = self._jobs.get(workspace_id)
            return job.snapshot(include_payload=True) if job else None

    def job_snapshots(self, *, state: str | None = None) -> list[dict[str, Any]]:
        """Every job (oldest first) without payloads, optionally only those in ``state``."""
        with self._lock:
            self._sweep_locked()
            return [job.snapshot(include_payload=False) for job in self._jobs.values()
                    if state is None or job.state == state]

    def job_counts(self) -> dict[str, int]:
        with self._lock:
            self._sweep_locked()
            counts = dict.fromkeys(JOB_STATES, 0)
            for job in self._jobs.values():
                counts[job.state] += 1
            return counts

    def clear_jobs(self) -> None:
        """Drop every job and lease (accounts and instances stay); ids keep counting up."""
        with self._lock:
            self._jobs.clear()
            self._queues.clear()
            self._leased.clear()

    # --- internals (caller holds the lock) -------------------------------------------------

    @staticmethod
    def _audience(target: str, owner: str | None) -> tuple[str, str | None]:
        """The queue key: one queue for global jobs, one per owner for user jobs."""
        return (target, None if target == GLOBAL else owner)

    def _push_locked(self, job: Job) -> None:
        queue = self._queues.setdefault(self._audience(job.target, job.owner), [])
        heapq.heappush(queue, (job.seq, job.workspace_id))

    def _pop_locked(self, audience: tuple[str, str | None]) -> Job | None:
        queue = self._queues.get(audience, [])
        while queue:
            _, workspace_id = heapq.heappop(queue)
            job = self._jobs.get(workspace_id)
            if job is not None and job.state == PENDING:
                return job
        return None

    def _held_locked(self, instance: Instance) -> int:
        return sum(1 for w in self._leased if self._jobs[w].holder == instance.instance_id)

    def _sweep_locked(self) -> int:
        """Return every expired lease's job to pending; returns the current time (ms)."""
        now = self.now_ms()
        expired = [w for w in self._leased if (self._jobs[w].lease_expires_at_ms or 0) <= now]
        for workspace_id in expired:
            self._return_to_queue_locked(self._jobs[workspace_id])
        if expired:
            self._stats.event("leasesExpired", len(expired))
        return now

    def _return_to_queue_locked(self, job: Job) -> None:
        job.state, job.holder, job.lease_expires_at_ms = PENDING, None, None
        self._leased.discard(job.workspace_id)
        self._push_locked(job)

    def _finish_locked(self, job: Job, state: str) -> None:
        job.state, job.holder, job.lease_expires_at_ms = state, None, None
        job.finished_at_ms = self.now_ms()
        self._leased.discard(job.workspace_id)

    def _leased_job_locked(self, instance: Instance, workspace_id: str) -> Job:
        """The job if ``instance`` holds an active lease on it, else 409 saying why not."""
        self._sweep_locked()
        job = self._jobs.get(workspace_id)
        if job is not None and job.state == LEASED and job.holder == instance.instance_id:
            return job
        reason = _NO_LEASE_REASONS[job.state] if job else "no such workspace"
        raise ApiError(409, f"no active lease on workspace {workspace_id} for this runner instance",
                       {"workspaceId": workspace_id, "reason": reason})
