"""The contract between a job and a model: sessions of rounds, tool calls and their results.

A worker creates its ``ModelHandle`` once, at boot, and reuses it for every job. Each job
opens one ``ModelSession``; each ``send`` is one model round. The first round sends the
user input; later rounds send the results of the tool calls the model made (and, during
repair, an extra user text). How the history is carried (``previous_response_id`` for the
Responses API, the whole message list for chat completions) is the session's business.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from shared.pipe.failures import FailureClass, JobFailure


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """A function tool offered to the model: name, description and JSON Schema of arguments."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class ToolCall:
    """One function call the model asked for; ``arguments`` is the raw JSON text (may be malformed)."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, kw_only=True)
class ModelTurn:
    """What one round produced: assistant text (may be empty) and tool calls (may be empty)."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class UserText:
    """A user message: the job's model input, or a repair instruction."""

    text: str


@dataclass(frozen=True, kw_only=True)
class ToolResult:
    """The answer to one ``ToolCall``: ``output`` is the JSON text ``{"ok": ..., "detail": ...}``."""

    call_id: str
    output: str


InputItem = UserText | ToolResult


class ModelError(Exception):
    """A model call failed for good (after the handle's own retries). ``reason`` is safe to log."""

    def __init__(self, reason: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.code = code


class ModelUnavailable(ModelError):
    """The model endpoint cannot serve any job now: the job fails and the pool pauses leasing
    (instead of failing the whole queue in seconds)."""


class ModelAuthError(ModelUnavailable):
    """401/403 from the model endpoint: the API key is wrong or lacks access."""


class ModelQuotaError(ModelUnavailable):
    """429 ``insufficient_quota``: retrying cannot help until billing changes."""


class ModelEndpointDown(ModelUnavailable):
    """The model endpoint is unreachable, has no such API (404 on its path), or answered
    5xx to every try."""


class ModelContextTooLong(ModelError):
    """The input does not fit the model's context even after the handle's one trimmed retry."""


class ModelAnswerTooLarge(ModelError):
    """The model's answer body was larger than ``model.max_answer_bytes``: refused, not buffered."""


class ModelDeadlineExceeded(ModelError, JobFailure):
    """The time the caller gave a model call (the job's remaining time) ran out during it.

    Also a ``JobFailure`` of class ``DEADLINE``: the job ends as a deadline, not as a model
    error, wherever it catches the two.
    """

    def __init__(self, reason: str) -> None:
        ModelError.__init__(self, reason, code="timeout")
        self.kind = FailureClass.DEADLINE


@runtime_checkable
class ModelSession(Protocol):
    """One job's conversation with the model."""

    def send(self, items: Sequence[InputItem], *, timeout: float | None = None) -> ModelTurn:
        """Run one round. ``timeout`` (seconds) bounds the whole round including retries."""
        ...


@runtime_checkable
class ModelHandle(Protocol):
    """Created once per worker; opens one session per job.

    A handle whose sessions may run at the same time on several threads (``pool.jobs_per_worker``
    > 1) says so with a class attribute ``concurrent_sessions = True``; a handle that does not say
    so runs one job at a time (``workers.lanes``). The attribute is not a protocol member, so an
    operator's handle written before it existed still loads.
    """

    def open_session(self, *, instructions: str, tools: Sequence[ToolSpec]) -> ModelSession:
        ...

    def summarize(self, text: str, *, instructions: str, max_chars: int, timeout: float | None = None) -> str:
        """Summarise ``text`` (older conversation) into at most ``max_chars`` characters."""
        ...

    def close(self) -> None:
        ...
