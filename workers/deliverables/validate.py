"""Validation of deliverables: one item at a time, and the whole ``completeWorkspaceJob`` body.

``validate_item(kind, raw)`` returns the stored form of one artifact (normalising what
protocol §4 says is trimmed and cut) or raises ``DeliverableError``. ``validate_completion``
is the worker's check of a whole completion body before it calls ``completeWorkspaceJob``
(the emulator has its own, ``emulator.completion_rules``); it is strict: an item that
normalising would change is a problem, because the cloud might not normalise.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shared.protocol.limits import COMPLETION_ARRAYS, FILE, KINDS, MAX_MESSAGE_CHARS, KindSpec
from workers.deliverables.errors import DeliverableError
from workers.deliverables.text import count_text, describe_value, is_blank, js_length, lone_surrogate, quote
from workers.deliverables.validate_charts import validate_chart
from workers.deliverables.validate_items import (
    validate_checklist,
    validate_file,
    validate_list,
    validate_svg,
    validate_table,
)

__all__ = [
    "DeliverableError",
    "VALIDATORS",
    "item_ref",
    "validate_chart",
    "validate_checklist",
    "validate_completion",
    "validate_file",
    "validate_item",
    "validate_list",
    "validate_svg",
    "validate_table",
]

VALIDATORS: Mapping[str, Callable[..., dict[str, Any]]] = {
    "file": validate_file,
    "chart": validate_chart,
    "table": validate_table,
    "list": validate_list,
    "checklist": validate_checklist,
    "svg": validate_svg,
}
MAX_PROBLEMS = 50  # problems listed by validate_completion; more are summarised in one line
_TOP_LEVEL_FIELDS = ("workspaceId", "assistantMessage") + COMPLETION_ARRAYS
_MISPLACED_HINTS = {"tables": 'tables go in "datasets"'}


def validate_item(kind: str, raw: Any, *, strict: bool = False) -> dict[str, Any]:
    """The stored form of the ``kind`` artifact ``raw`` (``kind`` as cited: file, chart, ...)."""
    try:
        validator = VALIDATORS[kind]
    except KeyError:
        raise ValueError(f"unknown artifact kind {kind!r}; the kinds are {', '.join(VALIDATORS)}") from None
    return validator(raw, strict=strict)


def item_ref(kind: str, item: Mapping[str, Any]) -> str:
    """What a citation of the stored ``item`` names: a file's path, anything else's id."""
    return str(item["name"] if kind == FILE.kind else item["id"])


def validate_completion(body: object) -> list[str]:
    """Every problem of the completion ``body`` as ``"<path>: <what is wrong>"``; [] when valid.

    Checks: an object with exactly the protocol's fields; ``workspaceId`` a non-empty
    string; ``assistantMessage`` a string of at most 24,000 characters; all six arrays
    present and lists within the per-job caps; every item strictly valid; ids (file paths)
    unique per kind, ignoring case; and at least a message or one artifact.
    """
    if not isinstance(body, Mapping):
        return [f"body: expected a JSON object, got {describe_value(body)}"]
    problems = [_unknown_field(key) for key in body if key not in _TOP_LEVEL_FIELDS]
    workspace_id = body.get("workspaceId")
    if not isinstance(workspace_id, str) or is_blank(workspace_id):
        problems.append(f"workspaceId: expected a non-empty string, got {describe_value(workspace_id)}")
    message = body.get("assistantMessage")
    problems.extend(_message_problems(message, present="assistantMessage" in body))
    artifact_count = 0
    for spec in KINDS.values():
        items = body.get(spec.array)
        if not isinstance(items, list):
            problems.append(f"{spec.array}: expected a list (send [] when there are no {spec.plural}), "
                            f"got {'nothing' if spec.array not in body else describe_value(items)}")
            continue
        artifact_count += len(items)
        problems.extend(_array_problems(spec, items))
    if isinstance(message, str) and is_blank(message) and artifact_count == 0:
        problems.append("assistantMessage: is empty and there are no artifacts; "
                        "a completion needs a message or at least one artifact")
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        problems = problems[:MAX_PROBLEMS] + [f"... and {count_text(more, 'more problem')}"]
    return problems


def _unknown_field(key: object) -> str:
    hint = _MISPLACED_HINTS.get(str(key))
    allowed = ", ".join(_TOP_LEVEL_FIELDS)
    return f"{key}: unknown field ({hint})" if hint else f"{key}: unknown field; the fields are {allowed}"


def _message_problems(message: Any, *, present: bool) -> list[str]:
    if not present:
        return ["assistantMessage: is required (a string; it may be empty when there are artifacts)"]
    if not isinstance(message, str):
        return [f"assistantMessage: expected a string, got {describe_value(message)}"]
    if lone_surrogate(message) is not None:
        return ["assistantMessage: has a lone surrogate, which cannot be sent as UTF-8"]
    length = js_length(message)
    if length > MAX_MESSAGE_CHARS:
        return [f"assistantMessage: is {length:,} characters; the limit is {MAX_MESSAGE_CHARS:,}"]
    return []


def _array_problems(spec: KindSpec, items: list[Any]) -> list[str]:
    """Problems of one completion array: its cap, each item, and duplicate ids."""
    problems = []
    if len(items) > spec.cap:
        problems.append(f"{spec.array}: has {len(items)} {spec.plural}; the limit is {spec.cap} per job")
    first_use: dict[str, int] = {}
    for position, raw in enumerate(items):
        place = f"{spec.array}[{position}]"
        try:
            item = validate_item(spec.kind, raw, strict=True)
        except DeliverableError as err:
            problems.append(err.problem(place))
            continue
        ref = item_ref(spec.kind, item)
        earlier = first_use.setdefault(ref.lower(), position)
        if earlier != position:
            field = "name" if spec is FILE else "id"
            problems.append(f"{place}.{field}: {quote(ref)} is already used by {spec.array}[{earlier}]; "
                            f"{spec.kind} {field}s must be unique in a job (ignoring case)")
    return problems
