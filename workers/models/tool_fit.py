"""Make the tool list fit a small window: compact schemas, and only the tools an ask needs.

Every tool-capable server renders the tool schemas into the prompt, so on a 4,096-token
model the eleven deliverable tools alone (about 14,500 characters of JSON) leave no room
for the conversation. Two levers, used by ``request_plan`` in this order:

- ``compact_tool``: the same tool with its description cut to the first sentence and the
  nested property descriptions, titles and examples dropped. Names, types, enums, limits
  and ``required`` stay, so arguments that validate against the compact schema validate
  against the full one.
- ``tools_for_ask``: the tools whose deliverable kind the user's text mentions (chart words
  keep the chart tools, "table" keeps ``create_table``, …), most specific first. Tools are
  names the tool list defines ("a chart" of no named kind keeps the bar and line charts);
  any other name is kept as is (an operator's own tool is
  never dropped by a keyword it cannot match).
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from workers.models.base import ToolSpec
from workers.models.rounds import plain_json

_DROPPED_KEYS = frozenset({"description", "title", "examples", "example", "$comment"})
_NAME_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")

# Words in the user's text that show a deliverable kind is wanted: tool name → word stems.
_ASK_WORDS: Mapping[str, tuple[str, ...]] = {
    "create_file": ("file", "document", "doc", "spec", "report", "draft", ".md", ".txt", "write-up", "plan"),
    "create_pie_chart": ("pie", "share", "split", "breakdown", "proportion", "percentage"),
    "create_bar_chart": ("bar", "compare", "comparison"),
    "create_stacked_bar_chart": ("stacked", "composition", "made up"),
    "create_line_chart": ("line chart", "line graph", "trend", "over time", "growth", "timeline"),
    "create_area_chart": ("area", "volume", "cumulative"),
    "create_scatter_chart": ("scatter", "correlat", "versus", "vs", "trade-off", "tradeoff"),
    "create_table": ("table", "matrix", "grid", "glossary", "compare", "comparison", "columns"),
    "create_list": ("list", "steps", "phases", "risks", "bullet", "outline", "ideas"),
    "create_checklist": ("checklist", "check list", "to-do", "todo", "tick", "tasks", "gates"),
    "create_svg": ("diagram", "svg", "architecture", "flow", "sequence", "sketch", "drawing"),
}
_CHART_TOOLS = frozenset(name for name in _ASK_WORDS if name.endswith("_chart"))
_GENERIC_CHART = re.compile(r"(?<![a-z0-9])(chart|graph|plot|visuali)")
_GENERIC_CHART_TOOLS = frozenset({"create_bar_chart", "create_line_chart"})  # "a chart" of no named kind

# A word starts at a word boundary ("list" is not found in "checklist"); stems may go on ("correlat").
_ASK_PATTERNS: Mapping[str, re.Pattern[str]] = {
    name: re.compile("|".join(rf"(?<![a-z0-9]){re.escape(word)}" for word in words))
    for name, words in _ASK_WORDS.items()}


def compact_tool(spec: ToolSpec) -> ToolSpec:
    """``spec`` with the first sentence of its description and a schema without prose."""
    first = _SENTENCE_END.split(spec.description.strip(), maxsplit=1)[0]
    return ToolSpec(name=spec.name, description=first, parameters=_without_prose(plain_json(spec.parameters)))


def tools_for_ask(tools: Sequence[ToolSpec], ask: str) -> list[ToolSpec]:
    """The tools ``ask`` shows a need for, in their original order (unknown tools always kept)."""
    text = ask.lower()
    wanted = {name for name, pattern in _ASK_PATTERNS.items() if pattern.search(text)}
    if not wanted & _CHART_TOOLS and _GENERIC_CHART.search(text):
        wanted |= _GENERIC_CHART_TOOLS
    return [spec for spec in tools if spec.name not in _ASK_PATTERNS or spec.name in wanted]


def _without_prose(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_without_prose(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kept: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _NAME_MAPS and isinstance(value, dict):  # keys are property names ("title" is one)
            kept[key] = {name: _without_prose(sub) for name, sub in value.items()}
        elif key not in _DROPPED_KEYS:
            kept[key] = _without_prose(value)
    return kept
