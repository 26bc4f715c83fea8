"""The emulator's server-side rules for one completion item (protocol §4), kind by kind.

A model of what the cloud accepts, not of what the runner should send: what §4 says the
cloud trims and cuts (ids to 64, titles to 200) or sanitises (file names) it normalises
here too and accepts; a blank or null title is no title; unknown fields inside an item are
ignored. What it refuses is a stated limit: a missing or mistyped field, a count or length
past its limit (lengths in UTF-16 units), a number that is not finite, a negative
stacked-bar value, an id breaking its pattern, a file name with no valid sanitised form,
an SVG without ``<svg`` or with blocklisted markup (matched as a JavaScript ``/…/i`` pattern
on the text as sent). Where §4 says nothing (blank labels, list items or cells) it accepts.

Each ``check_<kind>(raw, path)`` returns the item's normalised reference (a file's
sanitised name, else its id), which the caller uses for the uniqueness rule, or raises
``Refused``.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from emulator.jsstrings import JS_SPACE_CLASS, ascii_pattern, js_trim, utf16_cut, utf16_length
from shared.http.json_types import json_type_with_article
from shared.protocol import limits as L


class Refused(Exception):
    """One item breaks a rule: ``path`` (``charts[2].series[0].values``) and ``reason``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _refuse(path: str, reason: str) -> NoReturn:
    raise Refused(path, reason)




# --- fields --------------------------------------------------------------------------------
def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _refuse(path, f"expected an object, got {json_type_with_article(value)}")
    return value


def _string(value: Any, path: str, *, limit: int | None = None) -> str:
    if not isinstance(value, str):
        _refuse(path, f"expected a string, got {json_type_with_article(value)}")
    if limit is not None and utf16_length(value) > limit:
        _refuse(path, f"is {utf16_length(value):,} characters; the limit is {limit:,}")
    return value


def _field(obj: Mapping[str, Any], path: str, name: str) -> tuple[Any, str]:
    """``obj[name]`` (required: present and not null) and its path."""
    if obj.get(name) is None:
        _refuse(f"{path}.{name}", "is required")
    return obj[name], f"{path}.{name}"


def _count(count: int, nouns: str) -> str:
    """``"1 cell"``, ``"3 cells"``, ``"1 series"``: ``nouns`` is the plural."""
    return f"{count} {nouns[:-1] if count == 1 and nouns != 'series' else nouns}"


def _array(value: Any, path: str, *, noun: str, low: int = 0, high: int | None = None) -> list[Any]:
    """An array of ``low``..``high`` elements; ``noun`` names them (plural)."""
    if not isinstance(value, list):
        _refuse(path, f"expected an array of {noun}, got {json_type_with_article(value)}")
    if len(value) < low:
        _refuse(path, f"has {_count(len(value), noun)}; at least {low} needed")
    if high is not None and len(value) > high:
        _refuse(path, f"has {_count(len(value), noun)}; the limit is {high}")
    return value


