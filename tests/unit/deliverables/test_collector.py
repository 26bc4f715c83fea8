"""``DeliverableCollector``: every tool accepted and refused with a detail the model can act
on, malformed JSON, caps, duplicate ids, counts, lookups and the completion payload."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.deliverables import samples
from tests.unit.deliverables.samples import TOOL_ARGS, TOOL_KIND
from workers.deliverables.collector import DeliverableCollector
from workers.deliverables.validate import validate_completion
from workers.models.base import ToolCall, ToolResult


def call(collector: DeliverableCollector, tool: str, arguments: Any, *, call_id: str = "call-1") -> dict[str, Any]:
    """Apply one call (``arguments`` as JSON text or a value to encode) and return the decoded answer."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    result = collector.apply(ToolCall(call_id=call_id, name=tool, arguments=text))
    assert isinstance(result, ToolResult) and result.call_id == call_id
    answer: dict[str, Any] = json.loads(result.output)
    assert set(answer) == {"ok", "detail"} and isinstance(answer["detail"], str)
    return answer


@pytest.mark.parametrize("tool", TOOL_ARGS)
def test_each_tool_accepts_a_valid_call(tool: str) -> None:
    collector = DeliverableCollector()
    answer = call(collector, tool, TOOL_ARGS[tool])
    kind = TOOL_KIND[tool]
    ref = "specs/plan.md" if kind == "file" else answer["detail"].split('"')[1]
    assert answer == {"ok": True, "detail": f'created {kind} "{ref}"; cite it as {{{{artifact:{kind}:{ref}}}}}'}
    assert collector.counts()[kind] == 1 and collector.has(kind, ref)


BAD_CALLS = [
    ("create_file", {"name": "notes.pdf", "content": "x"}, 'file "notes.pdf": name: must end in .md or .txt'),
    ("create_pie_chart", {"id": "mix", "segments": [{"label": "Rent", "value": "-1"}]},
     'pie chart "mix": segment "Rent" value: expected a finite number, got the string "-1"'),
    ("create_bar_chart",
     {"id": "sales", "labels": ["a", "b", "c", "d"], "series": [{"name": "2024", "values": [1, 2, 3]}]},
     'bar chart "sales": series "2024": has 3 values but there are 4 labels; give exactly one value per label'),
    ("create_stacked_bar_chart", {"id": "st", "labels": ["a"], "series": [{"name": "s", "values": [-2]}]},
     'stacked bar chart "st": series "s" values[0]: is -2; stacked bar chart values cannot be negative'),
    ("create_line_chart", '{"id": "t", "labels": ["a", "b"], "series": [{"name": "s", "values": [1, NaN]}]}',
     'line chart "t": series "s" values[1]: expected a finite number, got NaN'),
    ("create_area_chart",
     {"id": "v", "labels": [f"L{i}" for i in range(33)], "series": [{"name": "s", "values": [1] * 33}]},
     'area chart "v": labels: has 33 labels; the limit is 32'),
    ("create_scatter_chart", {"id": "c", "series": [{"name": "s", "points": [{"x": "1", "y": 2}]}]},
     'scatter chart "c": series "s" points[0] x: expected a finite number, got the string "1"'),
    ("create_table", {"table": {"id": "t", "columns": ["a", "b"], "rows": [["1"]]}},
     'table "t": rows[0]: has 1 cell but there are 2 columns; give exactly one cell per column'),
    ("create_list", {"list": {"id": "next steps", "items": ["a"]}},
     'list: id: "next steps" may contain only letters, digits, \'_\' and \'-\''),
    ("create_checklist", {"checklist": {"id": "go", "items": [{"id": "a", "label": "x", "checked": False},
                                                              {"id": "A", "label": "y", "checked": False}]}},
     'checklist "go": items[1] id: "A" is already used by items[0]; item ids must be unique (ignoring case)'),
    ("create_svg", {"svg": {"id": "d", "content": "<svg><script>alert(1)</script></svg>"}},
     'svg "d": content: contains a <script> element ("<script"), which is not allowed; '
     "use plain shapes, paths and text"),
]


