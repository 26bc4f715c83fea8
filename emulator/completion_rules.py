"""The emulator's check of a ``completeWorkspaceJob`` body: the cloud's server-side limits.

``completion_problems(body)`` lists every problem as ``"<path>: <what is wrong>"`` ([] when
the cloud would accept the body); the ``/completeWorkspaceJob`` route answers 400 with them.

This is deliberately not the runner's validator (``workers.deliverables.validate``): that
one is stricter (it wants items already in normal form) and written by the same hands as
the runner, so the emulator running it could neither accept everything the real cloud
accepts (the official runner sends ``title: ""``, negative pie values, names it sanitises
its own way, JavaScript whitespace) nor catch a runner bug. Only the limits table
(``shared.protocol.limits``, plain data) is shared. The item rules are in
``emulator.completion_items``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator.completion_items import CHECKS, Refused
from emulator.jsstrings import js_trim, utf16_length
from shared.http.json_types import json_type_with_article
from shared.protocol import limits as L

MAX_PROBLEMS = 50  # problems listed; the rest are counted in one last line
_TOP_LEVEL = ("workspaceId", "assistantMessage", *L.COMPLETION_ARRAYS)
_HINTS = {"tables": 'tables go in "datasets"'}


def completion_problems(body: Any) -> list[str]:
    """Every server-side problem of the completion ``body``; [] when it would be accepted.

    Checks: an object with only the protocol's fields, all six arrays present; a non-blank
    ``workspaceId``; an ``assistantMessage`` string of at most 24,000 UTF-16 units; the
    per-job caps; every item (``emulator.completion_items``); ids (file names for files)
    unique per kind after the cloud's trimming and cutting, ignoring case; and not an empty
    message with no artifacts at all.
    """
    if not isinstance(body, Mapping):
        return [f"body: expected an object, got {json_type_with_article(body)}"]
    problems = [_unknown(key) for key in body if key not in _TOP_LEVEL]
    workspace_id = body.get("workspaceId")
    if not isinstance(workspace_id, str) or not js_trim(workspace_id):
        problems.append(f"workspaceId: expected a non-blank string, got {json_type_with_article(workspace_id)}")
    message = body.get("assistantMessage")
    if not isinstance(message, str):
        problems.append(f"assistantMessage: expected a string, got {json_type_with_article(message)}")
    elif utf16_length(message) > L.MAX_MESSAGE_CHARS:
        problems.append(f"assistantMessage: is {utf16_length(message):,} characters; "
                        f"the limit is {L.MAX_MESSAGE_CHARS:,}")
    artifacts = 0
    for spec in L.KINDS.values():
        items = body.get(spec.array)
        if not isinstance(items, list):
            got = "nothing" if spec.array not in body else json_type_with_article(items)
            problems.append(f"{spec.array}: expected a list (send [] when there are no {spec.plural}), got {got}")
            continue
        artifacts += len(items)
        problems.extend(_array_problems(spec, items))
    if isinstance(message, str) and not js_trim(message) and artifacts == 0:
        problems.append("assistantMessage: is empty and there are no artifacts")
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        problems = problems[:MAX_PROBLEMS] + [f"... and {more} more problem{'s' if more != 1 else ''}"]
    return problems


def _unknown(key: str) -> str:
    hint = _HINTS.get(key)
    return f"{key}: unknown field ({hint})" if hint else f"{key}: unknown field; the fields are {', '.join(_TOP_LEVEL)}"


def _array_problems(spec: L.KindSpec, items: list[Any]) -> list[str]:
    """The cap of one array, each item's rules and unique references."""
    problems = []
    if len(items) > spec.cap:
        problems.append(f"{spec.array}: has {len(items)} {spec.plural}; the limit is {spec.cap} per job")
    first: dict[str, int] = {}
    for index, raw in enumerate(items):
        path = f"{spec.array}[{index}]"
        try:
            ref = CHECKS[spec.kind](raw, path)
        except Refused as refused:
            problems.append(f"{refused.path}: {refused.reason}")
            continue
        earlier = first.setdefault(ref.lower(), index)
        if earlier != index:
            field = "name" if spec is L.FILE else "id"
            problems.append(f"{path}.{field}: is already used by {spec.array}[{earlier}]; "
                            f"{field}s are unique per kind in a job (ignoring case)")
    return problems
