"""Hypothesis strategies for deliverable tool calls that reach the edges of protocol §4.

Text lands at every length limit ±1 (counted in UTF-16 units) with ASCII, multi-byte and
astral characters at the cut point, and carries the characters where JavaScript and Python
disagree: lone surrogates, U+FEFF, U+2028/2029, ``\\x1c``–``\\x1f``, ``\\x85``, control
characters and combining marks, plus the braces and colons of citations and the markup of
the SVG blocklist. Numbers include NaN, ±Infinity, -0, 1e-7 and integers beyond any double.
Ids come from a small pool, so duplicates (also by case) are common; bursts of valid calls
reach the per-job caps mid-job; raw argument texts include malformed and deeply nested JSON.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from hypothesis import strategies as st

from tests.unit.deliverables.samples import TOOL_ARGS
from workers.deliverables.limits import (
    KINDS,
    MAX_CELL_CHARS,
    MAX_CHART_LABEL_CHARS,
    MAX_CHART_LABELS,
    MAX_CHART_SERIES,
    MAX_CHECKLIST_ITEM_ID_CHARS,
    MAX_CHECKLIST_ITEMS,
    MAX_CHECKLIST_LABEL_CHARS,
    MAX_COLUMN_NAME_CHARS,
    MAX_FILE_CONTENT_CHARS,
    MAX_FILE_NAME_CHARS,
    MAX_ID_CHARS,
    MAX_LIST_ITEM_CHARS,
    MAX_LIST_ITEMS,
    MAX_PIE_SEGMENTS,
    MAX_SCATTER_POINTS,
    MAX_SCATTER_SERIES,
    MAX_SERIES_NAME_CHARS,
    MAX_SVG_CHARS,
    MAX_TABLE_COLUMNS,
    MAX_TABLE_ROWS,
    MAX_TITLE_CHARS,
)
from workers.deliverables.tools import CHART_TOOLS, TOOL_NAMES

Draw = Callable[[st.SearchStrategy[Any]], Any]
MISSING: Any = object()  # a field left out

EDGE_CHARS = ("a", "Z", "0", "_", "-", ".", " ", "é", "😀", "\ud800", "\udfff", "\ufeff", "\u2028", "\u2029",
              "\x00", "\x1c", "\x1f", "\x85", "\t", "\n", "\u0301", "\u00a0", "\u3000", "{", "}", ":", "/", "\\",
              "<", ">", "&", "#", ";", "=", '"')
FILLERS = ("a", "é", "😀", " ", "\ufeff")  # what text near a limit is made of (😀 is 2 UTF-16 units)
NUMBERS = st.one_of(
    st.integers(-5, 100), st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(), st.sampled_from([1e-7, -0.0, 1e21, 1.7976931348623157e308, 2 ** 53 + 1, 10 ** 300, 10 ** 400,
                                  -10 ** 400, True, "3"]))
JUNK = st.recursive(st.none() | st.booleans() | NUMBERS | st.text(st.sampled_from(EDGE_CHARS), max_size=4),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
                        ("id", "kind", "title", "name", "label", "value", "items")), inner, max_size=3),
                    max_leaves=6)
RAW_ARGUMENTS = st.sampled_from(("", " ", "\ufeff", "{", "[]", "null", '"x"', "{\"id\": NaN}", "{} {}",
                                 "[" * 50_000 + "]" * 50_000, '{"id": ' + "[" * 3_000 + "]" * 3_000 + "}",
                                 '{"id": 1' + "0" * 5_000 + "}", '{"id": "\\ud800"}'))


def _near(target: int, filler: str, edge: str, at_end: bool) -> str:
    """``filler`` repeated to ``target`` UTF-16 units (topped up with "a"), ``edge`` at one end."""
    units = 2 if ord(filler) > 0xFFFF else 1
    body = filler * (target // units) + "a" * (target % units)
    return body + edge if at_end else edge + body


def text_near(limit: int) -> st.SearchStrategy[str]:
    """Text whose length lands at ``limit`` ±1 or 2, with an edge character at the cut point."""
    return st.builds(_near, st.sampled_from((limit - 2, limit - 1, limit, limit + 1)), st.sampled_from(FILLERS),
                     st.text(st.sampled_from(EDGE_CHARS), max_size=2), st.booleans())


def text(limit: int) -> st.SearchStrategy[str]:
    """Mostly short plain text, often edge characters, sometimes text at the limit."""
    return st.one_of(st.sampled_from(("Q1", "Revenue", "a b")), st.text(st.sampled_from(EDGE_CHARS), max_size=6),
                     text_near(limit))


IDS = st.one_of(st.sampled_from(("a", "A", "q3", "x" * 64, "x" * 63 + " b", "x" * 63 + "😀", " pad ", "\ufeff",
                                 "\ufeffid\u2028", "a{b", "\x1c", "\x85id", "go-live_1")),
                text(MAX_ID_CHARS))


def sized(low: int, high: int) -> st.SearchStrategy[int]:
    """A count: mostly small, often exactly at a bound or one past it."""
    return st.one_of(st.integers(low, min(low + 2, high)),
                     st.sampled_from(sorted({max(low - 1, 0), low, high, high + 1})))


def _field(draw: Draw, value: Any) -> Any:
    """``value``, or rarely left out or swapped for a random JSON value."""
    roll = draw(st.integers(0, 19))
    return MISSING if roll == 0 else draw(JUNK) if roll == 1 else value


def _object(draw: Draw, fields: dict[str, Any]) -> dict[str, Any]:
    kept = {name: _field(draw, value) for name, value in fields.items()}
    return {name: value for name, value in kept.items() if value is not MISSING}


def _optional(draw: Draw, strategy: st.SearchStrategy[Any]) -> Any:
    return draw(st.one_of(st.just(MISSING), st.none(), strategy))


def _cycled(draw: Draw, count: int, make: Callable[[], Any]) -> list[Any]:
    """``count`` elements cycling through a few drawn ones: long lists at their limits stay cheap."""
    pool = [make() for _ in range(min(count, draw(st.integers(1, 3))))]
    return [pool[index % len(pool)] for index in range(count)]


def _texts(draw: Draw, low: int, high: int, limit: int) -> list[str]:
    return _cycled(draw, draw(sized(low, high)), lambda: draw(text(limit)))


@st.composite
def chart_args(draw: Draw, kind: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"id": draw(IDS), "title": _optional(draw, text(MAX_TITLE_CHARS))}
    if kind == "pie":
        fields["segments"] = _cycled(draw, draw(sized(1, MAX_PIE_SEGMENTS)), lambda: _object(
            draw, {"label": draw(text(MAX_CHART_LABEL_CHARS)), "value": draw(NUMBERS)}))
    elif kind == "scatter":
        def point() -> dict[str, Any]:
            return _object(draw, {"x": draw(NUMBERS), "y": draw(NUMBERS),
                                  "label": _optional(draw, text(MAX_CHART_LABEL_CHARS))})

        fields["series"] = _cycled(draw, draw(sized(1, MAX_SCATTER_SERIES)), lambda: _object(draw, {
            "name": draw(text(MAX_SERIES_NAME_CHARS)),
            "points": _cycled(draw, draw(sized(1, MAX_SCATTER_POINTS)), point)}))
    else:
        labels = _texts(draw, 1, MAX_CHART_LABELS, MAX_CHART_LABEL_CHARS)
        width = max(len(labels) + draw(st.sampled_from((0, 0, 0, 0, 1, -1))), 0)
        fields["labels"] = labels
        fields["series"] = _cycled(draw, draw(sized(1, MAX_CHART_SERIES)), lambda: _object(draw, {
            "name": draw(text(MAX_SERIES_NAME_CHARS)), "values": _cycled(draw, width, lambda: draw(NUMBERS))}))
        if kind in ("bar", "stacked_bar"):
            fields["orientation"] = _optional(draw, st.sampled_from(("vertical", "horizontal", "diagonal")))
    return _object(draw, fields)


@st.composite
def table_args(draw: Draw) -> dict[str, Any]:
    columns = _texts(draw, 1, MAX_TABLE_COLUMNS, MAX_COLUMN_NAME_CHARS)
    width = len(columns) + draw(st.sampled_from((0, 0, 0, 1, -1)))
    cells = st.one_of(text(MAX_CELL_CHARS), st.just(""), NUMBERS)
    rows = _cycled(draw, draw(sized(0, MAX_TABLE_ROWS)),
                   lambda: _cycled(draw, max(width, 0), lambda: draw(cells)))
    return _object(draw, {"id": draw(IDS), "kind": _optional(draw, st.just("table")),
                          "title": _optional(draw, text(MAX_TITLE_CHARS)), "columns": columns, "rows": rows})


@st.composite
def list_args(draw: Draw) -> dict[str, Any]:
    return _object(draw, {"id": draw(IDS), "title": _optional(draw, text(MAX_TITLE_CHARS)),
                          "ordered": _optional(draw, st.booleans()),
                          "items": _texts(draw, 1, MAX_LIST_ITEMS, MAX_LIST_ITEM_CHARS)})


@st.composite
def checklist_args(draw: Draw) -> dict[str, Any]:
    item_ids = st.one_of(st.sampled_from(("a", "A", "b", "ship-1")), text(MAX_CHECKLIST_ITEM_ID_CHARS))
    drawn = _cycled(draw, draw(sized(1, MAX_CHECKLIST_ITEMS)), lambda: _object(draw, {
        "id": draw(item_ids), "label": draw(text(MAX_CHECKLIST_LABEL_CHARS)), "checked": _optional(draw, st.booleans())}))
    unique = draw(st.booleans())  # else cycled items repeat their ids
    items = [{**item, "id": f"i{index}"} if unique and "id" in item else item for index, item in enumerate(drawn)]
    return _object(draw, {"id": draw(IDS), "title": _optional(draw, text(MAX_TITLE_CHARS)), "items": items})


SVG_BODIES = st.sampled_from((
    '<rect width="4" height="2"/>', "<text>a &amp; b &lt; c</text>", '<rect onclick\ufeff="x()"/>',
    '<a href="jav&#x61;script:x()"/>', '<animate to="javascript&#58;x()"/>', '<a href="java&#9;script:x"/>',
    '<a href="&#106avascript:x"/>', "<svg:script>x()</svg:script>", '<rect content="x"/>', "<g>on top = 5</g>",
    "<SCRIPT>x</SCRIPT>", "<foreignobject/>", "<objective/>"))


@st.composite
def svg_args(draw: Draw) -> dict[str, Any]:
    padding = draw(st.sampled_from((0, 0, MAX_SVG_CHARS - 60)))
    content = draw(st.one_of(
        st.builds(lambda head, body, tail: f"{head}<svg>{body}{'x' * padding}</svg>{tail}",
                  st.sampled_from(("", " ", "\ufeff", "\x1c")), SVG_BODIES, st.sampled_from(("", "\n", "\u2028"))),
        text(40)))
    return _object(draw, {"id": draw(IDS), "title": _optional(draw, text(MAX_TITLE_CHARS)), "content": content})


FILE_NAMES = st.one_of(
    st.sampled_from(("notes.md", "NOTES.MD", "specs/plan.md", "/specs/../plan.txt", "\\a\\b.md", "a/b/c/d/e/x.md",
                     "a/b/c/d/x.md", "x" * 45 + ".md", "x" * 46 + ".md", "notes.pdf", "..?.md", " \ufeffn.md ",
                     "{{artifact:file:x.md}}.md", "/".join(["a" * 48] * 3 + ["d" * 11 + ".md"]))),
    st.builds(lambda stem, ext: stem + ext, text(MAX_FILE_NAME_CHARS - 3), st.sampled_from((".md", ".txt", ""))))


@st.composite
def file_args(draw: Draw) -> dict[str, Any]:
    content = draw(st.one_of(text(40), st.sampled_from(("", " ", "\n\n")), text_near(MAX_FILE_CONTENT_CHARS)))
    return _object(draw, {"name": draw(FILE_NAMES), "content": content})


def _wrapped(kind: str, inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """``{kind: item}`` as the tool expects, or sometimes the item's fields at top level."""
    return st.one_of(inner.map(lambda item: {kind: item}), inner)


