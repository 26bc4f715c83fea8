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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from shared.protocol.limits import (
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
from tests.unit.deliverables.samples import TOOL_ARGS
from workers.deliverables.tools import CHART_TOOLS, TOOL_NAMES

Draw = Callable[[st.SearchStrategy[Any]], Any]
MISSING: Any = object()  # a field left out

EDGE_CHARS = ("a", "Z", "0", "_", "-", ".", " ", "é", "😀", "\ud800", "\udfff", "\ufeff", "\u2028", "\u2029",
              "\x00", "\x1c", "\x1f", "\x85", "\t", "\n", "\u0301", "\u00a0", "\u3000", "{", "}", ":", "/", "\\",
              "<", ">", "&", "#", ";", "=", '"')
# characters a valid value may hold anywhere (JavaScript does not trim \x1c or \x85) and whitespace
# that is fine inside a value but trimmed at its ends
KEPT_CHARS = ("a", "Z", "0", "_", "-", ".", "é", "😀", "\u0301", "\x1c", "\x85", ":", "&", "#", "<")
INNER_SPACES = (" ", "\ufeff", "\u2028", "\u3000", "\t")
FILLERS = ("a", "é", "😀", " ", "\ufeff")  # what text near a limit is made of (😀 is 2 UTF-16 units)
CLEAN_NUMBERS = st.one_of(st.integers(-5, 100), st.floats(-1e6, 1e6, allow_nan=False),
                          st.sampled_from([1e-7, -0.0, 1e21, 1.7976931348623157e308, 2 ** 53 + 1, 10 ** 300]))
NUMBERS = st.one_of(CLEAN_NUMBERS, st.floats(), st.sampled_from([10 ** 400, -10 ** 400, True, "3", None]))
JUNK = st.recursive(st.none() | st.booleans() | NUMBERS | st.text(st.sampled_from(EDGE_CHARS), max_size=4),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
                        ("id", "kind", "title", "name", "label", "value", "items")), inner, max_size=3),
                    max_leaves=6)
RAW_ARGUMENTS = st.sampled_from(("", " ", "\ufeff", "{", "[]", "null", '"x"', "{\"id\": NaN}", "{} {}",
                                 "[" * 50_000 + "]" * 50_000, '{"id": ' + "[" * 3_000 + "]" * 3_000 + "}",
                                 '{"id": 1' + "0" * 5_000 + "}", '{"id": "\\ud800"}'))


