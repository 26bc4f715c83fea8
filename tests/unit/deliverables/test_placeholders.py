"""Citations ``{{artifact:<kind>:<ref>}}``: finding them, which lack artifacts, the repair
prompt and the failure reason."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.deliverables import samples
from workers.deliverables.collector import DeliverableCollector
from workers.deliverables.placeholders import (
    Citation,
    find_citations,
    mismatch_reason,
    missing_citations,
    repair_prompt,
)
from workers.models.base import ToolCall


def cites(kind: str, ref: str) -> Citation:
    return Citation(kind=kind, ref=ref)


def collector_with(*calls: tuple[str, dict[str, Any]]) -> DeliverableCollector:
    collector = DeliverableCollector()
    for tool, arguments in calls:
        answer = json.loads(collector.apply(ToolCall(call_id="c", name=tool, arguments=json.dumps(arguments))).output)
        assert answer["ok"] is True, answer
    return collector


@pytest.mark.parametrize(("message", "found"), [
    pytest.param("See {{artifact:chart:sales}}.", [cites("chart", "sales")], id="plain"),
    pytest.param("{{ ARTIFACT : Chart :  sales  }}", [cites("chart", "sales")], id="case-and-whitespace"),
    pytest.param("{{Artifact:CHECKLIST:launch}} {{artifact:List:steps}}",
                 [cites("checklist", "launch"), cites("list", "steps")], id="checklist-vs-list"),
    pytest.param("{{artifact:table:t}}{{artifact:svg:d}}{{artifact:file:specs/plan.md}}",
                 [cites("table", "t"), cites("svg", "d"), cites("file", "specs/plan.md")], id="adjacent"),
    pytest.param("{{artifact:chart:a}} {{artifact:chart:a}} {{artifact:chart:A}}",
                 [cites("chart", "a"), cites("chart", "A")], id="deduplicated-exactly"),
    pytest.param("{{artifact:chart:Sales Q3}}", [cites("chart", "Sales Q3")], id="inner-space-kept"),
    pytest.param("{{artifact:video:x}} {{artifact:chart:}} {{artifact:chart: }} {artifact:chart:x} "
                 "{{artifact chart x}}", [], id="not-citations"),
    pytest.param("{{artifact:chart:{{artifact:list:x}}", [cites("list", "x")], id="never-spans-braces"),
])
def test_find_citations(message: str, found: list[Citation]) -> None:
    assert find_citations(message) == found


def test_missing_citations_match_ids_exactly() -> None:
    collector = collector_with(("create_bar_chart", {**samples.TOOL_ARGS["create_bar_chart"], "id": "sales"}),
                               ("create_list", {"list": samples.list_(id="steps")}))
    message = "{{artifact:chart:sales}} {{artifact:chart:Sales}} {{artifact:list:steps}} {{artifact:table:steps}}"
    assert missing_citations(message, collector) == [cites("chart", "Sales"), cites("table", "steps")]


def test_files_are_matched_by_sanitised_path() -> None:
    collector = collector_with(("create_file", {"name": "specs/my plan.md", "content": "x"}))
    message = ("{{artifact:file:specs/my plan.md}} {{artifact:file:/specs/my_plan.md}} "
               "{{artifact:file:specs\\my plan.md}} {{artifact:file:specs/other.md}} {{artifact:file:plan.pdf}}")
    assert missing_citations(message, collector) == [cites("file", "specs/other.md"), cites("file", "plan.pdf")]


def test_nothing_missing_when_everything_cited_exists() -> None:
    collector = collector_with(*samples.TOOL_ARGS.items())
    message = ("{{artifact:file:specs/plan.md}} {{artifact:chart:mix}} {{artifact:chart:cloud}} "
               "{{artifact:table:compare}} {{artifact:list:steps}} {{artifact:checklist:launch}} {{artifact:svg:arch}}")
    assert missing_citations(message, collector) == []


def test_repair_prompt_names_each_missing_call() -> None:
    prompt = repair_prompt([cites("chart", "q3"), cites("file", "/specs/plan.md"), cites("table", "costs"),
                            cites("list", "steps"), cites("checklist", "launch"), cites("svg", "arch"),
                            cites("file", "slides.pdf")])
    lines = prompt.splitlines()
    assert lines[1].startswith('- {{artifact:chart:q3}}: call create_bar_chart or another chart tool with id "q3" '
                               "(create_pie_chart, create_stacked_bar_chart,")
    assert lines[2] == '- {{artifact:file:/specs/plan.md}}: call create_file with name "specs/plan.md"'
    assert lines[3] == '- {{artifact:table:costs}}: call create_table with {"table": {"id": "costs", ...}}'
    assert lines[4] == '- {{artifact:list:steps}}: call create_list with {"list": {"id": "steps", ...}}'
    assert lines[5] == ('- {{artifact:checklist:launch}}: call create_checklist with '
                        '{"checklist": {"id": "launch", ...}}')
    assert lines[6] == '- {{artifact:svg:arch}}: call create_svg with {"svg": {"id": "arch", ...}}'
    assert lines[7] == ("- {{artifact:file:slides.pdf}}: this file name cannot be used (must end in .md or .txt); "
                        "call create_file with a valid .md or .txt name and cite that name instead")
    assert "write your complete reply again" in prompt and "remove its placeholder" in prompt


def test_mismatch_reason_lists_kind_and_ref_in_order() -> None:
    reason = mismatch_reason([cites("chart", "x"), cites("list", "y")])
    assert reason == "deliverable_placeholder_mismatch: chart:x, list:y"
    assert mismatch_reason([]) == "deliverable_placeholder_mismatch"