def _number(value: Any, path: str, *, non_negative: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _refuse(path, f"expected a number, got {json_type_with_article(value)}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer beyond any double: JavaScript reads Infinity
        finite = False
    if not finite:
        _refuse(path, "is not a finite number")
    if non_negative and value < 0:
        _refuse(path, f"is {value}; stacked bar values cannot be negative")


_SAFE_ID = re.compile(r"[A-Za-z0-9_-]+")


def _artifact_id(obj: Mapping[str, Any], path: str, *, safe: bool) -> str:
    """The item's id as the cloud stores it: trimmed, cut to 64 units; ``safe`` ids match the pattern."""
    value, at = _field(obj, path, "id")
    stored = js_trim(utf16_cut(js_trim(_string(value, at)), L.MAX_ID_CHARS))
    if not stored:
        _refuse(at, "is blank")
    if safe and not _SAFE_ID.fullmatch(stored):
        _refuse(at, "may contain only letters, digits, '_' and '-'")
    return stored


def _title(obj: Mapping[str, Any], path: str) -> None:
    """An optional title: absent, null or any string (the cloud trims it and cuts it to 200)."""
    if obj.get("title") is not None:
        _string(obj["title"], f"{path}.title")


def _kind_tag(obj: Mapping[str, Any], path: str, expected: str) -> None:
    if obj.get("kind") is not None and obj["kind"] != expected:
        _refuse(f"{path}.kind", f'expected "{expected}"')


def _strings(obj: Mapping[str, Any], path: str, name: str, *, noun: str, low: int, high: int,
             limit: int) -> list[str]:
    value, at = _field(obj, path, name)
    items = _array(value, at, noun=noun, low=low, high=high)
    return [_string(item, f"{at}[{index}]", limit=limit) for index, item in enumerate(items)]


# --- files ---------------------------------------------------------------------------------
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")


def sanitised_name(name: str, path: str) -> str:
    """The file name the cloud stores for ``name`` (protocol §4); ``Refused`` at ``path`` if none."""
    kept = []
    for segment in name.replace("\\", "/").split("/"):
        segment = utf16_cut(_UNSAFE_RUN.sub("_", segment).strip("_"), L.MAX_FILE_SEGMENT_CHARS)
        if segment not in ("", ".", ".."):
            kept.append(segment)
    if not kept:
        _refuse(path, "has no usable characters")
    if len(kept) > L.MAX_FILE_FOLDERS + 1:
        _refuse(path, f"has {len(kept) - 1} folders; at most {L.MAX_FILE_FOLDERS}")
    if not kept[-1].lower().endswith(L.FILE_EXTENSIONS):
        _refuse(path, f"must end in {' or '.join(L.FILE_EXTENSIONS)}")
    stored = "/".join(kept)
    if utf16_length(stored) > L.MAX_FILE_NAME_CHARS:
        _refuse(path, f"is {utf16_length(stored)} characters after sanitising; the limit is {L.MAX_FILE_NAME_CHARS}")
    return stored


def check_file(raw: Any, path: str) -> str:
    obj = _object(raw, path)
    value, at = _field(obj, path, "name")
    stored = sanitised_name(_string(value, at), at)
    content, at = _field(obj, path, "content")
    if not _string(content, at, limit=L.MAX_FILE_CONTENT_CHARS):
        _refuse(at, "is empty")
    return stored


# --- charts --------------------------------------------------------------------------------
def _series(obj: Mapping[str, Any], path: str, *, high: int,
            check_data: Callable[[Mapping[str, Any], str], None]) -> None:
    value, at = _field(obj, path, "series")
    for index, raw in enumerate(_array(value, at, noun="series", low=1, high=high)):
        here = f"{at}[{index}]"
        entry = _object(raw, here)
        name, name_at = _field(entry, here, "name")
        _string(name, name_at, limit=L.MAX_SERIES_NAME_CHARS)
        check_data(entry, here)


def _pie(obj: Mapping[str, Any], path: str, kind: str) -> None:
    value, at = _field(obj, path, "segments")
    for index, raw in enumerate(_array(value, at, noun="segments", low=1, high=L.MAX_PIE_SEGMENTS)):
        segment = _object(raw, f"{at}[{index}]")
        label, label_at = _field(segment, f"{at}[{index}]", "label")
        _string(label, label_at, limit=L.MAX_CHART_LABEL_CHARS)
        number, number_at = _field(segment, f"{at}[{index}]", "value")
        _number(number, number_at)  # may be negative: only stacked bars may not


def _categories(obj: Mapping[str, Any], path: str, kind: str) -> None:
    labels = _strings(obj, path, "labels", noun="labels", low=1, high=L.MAX_CHART_LABELS,
                      limit=L.MAX_CHART_LABEL_CHARS)

    def values(entry: Mapping[str, Any], here: str) -> None:
        value, at = _field(entry, here, "values")
        numbers = _array(value, at, noun="values")
        if len(numbers) != len(labels):
            _refuse(at, f"has {_count(len(numbers), 'values')} but there are {_count(len(labels), 'labels')}; "
                        f"give exactly one value per label")
        for index, number in enumerate(numbers):
            _number(number, f"{at}[{index}]", non_negative=kind in L.NON_NEGATIVE_CHART_KINDS)

    _series(obj, path, high=L.MAX_CHART_SERIES, check_data=values)
    if kind in L.ORIENTED_CHART_KINDS and obj.get("orientation") is not None:
        if obj["orientation"] not in L.BAR_ORIENTATIONS:
            _refuse(f"{path}.orientation", 'expected "vertical" or "horizontal"')


def _scatter(obj: Mapping[str, Any], path: str, kind: str) -> None:
    def points(entry: Mapping[str, Any], here: str) -> None:
        value, at = _field(entry, here, "points")
        for index, raw in enumerate(_array(value, at, noun="points", low=1, high=L.MAX_SCATTER_POINTS)):
            point = _object(raw, f"{at}[{index}]")
            for axis in ("x", "y"):
                number, number_at = _field(point, f"{at}[{index}]", axis)
                _number(number, number_at)
            if point.get("label") is not None:
                _string(point["label"], f"{at}[{index}].label", limit=L.MAX_CHART_LABEL_CHARS)

    _series(obj, path, high=L.MAX_SCATTER_SERIES, check_data=points)


_CHART_BODIES: dict[str, Callable[[Mapping[str, Any], str, str], None]] = {
    "pie": _pie, "scatter": _scatter, **{kind: _categories for kind in L.CATEGORY_CHART_KINDS}}


def check_chart(raw: Any, path: str) -> str:
    obj = _object(raw, path)
    kind = obj.get("kind")
    if kind not in L.CHART_KINDS:
        _refuse(f"{path}.kind", f"expected one of {', '.join(L.CHART_KINDS)}")
    ref = _artifact_id(obj, path, safe=False)
    _title(obj, path)
    _CHART_BODIES[kind](obj, path, kind)
    return ref


# --- tables, lists, checklists, SVGs -------------------------------------------------------
def check_table(raw: Any, path: str) -> str:
    obj = _object(raw, path)
    _kind_tag(obj, path, "table")
    ref = _artifact_id(obj, path, safe=False)
    _title(obj, path)
    columns = _strings(obj, path, "columns", noun="columns", low=1, high=L.MAX_TABLE_COLUMNS,
                       limit=L.MAX_COLUMN_NAME_CHARS)
    value, at = _field(obj, path, "rows")
    for index, row in enumerate(_array(value, at, noun="rows", high=L.MAX_TABLE_ROWS)):
        cells = _array(row, f"{at}[{index}]", noun="cells")
        if len(cells) != len(columns):
            _refuse(f"{at}[{index}]", f"has {_count(len(cells), 'cells')} but there are "
                                      f"{_count(len(columns), 'columns')}")
        for column, cell in enumerate(cells):
            _string(cell, f"{at}[{index}][{column}]", limit=L.MAX_CELL_CHARS)
    return ref


def check_list(raw: Any, path: str) -> str:
    obj = _object(raw, path)
    _kind_tag(obj, path, "list")
    ref = _artifact_id(obj, path, safe=True)
    _title(obj, path)
    if obj.get("ordered") is not None and not isinstance(obj["ordered"], bool):
        _refuse(f"{path}.ordered", f"expected a boolean, got {json_type_with_article(obj['ordered'])}")
    _strings(obj, path, "items", noun="items", low=1, high=L.MAX_LIST_ITEMS, limit=L.MAX_LIST_ITEM_CHARS)
    return ref


def check_checklist(raw: Any, path: str) -> str:
    obj = _object(raw, path)
    _kind_tag(obj, path, "checklist")
    ref = _artifact_id(obj, path, safe=True)
    _title(obj, path)
    value, at = _field(obj, path, "items")
    seen: dict[str, int] = {}
    for index, raw_item in enumerate(_array(value, at, noun="items", low=1, high=L.MAX_CHECKLIST_ITEMS)):
        here = f"{at}[{index}]"
        item = _object(raw_item, here)
        item_id, id_at = _field(item, here, "id")
        if not _SAFE_ID.fullmatch(_string(item_id, id_at, limit=L.MAX_CHECKLIST_ITEM_ID_CHARS)):
            _refuse(id_at, "may contain only letters, digits, '_' and '-'")
        earlier = seen.setdefault(item_id.lower(), index)
        if earlier != index:
            _refuse(id_at, f"is already used by items[{earlier}]; item ids are unique (ignoring case)")
        label, label_at = _field(item, here, "label")
        _string(label, label_at, limit=L.MAX_CHECKLIST_LABEL_CHARS)
        if not isinstance(item.get("checked"), bool):
            _refuse(f"{here}.checked", f"expected a boolean, got {json_type_with_article(item.get('checked'))}")
    return ref


# The blocklist as the cloud's JavaScript would write it: /<script/i, /javascript:/i, /on\w+\s*=/i, ...
_SVG_BLOCKLIST = (
    *((ascii_pattern("<" + re.escape(name)), f"a <{name}> element") for name in L.SVG_FORBIDDEN_ELEMENTS),
    (ascii_pattern(re.escape(L.SVG_FORBIDDEN_SCHEME + ":")), "a javascript: URL"),
    (ascii_pattern(r"on\w+" + JS_SPACE_CLASS + "*="), "an on…= event-handler attribute"),
)


def check_svg(raw: Any, path: str) -> str:
    obj = _object(raw, path)
    ref = _artifact_id(obj, path, safe=True)
    _title(obj, path)
    value, at = _field(obj, path, "content")
    content = js_trim(_string(value, at))
    if utf16_length(content) > L.MAX_SVG_CHARS:
        _refuse(at, f"is {utf16_length(content):,} characters; the limit is {L.MAX_SVG_CHARS:,}")
    if L.SVG_ROOT_MARKER not in content:
        _refuse(at, f"must contain {L.SVG_ROOT_MARKER}")
    for pattern, what in _SVG_BLOCKLIST:
        if pattern.search(content):
            _refuse(at, f"contains {what}, which is not allowed")
    return ref


CHECKS: Mapping[str, Callable[[Any, str], str]] = {
    L.FILE.kind: check_file, L.CHART.kind: check_chart, L.TABLE.kind: check_table,
    L.LIST.kind: check_list, L.CHECKLIST.kind: check_checklist, L.SVG.kind: check_svg,
}
