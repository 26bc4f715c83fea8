"""Regressions where a tool answer and the cloud disagreed (issue 10), one group per defect:
cut ids and titles, lone surrogates, JavaScript whitespace, the SVG blocklist as a browser
reads it, rules stricter than the protocol, and JavaScript number text."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.deliverables import samples
from workers.deliverables.collector import DeliverableCollector, _number_text
from workers.deliverables.placeholders import find_citations, missing_citations
from workers.deliverables.svg_filter import forbidden_markup
from workers.deliverables.text import is_blank, js_number_text, js_trim, quote
from workers.deliverables.validate import validate_completion, validate_item
from workers.models.base import ToolCall


def call(collector: DeliverableCollector, tool: str, arguments: Any) -> dict[str, Any]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    result = collector.apply(ToolCall(call_id="c1", name=tool, arguments=text))
    result.output.encode("utf-8")  # every answer can go back to the model
    answer: dict[str, Any] = json.loads(result.output)
    return answer


def payload_of(collector: DeliverableCollector, message: str = "Done.") -> dict[str, Any]:
    body = collector.payload(workspace_id="ws-1", message=message)
    json.dumps(body, allow_nan=False, ensure_ascii=False).encode("utf-8")  # as the transport sends it
    assert validate_completion(body) == []
    return body


# --- 1. a cut id or title never ends in whitespace --------------------------------------------
@pytest.mark.parametrize(("given", "stored"), [
    ("a" * 63 + " b", "a" * 63),
    ("a" * 63 + "\u3000b", "a" * 63),
    ("a" * 62 + " \ufeffb", "a" * 62),
    ("a" * 63 + "😀", "a" * 63),  # the pair is not split
    ("😀" * 33, "😀" * 32),
])
def test_a_cut_id_is_trimmed_again_and_can_be_cited(given: str, stored: str) -> None:
    collector = DeliverableCollector()
    answer = call(collector, "create_pie_chart", {**samples.TOOL_ARGS["create_pie_chart"], "id": given})
    assert answer["ok"], answer
    body = payload_of(collector, message=f"See {{{{artifact:chart:{stored}}}}}.")
    assert body["charts"][0]["id"] == stored
    assert find_citations(answer["detail"])[0].ref == stored
    assert missing_citations(body["assistantMessage"], collector) == []


def test_a_cut_title_is_trimmed_again() -> None:
    collector = DeliverableCollector()
    arguments = {**samples.TOOL_ARGS["create_bar_chart"], "title": "t" * 199 + " x"}
    assert call(collector, "create_bar_chart", arguments)["ok"]
    assert payload_of(collector)["charts"][0]["title"] == "t" * 199


def test_chart_ids_with_braces_are_refused_because_no_citation_could_name_them() -> None:
    answer = call(DeliverableCollector(), "create_bar_chart", {**samples.TOOL_ARGS["create_bar_chart"], "id": "a}b"})
    assert answer == {"ok": False, "detail": 'bar chart: id: "a}b" contains \'{\' or \'}\', which would break its '
                                             'citation'}


# --- 2. lone surrogates: refused naming the field, never a traceback --------------------------
@pytest.mark.parametrize(("tool", "arguments", "field"), [
    ("create_list", {"list": {"id": "steps", "items": ["ok", "bad \ud800"]}}, "items[1]"),
    ("create_bar_chart", {**samples.TOOL_ARGS["create_bar_chart"], "title": "\udfff"}, "title"),
    ("create_file", {"name": "a\ud800.md", "content": "x"}, "name"),
    ("create_file", {"name": "a.md", "content": "x\ud83d"}, "content"),
    ("create_checklist", {"checklist": {"id": "c", "items": [{"id": "a", "label": "\ud800", "checked": True}]}},
     "label"),
])
def test_a_lone_surrogate_is_refused_naming_the_field(tool: str, arguments: Any, field: str) -> None:
    collector = DeliverableCollector()
    answer = call(collector, tool, arguments)
    assert answer["ok"] is False
    assert f"{field}: has a lone surrogate" in answer["detail"], answer
    assert sum(collector.counts().values()) == 0


def test_answers_quoting_a_lone_surrogate_stay_encodable() -> None:
    answer = call(DeliverableCollector(), "create_\ud800", "{}")
    assert answer["ok"] is False and answer["detail"].startswith('unknown tool "create_\\ud800"')
    assert quote("a\udc00b") == '"a\\udc00b"'


def test_the_message_is_made_encodable_where_the_body_is_built() -> None:
    collector = DeliverableCollector()
    call(collector, "create_list", samples.TOOL_ARGS["create_list"])
    body = payload_of(collector, message="Done \ud800 {{artifact:list:steps}}")
    assert body["assistantMessage"] == "Done \ufffd {{artifact:list:steps}}"


def test_the_completion_check_reports_a_lone_surrogate_in_the_message() -> None:
    assert validate_completion(samples.body(assistantMessage="x\ud800")) == [
        "assistantMessage: has a lone surrogate, which cannot be sent as UTF-8"]


# --- 3. one notion of whitespace: JavaScript's ------------------------------------------------
@pytest.mark.parametrize("blank", ["\ufeff", "\ufeff\ufeff", "\u2028", " \u3000\u00a0", "\u2029"])
@pytest.mark.parametrize(("tool", "place"), [
    ("create_list", lambda value: {"list": {"id": value, "items": ["x"]}}),
    ("create_list", lambda value: {"list": {"id": "steps", "items": [value]}}),
    ("create_bar_chart", lambda value: {**samples.TOOL_ARGS["create_bar_chart"], "labels": ["Q1", value]}),
    ("create_bar_chart", lambda value: {**samples.TOOL_ARGS["create_bar_chart"],
                                        "series": [{"name": value, "values": [1, 2]}]}),
])
def test_javascript_whitespace_alone_is_blank(blank: str, tool: str, place: Any) -> None:
    answer = call(DeliverableCollector(), tool, place(blank))
    assert answer["ok"] is False and "is blank" in answer["detail"], answer


@pytest.mark.parametrize("not_blank", ["\x1c", "\x1f", "\x85"])
def test_what_javascript_does_not_trim_is_kept(not_blank: str) -> None:
    assert not is_blank(not_blank) and js_trim(f" {not_blank} ") == not_blank
    collector = DeliverableCollector()
    assert call(collector, "create_list", {"list": {"id": "steps", "items": [not_blank]}})["ok"]
    assert call(collector, "create_table", {"table": {"id": f"t{not_blank}", "columns": ["a"], "rows": []}})["ok"]
    assert payload_of(collector)["datasets"][0]["id"] == f"t{not_blank}"


def test_citations_tolerate_javascript_whitespace_only() -> None:
    assert [c.ref for c in find_citations("{{\ufeffartifact :\u2028chart: q3\u3000}}")] == ["q3"]
    assert [c.ref for c in find_citations("{{artifact:chart:q3\x85}}")] == ["q3\x85"]


# --- 4. the SVG blocklist as a browser reads it -----------------------------------------------
@pytest.mark.parametrize(("markup", "what"), [
    ('<rect onclick\ufeff="x()"/>', "event-handler"),
    ('<rect onclick\u2028="x()"/>', "event-handler"),
    ('<a href="jav&#x61;script:x()"/>', "javascript: URL"),
    ('<animate attributeName="href" to="javascript&#58;x()"/>', "javascript: URL"),
    ('<a href="javascript&colon;x()"/>', "javascript: URL"),
    ('<a href="&#106avascript:x()"/>', "javascript: URL"),  # no semicolon: still decoded
    ('<a href="java&#9;script:x()"/>', "javascript: URL"),  # the URL parser drops the tab
    ('<a href="java\nscript:x()"/>', "javascript: URL"),
    ("<svg:script>x()</svg:script>", "<script> element"),
    ("<text>&lt;script>x()&lt;/script></text>", "<script> element"),  # unsure: refused
    ('<rect o&#110;click="x()"/>', "event-handler"),
])
def test_svg_markup_a_browser_would_run_is_refused(markup: str, what: str) -> None:
    content = f'<svg xmlns="http://www.w3.org/2000/svg">{markup}</svg>'
    forbidden = forbidden_markup(content)
    assert forbidden is not None and what in forbidden.what
    answer = call(DeliverableCollector(), "create_svg", {"svg": {"id": "d", "content": content}})
    assert answer["ok"] is False and "content: contains" in answer["detail"]


def test_svg_entities_that_decode_to_nothing_forbidden_pass() -> None:
    content = '<svg><text x="1">a &amp; b &lt; c &#8364;</text><rect fill="#0af"/></svg>'
    assert forbidden_markup(content) is None
    assert validate_item("svg", {"id": "d", "content": content})["content"] == content


# --- 5. no stricter than the protocol ---------------------------------------------------------
def test_negative_pie_values_are_accepted_and_stacked_bar_values_are_not() -> None:
    collector = DeliverableCollector()
    assert call(collector, "create_pie_chart", {"id": "p", "segments": [{"label": "loss", "value": -3}]})["ok"]
    assert payload_of(collector)["charts"][0]["segments"][0]["value"] == -3
    stacked = call(collector, "create_stacked_bar_chart", {"id": "s", "labels": ["a"],
                                                           "series": [{"name": "n", "values": [-1]}]})
    assert stacked["ok"] is False and "cannot be negative" in stacked["detail"]


def test_whitespace_only_file_content_is_accepted_but_empty_is_not() -> None:
    collector = DeliverableCollector()
    assert call(collector, "create_file", {"name": "blank.md", "content": " \n"})["ok"]
    assert payload_of(collector)["files"][0]["content"] == " \n"
    empty = call(collector, "create_file", {"name": "empty.md", "content": ""})
    assert empty == {"ok": False, "detail": 'file "empty.md": content: is empty'}


# --- 7. numbers as JavaScript writes them ------------------------------------------------------
@pytest.mark.parametrize(("number", "text"), [
    (1e-7, "1e-7"), (1.5e-7, "1.5e-7"), (1e-6, "0.000001"), (0.1, "0.1"), (3.0, "3"), (-0.0, "0"),
    (1e20, "100000000000000000000"), (1e21, "1e+21"), (1.5e300, "1.5e+300"), (123.456, "123.456"),
    (5e-324, "5e-324"), (-2.5e-9, "-2.5e-9"),
])
def test_numbers_are_written_as_javascript_does(number: float, text: str) -> None:
    assert js_number_text(number) == text
    assert _number_text(number) == text
    collector = DeliverableCollector()
    assert call(collector, "create_table", {"table": {"id": "t", "columns": ["n"], "rows": [[number]]}})["ok"]
    assert payload_of(collector)["datasets"][0]["rows"] == [[text]]
