"""Protocol §4 "Tools the model calls", written down independently as JSON Schemas plus the
cross-field rules a schema cannot say, so tests can check any tool call's arguments."""
from __future__ import annotations

import json
import math
import re
from typing import Any

import jsonschema

ID = {"type": "string", "minLength": 1, "maxLength": 64}
SAFE_ID = {"type": "string", "pattern": r"^[a-zA-Z0-9_-]+$", "maxLength": 64}
TITLE = {"type": "string", "maxLength": 200}
NUMBER = {"type": "number"}
LABELS = {"type": "array", "minItems": 1, "maxItems": 32, "items": {"type": "string", "minLength": 1, "maxLength": 128}}


def _series(value: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "minItems": 1, "maxItems": 8, "items": {
        "type": "object", "additionalProperties": False, "required": ["name", "values"],
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 64},
                       "values": {"type": "array", "items": value}}}}


def _chart(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["id", *properties],
            "properties": {"id": ID, "title": TITLE, **properties}}


ORIENTATION = {"enum": ["vertical", "horizontal"]}
SCHEMAS: dict[str, dict[str, Any]] = {
    "create_pie_chart": _chart(segments={"type": "array", "minItems": 1, "maxItems": 24, "items": {
        "type": "object", "additionalProperties": False, "required": ["label", "value"],
        "properties": {"label": {"type": "string", "minLength": 1, "maxLength": 128}, "value": NUMBER}}}),
    "create_bar_chart": _chart(labels=LABELS, series=_series(NUMBER)),
    "create_stacked_bar_chart": _chart(labels=LABELS, series=_series({"type": "number", "minimum": 0})),
    "create_line_chart": _chart(labels=LABELS, series=_series(NUMBER)),
    "create_area_chart": _chart(labels=LABELS, series=_series(NUMBER)),
    "create_scatter_chart": _chart(series={"type": "array", "minItems": 1, "maxItems": 6, "items": {
        "type": "object", "additionalProperties": False, "required": ["name", "points"],
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 64},
                       "points": {"type": "array", "minItems": 1, "maxItems": 48, "items": {
                           "type": "object", "additionalProperties": False, "required": ["x", "y"],
                           "properties": {"x": NUMBER, "y": NUMBER, "label": {"type": "string"}}}}}}}),
    "create_table": {"type": "object", "additionalProperties": False, "required": ["table"], "properties": {
        "table": {"type": "object", "additionalProperties": False, "required": ["id", "columns", "rows"],
                  "properties": {"kind": {"const": "table"}, "id": ID, "title": TITLE,
                                 "columns": {"type": "array", "minItems": 1, "maxItems": 12,
                                             "items": {"type": "string", "minLength": 1, "maxLength": 64}},
                                 "rows": {"type": "array", "maxItems": 80, "items": {
                                     "type": "array", "items": {"type": "string", "maxLength": 512}}}}}}},
    "create_list": {"type": "object", "additionalProperties": False, "required": ["list"], "properties": {
        "list": {"type": "object", "additionalProperties": False, "required": ["id", "items"],
                 "properties": {"kind": {"const": "list"}, "id": SAFE_ID, "title": TITLE,
                                "ordered": {"type": "boolean"},
                                "items": {"type": "array", "minItems": 1, "maxItems": 48,
                                          "items": {"type": "string", "minLength": 1, "maxLength": 512}}}}}},
    "create_checklist": {"type": "object", "additionalProperties": False, "required": ["checklist"], "properties": {
        "checklist": {"type": "object", "additionalProperties": False, "required": ["id", "items"],
                      "properties": {"kind": {"const": "checklist"}, "id": SAFE_ID, "title": TITLE,
                                     "items": {"type": "array", "minItems": 1, "maxItems": 64, "items": {
                                         "type": "object", "additionalProperties": False,
                                         "required": ["id", "label", "checked"],
                                         "properties": {"id": {**SAFE_ID, "maxLength": 48},
                                                        "label": {"type": "string", "minLength": 1,
                                                                  "maxLength": 320},
                                                        "checked": {"type": "boolean"}}}}}}}},
    "create_svg": {"type": "object", "additionalProperties": False, "required": ["svg"], "properties": {
        "svg": {"type": "object", "additionalProperties": False, "required": ["id", "content"],
                "properties": {"id": SAFE_ID, "title": TITLE,
                               "content": {"type": "string", "maxLength": 64000, "pattern": "<svg"}}}}},
    "create_file": {"type": "object", "additionalProperties": False, "required": ["name", "content"], "properties": {
        "name": {"type": "string", "maxLength": 160,
                 "pattern": r"^(?:[A-Za-z0-9-][A-Za-z0-9._-]{0,47}/){0,4}"
                            r"[A-Za-z0-9-][A-Za-z0-9._-]{0,44}\.(?:[mM][dD]|[tT][xX][tT])$"},
        "content": {"type": "string", "minLength": 1, "maxLength": 48000}}},
}
for _name in ("create_bar_chart", "create_stacked_bar_chart"):
    SCHEMAS[_name]["properties"]["orientation"] = ORIENTATION

_FORBIDDEN_SVG = re.compile(r"<script|javascript:|\bon[a-z]+\s*=|<foreignObject|<iframe|<embed|<object",
                            re.IGNORECASE)


def check_tool_arguments(tool: str, arguments_json: str) -> dict[str, Any]:
    """Parse and check one call's arguments against §4; returns them, raises AssertionError."""
    arguments: dict[str, Any] = json.loads(arguments_json)
    jsonschema.validate(arguments, SCHEMAS[tool])
    if "labels" in arguments:
        for series in arguments["series"]:
            assert len(series["values"]) == len(arguments["labels"]), f"{tool}: values not aligned to labels"
    numbers = re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", arguments_json)
    assert all(math.isfinite(float(number)) for number in numbers)
    if tool == "create_table":
        table = arguments["table"]
        assert all(len(row) == len(table["columns"]) for row in table["rows"]), "table row width"
    if tool == "create_checklist":
        ids = [item["id"] for item in arguments["checklist"]["items"]]
        assert len(set(ids)) == len(ids), "checklist item ids must be unique"
    if tool == "create_svg":
        assert not _FORBIDDEN_SVG.search(arguments["svg"]["content"]), "forbidden SVG content"
    return arguments