def _units(text: str) -> int:
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def _near(target: int, filler: str, edge: str, at_end: bool) -> str:
    """``filler`` repeated to ``target`` UTF-16 units in all (topped up with "a"), ``edge`` at one end."""
    room = max(target - _units(edge), 0)
    units = 2 if ord(filler) > 0xFFFF else 1
    body = filler * (room // units) + "a" * (room % units)
    return body + edge if at_end else edge + body


def _kept_text(max_size: int) -> st.SearchStrategy[str]:
    """Text that stays valid: kept characters, with whitespace only inside."""
    inner = st.text(st.sampled_from(KEPT_CHARS + INNER_SPACES), max_size=max(max_size - 2, 0))
    return st.builds(lambda head, middle, tail: head + middle + tail, st.sampled_from(KEPT_CHARS), inner,
                     st.sampled_from(KEPT_CHARS))


@dataclass(frozen=True)
class Palette:
    """What one call's fields are drawn from. ``CLEAN`` calls sit at the edges that must be
    accepted (limits exactly, astral characters at the cut, JavaScript whitespace inside or at
    the ends of ids, \\x1c, \\x85, -0, 1e-7, 1e21): most of them succeed, which is what puts
    invariant (b) to work. ``HOSTILE`` calls mix in anything: one past a limit, lone surrogates,
    blank text, NaN, junk in any field, fields left out."""

    hostile: bool

    def text(self, limit: int) -> st.SearchStrategy[str]:
        """A label, name, item or cell: mostly short, sometimes exactly at (hostile: around) ``limit``."""
        if self.hostile:
            targets = (limit - 2, limit - 1, limit, limit + 1)
            near = st.builds(_near, st.sampled_from(targets), st.sampled_from(FILLERS),
                             st.text(st.sampled_from(EDGE_CHARS), max_size=2), st.booleans())
            return st.one_of(st.sampled_from(("Q1", "Revenue", "a b")),
                             st.text(st.sampled_from(EDGE_CHARS), max_size=6), near)
        near = st.builds(_near, st.sampled_from((limit - 1, limit)), st.sampled_from(("a", "é", "😀")),
                         _kept_text(2), st.booleans())
        return st.one_of(st.sampled_from(("Q1", "Revenue", "a b")), _kept_text(8), near)

    def ids(self, *, safe: bool) -> st.SearchStrategy[str]:
        """Artifact ids from a small pool (duplicates, also by case) and at the cut of 64."""
        if self.hostile:
            return st.one_of(st.sampled_from(("a", "A", "x" * 65, "\ufeff", "a{b", "a b", "\ud800")), self.text(64))
        core = (st.text(st.sampled_from("aZ0_-"), min_size=1, max_size=4) if safe
                else st.one_of(_kept_text(6), st.text(st.sampled_from("aZ0_-"), min_size=1, max_size=4)))
        padded = st.builds(lambda head, middle, tail: head + middle + tail, st.sampled_from(("", " ", "\ufeff\u2028")),
                           core, st.sampled_from(("", "\u3000", " \t")))
        at_cut = st.builds(lambda fill, cut: fill * 63 + cut, st.sampled_from(("x", "_")), st.sampled_from(
            ("", "y", " b", "\ufeffz", "\u2028" if safe else "😀", "-" if safe else "é")))
        return st.one_of(st.sampled_from(("a", "A", "q3", "go-live_1")), padded, at_cut)

    def number(self) -> st.SearchStrategy[Any]:
        return NUMBERS if self.hostile else CLEAN_NUMBERS

    def title(self) -> st.SearchStrategy[Any]:
        """An optional title: left out, null, blank or text (cut at 200)."""
        return st.one_of(st.just(MISSING), st.none(), st.sampled_from(("", " ", "\ufeff")), self.text(MAX_TITLE_CHARS),
                         self.text(MAX_TITLE_CHARS + 3))

    def field(self, draw: Draw, value: Any) -> Any:
        """``value``; hostile: rarely left out or swapped for a random JSON value."""
        roll = draw(st.integers(0, 19)) if self.hostile else 2
        return MISSING if roll == 0 else draw(JUNK) if roll == 1 else value

    def obj(self, draw: Draw, fields: dict[str, Any]) -> dict[str, Any]:
        kept = {name: self.field(draw, value) for name, value in fields.items()}
        return {name: value for name, value in kept.items() if value is not MISSING}

    def sized(self, low: int, high: int) -> st.SearchStrategy[int]:
        """A count: mostly small, often exactly at a bound (hostile: or one past it)."""
        bounds = {max(low - 1, 0), low, high, high + 1} if self.hostile else {low, high}
        return st.one_of(st.integers(low, min(low + 2, high)), st.sampled_from(sorted(bounds)))

    def texts(self, draw: Draw, low: int, high: int, limit: int) -> list[str]:
        return _cycled(draw, draw(self.sized(low, high)), lambda: draw(self.text(limit)))


CLEAN, HOSTILE = Palette(hostile=False), Palette(hostile=True)
PALETTES = st.sampled_from((CLEAN, CLEAN, HOSTILE))


def _cycled(draw: Draw, count: int, make: Callable[[], Any]) -> list[Any]:
    """``count`` elements cycling through a few drawn ones: long lists at their limits stay cheap."""
    pool = [make() for _ in range(min(count, draw(st.integers(1, 3))))]
    return [pool[index % len(pool)] for index in range(count)]


def _optional(draw: Draw, strategy: st.SearchStrategy[Any]) -> Any:
    return draw(st.one_of(st.just(MISSING), st.none(), strategy))


@st.composite
def chart_args(draw: Draw, kind: str) -> dict[str, Any]:
    pal: Palette = draw(PALETTES)
    fields: dict[str, Any] = {"id": draw(pal.ids(safe=False)), "title": draw(pal.title())}
    if kind == "pie":
        fields["segments"] = _cycled(draw, draw(pal.sized(1, MAX_PIE_SEGMENTS)), lambda: pal.obj(
            draw, {"label": draw(pal.text(MAX_CHART_LABEL_CHARS)), "value": draw(pal.number())}))
    elif kind == "scatter":
        def point() -> dict[str, Any]:
            return pal.obj(draw, {"x": draw(pal.number()), "y": draw(pal.number()),
                                  "label": _optional(draw, pal.text(MAX_CHART_LABEL_CHARS))})

        fields["series"] = _cycled(draw, draw(pal.sized(1, MAX_SCATTER_SERIES)), lambda: pal.obj(draw, {
            "name": draw(pal.text(MAX_SERIES_NAME_CHARS)),
            "points": _cycled(draw, draw(pal.sized(1, MAX_SCATTER_POINTS)), point)}))
    else:
        labels = pal.texts(draw, 1, MAX_CHART_LABELS, MAX_CHART_LABEL_CHARS)
        width = max(len(labels) + (draw(st.sampled_from((0, 0, 1, -1))) if pal.hostile else 0), 0)
        numbers = pal.number()
        if kind == "stacked_bar" and not pal.hostile:
            numbers = numbers.map(abs)
        fields["labels"] = labels
        fields["series"] = _cycled(draw, draw(pal.sized(1, MAX_CHART_SERIES)), lambda: pal.obj(draw, {
            "name": draw(pal.text(MAX_SERIES_NAME_CHARS)), "values": _cycled(draw, width, lambda: draw(numbers))}))
        if kind in ("bar", "stacked_bar"):
            fields["orientation"] = _optional(draw, st.sampled_from(
                ("vertical", "horizontal", "diagonal") if pal.hostile else ("vertical", "horizontal")))
    return pal.obj(draw, fields)


@st.composite
def table_args(draw: Draw) -> dict[str, Any]:
    pal: Palette = draw(PALETTES)
    columns = pal.texts(draw, 1, MAX_TABLE_COLUMNS, MAX_COLUMN_NAME_CHARS)
    width = max(len(columns) + (draw(st.sampled_from((0, 0, 1, -1))) if pal.hostile else 0), 0)
    cells = st.one_of(pal.text(MAX_CELL_CHARS), st.sampled_from(("", " ", "\ufeff")), pal.number())
    rows = _cycled(draw, draw(pal.sized(0, MAX_TABLE_ROWS)), lambda: _cycled(draw, width, lambda: draw(cells)))
    return pal.obj(draw, {"id": draw(pal.ids(safe=False)), "kind": _optional(draw, st.just("table")),
                          "title": draw(pal.title()), "columns": columns, "rows": rows})


@st.composite
def list_args(draw: Draw) -> dict[str, Any]:
    pal: Palette = draw(PALETTES)
    return pal.obj(draw, {"id": draw(pal.ids(safe=True)), "title": draw(pal.title()),
                          "ordered": _optional(draw, st.booleans()),
                          "items": pal.texts(draw, 1, MAX_LIST_ITEMS, MAX_LIST_ITEM_CHARS)})


@st.composite
def checklist_args(draw: Draw) -> dict[str, Any]:
    pal: Palette = draw(PALETTES)
    item_ids = st.one_of(st.sampled_from(("a", "A", "b", "ship-1", "i" * 48)),
                         pal.text(MAX_CHECKLIST_ITEM_ID_CHARS) if pal.hostile else pal.ids(safe=True).map(str.strip))
    drawn = _cycled(draw, draw(pal.sized(1, MAX_CHECKLIST_ITEMS)), lambda: pal.obj(draw, {
        "id": draw(item_ids), "label": draw(pal.text(MAX_CHECKLIST_LABEL_CHARS)),
        "checked": _optional(draw, st.booleans())}))
    unique = not pal.hostile or draw(st.booleans())  # else cycled items repeat their ids
    items = [{**item, "id": f"{item['id'][:40]}{index}"} if unique and isinstance(item.get("id"), str) else item
             for index, item in enumerate(drawn)]
    return pal.obj(draw, {"id": draw(pal.ids(safe=True)), "title": draw(pal.title()), "items": items})


SAFE_SVG_BODIES = ('<rect width="4" height="2"/>', "<text>a &amp; b &lt; c &#8364;</text>", "<g>on top = 5</g>",
                   '<path d="M0 0"/>\x1c', '<a href="https://example.com/x">x</a>')
FORBIDDEN_SVG_BODIES = (
    '<rect onclick\ufeff="x()"/>', '<a href="jav&#x61;script:x()"/>', '<animate to="javascript&#58;x()"/>',
    '<a href="java&#9;script:x"/>', '<a href="&#106avascript:x"/>', "<svg:script>x()</svg:script>",
    '<rect content="x"/>', "<SCRIPT>x</SCRIPT>", "<foreignobject/>", "<objective/>", "&lt;iframe>")


@st.composite
def svg_args(draw: Draw) -> dict[str, Any]:
    pal: Palette = draw(PALETTES)
    padding = draw(st.sampled_from((0, 0, MAX_SVG_CHARS - 11 - 40, MAX_SVG_CHARS - 11 - 39 + pal.hostile)))
    bodies = SAFE_SVG_BODIES + FORBIDDEN_SVG_BODIES if pal.hostile else SAFE_SVG_BODIES
    markup = st.builds(lambda head, body, tail: f"{head}<svg>{body.ljust(40)[:40]}{'x' * padding}</svg>{tail}",
                       st.sampled_from(("", " ", "\ufeff", "\x1c")), st.sampled_from(bodies),
                       st.sampled_from(("", "\n", "\u2028")))
    content = draw(st.one_of(markup, pal.text(40)) if pal.hostile else markup)
    return pal.obj(draw, {"id": draw(pal.ids(safe=True)), "title": draw(pal.title()), "content": content})


FILE_NAMES = st.sampled_from((
    "notes.md", "NOTES.MD", "specs/plan.md", "/specs/../plan.txt", "\\a\\b.md", "a/b/c/d/e/x.md", "a/b/c/d/x.md",
    "x" * 45 + ".md", "x" * 46 + ".md", "notes.pdf", "..?.md", " \ufeffn.md ", "{{artifact:file:x.md}}.md",
    "/".join(["a" * 48] * 3 + ["d" * 10 + ".md"]), "/".join(["a" * 48] * 3 + ["d" * 11 + ".md"]), "Ä😀 plan.md"))


@st.composite
def file_args(draw: Draw) -> dict[str, Any]:
    pal: Palette = draw(PALETTES)
    name = draw(st.one_of(FILE_NAMES, st.builds(lambda stem, ext: stem + ext, pal.text(40),
                                                st.sampled_from((".md", ".txt", ".MD")))))
    content = draw(st.one_of(pal.text(40), st.sampled_from(("", " ", "\n\n", "\ufeff")),
                             pal.text(MAX_FILE_CONTENT_CHARS)))
    return pal.obj(draw, {"name": name, "content": content})


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
