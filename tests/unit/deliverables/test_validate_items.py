"""Item validators: what normalising does (tool side), what strict refuses (completion side),
and the details the model reads."""
from __future__ import annotations

from typing import Any

import pytest

from tests.unit.deliverables import samples
from workers.deliverables.errors import DeliverableError
from workers.deliverables.text import js_cut, js_length
from workers.deliverables.validate import validate_completion, validate_item

ALL_SAMPLES = [
    *[pytest.param("chart", build(), id=f"chart-{kind}") for kind, build in samples.CHART_BUILDERS.items()],
    *[pytest.param(samples.ARRAY_KIND[array], build(), id=array) for array, build in samples.ITEM_BUILDERS.items()
      if array != "charts"],
]


def refusal(kind: str, raw: Any, *, strict: bool = False) -> DeliverableError:
    with pytest.raises(DeliverableError) as caught:
        validate_item(kind, raw, strict=strict)
    return caught.value


@pytest.mark.parametrize(("kind", "item"), ALL_SAMPLES)
def test_stored_items_are_fixed_points(kind: str, item: dict[str, Any]) -> None:
    assert validate_item(kind, item, strict=True) == item
    assert validate_item(kind, item) == item


def test_ids_and_titles_are_trimmed_and_cut_when_normalising() -> None:
    chart = validate_item("chart", samples.bar(id="  " + "x" * 70 + " ", title=" " + "t" * 250))
    assert chart["id"] == "x" * 64
    assert chart["title"] == "t" * 200


@pytest.mark.parametrize(("fields", "path", "reason"), [
    ({"id": " sales"}, "charts[0].id", "has leading or trailing whitespace"),
    ({"id": "x" * 65}, "charts[0].id", "is 65 characters; the limit is 64"),
    ({"title": "Sales "}, "charts[0].title", "has leading or trailing whitespace"),
    ({"title": ""}, "charts[0].title", "is blank; leave the field out instead"),
    ({"title": None}, "charts[0].title", "is null; leave the field out instead"),
    ({"colour": "red"}, "charts[0].colour",
     "unexpected field; the fields are kind, id, title, labels, series, orientation"),
])
def test_strict_refuses_what_normalising_would_change(fields: dict[str, Any], path: str, reason: str) -> None:
    problems = validate_completion(samples.body_with("charts", samples.bar(**fields)))
    assert problems == [f"{path}: {reason}"]


def test_normalising_drops_null_and_unknown_fields_and_blank_titles() -> None:
    chart = validate_item("chart", samples.bar(title="  ", orientation=None, colour="red"))
    assert chart == samples.bar()


def test_ids_count_utf16_units_and_are_cut_without_splitting_a_pair() -> None:
    assert validate_item("chart", samples.bar(id="😀" * 32), strict=True)["id"] == "😀" * 32
    cut = validate_item("chart", samples.bar(id="a" + "😀" * 32))["id"]
    assert cut == "a" + "😀" * 31  # 63 units: the 32nd emoji would need units 64 and 65
    assert js_length("😀") == 2 and js_cut("😀😀", 3) == "😀"


def test_checklist_checked_defaults_to_false_only_when_normalising() -> None:
    raw = samples.checklist(items=[{"id": "a", "label": "Do it"}])
    assert validate_item("checklist", raw)["items"] == [{"id": "a", "label": "Do it", "checked": False}]
    assert refusal("checklist", raw, strict=True).problem("checklists[0]") == (
        "checklists[0].items[0].checked: is required (true or false)")


def test_list_ordered_false_means_absent_in_both_modes() -> None:
    assert "ordered" not in validate_item("list", samples.list_(ordered=False), strict=True)
    assert validate_item("list", samples.list_(ordered=True))["ordered"] is True


def test_kind_tag_is_added_when_normalising_and_required_when_strict() -> None:
    raw = {key: value for key, value in samples.table().items() if key != "kind"}
    assert validate_item("table", raw)["kind"] == "table"
    assert refusal("table", raw, strict=True).problem("datasets[0]") == 'datasets[0].kind: is required ("table")'
    assert refusal("table", samples.table(kind="list")).detail == 'table: kind: expected "table", got the string "list"'


def test_svg_content_is_trimmed_when_normalising() -> None:
    assert validate_item("svg", samples.svg(content="\n<svg/>\n"))["content"] == "<svg/>"
    assert "has leading or trailing whitespace" in refusal("svg", samples.svg(content="<svg/>\n"), strict=True).detail


@pytest.mark.parametrize(("kind", "raw", "detail"), [
    pytest.param("chart", samples.bar(labels=["a", "b", "c", "d"], series=[{"name": "2024", "values": [1, 2, 3]}]),
                 'bar chart "sales": series "2024": has 3 values but there are 4 labels; '
                 "give exactly one value per label", id="values-per-label"),
    pytest.param("chart", samples.line(series=[{"name": "s", "values": [1, float("nan")]}]),
                 'line chart "trend": series "s" values[1]: expected a finite number, got NaN', id="nan"),
    pytest.param("chart", samples.stacked_bar(series=[{"name": "Rent", "values": [1, -5]}]),
                 'stacked bar chart "stack": series "Rent" values[1]: is -5; stacked bar chart values cannot be '
                 'negative', id="negative-stacked-bar"),
    pytest.param("chart", samples.bar(kind="donut"),
                 'chart: kind: expected one of "pie", "bar", "stacked_bar", "line", "area", "scatter", '
                 'got the string "donut"', id="unknown-chart-kind"),
    pytest.param("chart", samples.bar(id=None), 'bar chart: id: is required (a short id such as "sales-2024")',
                 id="missing-id"),
    pytest.param("chart", samples.scatter(series=[{"name": "s", "points": [{"x": 1}]}]),
                 'scatter chart "cloud": series "s" points[0] y: is required (a number)', id="missing-y"),
    pytest.param("table", samples.table(rows=[["only one"]]),
                 'table "compare": rows[0]: has 1 cell but there are 2 columns; give exactly one cell per column',
                 id="row-width"),
    pytest.param("checklist", samples.checklist(items=[{"id": "ship", "label": " ", "checked": True}]),
                 'checklist "launch": item "ship" label: is blank', id="blank-label"),
    pytest.param("file", samples.file(content=""), 'file "specs/plan.md": content: is empty', id="empty-content"),
    pytest.param("file", samples.file(name="a/b/c/d/e/f.md"),
                 'file "a/b/c/d/e/f.md": name: has 5 folders; at most 4 folders may come before the file name',
                 id="file-depth"),
    pytest.param("svg", samples.svg(content='<svg><text content="x"/></svg>'),
                 'svg "arch": content: contains an on…= event-handler attribute ("content="), which is not allowed; '
                 "use plain shapes, paths and text", id="svg-handler-shows-the-word"),
    pytest.param("list", "not an object", 'list: expected an object, got the string "not an object"',
                 id="not-an-object"),
])
def test_details_name_the_item_the_place_and_the_fix(kind: str, raw: Any, detail: str) -> None:
    assert refusal(kind, raw).detail == detail


def test_big_integers_count_as_out_of_range() -> None:
    error = refusal("chart", samples.bar(series=[{"name": "s", "values": [10 ** 400, 1]}]))
    assert error.reason == "expected a finite number, got a number out of range"
    assert refusal("list", samples.list_(items=[1.5e300])).reason == "expected a string, got the number 1.5e+300"


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown artifact kind 'video'"):
        validate_item("video", {})
