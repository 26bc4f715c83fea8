"""The ``builtin`` handle: an offline, deterministic model for the demo, tests and benchmarks.

It speaks the same tool protocol as a real model. Round 1 reads the request and calls
one tool per deliverable it asks for (keywords below); the next round reads the tool
results and writes a short narrative citing exactly the artifacts that were created, as
``{{artifact:<kind>:<ref>}}``. A later user text is taken as a repair request: every line
naming a ``create_*`` tool and an id (or file name) becomes that call. Only tools offered
to the session are called. No network; ``latency`` seconds of simulated thinking per round.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from workers.deliverables.tools import citation
from workers.models.base import InputItem, ModelError, ModelTurn, ToolCall, ToolResult, ToolSpec
from workers.models.builtin_content import CATALOGUE, Deliverable, Topic
from workers.models.rounds import split_items
from workers.models.trimming import cut_text

# Keyword → tool, checked in this order; one call per tool the request mentions.
KEYWORDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), tool) for pattern, tool in (
        (r"(?<!stacked[ _-])\bbar[ _-]?(?:charts?|graphs?)\b", "create_bar_chart"),
        (r"\bstacked[ _-]?bars?\b", "create_stacked_bar_chart"),
        (r"\bpie\b", "create_pie_chart"),
        (r"\bline[ _-]?(?:charts?|graphs?)\b|\btrends?\b", "create_line_chart"),
        (r"\barea[ _-]?(?:charts?|graphs?)\b", "create_area_chart"),
        (r"\bscatter", "create_scatter_chart"),
        (r"\btables?\b", "create_table"),
        (r"\bcheck[ _-]?lists?\b", "create_checklist"),
        (r"(?<!check[ _-])\blists?\b", "create_list"),
        (r"\bsvgs?\b|\bdiagrams?\b", "create_svg"),
        (r"\bfiles?\b|\bdocuments?\b|\.(?:md|txt)\b", "create_file"),
    ))
_TOOL_NAME = re.compile(r"\b(create_[a-z_]+)\b")
_REF = re.compile(r"""\b(?:id|name)\b[`'"]?\s*(?:exactly|=|:)?\s*[`'"\u201c]([^`'"\u201d\n]+)[`'"\u201d]""",
                  re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
NARRATIVE_SUMMARY_CHARS = 600  # how much of the request a narrative-only answer restates


@dataclass(frozen=True, kw_only=True)
class PlannedCall:
    """A tool call the builtin model decided to make, and what to cite if it succeeds."""

    deliverable: Deliverable
    ref: str
    arguments: dict[str, Any]

    @classmethod
    def of(cls, deliverable: Deliverable, topic: Topic, ref: str) -> PlannedCall:
        return cls(deliverable=deliverable, ref=ref, arguments=deliverable.build(topic, ref))

    def citation(self) -> str:
        return citation(self.deliverable.kind, self.ref)


class BuiltinModelHandle:
    """No state between jobs; every session is independent and deterministic."""

    concurrent_sessions: ClassVar[bool] = True   # sessions share nothing: any number may run at once

    def __init__(self, *, latency: float = 0.0, sleep: Callable[[float], None] = time.sleep) -> None:
        if latency < 0:
            raise ValueError(f"builtin latency must be >= 0 seconds, got {latency}")
        self._latency = latency
        self._sleep = sleep

    def open_session(self, *, instructions: str, tools: Sequence[ToolSpec]) -> BuiltinSession:
        return BuiltinSession(tools=tools, latency=self._latency, sleep=self._sleep)

    def summarize(self, text: str, *, instructions: str, max_chars: int, timeout: float | None = None) -> str:
        return extractive_summary(text, max_chars)

    def close(self) -> None:
        return None


class BuiltinSession:
    """One job: first user text = the request, later user texts = repair requests."""

    def __init__(self, *, tools: Sequence[ToolSpec], latency: float, sleep: Callable[[float], None]) -> None:
        self._offered = frozenset(spec.name for spec in tools)
        self._latency = latency  # seconds per round
        self._sleep = sleep
        self._topic: Topic | None = None
        self._rounds = 0
        self._pending: dict[str, PlannedCall] = {}
        self._created: list[PlannedCall] = []
        self._failed: list[tuple[PlannedCall, str]] = []

    def send(self, items: Sequence[InputItem], *, timeout: float | None = None) -> ModelTurn:
        results, texts = split_items(items)
        self._think(timeout)
        self._rounds += 1
        for result in results:
            self._record(result)
        planned: list[PlannedCall] = []
        for item in texts:
            if self._topic is None:
                planned += self._plan_request(item.text)
            else:
                planned += self._plan_repair(self._topic, item.text)
        if planned:
            return ModelTurn(tool_calls=tuple(self._issue(planned)))
        return ModelTurn(text=self._narrative())

    def _think(self, timeout: float | None) -> None:
        if self._latency <= 0:
            return
        if timeout is not None and self._latency > timeout:
            self._sleep(timeout)
            raise ModelError(f"builtin: simulated latency {self._latency:g}s exceeds the round timeout "
                             f"{timeout:g}s", code="timeout")
        self._sleep(self._latency)

    def _plan_request(self, text: str) -> list[PlannedCall]:
        self._topic = topic = Topic.of(text)
        tools = [tool for pattern, tool in KEYWORDS if pattern.search(text) and tool in self._offered]
        return [PlannedCall.of(CATALOGUE[tool], topic, CATALOGUE[tool].default_ref(topic)) for tool in tools]

    def _plan_repair(self, topic: Topic, text: str) -> list[PlannedCall]:
        """One call per line that names a known, offered tool and an id or file name."""
        planned: dict[tuple[str, str], PlannedCall] = {}
        for line in text.splitlines():
            tools = [name for name in _TOOL_NAME.findall(line) if name in CATALOGUE and name in self._offered]
            match = _REF.search(line)
            ref = match.group(1).strip() if match else ""
            if tools and ref and (tools[0], ref) not in planned:
                planned[(tools[0], ref)] = PlannedCall.of(CATALOGUE[tools[0]], topic, ref)
        return list(planned.values())

    def _issue(self, planned: list[PlannedCall]) -> list[ToolCall]:
        calls = []
        for index, plan in enumerate(planned):
            call_id = f"builtin_{self._rounds}_{index}"
            self._pending[call_id] = plan
            calls.append(ToolCall(call_id=call_id, name=plan.deliverable.tool,
                                  arguments=json.dumps(plan.arguments, sort_keys=True)))
        return calls

    def _record(self, result: ToolResult) -> None:
        plan = self._pending.pop(result.call_id, None)
        if plan is None:
            return
        ok, detail = _read_result(result.output)
        if ok:
            self._created.append(plan)
        else:
            self._failed.append((plan, detail))

    def _narrative(self) -> str:
        topic = self._topic or Topic.of("")
        if not self._created and not self._failed:
            summary = extractive_summary(topic.text, NARRATIVE_SUMMARY_CHARS)
            return (f"Here are my notes on your request: {summary}" if summary
                    else "I received an empty request, so there is nothing to prepare yet.")
        lines = [f"Here is what I prepared for {topic.headline}."]
        lines += [f"The {plan.deliverable.noun} \"{plan.ref}\": {plan.citation()}" for plan in self._created]
        lines += [f"I could not create the {plan.deliverable.noun} \"{plan.ref}\": "
                  f"{_uncited(cut_text(detail, 200))}" for plan, detail in self._failed]
        return "\n\n".join(lines)


def _read_result(output: str) -> tuple[bool, str]:
    """``(ok, detail)`` of a tool result; anything unreadable counts as a failure."""
    try:
        data = json.loads(output)
    except ValueError:
        return False, "unreadable tool result"
    if not isinstance(data, dict):
        return False, "unreadable tool result"
    return data.get("ok") is True, str(data.get("detail") or "")


def _uncited(text: str) -> str:
    """``text`` with any ``{{…}}`` braces flattened, so quoting a detail never cites anything."""
    return text.replace("{{", "{").replace("}}", "}")


def extractive_summary(text: str, max_chars: int) -> str:
    """The first sentence of each paragraph, in order, as many as fit in ``max_chars``.

    Markdown headings and rules are skipped; a first sentence longer than the budget is cut.
    """
    picked: list[str] = []
    used = 0
    for paragraph in re.split(r"\n\s*\n|\n(?=#)|\n-{3,}\n", text):
        lines = [line.strip() for line in paragraph.splitlines()
                 if line.strip() and not line.lstrip().startswith("#") and not set(line.strip()) <= {"-"}]
        if not lines:
            continue
        sentence = _SENTENCE_END.split(" ".join(lines), maxsplit=1)[0]
        cost = len(sentence) + (1 if picked else 0)
        if used + cost > max_chars:
            if not picked:
                picked.append(cut_text(sentence, max_chars))
            break
        picked.append(sentence)
        used += cost
    return " ".join(picked)
