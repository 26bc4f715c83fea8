"""The runner context (protocol §3): parse it strictly, then turn it into the model's input.

Parsing checks every field of §3 and ignores unknown extras, so a malformed answer fails the
job with a reason naming the field and the rule instead of crashing deep in generation: ids
follow ``shared.cloud.fields.id_problem`` (non-empty, bounded, no control characters) and
the context must be the job's own; numbers are finite and in range before any conversion;
lists and the title are bounded. The long texts are bounded by the answer size cap
(``cloud.max_answer_bytes``).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.cloud.fields import id_problem
from shared.pipe.failures import FailureClass, JobFailure

SECTION_SEPARATOR = "\n\n---\n\n"
MAX_TITLE_CHARS = 2_000        # characters of a workspace title
MAX_MESSAGES = 100_000         # entries in recentMessages / priorMessages
MAX_MESSAGE_COUNT = 10 ** 9    # messageCount
MAX_TOKEN_ESTIMATE = 1e12      # recentTokenEstimate / priorTokenEstimate


class ContextError(JobFailure):
    """The context cannot be used."""


@dataclass(frozen=True, kw_only=True)
class StoredSummary:
    text: str
    from_message_id: str
    through_message_id: str


@dataclass(frozen=True, kw_only=True)
class RunnerContext:
    workspace_id: str
    title: str | None
    legacy_idea: str | None
    message_count: int
    prior_message_ids: tuple[str, ...]
    recent_text: str
    prior_text_verbatim: str
    prior_token_estimate: float
    prior_needs_summarization: bool
    stored_summary_covers_prior: bool
    stored_prior_summary: StoredSummary | None


def parse_context(data: Mapping[str, Any], *, workspace_id: str | None = None) -> RunnerContext:
    """A ``RunnerContext`` from the JSON of ``getWorkspaceRunnerContext``, or ContextError.

    ``workspace_id`` is the job's: a context naming another workspace is refused.
    """
    reader = _Reader(data)
    stored = data.get("storedPriorSummary")
    summary = None
    if stored is not None:
        inner = _Reader(stored, prefix="storedPriorSummary.")
        summary = StoredSummary(text=inner.text("text"), from_message_id=inner.id("fromMessageId"),
                                through_message_id=inner.id("throughMessageId"))
    ids = tuple(_message(message, f"priorMessages[{index}].").id("id")
                for index, message in enumerate(reader.list("priorMessages")))
    for index, message in enumerate(reader.list("recentMessages")):
        _message(message, f"recentMessages[{index}].")
    reader.number("recentTokenEstimate", default=0, maximum=MAX_TOKEN_ESTIMATE)
    context_id = reader.id("workspaceId")
    if workspace_id is not None and context_id != workspace_id:
        raise ContextError("invalid_runner_context: workspaceId names another workspace than the job's")
    return RunnerContext(
        workspace_id=context_id,
        title=reader.optional_text("title", max_chars=MAX_TITLE_CHARS),
        legacy_idea=reader.optional_text("legacyIdea"),
        message_count=int(reader.number("messageCount", maximum=MAX_MESSAGE_COUNT, integer=True)),
        prior_message_ids=ids,
        recent_text=reader.text("recentText", default=""),
        prior_text_verbatim=reader.text("priorTextVerbatim", default=""),
        prior_token_estimate=reader.number("priorTokenEstimate", default=0, maximum=MAX_TOKEN_ESTIMATE),
        prior_needs_summarization=reader.flag("priorNeedsSummarization"),
        stored_summary_covers_prior=reader.flag("storedSummaryCoversPrior"),
        stored_prior_summary=summary,
    )


def compose_model_input(context: RunnerContext, prior_section: str) -> str:
    """The user input for the model, laid out as the official runner does (protocol §3)."""
    parts = []
    if context.title:
        parts.append(f"Title: {context.title}")
    if context.message_count == 0:
        idea = (context.legacy_idea or "").strip()
        if not idea:
            raise ContextError("empty_context", kind=FailureClass.EMPTY_CONTEXT)
        parts.append(idea)
        return SECTION_SEPARATOR.join(parts)
    if prior_section:
        parts.append(f"### Earlier context (may be summarized)\n\n{prior_section}")
    if not context.recent_text.strip() and not prior_section.strip():
        raise ContextError("empty_context", kind=FailureClass.EMPTY_CONTEXT)
    parts.append(f"### Recent user messages\n\n{context.recent_text}")
    return SECTION_SEPARATOR.join(parts)


def _message(data: Any, prefix: str) -> _Reader:
    """A §3 message (``{id, role, text, subtitle?, createdAtMs}``) checked field by field."""
    message = _Reader(data, prefix=prefix)
    message.id("id")
    for key in ("role", "text", "subtitle"):
        message.optional_text(key)
    message.number("createdAtMs", default=0, maximum=1e16)
    return message


class _Reader:
    """Typed field access that names the offending field and the rule in its errors."""

    def __init__(self, data: Any, *, prefix: str = "") -> None:
        if not isinstance(data, Mapping):
            raise ContextError(f"invalid_runner_context: {prefix.rstrip('.') or 'body'} is not an object")
        self._data = data
        self._prefix = prefix

    def _bad(self, key: str, expected: str) -> ContextError:
        got = type(self._data.get(key)).__name__ if key in self._data else "nothing"
        return ContextError(f"invalid_runner_context: {self._prefix}{key} expected {expected}, got {got}")

    def _broken(self, key: str, problem: str) -> ContextError:
        return ContextError(f"invalid_runner_context: {self._prefix}{key} {problem}")

    def text(self, key: str, *, default: str | None = None) -> str:
        value = self._data.get(key, default)
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def id(self, key: str) -> str:
        """A non-empty id, bounded and free of control characters (``id_problem``)."""
        value = self.text(key)
        problem = id_problem(value)
        if problem:
            raise self._broken(key, problem)
        return value

    def optional_text(self, key: str, *, max_chars: int | None = None) -> str | None:
        value = self._data.get(key)
        if value is not None and not isinstance(value, str):
            raise self._bad(key, "a string or null")
        if value is not None and max_chars is not None and len(value) > max_chars:
            raise self._broken(key, f"is {len(value)} characters long, over the {max_chars} allowed")
        return value

    def number(self, key: str, *, default: float | None = None, maximum: float,
               integer: bool = False) -> float:
        """A finite number from 0 to ``maximum`` (a whole one if ``integer``), checked before any
        conversion so a 401-digit integer or 1e308 is refused, not overflowed."""
        value = self._data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._bad(key, "a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise self._broken(key, "is not a finite number")
        if not 0 <= value <= maximum:
            raise self._broken(key, f"is out of range (0 to {maximum:g})")
        if integer and value != int(value):
            raise self._broken(key, "is not a whole number")
        return value

    def flag(self, key: str) -> bool:
        value = self._data.get(key, False)
        if not isinstance(value, bool):
            raise self._bad(key, "true or false")
        return value

    def list(self, key: str) -> list[Any]:
        value = self._data.get(key, [])
        if not isinstance(value, list):
            raise self._bad(key, "a list")
        if len(value) > MAX_MESSAGES:
            raise self._broken(key, f"has {len(value)} entries, over the {MAX_MESSAGES} allowed")
        return value