ARGUMENTS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "create_file": file_args(),
    **{tool: chart_args(kind) for tool, kind in CHART_TOOLS.items()},
    "create_table": _wrapped("table", table_args()),
    "create_list": _wrapped("list", list_args()),
    "create_checklist": _wrapped("checklist", checklist_args()),
    "create_svg": _wrapped("svg", svg_args()),
}


def _burst(tool: str, count: int) -> list[tuple[str, str]]:
    """``count`` valid calls of ``tool`` with distinct ids (names): enough to reach its cap."""
    template = TOOL_ARGS[tool]
    calls = []
    for number in range(count):
        if tool == "create_file":
            args = {**template, "name": f"burst/doc{number}.md"}
        elif tool in CHART_TOOLS:
            args = {**template, "id": f"burst{number}"}
        else:
            (kind, inner), = template.items()
            args = {kind: {**inner, "id": f"burst{number}"}}
        calls.append((tool, json.dumps(args)))
    return calls


def _cap(tool: str) -> int:
    kind = "file" if tool == "create_file" else "chart" if tool in CHART_TOOLS else tool[len("create_"):]
    return KINDS[kind].cap


def calls(tool: str | None = None) -> st.SearchStrategy[list[tuple[str, str]]]:
    """One job's tool calls as ``(tool, arguments JSON)``: calls of ``tool`` (any tool if None),
    with an odd malformed call, an unknown tool, and bursts that reach the cap mid-job."""
    tools = st.just(tool) if tool else st.sampled_from(TOOL_NAMES)
    single = tools.flatmap(lambda name: ARGUMENTS[name].map(lambda args: [(name, json.dumps(args))]))
    odd = st.one_of(st.tuples(tools, RAW_ARGUMENTS), st.tuples(st.sampled_from(("create_video", "\ud800", "")),
                                                                st.just("{}"))).map(lambda call: [call])
    burst = tools.flatmap(lambda name: st.integers(_cap(name) - 1, _cap(name) + 2).map(lambda n: _burst(name, n)))
    step = st.one_of(single, single, single, odd, burst)
    return st.lists(step, min_size=1, max_size=8).map(lambda steps: [call for step in steps for call in step])
