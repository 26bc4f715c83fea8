"""Valid deliverables in their stored shape, and completion bodies built from them.

Every builder returns a fresh, strictly valid item; keyword arguments replace fields, so a
test states only what it changes.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


def bar(**fields: Any) -> dict[str, Any]:
    return {"kind": "bar", "id": "sales", "labels": ["Q1", "Q2"],
            "series": [{"name": "2024", "values": [1, 2.5]}], **fields}


def stacked_bar(**fields: Any) -> dict[str, Any]:
    return {**bar(id="stack"), "kind": "stacked_bar", **fields}


def line(**fields: Any) -> dict[str, Any]:
    return {**bar(id="trend"), "kind": "line", **fields}


def area(**fields: Any) -> dict[str, Any]:
    return {**bar(id="volume"), "kind": "area", **fields}


def pie(**fields: Any) -> dict[str, Any]:
    return {"kind": "pie", "id": "mix", "segments": [{"label": "A", "value": 3}, {"label": "B", "value": 1}],
            **fields}


def scatter(**fields: Any) -> dict[str, Any]:
    return {"kind": "scatter", "id": "cloud",
            "series": [{"name": "runs", "points": [{"x": 1, "y": 2}, {"x": 3, "y": -4, "label": "p2"}]}], **fields}


def table(**fields: Any) -> dict[str, Any]:
    return {"id": "compare", "kind": "table", "columns": ["Name", "Score"], "rows": [["a", "1"], ["b", ""]],
            **fields}


def list_(**fields: Any) -> dict[str, Any]:
    return {"id": "steps", "kind": "list", "items": ["Plan", "Build"], **fields}


def checklist(**fields: Any) -> dict[str, Any]:
    return {"id": "launch", "kind": "checklist",
            "items": [{"id": "backup", "label": "Back up the database", "checked": False}], **fields}


def svg(**fields: Any) -> dict[str, Any]:
    return {"id": "arch", "content": '<svg xmlns="http://www.w3.org/2000/svg"><rect width="4" height="2"/></svg>',
            **fields}


def file(**fields: Any) -> dict[str, Any]:
    return {"name": "specs/plan.md", "content": "# Plan\n", **fields}


CHART_BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "pie": pie, "bar": bar, "stacked_bar": stacked_bar, "line": line, "area": area, "scatter": scatter,
}
# completion array → builder of one valid item of that array
ITEM_BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "files": file, "charts": bar, "datasets": table, "lists": list_, "checklists": checklist, "svgs": svg,
}
ARRAY_KIND = {"files": "file", "charts": "chart", "datasets": "table", "lists": "list",
              "checklists": "checklist", "svgs": "svg"}


def distinct(array: str, count: int) -> list[dict[str, Any]]:
    """``count`` valid items for ``array`` with distinct ids (file names)."""
    build = ITEM_BUILDERS[array]
    if array == "files":
        return [build(name=f"doc{i}.md") for i in range(count)]
    return [build(id=f"item{i}") for i in range(count)]


def body(**fields: Any) -> dict[str, Any]:
    """A valid completion body with a message and all six arrays empty, then ``fields``."""
    base: dict[str, Any] = {"workspaceId": "ws-1", "assistantMessage": "Done.", "files": [], "charts": [],
                            "datasets": [], "svgs": [], "lists": [], "checklists": []}
    return {**base, **fields}


def body_with(array: str, *items: dict[str, Any]) -> dict[str, Any]:
    """A valid body whose ``array`` holds ``items``."""
    return body(**{array: list(items)})


def _without_kind(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key != "kind"}


# tool name → arguments of a valid call (chart tools take the chart's fields without "kind")
TOOL_ARGS: dict[str, dict[str, Any]] = {
    "create_file": file(),
    **{f"create_{kind}_chart": _without_kind(build()) for kind, build in CHART_BUILDERS.items()},
    "create_table": {"table": table()},
    "create_list": {"list": _without_kind(list_(ordered=True))},
    "create_checklist": {"checklist": checklist()},
    "create_svg": {"svg": svg(title="Architecture")},
}
# tool name → artifact kind it creates
TOOL_KIND = {tool: ("file" if tool == "create_file" else "chart" if tool.endswith("_chart") else tool[len("create_"):])
             for tool in TOOL_ARGS}
