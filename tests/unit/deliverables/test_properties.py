"""Properties of a job's tool calls, over arbitrary call sequences that reach the edges
(``strategies``): what a tool accepts, the cloud accepts.

For every sequence of calls in one job:
(a) ``DeliverableCollector.apply`` never raises, and every answer is ``{"ok", "detail"}`` JSON
    that encodes as UTF-8;
(b) what was answered ``ok: true`` ends in a payload that passes ``validate_completion``,
    encodes as UTF-8 JSON the way the transport sends it, and is accepted by the emulator's
    own completion rules;
(c) an ``ok: false`` answer names the field (or the call) and the rule, briefly;
(d) the citation an ``ok: true`` answer gives resolves, in a reply that cites everything.

Budget: a small fixed number of examples per test in CI (``ci`` profile); with
``HYPOTHESIS_PROFILE=deep`` each test runs the profile's 5,000 examples.
"""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.completion_rules import completion_problems
from tests.unit.deliverables.strategies import calls
from workers.deliverables.collector import DeliverableCollector
from workers.deliverables.placeholders import find_citations, missing_citations
from workers.deliverables.tools import TOOL_NAMES
from workers.deliverables.validate import validate_completion
from workers.models.base import ToolCall

CI_EXAMPLES = 40  # per test; each example is a whole job of up to a few dozen calls
DEEP = settings().max_examples > 200  # HYPOTHESIS_PROFILE=deep: the profile's budget, no time limit
BUDGET = settings() if DEEP else settings(max_examples=CI_EXAMPLES)
pytestmark = [pytest.mark.timeout(0)] if DEEP else []  # 5,000 jobs take minutes per test
MAX_DETAIL_CHARS = 600  # an ok:false detail the model can act on stays short
_FIELD_WORDS = re.compile(r"\b(id|title|name|content|labels?|series|values?|segments?|points?|x|y|label|items?|"
                          r"checked|ordered|columns?|rows?|cell|kind|orientation)\b|\[\d+\]")
_CALL_RULES = ("unknown tool", "not valid JSON", "nested too deeply", "must be a JSON object", "cap reached",
               "already exists", "object is missing", "expected an object")
_WORKSPACE = "ws-1"


def run_job(job: list[tuple[str, str]]) -> None:
    """Apply ``job``'s calls to one collector and check invariants (a)–(d)."""
    collector = DeliverableCollector()
    cited: list[str] = []
    for number, (tool, arguments) in enumerate(job):
        result = collector.apply(ToolCall(call_id=f"c{number}", name=tool, arguments=arguments))  # (a)
        result.output.encode("utf-8")
        answer = json.loads(result.output)
        assert set(answer) == {"ok", "detail"} and isinstance(answer["ok"], bool)
        detail = answer["detail"]
        if answer["ok"]:
            citation = find_citations(detail)[0]  # (d): the one the answer gives comes first
            assert collector.has(citation.kind, citation.ref), detail
            cited.append(citation.token)
        else:  # (c)
            assert 0 < len(detail) <= MAX_DETAIL_CHARS, detail
            assert _FIELD_WORDS.search(detail) or any(rule in detail for rule in _CALL_RULES), detail
            assert ": " in detail or "; " in detail, detail
    message = "Here is the work \ud800 " + " ".join(cited)
    payload = collector.payload(workspace_id=_WORKSPACE, message=message)
    assert sum(collector.counts().values()) == len(cited)
    assert validate_completion(payload) == []  # (b)
    json.dumps(payload, allow_nan=False, ensure_ascii=False).encode("utf-8")
    assert completion_problems(payload) == []
    assert missing_citations(payload["assistantMessage"], collector) == []  # (d)


@BUDGET
@given(job=calls())
def test_any_mix_of_tools(job: list[tuple[str, str]]) -> None:
    run_job(job)


@pytest.mark.parametrize("tool", TOOL_NAMES)
@BUDGET
@given(data=st.data())
def test_one_tool(tool: str, data: st.DataObject) -> None:
    run_job(data.draw(calls(tool), label="calls"))
