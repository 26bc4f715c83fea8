"""The 11 deliverable tools offered to the model, as ``ToolSpec`` objects with JSON Schemas.

Argument shapes follow protocol §4: ``create_file {name, content}``; the six chart tools
take the chart's fields at top level (the runner adds ``kind``); ``create_table``,
``create_list``, ``create_checklist`` and ``create_svg`` take one wrapper object named
after the kind. Descriptions state every limit, because a model that knows them wastes
no rounds on refused calls, and say how to cite the result.

The schemas use structure (types, required fields, item counts) but state character limits
and id patterns only in words: some OpenAI-compatible servers turn schemas into decoding
grammars, where ``maxLength: 64000`` would explode.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.protocol.limits import (
    BAR_ORIENTATIONS,
    CHART,
    CHART_KINDS,
    CHECKLIST,
    FILE,
    LIST,
    MAX_CELL_CHARS,
    MAX_CHART_LABEL_CHARS,
    MAX_CHART_LABELS,
    MAX_CHART_SERIES,
    MAX_CHECKLIST_ITEM_ID_CHARS,
    MAX_CHECKLIST_ITEMS,
    MAX_CHECKLIST_LABEL_CHARS,
    MAX_COLUMN_NAME_CHARS,
    MAX_FILE_CONTENT_CHARS,
    MAX_FILE_FOLDERS,
    MAX_FILE_NAME_CHARS,
    MAX_ID_CHARS,
    MAX_LIST_ITEM_CHARS,
    MAX_LIST_ITEMS,
    MAX_PIE_SEGMENTS,
    MAX_SCATTER_POINTS,
    MAX_SCATTER_SERIES,
    MAX_SERIES_NAME_CHARS,
    MAX_SVG_CHARS,
    MAX_TABLE_COLUMNS,
    MAX_TABLE_ROWS,
    MAX_TITLE_CHARS,
    NON_NEGATIVE_CHART_KINDS,
    ORIENTED_CHART_KINDS,
    SVG,
    TABLE,
    KindSpec,
)
from workers.models.base import ToolSpec

Schema = dict[str, Any]

FILE_TOOL = "create_file"
CHART_TOOLS: Mapping[str, str] = {f"create_{kind}_chart": kind for kind in CHART_KINDS}  # tool → chart kind
WRAPPER_TOOLS: Mapping[str, str] = {  # tool → its wrapper field, which is also the artifact kind
    "create_table": TABLE.kind,
    "create_list": LIST.kind,
    "create_checklist": CHECKLIST.kind,
    "create_svg": SVG.kind,
}
TOOL_NAMES = (FILE_TOOL, *CHART_TOOLS, *WRAPPER_TOOLS)


def citation(kind: str, ref: str) -> str:
    """The placeholder that cites artifact ``ref`` of ``kind`` in the reply."""
    return "{{artifact:" + kind + ":" + ref + "}}"


# --- schema fragments ------------------------------------------------------------------------
def _string(description: str) -> Schema:
    return {"type": "string", "description": description}


def _object(properties: Mapping[str, Schema], required: tuple[str, ...], description: str = "") -> Schema:
    schema: Schema = {"type": "object", "properties": dict(properties), "required": list(required),
                      "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


def _array(items: Schema, description: str, *, low: int = 0, high: int | None = None) -> Schema:
    schema: Schema = {"type": "array", "items": items, "description": description}
    if low:
        schema["minItems"] = low
    if high is not None:
        schema["maxItems"] = high
    return schema


def _number(description: str, *, minimum: float | None = None) -> Schema:
    schema: Schema = {"type": "number", "description": description}
    if minimum is not None:
        schema["minimum"] = minimum
    return schema


def _id(kind: str, *, safe: bool) -> Schema:
    chars = "letters, digits, '_' and '-' only; " if safe else ""
    return _string(f"Short id, unique among this job's {kind}s, e.g. \"q3-revenue\" ({chars}at most {MAX_ID_CHARS} "
                   f"characters). Cite it with exactly this id, same case: {citation(kind, '<id>')}.")


_TITLE = _string(f"Optional heading shown above it (at most {MAX_TITLE_CHARS} characters).")


def _kind_tag(kind: str) -> Schema:
    return {"type": "string", "enum": [kind], "description": f'Always "{kind}" (may be left out).'}


# --- the tools -------------------------------------------------------------------------------
def _file_tool() -> ToolSpec:
    return ToolSpec(
        name=FILE_TOOL,
        description=(
            "Save a long document (spec, plan, prompt, report) as a downloadable .md or .txt file. "
            f"The name is a relative path with at most {MAX_FILE_FOLDERS} folders, e.g. \"specs/plan.md\"; "
            "characters other than letters, digits, '.', '_' and '-' become '_'. "
            f"At most {FILE.cap} files per job, {MAX_FILE_CONTENT_CHARS:,} characters each. "
            f"Cite it in your reply as {citation(FILE.kind, 'specs/plan.md')}, with the path the tool answers with. "
            "Put tables, lists and checklists in their own tools, not inside the file."
        ),
        parameters=_object({
            "name": _string(f"Relative path ending in .md or .txt, at most {MAX_FILE_NAME_CHARS} characters, "
                            "e.g. \"notes.md\" or \"specs/api.md\"."),
            "content": _string(f"The whole document, not empty, at most {MAX_FILE_CONTENT_CHARS:,} characters."),
        }, ("name", "content")),
    )


_CHART_PURPOSE = {
    "pie": "Show parts of a whole (shares, splits, mix): one slice per segment; values need not sum to 100.",
    "bar": "Compare numbers across categories: one group of bars per label, one bar colour per series.",
    "stacked_bar": "Show how categories are made up: each label's bar stacks one segment per series "
                   "(values must be ≥ 0).",
    "line": "Show a trend over ordered points (time, steps): one line per series.",
    "area": "Show a trend or volume over ordered points as filled areas: one area per series.",
    "scatter": "Plot x/y pairs (correlation, trade-offs): one point cloud per series.",
}


def _category_fields(kind: str) -> dict[str, Schema]:
    negative = " (≥ 0)" if kind in NON_NEGATIVE_CHART_KINDS else ""
    fields = {
        "labels": _array(_string(f"A category, at most {MAX_CHART_LABEL_CHARS} characters."),
                         f"1–{MAX_CHART_LABELS} category labels, in display order.", low=1, high=MAX_CHART_LABELS),
        "series": _array(
            _object({
                "name": _string(f"Legend name, at most {MAX_SERIES_NAME_CHARS} characters."),
                "values": _array(_number(f"A finite number{negative}.", minimum=0 if negative else None),
                                 "Exactly one number per label, in the same order."),
            }, ("name", "values")),
            f"1–{MAX_CHART_SERIES} named series.", low=1, high=MAX_CHART_SERIES),
    }
    if kind in ORIENTED_CHART_KINDS:
        fields["orientation"] = {"type": "string", "enum": list(BAR_ORIENTATIONS),
                                 "description": "\"vertical\" columns or \"horizontal\" bars (good for long labels)."}
    return fields


def _chart_fields(kind: str) -> dict[str, Schema]:
    if kind == "pie":
        segment = _object({
            "label": _string(f"Slice name, at most {MAX_CHART_LABEL_CHARS} characters."),
            "value": _number("The slice's size, a finite number."),
        }, ("label", "value"))
        return {"segments": _array(segment, f"1–{MAX_PIE_SEGMENTS} slices.", low=1, high=MAX_PIE_SEGMENTS)}
    if kind == "scatter":
        point = _object({
            "x": _number("A finite number."),
            "y": _number("A finite number."),
            "label": _string(f"Optional point name shown on hover, at most {MAX_CHART_LABEL_CHARS} characters."),
        }, ("x", "y"))
        series = _object({
            "name": _string(f"Legend name, at most {MAX_SERIES_NAME_CHARS} characters."),
            "points": _array(point, f"1–{MAX_SCATTER_POINTS} points.", low=1, high=MAX_SCATTER_POINTS),
        }, ("name", "points"))
        return {"series": _array(series, f"1–{MAX_SCATTER_SERIES} named series.", low=1, high=MAX_SCATTER_SERIES)}
    return _category_fields(kind)


def _chart_tool(tool: str, kind: str) -> ToolSpec:
    body = _chart_fields(kind)
    required = ("id", *(name for name in body if name != "orientation"))
    return ToolSpec(
        name=tool,
        description=(
            f"{_CHART_PURPOSE[kind]} At most {CHART.cap} charts of all kinds per job; ids are unique among them. "
            f"After it answers ok, cite it in your reply as {citation(CHART.kind, '<id>')}."
        ),
        parameters=_object({"id": _id(CHART.kind, safe=False), "title": _TITLE, **body}, required),
    )


def _wrapper_tool(name: str, spec: KindSpec, *, purpose: str, item: Schema) -> ToolSpec:
    """A tool whose one argument, named after the kind, holds the whole item; the description
    adds the per-job cap and how to cite it to ``purpose``."""
    return ToolSpec(
        name=name,
        description=(f"{purpose} At most {spec.cap} {spec.plural} per job. After it answers ok, cite it as "
                     f"{citation(spec.kind, '<id>')}."),
        parameters=_object({spec.kind: item}, (spec.kind,)),
    )


def _table_tool() -> ToolSpec:
    table = _object({
        "kind": _kind_tag(TABLE.kind),
        "id": _id(TABLE.kind, safe=False),
        "title": _TITLE,
        "columns": _array(_string(f"A column heading, at most {MAX_COLUMN_NAME_CHARS} characters."),
                          f"1–{MAX_TABLE_COLUMNS} column headings.", low=1, high=MAX_TABLE_COLUMNS),
        "rows": _array(_array(_string(f"A cell, at most {MAX_CELL_CHARS} characters (may be empty)."),
                              "One cell per column, in column order."),
                       f"0–{MAX_TABLE_ROWS} rows.", high=MAX_TABLE_ROWS),
    }, ("id", "columns", "rows"), "The table.")
    return _wrapper_tool("create_table", TABLE, item=table, purpose=(
        "Create a table (comparison, matrix, glossary, plan grid). Use it instead of a markdown pipe table."))


def _list_tool() -> ToolSpec:
    list_schema = _object({
        "kind": _kind_tag(LIST.kind),
        "id": _id(LIST.kind, safe=True),
        "title": _TITLE,
        "ordered": {"type": "boolean", "description": "true for numbered steps; leave out for bullets."},
        "items": _array(_string(f"Plain text without a bullet or number, at most {MAX_LIST_ITEM_CHARS} characters."),
                        f"1–{MAX_LIST_ITEMS} items.", low=1, high=MAX_LIST_ITEMS),
    }, ("id", "items"), "The list.")
    return _wrapper_tool("create_list", LIST, item=list_schema, purpose=(
        "Create a bulleted or numbered list (scope, steps, phases, risks). Use it instead of markdown bullets."))


def _checklist_tool() -> ToolSpec:
    item = _object({
        "id": _string(f"Item id, unique in this checklist: letters, digits, '_' and '-' only, at most "
                      f"{MAX_CHECKLIST_ITEM_ID_CHARS} characters."),
        "label": _string(f"What to do, at most {MAX_CHECKLIST_LABEL_CHARS} characters."),
        "checked": {"type": "boolean", "description": "Whether it is already done."},
    }, ("id", "label", "checked"))
    checklist = _object({
        "kind": _kind_tag(CHECKLIST.kind),
        "id": _id(CHECKLIST.kind, safe=True),
        "title": _TITLE,
        "items": _array(item, f"1–{MAX_CHECKLIST_ITEMS} items.", low=1, high=MAX_CHECKLIST_ITEMS),
    }, ("id", "items"), "The checklist.")
    return _wrapper_tool("create_checklist", CHECKLIST, item=checklist, purpose=(
        "Create a checklist the user can tick off (launch checks, migration gates, onboarding tasks)."))


def _svg_tool() -> ToolSpec:
    svg = _object({
        "id": _id(SVG.kind, safe=True),
        "title": _TITLE,
        "content": _string(f"Standalone <svg ...>...</svg> markup, at most {MAX_SVG_CHARS:,} characters. "
                           "No <script>, <foreignObject>, <iframe>, <embed> or <object>, no javascript: URLs and "
                           "no attribute of the form on...= (this also rules out e.g. content=), also not spelled "
                           "with character references such as &#58;."),
    }, ("id", "content"), "The drawing.")
    return _wrapper_tool("create_svg", SVG, item=svg, purpose=(
        "Create a vector diagram (architecture, flow, sequence sketch); for numeric data use a chart tool."))


TOOL_SPECS: tuple[ToolSpec, ...] = (
    _file_tool(),
    *(_chart_tool(tool, kind) for tool, kind in CHART_TOOLS.items()),
    _table_tool(),
    _list_tool(),
    _checklist_tool(),
    _svg_tool(),
)
