"""The runner context (protocol §3): parse it strictly, then turn it into the model's input.

Parsing checks the fields we rely on and ignores unknown extras, so a malformed answer
fails the job with a reason naming the field instead of crashing deep in generation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from .failures import JobFailure

SECTION_SEPARATOR = "\n\n---\n\n"


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
    title: Optional[str]
    legacy_idea: Optional[str]
    message_count: int
    prior_message_ids: tuple[str, ...]
    recent_text: str
    prior_text_verbatim: str
    prior_token_estimate: float
    prior_needs_summarization: bool
    stored_summary_covers_prior: bool
    stored_prior_summary: Optional[StoredSummary]


def parse_context(data: Mapping[str, Any]) -> RunnerContext:
    """A ``RunnerContext`` from the JSON of ``getWorkspaceRunnerContext``, or ContextError."""
    reader = _Reader(data)
    stored = data.get("storedPriorSummary")
    summary = None
    if stored is not None:
        inner = _Reader(stored, prefix="storedPriorSummary.")
        summary = StoredSummary(text=inner.text("text"), from_message_id=inner.text("fromMessageId"),
                                through_message_id=inner.text("throughMessageId"))
    prior_messages = reader.list("priorMessages")
    ids = []
    for index, message in enumerate(prior_messages):
        ids.append(_Reader(message, prefix=f"priorMessages[{index}].").text("id"))
    reader.list("recentMessages")
    return RunnerContext(
        workspace_id=reader.text("workspaceId"),
        title=reader.optional_text("title"),
        legacy_idea=reader.optional_text("legacyIdea"),
        message_count=int(reader.number("messageCount")),
        prior_message_ids=tuple(ids),
        recent_text=reader.text("recentText", default=""),
        prior_text_verbatim=reader.text("priorTextVerbatim", default=""),
        prior_token_estimate=reader.number("priorTokenEstimate", default=0),
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
            raise ContextError("empty_context")
        parts.append(idea)
        return SECTION_SEPARATOR.join(parts)
    if prior_section:
        parts.append(f"### Earlier context (may be summarized)\n\n{prior_section}")
    if not context.recent_text.strip() and not prior_section.strip():
        raise ContextError("empty_context")
    parts.append(f"### Recent user messages\n\n{context.recent_text}")
    return SECTION_SEPARATOR.join(parts)


class _Reader:
    """Typed field access that names the offending field in its errors."""

    def __init__(self, data: Any, *, prefix: str = "") -> None:
        if not isinstance(data, Mapping):
            raise ContextError(f"invalid_runner_context: {prefix.rstrip('.') or 'body'} is not an object")
        self._data = data
        self._prefix = prefix

    def _bad(self, key: str, expected: str) -> ContextError:
        got = type(self._data.get(key)).__name__ if key in self._data else "nothing"
        return ContextError(f"invalid_runner_context: {self._prefix}{key} expected {expected}, got {got}")

    def text(self, key: str, *, default: Optional[str] = None) -> str:
        value = self._data.get(key, default)
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def optional_text(self, key: str) -> Optional[str]:
        value = self._data.get(key)
        if value is not None and not isinstance(value, str):
            raise self._bad(key, "a string or null")
        return value

    def number(self, key: str, *, default: Optional[float] = None) -> float:
        value = self._data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._bad(key, "a number")
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
        return value
