"""The emulator's stored records: accounts, runner instances, messages, summaries and jobs.

Plain mutable dataclasses owned by ``EmulatorState``, which guards them with its lock;
nothing outside the state mutates them. Times are epoch milliseconds (ints), as on the wire.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PENDING = "pending"
LEASED = "leased"
COMPLETED = "completed"
FAILED = "failed"
JOB_STATES = (PENDING, LEASED, COMPLETED, FAILED)

GLOBAL = "global"
USER = "user"
INSTANCE_KINDS = (USER, GLOBAL)


@dataclass(kw_only=True)
class Account:
    """A Studio account; its ID tokens may manage runner instances (global ones if admin)."""

    uid: str
    admin: bool


@dataclass(kw_only=True)
class Instance:
    """A runner instance and its key ``credential_id.secret`` (only the secret's digest is kept)."""

    instance_id: str
    credential_id: str
    secret_digest: bytes
    kind: str
    owner: str
    name: str
    created_at_ms: int
    revoked_at_ms: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at_ms is None


@dataclass(frozen=True, kw_only=True)
class Message:
    """One user message of a workspace chat."""

    id: str
    text: str
    subtitle: str | None
    created_at_ms: int

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "role": "user", "text": self.text}
        if self.subtitle is not None:
            body["subtitle"] = self.subtitle
        body["createdAtMs"] = self.created_at_ms
        return body


@dataclass(frozen=True, kw_only=True)
class StoredSummary:
    """A runner-written summary of messages ``from_message_id`` … ``through_message_id``."""

    text: str
    from_message_id: str
    through_message_id: str

    def to_json(self) -> dict[str, str]:
        return {"text": self.text, "fromMessageId": self.from_message_id,
                "throughMessageId": self.through_message_id}


@dataclass(kw_only=True)
class Job:
    """A workspace job and its whole lifecycle; ``seq`` orders the queue (oldest first)."""

    workspace_id: str
    seq: int
    target: str
    owner: str | None
    title: str | None
    legacy_idea: str | None
    messages: tuple[Message, ...]
    summary_threshold: int
    created_at_ms: int
    state: str = PENDING
    holder: str | None = None
    lease_expires_at_ms: int | None = None
    lease_count: int = 0
    complete_count: int = 0
    payload: dict[str, Any] | None = None
    error: str | None = None
    summary: StoredSummary | None = None
    leased_at_ms: int | None = None
    finished_at_ms: int | None = None

    def workspace_json(self) -> dict[str, Any]:
        """The ``workspace`` object of a lease answer."""
        body: dict[str, Any] = {"id": self.workspace_id, "title": self.title, "target": self.target}
        if self.owner is not None:
            body["owner"] = self.owner
        body.update({"legacyIdea": self.legacy_idea, "messageCount": len(self.messages),
                     "createdAtMs": self.created_at_ms})
        return body

    def snapshot(self, *, include_payload: bool) -> dict[str, Any]:
        """Admin view of the job; the (possibly large) final payload only when asked."""
        body: dict[str, Any] = {
            "workspaceId": self.workspace_id, "state": self.state, "target": self.target,
            "owner": self.owner, "title": self.title, "messageCount": len(self.messages),
            "holder": self.holder, "leaseExpiresAt": self.lease_expires_at_ms,
            "leaseCount": self.lease_count, "completeCount": self.complete_count,
            "error": self.error, "summary": self.summary.to_json() if self.summary else None,
            "createdAtMs": self.created_at_ms, "leasedAtMs": self.leased_at_ms,
            "finishedAtMs": self.finished_at_ms,
        }
        if include_payload:
            body["payload"] = self.payload
        return body