@pytest.mark.parametrize(("tool", "arguments", "detail"), BAD_CALLS, ids=[tool for tool, _, _ in BAD_CALLS])
def test_each_tool_refuses_a_bad_call_with_a_specific_detail(tool: str, arguments: Any, detail: str) -> None:
    collector = DeliverableCollector()
    assert call(collector, tool, arguments) == {"ok": False, "detail": detail}
    assert sum(collector.counts().values()) == 0


def test_all_eleven_tools_are_covered_both_ways() -> None:
    assert {tool for tool, _, _ in BAD_CALLS} == set(TOOL_ARGS)
    assert len(TOOL_ARGS) == 11


@pytest.mark.parametrize(("arguments", "fragment"), [
    ('{"id": "x", "labels": ["a"],', "create_bar_chart: the arguments are not valid JSON (Expecting"),
    ("{'id': 'x'}", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ("[" * 100_000, "create_bar_chart: the arguments are"),
    ('{"id": "x", "labels": ["a"], "series": [{"name": "s", "values": [' + "9" * 5000 + "]}]}",
     "Exceeds the limit (4300 digits)"),
])
def test_malformed_json_is_answered_never_raised(arguments: str, fragment: str) -> None:
    answer = call(DeliverableCollector(), "create_bar_chart", arguments)
    assert answer["ok"] is False and fragment in answer["detail"]


def test_arguments_must_be_an_object() -> None:
    answer = call(DeliverableCollector(), "create_file", "[1, 2]")
    assert answer == {"ok": False, "detail": "create_file: the arguments must be a JSON object, got a list of 2 items"}


def test_empty_arguments_read_as_an_empty_object() -> None:
    answer = call(DeliverableCollector(), "create_bar_chart", "")
    assert answer == {"ok": False, "detail": 'bar chart: id: is required (a short id such as "sales-2024")'}


def test_unknown_tool_names_the_valid_tools() -> None:
    answer = call(DeliverableCollector(), "create_video", "{}")
    assert answer["ok"] is False
    assert answer["detail"].startswith('unknown tool "create_video"; the tools are create_file, create_pie_chart,')
    assert answer["detail"].endswith("create_list, create_checklist, create_svg")


CAPS = {"create_file": ("file", 24, "files"), "create_bar_chart": ("chart", 12, "charts"),
        "create_table": ("table", 8, "tables"), "create_list": ("list", 12, "lists"),
        "create_checklist": ("checklist", 8, "checklists"), "create_svg": ("svg", 8, "SVGs")}


def numbered_args(tool: str, number: int) -> dict[str, Any]:
    args: dict[str, Any] = json.loads(json.dumps(TOOL_ARGS[tool]))   # a deep copy
    if tool == "create_file":
        args["name"] = f"doc{number}.md"
    elif tool == "create_bar_chart":
        args["id"] = f"c{number}"
    else:
        next(iter(args.values()))["id"] = f"i{number}"
    return args


@pytest.mark.parametrize("tool", CAPS)
def test_per_job_caps(tool: str) -> None:
    kind, cap, plural = CAPS[tool]
    collector = DeliverableCollector()
    for number in range(cap):
        assert call(collector, tool, numbered_args(tool, number))["ok"] is True
    answer = call(collector, tool, numbered_args(tool, cap))
    assert answer == {"ok": False, "detail": f"{kind} cap reached: {cap} {plural} already created; reuse one"}
    assert collector.counts()[kind] == cap


def test_charts_of_all_kinds_share_one_cap() -> None:
    collector = DeliverableCollector()
    for number in range(12):
        tool = ["create_pie_chart", "create_line_chart", "create_scatter_chart"][number % 3]
        assert call(collector, tool, {**TOOL_ARGS[tool], "id": f"c{number}"})["ok"] is True
    answer = call(collector, "create_area_chart", TOOL_ARGS["create_area_chart"])
    assert answer["detail"] == "chart cap reached: 12 charts already created; reuse one"


def test_duplicate_ids_are_refused_per_kind_ignoring_case() -> None:
    collector = DeliverableCollector()
    assert call(collector, "create_bar_chart", {**TOOL_ARGS["create_bar_chart"], "id": "sales"})["ok"] is True
    answer = call(collector, "create_pie_chart", {**TOOL_ARGS["create_pie_chart"], "id": "Sales"})
    assert answer == {"ok": False, "detail": 'a chart with id "sales" already exists in this job (ids are unique '
                                             "per kind, ignoring case); cite it as {{artifact:chart:sales}} "
                                             "or use another id"}
    assert call(collector, "create_table", {"table": samples.table(id="sales")})["ok"] is True  # another kind
    assert collector.counts() == {"file": 0, "chart": 1, "table": 1, "list": 0, "checklist": 0, "svg": 0}


def test_duplicate_file_names_compare_sanitised() -> None:
    collector = DeliverableCollector()
    assert call(collector, "create_file", {"name": "specs/my plan.md", "content": "a"})["ok"] is True
    answer = call(collector, "create_file", {"name": "/Specs/My_Plan.md", "content": "b"})
    assert answer["ok"] is False
    assert answer["detail"].startswith('a file with name "specs/my_plan.md" already exists in this job')


def test_normalised_ids_and_names_are_reported_back() -> None:
    collector = DeliverableCollector()
    answer = call(collector, "create_file", {"name": "\\specs\\my plan.md", "content": "x"})
    assert answer["detail"] == ('created file "specs/my_plan.md"; cite it as {{artifact:file:specs/my_plan.md}} '
                                '(you gave "\\\\specs\\\\my plan.md"; it is stored as shown)')
    answer = call(collector, "create_list", {"list": {"id": " steps ", "items": ["a"]}})
    assert answer["detail"].startswith('created list "steps"; cite it as {{artifact:list:steps}}')


def test_wrapper_may_be_left_out_when_the_fields_are_at_top_level() -> None:
    collector = DeliverableCollector()
    assert call(collector, "create_list", {"id": "steps", "items": ["a"]})["ok"] is True
    answer = call(collector, "create_table", {"columns": ["a"], "rows": []})
    assert answer == {"ok": False, "detail": 'create_table: the arguments must be {"table": {...}}; '
                                             'the "table" object is missing'}


def test_numeric_table_cells_become_text() -> None:
    collector = DeliverableCollector()
    table = {"id": "t", "columns": ["n", "x", "big"], "rows": [[1, 2.5, 3.0]]}
    assert call(collector, "create_table", {"table": table})["ok"] is True
    assert collector.payload(workspace_id="w", message="m")["datasets"][0]["rows"] == [["1", "2.5", "3"]]


def test_has_matches_exact_case_and_files_by_sanitised_path() -> None:
    collector = DeliverableCollector()
    call(collector, "create_svg", {"svg": samples.svg(id="Arch")})
    call(collector, "create_file", {"name": "specs/my plan.md", "content": "x"})
    assert collector.has("svg", "Arch") and not collector.has("svg", "arch")
    assert collector.has("file", "/specs/my plan.md") and collector.has("file", "specs/my_plan.md")
    assert not collector.has("file", "specs/My_plan.md") and not collector.has("file", "plan.pdf")
    with pytest.raises(ValueError, match="unknown artifact kind 'video'"):
        collector.has("video", "x")


def test_payload_has_every_array_and_passes_the_completion_check() -> None:
    collector = DeliverableCollector()
    empty = collector.payload(workspace_id="ws-9", message="Only text.")
    assert empty == samples.body(workspaceId="ws-9", assistantMessage="Only text.")
    for tool, arguments in TOOL_ARGS.items():
        assert call(collector, tool, arguments)["ok"] is True, tool
    body = collector.payload(workspace_id="ws-9", message="See {{artifact:chart:sales}}.")
    assert validate_completion(body) == []
    assert [len(body[array]) for array in ("files", "charts", "datasets", "lists", "checklists", "svgs")] == \
        [1, 6, 1, 1, 1, 1]
    assert [chart["kind"] for chart in body["charts"]] == ["pie", "bar", "stacked_bar", "line", "area", "scatter"]
    body["charts"][1]["series"][0]["values"][0] = 999  # the payload is a deep copy
    assert collector.payload(workspace_id="ws-9", message="")["charts"][1]["series"][0]["values"][0] == 1
