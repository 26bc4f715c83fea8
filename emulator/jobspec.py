"""Job specs: the admin API's description of a workspace job to enqueue, checked strictly.

Spec (JSON object)::

    {"target": "global" | "user", "owner"?: str (required for user), "title"?: str | null,
     "legacyIdea"?: str | null, "messages"?: [{"text": str, "subtitle"?: str}],
     "summaryThreshold"?: int >= 0}

A job with neither messages nor a legacy idea is allowed: it exercises a runner's
``empty_context`` failure path.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator.contexts import DEFAULT_SUMMARY_THRESHOLD
from emulator.records import INSTANCE_KINDS, USER
from shared.http.json_types import json_type

SPEC_KEYS = ("target", "owner", "title", "legacyIdea", "messages", "summaryThreshold")
MAX_MESSAGES = 1000
MAX_TEXT_CHARS = 200_000  # per message or legacy idea
MAX_TITLE_CHARS = 200


class JobSpecError(ValueError):
    """A job spec has problems; ``problems`` lists each one with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid job spec: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, kw_only=True)
class MessageSpec:
    text: str
    subtitle: str | None = None


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    """A checked job spec, ready for ``EmulatorState.enqueue``."""

    target: str
    owner: str | None
    title: str | None
    legacy_idea: str | None
    messages: tuple[MessageSpec, ...]
    summary_threshold: int = DEFAULT_SUMMARY_THRESHOLD


def parse_job_spec(raw: Any) -> JobSpec:
    """Check ``raw`` and return the spec, or raise ``JobSpecError`` listing every problem."""
    if not isinstance(raw, Mapping):
        raise JobSpecError([f"job spec must be an object, got {json_type(raw)}"])
    problems = [f"{key}: unknown field" for key in sorted(set(raw) - set(SPEC_KEYS))]
    target = raw.get("target")
    if target not in INSTANCE_KINDS:
        problems.append(f"target: must be one of {', '.join(INSTANCE_KINDS)}, got {target!r}")
    owner = _optional_text(raw, "owner", problems, max_chars=MAX_TITLE_CHARS)
    if target == USER and not (owner or "").strip():
        problems.append("owner: required for target 'user' (the account uid whose user keys may lease it)")
    title = _optional_text(raw, "title", problems, max_chars=MAX_TITLE_CHARS)
    legacy_idea = _optional_text(raw, "legacyIdea", problems, max_chars=MAX_TEXT_CHARS)
    messages = _messages(raw.get("messages", []), problems)
    threshold = raw.get("summaryThreshold", DEFAULT_SUMMARY_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        problems.append(f"summaryThreshold: must be an integer >= 0 (prior tokens), got {threshold!r}")
    if problems:
        raise JobSpecError(problems)
    return JobSpec(target=str(target), owner=owner, title=title, legacy_idea=legacy_idea,
                   messages=messages, summary_threshold=threshold)


def _optional_text(raw: Mapping[str, Any], key: str, problems: list[str], *, max_chars: int) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(f"{key}: must be a string or null, got {json_type(value)}")
        return None
    if len(value) > max_chars:
        problems.append(f"{key}: {len(value)} chars, at most {max_chars}")
    return value


def _messages(value: Any, problems: list[str]) -> tuple[MessageSpec, ...]:
    if not isinstance(value, list):
        problems.append(f"messages: must be an array, got {json_type(value)}")
        return ()
    if len(value) > MAX_MESSAGES:
        problems.append(f"messages: {len(value)} messages, at most {MAX_MESSAGES}")
        return ()
    parsed: list[MessageSpec] = []
    for index, item in enumerate(value):
        path = f"messages[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{path}: must be an object, got {json_type(item)}")
            continue
        problems.extend(f"{path}.{key}: unknown field" for key in sorted(set(item) - {"text", "subtitle"}))
        text = item.get("text")
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{path}.text: must be a non-blank string")
            continue
        if len(text) > MAX_TEXT_CHARS:
            problems.append(f"{path}.text: {len(text)} chars, at most {MAX_TEXT_CHARS}")
        subtitle = item.get("subtitle")
        if subtitle is not None and not isinstance(subtitle, str):
            problems.append(f"{path}.subtitle: must be a string, got {json_type(subtitle)}")
            subtitle = None
        parsed.append(MessageSpec(text=text, subtitle=subtitle))
    return tuple(parsed)
