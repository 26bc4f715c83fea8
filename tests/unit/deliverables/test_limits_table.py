"""Every limit of protocol §4, at the boundary (accepted) and one past it (refused), through
``validate_completion`` — the check the worker runs before completing (the emulator has its
own, ``tests/emulator/test_completion_rules.py``).

Each row: a body exactly at the limit, a body one step past it, the problem's path and a
fragment of its reason. The numbers are written out here (not read from ``limits``) so a
wrong constant fails the test.
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.unit.deliverables.samples import (
    area,
    bar,
    body,
    body_with,
    checklist,
    distinct,
    file,
    line,
    list_,
    pie,
    scatter,
    stacked_bar,
    svg,
    table,
)
from workers.deliverables.validate import validate_completion

CAPS = {"files": 24, "charts": 12, "datasets": 8, "lists": 12, "checklists": 8, "svgs": 8}
ID_ARRAYS = {"charts": bar, "datasets": table, "lists": list_, "checklists": checklist, "svgs": svg}


def labels(count: int) -> list[str]:
    return [f"L{i}" for i in range(count)]


def bar_with_labels(count: int) -> dict[str, Any]:
    return bar(labels=labels(count), series=[{"name": "s", "values": [1] * count}])


def bar_with_series(count: int) -> dict[str, Any]:
    return bar(series=[{"name": f"s{i}", "values": [1, 2]} for i in range(count)])


def values(*numbers: Any) -> dict[str, Any]:
    return bar(labels=labels(len(numbers)), series=[{"name": "s", "values": list(numbers)}])


def pie_with(count: int) -> dict[str, Any]:
    return pie(segments=[{"label": f"P{i}", "value": i} for i in range(count)])


def scatter_series(count: int) -> dict[str, Any]:
    return scatter(series=[{"name": f"s{i}", "points": [{"x": 0, "y": 0}]} for i in range(count)])


def scatter_points(*points: dict[str, Any]) -> dict[str, Any]:
    return scatter(series=[{"name": "s", "points": list(points)}])


def columns(count: int) -> dict[str, Any]:
    return table(columns=[f"C{i}" for i in range(count)], rows=[["x"] * count])


def rows(count: int) -> dict[str, Any]:
    return table(columns=["A"], rows=[["x"]] * count)


def list_items(count: int, text: str = "item") -> dict[str, Any]:
    return list_(items=[text] * count)


def checklist_items(count: int) -> dict[str, Any]:
    return checklist(items=[{"id": f"i{k}", "label": "do it", "checked": False} for k in range(count)])


def checklist_item(**fields: Any) -> dict[str, Any]:
    return checklist(items=[{"id": "a", "label": "do it", "checked": True, **fields}])


def svg_content(content: str) -> dict[str, Any]:
    return svg(content=content)


def svg_of_length(length: int) -> dict[str, Any]:
    return svg_content("<svg>" + "x" * (length - len("<svg></svg>")) + "</svg>")


def chart(item: dict[str, Any]) -> dict[str, Any]:
    return body_with("charts", item)


SAFE_SVG = "<svg><rect/></svg>"
FORBIDDEN_MARKUP = {
    "script": ("<svg><script>x()</script></svg>", "a <script> element"),
    "javascript-url": ('<svg><a href="javascript:x()"/></svg>', "a javascript: URL"),
    "event-handler": ('<svg onload="x()"></svg>', "event-handler attribute"),
    "foreignObject": ("<svg><foreignObject/></svg>", "a <foreignObject> element"),
    "iframe": ("<svg><iframe/></svg>", "an <iframe> element"),
    "embed": ("<svg><embed/></svg>", "an <embed> element"),
    "object": ("<svg><object/></svg>", "an <object> element"),
}

CASES = [
    # --- the completion as a whole ---
    pytest.param(body(assistantMessage="m" * 24_000), body(assistantMessage="m" * 24_001),
                 "assistantMessage", "is 24,001 characters; the limit is 24,000", id="message-24000"),
    pytest.param(body(assistantMessage="😀" * 12_000), body(assistantMessage="😀" * 12_000 + "m"),
                 "assistantMessage", "is 24,001 characters", id="message-counts-utf16-units"),
    pytest.param(body(assistantMessage="", charts=[bar()]), body(assistantMessage="  "),
                 "assistantMessage", "no artifacts", id="empty-message-needs-an-artifact"),
    *[pytest.param(body_with(array, *distinct(array, cap)), body_with(array, *distinct(array, cap + 1)),
                   array, f"has {cap + 1} ", id=f"cap-{array}-{cap}") for array, cap in CAPS.items()],
    # --- ids and titles of every kind with an id ---
    *[pytest.param(body_with(array, build(id="i" * 64)), body_with(array, build(id="i" * 65)),
                   f"{array}[0].id", "is 65 characters; the limit is 64", id=f"id-64-{array}")
      for array, build in ID_ARRAYS.items()],
    *[pytest.param(body_with(array, build(title="t" * 200)), body_with(array, build(title="t" * 201)),
                   f"{array}[0].title", "is 201 characters; the limit is 200", id=f"title-200-{array}")
      for array, build in ID_ARRAYS.items()],
    *[pytest.param(body_with(array, build(id="x"), build(id="y")), body_with(array, build(id="x"), build(id="X")),
                   f"{array}[1].id", '"X" is already used by ' + f"{array}[0]", id=f"unique-ids-{array}")
      for array, build in ID_ARRAYS.items()],
    pytest.param(body(charts=[bar(id="same")], datasets=[table(id="same")], lists=[list_(id="same")]),
                 body_with("files", file(name="a.md"), file(name="A.md")),
                 "files[1].name", '"A.md" is already used by files[0]', id="unique-file-names"),
    # --- files ---
    pytest.param(body_with("files", file(content="c" * 48_000)), body_with("files", file(content="c" * 48_001)),
                 "files[0].content", "the limit is 48,000", id="file-content-48000"),
    pytest.param(body_with("files", file(content="c")), body_with("files", file(content="")),
                 "files[0].content", "is empty", id="file-content-non-empty"),
    pytest.param(body_with("files", file(name="/".join(["a" * 48, "b" * 48, "c" * 48, "d" * 10 + ".md"]))),
                 body_with("files", file(name="/".join(["a" * 48, "b" * 48, "c" * 48, "d" * 11 + ".md"]))),
                 "files[0].name", "is 161 characters after sanitising; the limit is 160", id="file-name-160"),
    pytest.param(body_with("files", file(name="a/b/c/d/x.md")), body_with("files", file(name="a/b/c/d/e/x.md")),
                 "files[0].name", "has 5 folders; at most 4 folders", id="file-folders-4"),
    pytest.param(body_with("files", file(name="f" * 48 + "/x.md")), body_with("files", file(name="f" * 49 + "/x.md")),
                 "files[0].name", "not in sanitised form", id="file-folder-segment-48"),
    pytest.param(body_with("files", file(name="x" * 45 + ".md")), body_with("files", file(name="x" * 46 + ".md")),
                 "files[0].name", "parts are cut to 48", id="file-leaf-segment-48"),
    pytest.param(body_with("files", file(name="notes.TXT")), body_with("files", file(name="notes.pdf")),
                 "files[0].name", "must end in .md or .txt", id="file-extension"),
    pytest.param(body_with("files", file(name="specs/my_plan.md")), body_with("files", file(name="specs/my plan.md")),
                 "files[0].name", 'store it as "specs/my_plan.md"', id="file-name-sanitised"),
    # --- category charts (bar, stacked_bar, line, area) ---
    pytest.param(chart(bar_with_labels(32)), chart(bar_with_labels(33)),
                 "charts[0].labels", "has 33 labels; the limit is 32", id="chart-labels-32"),
    pytest.param(chart(bar_with_labels(1)), chart(bar_with_labels(0)),
                 "charts[0].labels", "has 0 labels; at least 1 needed", id="chart-labels-at-least-1"),
    pytest.param(chart(area(labels=labels(32), series=[{"name": "s", "values": [0] * 32}])),
                 chart(area(labels=labels(33), series=[{"name": "s", "values": [0] * 33}])),
                 "charts[0].labels", "the limit is 32", id="area-labels-32"),
    pytest.param(chart(bar(labels=["l" * 128, "b"])), chart(bar(labels=["l" * 129, "b"])),
                 "charts[0].labels[0]", "is 129 characters; the limit is 128", id="chart-label-128"),
    pytest.param(chart(bar_with_series(8)), chart(bar_with_series(9)),
                 "charts[0].series", "has 9 series; the limit is 8", id="chart-series-8"),
    pytest.param(chart(bar_with_series(1)), chart(bar_with_series(0)),
                 "charts[0].series", "has 0 series; at least 1 needed", id="chart-series-at-least-1"),
    pytest.param(chart(bar(series=[{"name": "n" * 64, "values": [1, 2]}])),
                 chart(bar(series=[{"name": "n" * 65, "values": [1, 2]}])),
                 "charts[0].series[0].name", "is 65 characters; the limit is 64", id="series-name-64"),
    pytest.param(chart(line(series=[{"name": "s", "values": [1, 2]}])),
                 chart(line(series=[{"name": "s", "values": [1, 2, 3]}])),
                 "charts[0].series[0].values", "has 3 values but there are 2 labels", id="values-as-long-as-labels"),
    pytest.param(chart(values(1.7e308, -1.7e308)), chart(values(1, float("nan"))),
                 "charts[0].series[0].values[1]", "expected a finite number, got NaN", id="values-finite-nan"),
    pytest.param(chart(values(1, 2)), chart(values(float("inf"), 2)),
                 "charts[0].series[0].values[0]", "got Infinity", id="values-finite-infinity"),
    pytest.param(chart(values(0, 1)), chart(values(True, 1)),
                 "charts[0].series[0].values[0]", "got true", id="values-bool-is-not-a-number"),
    pytest.param(chart(stacked_bar(series=[{"name": "s", "values": [0, 0]}])),
                 chart(stacked_bar(series=[{"name": "s", "values": [0, -0.5]}])),
                 "charts[0].series[0].values[1]", "cannot be negative", id="stacked-bar-non-negative"),
    pytest.param(chart(bar(orientation="horizontal")), chart(bar(orientation="diagonal")),
                 "charts[0].orientation", '"vertical" or "horizontal"', id="bar-orientation"),
    # --- pie ---
    pytest.param(chart(pie_with(24)), chart(pie_with(25)),
                 "charts[0].segments", "has 25 segments; the limit is 24", id="pie-segments-24"),
    pytest.param(chart(pie_with(1)), chart(pie_with(0)),
                 "charts[0].segments", "at least 1 needed", id="pie-segments-at-least-1"),
    pytest.param(chart(pie(segments=[{"label": "l" * 128, "value": 1}])),
                 chart(pie(segments=[{"label": "l" * 129, "value": 1}])),
                 "charts[0].segments[0].label", "the limit is 128", id="pie-label-128"),
    pytest.param(chart(pie(segments=[{"label": "a", "value": 0}])),
                 chart(pie(segments=[{"label": "a", "value": float("-inf")}])),
                 "charts[0].segments[0].value", "expected a finite number", id="pie-value-finite"),
    # --- scatter ---
    pytest.param(chart(scatter_series(6)), chart(scatter_series(7)),
                 "charts[0].series", "has 7 series; the limit is 6", id="scatter-series-6"),
    pytest.param(chart(scatter_series(1)), chart(scatter_series(0)),
                 "charts[0].series", "at least 1 needed", id="scatter-series-at-least-1"),
    pytest.param(chart(scatter_points(*[{"x": i, "y": i} for i in range(48)])),
                 chart(scatter_points(*[{"x": i, "y": i} for i in range(49)])),
                 "charts[0].series[0].points", "has 49 points; the limit is 48", id="scatter-points-48"),
    pytest.param(chart(scatter_points({"x": 0, "y": 0})), chart(scatter_points()),
                 "charts[0].series[0].points", "has 0 points; at least 1 needed", id="scatter-points-at-least-1"),
    pytest.param(chart(scatter_points({"x": -1e300, "y": 0})), chart(scatter_points({"x": float("nan"), "y": 0})),
                 "charts[0].series[0].points[0].x", "got NaN", id="scatter-x-finite"),
    pytest.param(chart(scatter_points({"x": 0, "y": 2})), chart(scatter_points({"x": 0, "y": "2"})),
                 "charts[0].series[0].points[0].y", 'got the string "2"', id="scatter-y-number"),
    # --- tables ---
    pytest.param(body_with("datasets", columns(12)), body_with("datasets", columns(13)),
                 "datasets[0].columns", "has 13 columns; the limit is 12", id="table-columns-12"),
    pytest.param(body_with("datasets", columns(1)), body_with("datasets", table(columns=[], rows=[])),
                 "datasets[0].columns", "at least 1 needed", id="table-columns-at-least-1"),
    pytest.param(body_with("datasets", table(columns=["c" * 64, "b"])),
                 body_with("datasets", table(columns=["c" * 65, "b"])),
                 "datasets[0].columns[0]", "the limit is 64", id="table-column-name-64"),
    pytest.param(body_with("datasets", rows(80)), body_with("datasets", rows(81)),
                 "datasets[0].rows", "has 81 rows; the limit is 80", id="table-rows-80"),
    pytest.param(body_with("datasets", rows(0)), body_with("datasets", table(rows=None)),
                 "datasets[0].rows", "is required", id="table-rows-may-be-empty"),
    pytest.param(body_with("datasets", table(rows=[["a", "b"]])), body_with("datasets", table(rows=[["a"]])),
                 "datasets[0].rows[0]", "has 1 cell but there are 2 columns", id="table-one-cell-per-column"),
    pytest.param(body_with("datasets", table(rows=[["a", "c" * 512]])),
                 body_with("datasets", table(rows=[["a", "c" * 513]])),
                 "datasets[0].rows[0][1]", "is 513 characters; the limit is 512", id="table-cell-512"),
    pytest.param(body_with("datasets", table(rows=[["", "2"]])), body_with("datasets", table(rows=[["a", 2]])),
                 "datasets[0].rows[0][1]", "expected a string", id="table-cells-are-strings"),
    # --- lists ---
    pytest.param(body_with("lists", list_items(48)), body_with("lists", list_items(49)),
                 "lists[0].items", "has 49 items; the limit is 48", id="list-items-48"),
    pytest.param(body_with("lists", list_items(1)), body_with("lists", list_items(0)),
                 "lists[0].items", "at least 1 needed", id="list-items-at-least-1"),
    pytest.param(body_with("lists", list_items(1, "i" * 512)), body_with("lists", list_items(1, "i" * 513)),
                 "lists[0].items[0]", "the limit is 512", id="list-item-512"),
    pytest.param(body_with("lists", list_(id="Step_2-b")), body_with("lists", list_(id="step 2")),
                 "lists[0].id", "may contain only letters, digits", id="list-id-pattern"),
    # --- checklists ---
    pytest.param(body_with("checklists", checklist_items(64)), body_with("checklists", checklist_items(65)),
                 "checklists[0].items", "has 65 items; the limit is 64", id="checklist-items-64"),
    pytest.param(body_with("checklists", checklist_items(1)), body_with("checklists", checklist_items(0)),
                 "checklists[0].items", "at least 1 needed", id="checklist-items-at-least-1"),
    pytest.param(body_with("checklists", checklist_item(label="l" * 320)),
                 body_with("checklists", checklist_item(label="l" * 321)),
                 "checklists[0].items[0].label", "the limit is 320", id="checklist-label-320"),
    pytest.param(body_with("checklists", checklist_item(id="i" * 48)),
                 body_with("checklists", checklist_item(id="i" * 49)),
                 "checklists[0].items[0].id", "is 49 characters; the limit is 48", id="checklist-item-id-48"),
    pytest.param(body_with("checklists", checklist_item(id="a_B-9")), body_with("checklists", checklist_item(id="a.b")),
                 "checklists[0].items[0].id", "may contain only letters, digits", id="checklist-item-id-pattern"),
    pytest.param(body_with("checklists", checklist(items=[{"id": "a", "label": "x", "checked": True},
                                                          {"id": "b", "label": "y", "checked": False}])),
                 body_with("checklists", checklist(items=[{"id": "a", "label": "x", "checked": True},
                                                          {"id": "A", "label": "y", "checked": False}])),
                 "checklists[0].items[1].id", "already used by items[0]", id="checklist-item-ids-unique"),
    pytest.param(body_with("checklists", checklist_item(checked=False)),
                 body_with("checklists", checklist_item(checked="no")),
                 "checklists[0].items[0].checked", "expected true or false", id="checklist-checked-bool"),
    pytest.param(body_with("checklists", checklist(id="go-live_1")), body_with("checklists", checklist(id="go live")),
                 "checklists[0].id", "may contain only letters, digits", id="checklist-id-pattern"),
    # --- SVGs ---
    pytest.param(body_with("svgs", svg(id="arch_2-b")), body_with("svgs", svg(id="arch/2")),
                 "svgs[0].id", "may contain only letters, digits", id="svg-id-pattern"),
    pytest.param(body_with("svgs", svg_of_length(64_000)), body_with("svgs", svg_of_length(64_001)),
                 "svgs[0].content", "is 64,001 characters; the limit is 64,000", id="svg-content-64000"),
    pytest.param(body_with("svgs", svg_content("<svg/>")), body_with("svgs", svg_content("<g><rect/></g>")),
                 "svgs[0].content", "must contain an <svg", id="svg-root"),
    *[pytest.param(body_with("svgs", svg_content(SAFE_SVG)), body_with("svgs", svg_content(markup)),
                   "svgs[0].content", what, id=f"svg-forbidden-{name}")
      for name, (markup, what) in FORBIDDEN_MARKUP.items()],
]


@pytest.mark.parametrize(("at_limit", "past_limit", "path", "reason"), CASES)
def test_limit_boundary(at_limit: dict[str, Any], past_limit: dict[str, Any], path: str, reason: str) -> None:
    assert validate_completion(at_limit) == []
    problems = validate_completion(past_limit)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}: "), problems
    assert reason in problems[0], problems
