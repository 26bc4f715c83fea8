"""The builtin model: keyword → tool calls valid per protocol §4, citations, repair, determinism."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.models.protocol_shapes import SCHEMAS, check_tool_arguments
from workers.models.base import ModelError, ModelTurn, ToolResult, ToolSpec, UserText
from workers.models.builtin import BuiltinModelHandle, BuiltinSession, extractive_summary

ALL_TOOLS = [ToolSpec(name=name, description=name, parameters={"type": "object"}) for name in SCHEMAS]
CITATION = re.compile(r"\{\{\s*artifact\s*:\s*(\w+)\s*:\s*([^}]+?)\s*\}\}", re.IGNORECASE)
CHART_TOOLS = {"create_bar_chart", "create_stacked_bar_chart", "create_pie_chart", "create_line_chart",
               "create_area_chart", "create_scatter_chart"}


def open_session(tools: list[ToolSpec] = ALL_TOOLS, **handle_args: Any) -> BuiltinSession:
    """A session of a ``BuiltinModelHandle(**handle_args)`` (its keywords: ``latency``, ``sleep``)."""
    return BuiltinModelHandle(**handle_args).open_session(instructions="ignored", tools=tools)


def answer_all(turn: ModelTurn, *, failing: frozenset[str] = frozenset()) -> list[ToolResult]:
    return [ToolResult(call_id=call.call_id,
                       output=json.dumps({"ok": call.name not in failing,
                                          "detail": "rejected: {{artifact:chart:nope}}" if call.name in failing
                                          else "created"}))
            for call in turn.tool_calls]


@pytest.mark.parametrize(("request_text", "tools"), [
    ("Please make a bar chart of revenue by region", ["create_bar_chart"]),
    ("Show effort per team as a stacked bar chart", ["create_stacked_bar_chart"]),
    ("A pie of the marketing budget", ["create_pie_chart"]),
    ("Draw a line chart of weekly signups", ["create_line_chart"]),
    ("What is the trend in churn?", ["create_line_chart"]),
    ("An area chart of website traffic", ["create_area_chart"]),
    ("Scatter price against demand", ["create_scatter_chart"]),
    ("Compare the vendors in a table", ["create_table"]),
    ("Give me a launch checklist", ["create_checklist"]),
    ("List the main risks", ["create_list"]),
    ("Sketch the architecture as an SVG", ["create_svg"]),
    ("A diagram of the services", ["create_svg"]),
    ("Write a document about onboarding", ["create_file"]),
    ("Put the plan in a file", ["create_file"]),
    ("Draft specs/onboarding-plan.md for the team", ["create_file"]),
])
def test_each_keyword_produces_one_valid_call(request_text: str, tools: list[str]) -> None:
    turn = open_session().send([UserText(text=request_text)])
    assert turn.text == ""
    assert [call.name for call in turn.tool_calls] == tools
    for call in turn.tool_calls:
        check_tool_arguments(call.name, call.arguments)


def test_file_name_comes_from_a_path_in_the_request() -> None:
    [call] = open_session().send([UserText(text="Draft specs/onboarding-plan.md for the team")]).tool_calls
    assert json.loads(call.arguments)["name"] == "specs/onboarding-plan.md"


def test_a_request_for_everything_gets_every_tool_with_distinct_ids() -> None:
    request = ("For the product launch: a bar chart, a stacked bar, a pie, a line chart, an area chart, a scatter "
               "plot, a table, a checklist, a list, a diagram and a document.")
    turn = open_session().send([UserText(text=request)])
    assert sorted(call.name for call in turn.tool_calls) == sorted(SCHEMAS)
    chart_ids = [json.loads(call.arguments)["id"] for call in turn.tool_calls if call.name in CHART_TOOLS]
    assert len(set(chart_ids)) == len(chart_ids) == 6
    assert len({call.call_id for call in turn.tool_calls}) == len(turn.tool_calls)
    for call in turn.tool_calls:
        check_tool_arguments(call.name, call.arguments)


def test_ordered_list_when_steps_are_asked_for() -> None:
    [call] = open_session().send([UserText(text="List the steps to deploy")]).tool_calls
    assert json.loads(call.arguments)["list"]["ordered"] is True


def test_narrative_cites_exactly_the_artifacts_created_ok() -> None:
    session = open_session()
    turn = session.send([UserText(text="Revenue review: a bar chart, a table, a pie and notes in plan.md")])
    by_tool = {call.name: json.loads(call.arguments) for call in turn.tool_calls}
    final = session.send(answer_all(turn, failing=frozenset({"create_pie_chart"})))
    assert final.tool_calls == ()
    cited = {(kind, ref) for kind, ref in CITATION.findall(final.text)}
    assert cited == {("chart", by_tool["create_bar_chart"]["id"]), ("table", by_tool["create_table"]["table"]["id"]),
                     ("file", "plan.md")}
    assert by_tool["create_pie_chart"]["id"] in final.text and "could not create the pie chart" in final.text


def test_only_offered_tools_are_called() -> None:
    session = open_session(tools=[tool for tool in ALL_TOOLS if tool.name == "create_table"])
    turn = session.send([UserText(text="A bar chart and a table of costs")])
    assert [call.name for call in turn.tool_calls] == ["create_table"]
    assert open_session(tools=[]).send([UserText(text="A bar chart")]).tool_calls == ()


def test_plain_request_gets_a_narrative_only() -> None:
    turn = open_session().send([UserText(text="Hello there. How should we name the new product?")])
    assert turn.tool_calls == ()
    assert "Hello there." in turn.text and not CITATION.search(turn.text)
    assert open_session().send([UserText(text="   ")]).text  # never an empty message


def test_same_input_same_calls_and_different_input_different_numbers() -> None:
    request = "Quarterly sales: bar chart, scatter and a checklist"
    first = open_session().send([UserText(text=request)])
    again = open_session().send([UserText(text=request)])
    assert first == again
    other = open_session().send([UserText(text=request + " for Europe")])
    assert [call.arguments for call in other.tool_calls] != [call.arguments for call in first.tool_calls]


@pytest.mark.parametrize("repair_text", [
    'Missing deliverables:\n- call create_bar_chart or another chart tool with id "q3"\n'
    '- call create_list with id "risks"\n- call create_file with name "specs/plan.md"',
    "DELIVERABLE VALIDATION FAILED\n- Invoke **one** of `create_pie_chart`, `create_bar_chart` with `id` exactly "
    "`q3`. \n- Invoke the `create_list` tool with `kind:\"list\"` and `id` exactly `risks`.\n"
    "- Invoke the `create_file` tool with `name` exactly `specs/plan.md` (keep folders).",
    '- {{artifact:chart:q3}}: call create_bar_chart or another chart tool with id "q3" (create_pie_chart, ...)\n'
    '- {{artifact:list:risks}}: call create_list with {"list": {"id": "risks", ...}}\n'
    '- {{artifact:file:specs/plan.md}}: call create_file with name "specs/plan.md"',
])
def test_repair_request_makes_the_named_calls_then_cites_them(repair_text: str) -> None:
    session = open_session()
    first = session.send([UserText(text="Budget talk with a table")])
    narrative = session.send(answer_all(first))
    assert narrative.tool_calls == ()
    repair = session.send([UserText(text=repair_text)])
    refs = {call.name: json.loads(call.arguments) for call in repair.tool_calls}
    assert set(refs) == {"create_bar_chart", "create_list", "create_file"} or \
        set(refs) == {"create_pie_chart", "create_list", "create_file"}
    chart = refs.get("create_bar_chart") or refs["create_pie_chart"]
    assert chart["id"] == "q3" and refs["create_list"]["list"]["id"] == "risks"
    assert refs["create_file"]["name"] == "specs/plan.md"
    for call in repair.tool_calls:
        check_tool_arguments(call.name, call.arguments)
    final = session.send(answer_all(repair))
    cited = set(CITATION.findall(final.text))
    table_id = json.loads(first.tool_calls[0].arguments)["table"]["id"]
    assert cited == {("table", table_id), ("chart", "q3"), ("list", "risks"), ("file", "specs/plan.md")}


def test_unreadable_tool_results_count_as_failures() -> None:
    session = open_session()
    [call] = session.send([UserText(text="a table")]).tool_calls
    final = session.send([ToolResult(call_id=call.call_id, output="not json")])
    assert not CITATION.search(final.text) and "unreadable tool result" in final.text


def test_latency_is_slept_each_round_and_bounded_by_the_timeout() -> None:
    sleeps: list[float] = []
    session = open_session(latency=0.25, sleep=sleeps.append)
    turn = session.send([UserText(text="a table")])
    session.send(answer_all(turn), timeout=10)
    assert sleeps == [0.25, 0.25]
    with pytest.raises(ModelError) as caught:
        open_session(latency=5, sleep=sleeps.append).send([UserText(text="x")], timeout=1)
    assert caught.value.code == "timeout" and sleeps[-1] == 1


def test_summarize_is_extractive_deterministic_and_bounded() -> None:
    text = ("Title: Launch\n\n---\n\n### Earlier context\n\nWe sell tea online. It ships in boxes.\n\n"
            "The budget is 40k. Marketing wants more.\n\nLaunch is in May.")
    handle = BuiltinModelHandle()
    summary = handle.summarize(text, instructions="ignored", max_chars=80)
    assert summary == "Title: Launch We sell tea online. The budget is 40k. Launch is in May."
    assert handle.summarize(text, instructions="other", max_chars=80) == summary
    assert len(handle.summarize(text, instructions="", max_chars=25)) <= 25
    assert extractive_summary("One very long sentence without an end", 10) == "One very …"
