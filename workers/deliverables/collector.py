"""``DeliverableCollector``: one job's artifacts, built from the model's tool calls.

Every call gets an answer, never an exception: ``{"ok": true, "detail": "created chart
\\"sales\\"; cite it as {{artifact:chart:sales}}"}``, or ``ok: false`` with what to fix
(malformed JSON, unknown tool, a refused shape, a per-job cap, a duplicate id). At the end
``payload`` builds the completion body with all six arrays.
"""
from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from typing import Any

from shared.protocol.limits import FILE, KINDS, TABLE
from workers.deliverables.errors import DeliverableError
from workers.deliverables.paths import sanitize_file_name
from workers.deliverables.text import describe_value, encodable, is_blank, js_number_text, quote
from workers.deliverables.tools import CHART_TOOLS, FILE_TOOL, TOOL_NAMES, WRAPPER_TOOLS, citation
from workers.deliverables.validate import item_ref, validate_item
from workers.models.base import ToolCall, ToolResult

_SHOW_REF = 200  # longest id/path shown whole in an answer (characters; ids are ≤ 64, paths ≤ 160)


class DeliverableCollector:
    """The artifacts of one job, in the order the model created them. Not thread-safe: one
    job's tool calls are applied one after another."""

    def __init__(self) -> None:
        self._items: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
        self._refs: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}  # lower-cased ref → ref

    def apply(self, call: ToolCall) -> ToolResult:
        """Run one tool call; the result's ``output`` is the JSON text ``{"ok": ..., "detail": ...}``."""
        try:
            detail = self._create(call.name, call.arguments)
            ok = True
        except DeliverableError as err:
            detail, ok = err.detail, False
        # encodable: the detail can quote what the model sent, and the answer goes back in a UTF-8 request
        answer = json.dumps({"ok": ok, "detail": encodable(detail)}, ensure_ascii=False)
        return ToolResult(call_id=call.call_id, output=answer)

    def counts(self) -> dict[str, int]:
        """How many artifacts of each kind (file, chart, table, list, checklist, svg) exist."""
        return {kind: len(items) for kind, items in self._items.items()}

    def has(self, kind: str, ref: str) -> bool:
        """Whether an artifact of ``kind`` is called exactly ``ref`` (a file by its sanitised path)."""
        if kind not in KINDS:
            raise ValueError(f"unknown artifact kind {kind!r}; the kinds are {', '.join(KINDS)}")
        if kind == FILE.kind:
            try:
                ref = sanitize_file_name(ref)
            except DeliverableError:
                return False
        return self._refs[kind].get(ref.lower()) == ref

    def payload(self, *, workspace_id: str, message: str) -> dict[str, Any]:
        """The ``completeWorkspaceJob`` body: every array present, each item a copy.

        Lone surrogates in the model's ``message`` become U+FFFD: the transport sends UTF-8,
        which cannot carry them (the items never hold any: the tools refuse them).
        """
        body: dict[str, Any] = {"workspaceId": workspace_id, "assistantMessage": encodable(message)}
        for kind, spec in KINDS.items():
            body[spec.array] = copy.deepcopy(self._items[kind])
        return body

    # --- one call ----------------------------------------------------------------------------
    def _create(self, tool: str, arguments: str) -> str:
        """Store what ``tool`` asks for and return the success detail; DeliverableError if refused."""
        if tool not in TOOL_NAMES:
            raise DeliverableError(f"unknown tool {quote(tool)}; the tools are {', '.join(TOOL_NAMES)}")
        args = _parse_arguments(tool, arguments)
        kind, raw = _stored_shape(tool, args)
        spec = KINDS[kind]
        if len(self._items[kind]) >= spec.cap:
            raise DeliverableError(f"{kind} cap reached: {spec.cap} {spec.plural} already created; reuse one")
        item = validate_item(kind, raw)
        ref = item_ref(kind, item)
        taken = self._refs[kind].get(ref.lower())
        if taken is not None:
            field = "name" if kind == FILE.kind else "id"
            raise DeliverableError(
                f"a {kind} with {field} {quote(taken, limit=_SHOW_REF)} already exists in this job ({field}s are "
                f"unique per kind, ignoring case); cite it as {citation(kind, taken)} or use another {field}")
        self._items[kind].append(item)
        self._refs[kind][ref.lower()] = ref
        detail = f"created {kind} {quote(ref, limit=_SHOW_REF)}; cite it as {citation(kind, ref)}"
        given = raw.get("name" if kind == FILE.kind else "id") if isinstance(raw, Mapping) else None
        if isinstance(given, str) and given != ref:
            detail += f" (you gave {quote(given)}; it is stored as shown)"
        return detail


def _parse_arguments(tool: str, arguments: str) -> dict[str, Any]:
    """The call's arguments as a JSON object (empty text counts as ``{}``)."""
    if is_blank(arguments):
        return {}
    try:
        args = json.loads(arguments)
    except ValueError as err:  # JSONDecodeError, or an integer literal of more than 4,300 digits
        raise DeliverableError(f"{tool}: the arguments are not valid JSON ({err}); "
                               f"send a single JSON object") from None
    except RecursionError:
        raise DeliverableError(f"{tool}: the arguments are nested too deeply to read") from None
    if not isinstance(args, dict):
        raise DeliverableError(f"{tool}: the arguments must be a JSON object, got {describe_value(args)}")
    return args


def _stored_shape(tool: str, args: dict[str, Any]) -> tuple[str, Any]:
    """The artifact kind ``tool`` creates and ``args`` turned into that kind's stored shape.

    Chart tools get their ``kind``. Wrapper tools are unwrapped; if the model left the
    wrapper out but sent the fields at top level (it has an ``id``), those are used.
    Table cells given as numbers become text, as a table shows them anyway.
    """
    if tool == FILE_TOOL:
        return FILE.kind, args
    if tool in CHART_TOOLS:
        return "chart", {**args, "kind": CHART_TOOLS[tool]}
    kind = WRAPPER_TOOLS[tool]
    inner = args.get(kind)
    if inner is None:
        if "id" not in args:
            raise DeliverableError(f'{tool}: the arguments must be {{"{kind}": {{...}}}}; '
                                   f'the "{kind}" object is missing')
        inner = args
    if kind == TABLE.kind and isinstance(inner, Mapping):
        inner = _cells_as_text(inner)
    return kind, inner


def _cells_as_text(table: Mapping[str, Any]) -> Mapping[str, Any]:
    rows = table.get("rows")
    if not isinstance(rows, list):
        return table
    text_rows = [[_number_text(cell) for cell in row] if isinstance(row, list) else row for row in rows]
    return {**table, "rows": text_rows}


def _number_text(cell: Any) -> Any:
    """A finite number as the text JavaScript would show (``3.0`` → ``"3"``, ``1e-7`` → ``"1e-7"``);
    an integer exactly as given; anything else unchanged."""
    if isinstance(cell, bool) or not isinstance(cell, (int, float)):
        return cell
    if isinstance(cell, int):
        return str(cell)
    return js_number_text(cell) if math.isfinite(cell) else cell
