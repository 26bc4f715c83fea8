"""The emulator's own server-side completion rules (``emulator.completion_rules``): it accepts
the payload shapes the official runner really sends, and refuses every stated limit of
protocol §4 one step past it, naming the place."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from emulator.completion_rules import completion_problems
from emulator.jsstrings import JS_SPACE, js_trim, utf16_cut, utf16_length
from tests.emulator.conftest import Cloud
from tests.unit.deliverables.samples import bar, body, body_with, checklist, file, list_, pie, scatter, svg, table
from workers.deliverables.text import JS_WHITESPACE


def chart(item: dict[str, Any]) -> dict[str, Any]:
    return body_with("charts", item)


# What the official runner sends and the real cloud completes (issue 10, defect 6).
OFFICIAL_SHAPES = {
    "empty-title": chart(bar(title="")),
    "null-title": chart(bar(title=None)),
    "blank-title-of-js-whitespace": body_with("lists", list_(title="\ufeff\u3000")),
    "long-title": chart(bar(title="t" * 500)),
    "negative-pie": chart(pie(segments=[{"label": "loss", "value": -4.5}, {"label": "gain", "value": 9}])),
    "js-whitespace-around-ids": body_with("lists", list_(id="\ufeffsteps\u2028")),
    "id-longer-than-64": chart(bar(id="x" * 90)),
    "unsanitised-file-name": body_with("files", file(name="/Specs/My Plan (v2).md")),
    "file-name-with-underscores": body_with("files", file(name="_notes_.md")),
    "backslash-file-name": body_with("files", file(name="specs\\api.MD")),
    "whitespace-only-file": body_with("files", file(content=" \n")),
    "blank-label": chart(bar(labels=["\ufeff", "b"])),
    "kind-tag-left-out": body_with("datasets", {k: v for k, v in table().items() if k != "kind"}),
    "unknown-item-field": body_with("lists", list_(style="dots")),
    "ordered-false": body_with("lists", list_(ordered=False)),
    "x1c-is-not-whitespace": body_with("svgs", svg(id="d", content="\x1c<svg/>")),
    "empty-message-with-artifact": body(assistantMessage="", charts=[bar()]),
    "astral-label-at-128-units": chart(bar(labels=["😀" * 64, "b"])),
}


@pytest.mark.parametrize("payload", OFFICIAL_SHAPES.values(), ids=OFFICIAL_SHAPES.keys())
def test_official_runner_shapes_are_accepted(payload: dict[str, Any]) -> None:
    assert completion_problems(payload) == []


def _labels(count: int) -> dict[str, Any]:
    return bar(labels=[f"L{i}" for i in range(count)], series=[{"name": "s", "values": [1] * count}])


def _checklist_items(*items: dict[str, Any]) -> dict[str, Any]:
    return body_with("checklists", checklist(items=list(items)))


DONE_A = {"id": "a", "label": "x", "checked": True}


def _many(array: str, count: int) -> dict[str, Any]:
    builders: dict[str, Callable[[int], dict[str, Any]]] = {
        "files": lambda i: file(name=f"d{i}.md"), "charts": lambda i: bar(id=f"c{i}"),
        "datasets": lambda i: table(id=f"t{i}"), "lists": lambda i: list_(id=f"l{i}"),
        "checklists": lambda i: checklist(id=f"k{i}"), "svgs": lambda i: svg(id=f"s{i}")}
    build = builders[array]
    return body_with(array, *(build(i) for i in range(count)))


# (at the limit: accepted, one past it: refused, path of the problem, fragment of its reason)
LIMITS = [
    pytest.param(body(assistantMessage="😀" * 12_000), body(assistantMessage="😀" * 12_000 + "m"),
                 "assistantMessage", "24,001 characters", id="message-utf16"),
    *[pytest.param(_many(array, cap), _many(array, cap + 1), array, f"the limit is {cap} per job", id=f"cap-{array}")
      for array, cap in {"files": 24, "charts": 12, "datasets": 8, "lists": 12, "checklists": 8, "svgs": 8}.items()],
    pytest.param(body_with("lists", list_(id="a"), list_(id="b")), body_with("lists", list_(id="a"), list_(id=" A")),
                 "lists[1].id", "already used by lists[0]", id="unique-after-trim-ignoring-case"),
    pytest.param(chart(bar(id="x" * 64 + "1")), body_with("charts", bar(id="x" * 64 + "1"), bar(id="x" * 64 + "2")),
                 "charts[1].id", "already used", id="unique-after-cut"),
    pytest.param(chart(bar(id=" a ")), chart(bar(id="\ufeff \u2028")), "charts[0].id", "is blank", id="id-blank"),
    pytest.param(body_with("files", file(name="a.md"), file(name="b.md")),
                 body_with("files", file(name="a.md"), file(name="/A.md")), "files[1].name", "already used",
                 id="unique-sanitised-names"),
    pytest.param(body_with("files", file(name="a/b/c/d/x.md")), body_with("files", file(name="a/b/c/d/e/x.md")),
                 "files[0].name", "has 5 folders; at most 4", id="file-folders"),
    pytest.param(body_with("files", file(name="n.txt")), body_with("files", file(name="n.pdf")),
                 "files[0].name", "must end in .md or .txt", id="file-extension"),
    pytest.param(body_with("files", file(name="/".join(["a" * 48] * 3 + ["d" * 10 + ".md"]))),
                 body_with("files", file(name="/".join(["a" * 48] * 3 + ["d" * 11 + ".md"]))),
                 "files[0].name", "161 characters after sanitising; the limit is 160", id="file-name-160"),
    pytest.param(body_with("files", file(content="c" * 48_000)), body_with("files", file(content="c" * 48_001)),
                 "files[0].content", "the limit is 48,000", id="file-content-48000"),
    pytest.param(body_with("files", file(content=" ")), body_with("files", file(content="")),
                 "files[0].content", "is empty", id="file-content-non-empty"),
    pytest.param(chart(_labels(32)), chart(_labels(33)), "charts[0].labels", "the limit is 32", id="labels-32"),
    pytest.param(chart(bar(labels=["😀" * 64, "b"])), chart(bar(labels=["😀" * 64 + "x", "b"])),
                 "charts[0].labels[0]", "129 characters", id="label-128-utf16"),
    pytest.param(chart(bar(series=[{"name": "n" * 64, "values": [1, 2]}])),
                 chart(bar(series=[{"name": "n" * 65, "values": [1, 2]}])),
                 "charts[0].series[0].name", "the limit is 64", id="series-name-64"),
    pytest.param(chart(bar(series=[{"name": f"s{i}", "values": [1, 2]} for i in range(8)])),
                 chart(bar(series=[{"name": f"s{i}", "values": [1, 2]} for i in range(9)])),
                 "charts[0].series", "the limit is 8", id="series-8"),
    pytest.param(chart(bar()), chart(bar(series=[{"name": "s", "values": [1]}])),
                 "charts[0].series[0].values", "has 1 value but there are 2 labels", id="values-per-label"),
    pytest.param(chart(bar(series=[{"name": "s", "values": [1, 1.7e308]}])),
                 chart(bar(series=[{"name": "s", "values": [1, 10 ** 400]}])),
                 "charts[0].series[0].values[1]", "not a finite number", id="values-finite"),
    pytest.param(chart(bar(kind="stacked_bar", series=[{"name": "s", "values": [0, 1]}])),
                 chart(bar(kind="stacked_bar", series=[{"name": "s", "values": [0, -1]}])),
                 "charts[0].series[0].values[1]", "cannot be negative", id="stacked-bar-non-negative"),
    pytest.param(chart(bar(orientation=None)), chart(bar(orientation="diagonal")), "charts[0].orientation",
                 "vertical", id="orientation"),
    pytest.param(chart(pie(segments=[{"label": "p", "value": 1}] * 24)),
                 chart(pie(segments=[{"label": "p", "value": 1}] * 25)), "charts[0].segments", "the limit is 24",
                 id="pie-segments-24"),
    pytest.param(chart(scatter(series=[{"name": "s", "points": [{"x": 0, "y": 0}] * 48}])),
                 chart(scatter(series=[{"name": "s", "points": [{"x": 0, "y": 0}] * 49}])),
                 "charts[0].series[0].points", "the limit is 48", id="scatter-points-48"),
    pytest.param(chart(scatter(series=[{"name": f"s{i}", "points": [{"x": 0, "y": 0}]} for i in range(6)])),
                 chart(scatter(series=[{"name": f"s{i}", "points": [{"x": 0, "y": 0}]} for i in range(7)])),
                 "charts[0].series", "the limit is 6", id="scatter-series-6"),
    pytest.param(body_with("datasets", table(columns=["c"] * 12, rows=[])),
                 body_with("datasets", table(columns=["c"] * 13, rows=[])), "datasets[0].columns", "the limit is 12",
                 id="table-columns-12"),
    pytest.param(body_with("datasets", table(columns=["A"], rows=[["x"]] * 80)),
                 body_with("datasets", table(columns=["A"], rows=[["x"]] * 81)), "datasets[0].rows",
                 "the limit is 80", id="table-rows-80"),
    pytest.param(body_with("datasets", table(rows=[["a", "c" * 512]])),
                 body_with("datasets", table(rows=[["a", "c" * 513]])), "datasets[0].rows[0][1]", "the limit is 512",
                 id="table-cell-512"),
    pytest.param(body_with("datasets", table(rows=[["a", ""]])), body_with("datasets", table(rows=[["a"]])),
                 "datasets[0].rows[0]", "has 1 cell but there are 2 columns", id="table-row-width"),
    pytest.param(body_with("lists", list_(items=["i"] * 48)), body_with("lists", list_(items=["i"] * 49)),
                 "lists[0].items", "the limit is 48", id="list-items-48"),
    pytest.param(body_with("lists", list_(items=["i" * 512])), body_with("lists", list_(items=["i" * 513])),
                 "lists[0].items[0]", "the limit is 512", id="list-item-512"),
    pytest.param(body_with("lists", list_(id=" step-2 ")), body_with("lists", list_(id="step 2")),
                 "lists[0].id", "only letters, digits", id="list-id-pattern"),
    pytest.param(_checklist_items(*({"id": f"i{k}", "label": "x", "checked": False} for k in range(64))),
                 _checklist_items(*({"id": f"i{k}", "label": "x", "checked": False} for k in range(65))),
                 "checklists[0].items", "the limit is 64", id="checklist-items-64"),
    pytest.param(_checklist_items({"id": "a", "label": "l" * 320, "checked": True}),
                 _checklist_items({"id": "a", "label": "l" * 321, "checked": True}),
                 "checklists[0].items[0].label", "the limit is 320", id="checklist-label-320"),
    pytest.param(_checklist_items({"id": "i" * 48, "label": "x", "checked": True}),
                 _checklist_items({"id": "i" * 49, "label": "x", "checked": True}),
                 "checklists[0].items[0].id", "the limit is 48", id="checklist-item-id-48"),
    pytest.param(_checklist_items(DONE_A, {"id": "b", "label": "y", "checked": False}),
                 _checklist_items(DONE_A, {"id": "A", "label": "y", "checked": False}),
                 "checklists[0].items[1].id", "already used by items[0]", id="checklist-item-ids-unique"),
    pytest.param(_checklist_items({"id": "a", "label": "x", "checked": False}),
                 _checklist_items({"id": "a", "label": "x"}), "checklists[0].items[0].checked", "expected a boolean",
                 id="checklist-checked"),
    pytest.param(body_with("svgs", svg(content="<svg>" + "x" * 63_989 + "</svg>")),
                 body_with("svgs", svg(content="<svg>" + "x" * 63_990 + "</svg>")), "svgs[0].content",
                 "the limit is 64,000", id="svg-64000"),
    pytest.param(body_with("svgs", svg(content="<svg/>")), body_with("svgs", svg(content="<SVG/>")),
                 "svgs[0].content", "must contain <svg", id="svg-root"),
    pytest.param(body_with("svgs", svg(content='<svg><rect on="x"/></svg>')),
                 body_with("svgs", svg(content='<svg><rect onclick\ufeff="x()"/></svg>')), "svgs[0].content",
                 "event-handler", id="svg-handler-javascript-space"),
    pytest.param(body_with("svgs", svg(content='<svg><a href="java-script:x"/></svg>')),
                 body_with("svgs", svg(content='<svg><a href="JavaScript:x"/></svg>')), "svgs[0].content",
                 "javascript: URL", id="svg-javascript-url"),
    pytest.param(body_with("svgs", svg(content="<svg><g/></svg>")),
                 body_with("svgs", svg(content="<svg><ForeignObject/></svg>")), "svgs[0].content",
                 "<foreignObject> element", id="svg-foreign-object"),
]


@pytest.mark.parametrize(("at_limit", "past_limit", "path", "reason"), LIMITS)
def test_each_limit_is_refused_one_step_past_it(at_limit: dict[str, Any], past_limit: dict[str, Any], path: str,
                                                 reason: str) -> None:
    assert completion_problems(at_limit) == []
    problems = completion_problems(past_limit)
    assert len(problems) == 1 and problems[0].startswith(f"{path}: ") and reason in problems[0], problems


def test_body_level_problems_are_all_listed() -> None:
    problems = completion_problems({"workspaceId": " ", "assistantMessage": 3, "tables": [], "charts": {}})
    assert problems[:4] == [
        'tables: unknown field (tables go in "datasets")',
        "workspaceId: expected a non-blank string, got a string",
        "assistantMessage: expected a string, got a number",
        "files: expected a list (send [] when there are no files), got nothing",
    ]
    assert "charts: expected a list (send [] when there are no charts), got an object" in problems
    assert completion_problems(body(assistantMessage="\u3000")) == [
        "assistantMessage: is empty and there are no artifacts"]


def test_javascript_strings_agree_with_the_runners_independent_reading() -> None:
    assert set(JS_SPACE) == set(JS_WHITESPACE)  # derived from Unicode data here, listed by hand there
    assert js_trim("\ufeff\x1ca\x85\u2029") == "\x1ca\x85"
    assert utf16_length("a😀") == 3 and utf16_cut("a😀b", 2) == "a" and utf16_cut("a😀b", 3) == "a😀"


def test_official_shapes_complete_over_http(cloud: Cloud, key: str) -> None:
    workspace_id = cloud.enqueue(messages=[{"text": "a pie chart of profit and loss"}])
    assert cloud.lease(key)["workspaceId"] == workspace_id
    payload = {**body(workspaceId=workspace_id, assistantMessage="See {{artifact:chart:pl}}"),
               "charts": [pie(id="pl", title="", segments=[{"label": "loss", "value": -2}])],
               "files": [file(name="/Specs/P&L plan.md")], "lists": [list_(id="\ufeffsteps")]}
    reply = cloud.post("/completeWorkspaceJob", payload, token=key)
    assert reply.status_code == 200 and reply.json() == {"ok": True}
    assert cloud.job(workspace_id)["payload"] == json.loads(json.dumps(payload))


def test_a_real_violation_is_a_400_naming_it_over_http(cloud: Cloud, key: str) -> None:
    workspace_id = cloud.enqueue(messages=[{"text": "x"}])
    cloud.lease(key)
    payload = body(workspaceId=workspace_id, charts=[pie(segments=[{"label": "a", "value": 1}] * 25)])
    reply = cloud.post("/completeWorkspaceJob", payload, token=key)
    assert reply.status_code == 400
    assert reply.json() == {"error": "invalid completion payload",
                            "detail": {"problems": ["charts[0].segments: has 25 segments; the limit is 24"]}}
    assert cloud.job(workspace_id)["state"] == "leased"
