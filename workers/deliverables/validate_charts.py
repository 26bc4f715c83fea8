"""The stored chart shapes of protocol §4: pie, bar, stacked_bar, line, area, scatter.

``validate_chart(raw)`` returns the chart in normal form or raises ``DeliverableError``.
The four category charts share one shape (``labels`` + ``series`` of ``values``, one value
per label); bar and stacked_bar add ``orientation``; stacked bars cannot be negative.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shared.protocol.limits import (
    BAR_ORIENTATIONS,
    CATEGORY_CHART_KINDS,
    CHART_KINDS,
    MAX_CHART_LABEL_CHARS,
    MAX_CHART_LABELS,
    MAX_CHART_SERIES,
    MAX_PIE_SEGMENTS,
    MAX_SCATTER_POINTS,
    MAX_SCATTER_SERIES,
    MAX_SERIES_NAME_CHARS,
    NON_NEGATIVE_CHART_KINDS,
    ORIENTED_CHART_KINDS,
)
from workers.deliverables.errors import Where
from workers.deliverables.fields import Reader, is_absent
from workers.deliverables.text import count_text, describe_value, quote

_COMMON_FIELDS = ("kind", "id", "title")
_FIELDS = {
    "pie": _COMMON_FIELDS + ("segments",),
    "bar": _COMMON_FIELDS + ("labels", "series", "orientation"),
    "stacked_bar": _COMMON_FIELDS + ("labels", "series", "orientation"),
    "line": _COMMON_FIELDS + ("labels", "series"),
    "area": _COMMON_FIELDS + ("labels", "series"),
    "scatter": _COMMON_FIELDS + ("series",),
}


def chart_noun(kind: str) -> str:
    """How the model calls a chart of ``kind``: ``"stacked bar chart"``."""
    return f"{kind.replace('_', ' ')} chart"


def _negative_reason(kind: str) -> str:
    """Why values of ``kind`` must be ≥ 0, or "" when they may be negative."""
    return f"{chart_noun(kind)} values cannot be negative" if kind in NON_NEGATIVE_CHART_KINDS else ""


def validate_chart(raw: Any, *, strict: bool = False) -> dict[str, Any]:
    """The chart ``raw`` in normal form (see ``fields.Reader`` for ``strict``)."""
    root = Where()
    reader = Reader(subject="chart", strict=strict)
    obj = reader.mapping(raw, root)  # fields are checked once the kind is known
    kind = obj.get("kind")
    if kind not in CHART_KINDS:
        choices = ", ".join(quote(choice) for choice in CHART_KINDS)
        raise reader.fail(root.field("kind"), f"expected one of {choices}, got {describe_value(kind)}")
    reader = reader.about(chart_noun(kind))
    reader.mapping(obj, root, allowed=_FIELDS[kind])
    chart_id = reader.artifact_id(obj, root, safe=False)
    reader = reader.about(f"{chart_noun(kind)} {quote(chart_id)}")
    chart: dict[str, Any] = {"kind": kind, "id": chart_id}
    title = reader.title(obj, root)
    if title is not None:
        chart["title"] = title
    chart.update(_BODIES[kind](reader, obj, root, kind))
    return chart


def _pie_body(reader: Reader, obj: Any, root: Where, kind: str) -> dict[str, Any]:
    at = root.field("segments")
    raw_segments = reader.required_array(obj, root, "segments", expected="a list of {label, value}",
                                         noun="segment", low=1, high=MAX_PIE_SEGMENTS)
    segments = []
    for position, raw in enumerate(raw_segments):
        here = at.index(position)
        segment = reader.mapping(raw, here, allowed=("label", "value"))
        label = reader.text(reader.required(segment, here, "label", expected="a string"),
                            here.field("label"), limit=MAX_CHART_LABEL_CHARS)
        here = at.index(position, name=label, noun="segment")
        value = reader.number(reader.required(segment, here, "value", expected="a number"),
                              here.field("value"), non_negative=_negative_reason(kind))
        segments.append({"label": label, "value": value})
    return {"segments": segments}


def _category_body(reader: Reader, obj: Any, root: Where, kind: str) -> dict[str, Any]:
    labels = reader.text_list(obj, root, "labels", expected="a list of category labels", noun="label",
                              low=1, high=MAX_CHART_LABELS, limit=MAX_CHART_LABEL_CHARS)

    def values(entry: Mapping[str, Any], here: Where) -> list[int | float]:
        values_at = here.field("values")
        raw_values = reader.required_array(entry, here, "values", expected="one number per label", noun="value")
        if len(raw_values) != len(labels):
            raise reader.fail(values_at.called(here.label),
                              f"has {count_text(len(raw_values), 'value')} but there are "
                              f"{count_text(len(labels), 'label')}; give exactly one value per label")
        return [reader.number(value, values_at.index(index), non_negative=_negative_reason(kind))
                for index, value in enumerate(raw_values)]

    series = _named_series(reader, obj, root, expected="a list of {name, values}", high=MAX_CHART_SERIES,
                           data="values", read_data=values)
    body: dict[str, Any] = {"labels": labels, "series": series}
    if kind in ORIENTED_CHART_KINDS:
        orientation = reader.optional(obj, root, "orientation")
        if not is_absent(orientation):
            body["orientation"] = reader.choice(orientation, root.field("orientation"), BAR_ORIENTATIONS)
    return body


def _scatter_body(reader: Reader, obj: Any, root: Where, kind: str) -> dict[str, Any]:
    def points(entry: Mapping[str, Any], here: Where) -> list[dict[str, Any]]:
        points_at = here.field("points")
        raw_points = reader.required_array(entry, here, "points", expected="a list of {x, y, label?}",
                                           noun="point", low=1, high=MAX_SCATTER_POINTS)
        return [_scatter_point(reader, point, points_at.index(index)) for index, point in enumerate(raw_points)]

    return {"series": _named_series(reader, obj, root, expected="a list of {name, points}", high=MAX_SCATTER_SERIES,
                                    data="points", read_data=points)}


def _named_series(reader: Reader, obj: Any, root: Where, *, expected: str, high: int, data: str,
                  read_data: Callable[[Mapping[str, Any], Where], Any]) -> list[dict[str, Any]]:
    """The ``series`` of category and scatter charts: 1..``high`` entries ``{name, <data>}``;
    ``read_data(entry, here)`` reads the ``data`` field once the entry's name is known."""
    series_at = root.field("series")
    raw_series = reader.required_array(obj, root, "series", expected=expected, noun="series", plural="series",
                                       low=1, high=high)
    series = []
    for position, raw in enumerate(raw_series):
        here = series_at.index(position)
        entry = reader.mapping(raw, here, allowed=("name", data))
        name = reader.text(reader.required(entry, here, "name", expected="a string"),
                           here.field("name"), limit=MAX_SERIES_NAME_CHARS)
        here = series_at.index(position, name=name, noun="series")
        series.append({"name": name, data: read_data(entry, here)})
    return series


def _scatter_point(reader: Reader, raw: Any, here: Where) -> dict[str, Any]:
    point = reader.mapping(raw, here, allowed=("x", "y", "label"))
    result: dict[str, Any] = {
        axis: reader.number(reader.required(point, here, axis, expected="a number"), here.field(axis))
        for axis in ("x", "y")
    }
    label = reader.optional(point, here, "label")
    if not is_absent(label):
        result["label"] = reader.text(label, here.field("label"), limit=MAX_CHART_LABEL_CHARS)
    return result


_BODIES: dict[str, Callable[[Reader, Any, Where, str], dict[str, Any]]] = {
    "pie": _pie_body,
    "scatter": _scatter_body,
    **{kind: _category_body for kind in CATEGORY_CHART_KINDS},
}
