"""What the builtin model writes: tool arguments derived deterministically from the request.

A ``Topic`` is the request reduced to its significant words plus a hash; every label,
title and number of a deliverable comes from it, so the same request always produces the
same arguments. Arguments follow protocol §4 "Tools the model calls" exactly (chart fields
at top level without ``kind``; table, list, checklist and SVG inside a wrapper object) and
stay far inside every limit.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from workers.models.trimming import cut_text

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{2,23}")
_STOPWORDS = frozenset("""
    the and for with that this from into your you our are was were will would should could can
    please make create show give add need want using use about also some more most than then them
    they their there what when where which who why how have has had not but all any each per its
    chart charts graph graphs table tables list lists checklist checklists file files document
    documents diagram diagrams svg bar bars stacked pie line lines area scatter trend trends plot
    title recent user users messages message earlier context summarized prior
""".split())
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun")
_ORDERED_HINT = re.compile(r"\b(steps?|ordered|numbered|sequence|phases?|runbook)\b", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class Topic:
    """The request as the builtin model understands it: its text and significant words."""

    text: str
    words: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> Topic:
        seen: dict[str, None] = {}
        for match in _WORD.finditer(text):
            word = match.group(0).lower()
            if word not in _STOPWORDS:
                seen.setdefault(word, None)
        return cls(text=text, words=tuple(seen))

    def number(self, salt: str, low: int, high: int) -> int:
        """A whole number in [low, high] fixed by the request text and ``salt``."""
        digest = hashlib.sha256(f"{salt}\0{self.text}".encode()).digest()
        return low + int.from_bytes(digest[:8], "big") % (high - low + 1)

    def labels(self, count: int) -> list[str]:
        """``count`` distinct labels: the request's words, then "Item N" when it has too few."""
        words = [word.capitalize() for word in self.words[:count]]
        return words + [f"Item {index}" for index in range(len(words) + 1, count + 1)]

    @property
    def slug(self) -> str:
        """An id prefix made of the first significant word (``request`` when there is none)."""
        return self.words[0] if self.words else "request"

    @property
    def headline(self) -> str:
        return " ".join(word.capitalize() for word in self.words[:3]) or "Your Request"

    @property
    def latest_request(self) -> str:
        """The last paragraph that is not a heading or rule: the newest user message."""
        paragraphs = [" ".join(chunk.split()) for chunk in re.split(r"\n\s*\n", self.text)]
        for paragraph in reversed(paragraphs):
            if paragraph and not paragraph.startswith("#") and set(paragraph) != {"-"}:
                return paragraph
        return ""

    @property
    def wants_ordered(self) -> bool:
        return bool(_ORDERED_HINT.search(self.text))


ArgumentBuilder = Callable[[Topic, str], dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class Deliverable:
    """One tool the builtin model knows: its citation kind, a default ref, how to fill it."""

    tool: str
    kind: str  # citation kind: chart, table, list, checklist, svg or file
    noun: str  # what the narrative calls it
    suffix: str  # default id is "<topic slug>-<suffix>"
    build: ArgumentBuilder

    def default_ref(self, topic: Topic) -> str:
        if self.kind == "file":
            return requested_path(topic.text) or f"docs/{topic.slug}-{self.suffix}.md"
        return f"{topic.slug}-{self.suffix}"


_SEGMENT = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,46}[A-Za-z0-9])?"  # ≤ 48 chars, nothing the sanitiser changes
_SAFE_PATH = re.compile(rf"(?<![\w./-])((?:{_SEGMENT}/){{0,4}}[A-Za-z0-9](?:[A-Za-z0-9._-]{{0,40}}[A-Za-z0-9])?"
                        r"\.(?:md|txt))\b", re.IGNORECASE)


def requested_path(text: str) -> str | None:
    """The first ``folder/name.md``-style path in ``text`` that the sanitiser would keep as is."""
    match = _SAFE_PATH.search(text)
    return match.group(1) if match and len(match.group(1)) <= 160 else None


def _values(topic: Topic, salt: str, count: int, low: int = 5, high: int = 95) -> list[int]:
    return [topic.number(f"{salt}:{index}", low, high) for index in range(count)]


def _pie(topic: Topic, ref: str) -> dict[str, Any]:
    return {"id": ref, "title": f"{topic.headline}: share by area",
            "segments": [{"label": label, "value": value}
                         for label, value in zip(topic.labels(4), _values(topic, f"pie:{ref}", 4), strict=True)]}


def _series_chart(topic: Topic, ref: str, *, names: tuple[str, ...], labels: list[str],
                  what: str) -> dict[str, Any]:
    return {"id": ref, "title": f"{topic.headline}: {what}", "labels": labels,
            "series": [{"name": name, "values": _values(topic, f"{ref}:{name}", len(labels))} for name in names]}


def _bar(topic: Topic, ref: str) -> dict[str, Any]:
    return {**_series_chart(topic, ref, names=("Current", "Target"), labels=topic.labels(4), what="comparison"),
            "orientation": "vertical"}


def _stacked_bar(topic: Topic, ref: str) -> dict[str, Any]:
    return {**_series_chart(topic, ref, names=("Planned", "In progress", "Done"), labels=topic.labels(4),
                            what="composition"), "orientation": "horizontal"}


def _line(topic: Topic, ref: str) -> dict[str, Any]:
    return _series_chart(topic, ref, names=tuple(topic.labels(2)), labels=list(_MONTHS), what="trend")


def _area(topic: Topic, ref: str) -> dict[str, Any]:
    return _series_chart(topic, ref, names=tuple(topic.labels(2)), labels=list(_MONTHS), what="volume over time")


def _scatter(topic: Topic, ref: str) -> dict[str, Any]:
    series = []
    for name in topic.labels(2):
        ys = _values(topic, f"{ref}:{name}", 8)
        points: list[dict[str, Any]] = [{"x": x, "y": y} for x, y in enumerate(ys, start=1)]
        points[0]["label"] = f"{name} start"
        series.append({"name": name, "points": points})
    return {"id": ref, "title": f"{topic.headline}: correlation", "series": series}


def _table(topic: Topic, ref: str) -> dict[str, Any]:
    rows = [[label, str(score), f"Owner {topic.number(f'{ref}:owner:{label}', 1, 5)}"]
            for label, score in zip(topic.labels(4), _values(topic, f"table:{ref}", 4, 1, 10), strict=True)]
    return {"table": {"kind": "table", "id": ref, "title": f"{topic.headline}: overview",
                      "columns": ["Item", "Score (1-10)", "Owner"], "rows": rows}}


def _list(topic: Topic, ref: str) -> dict[str, Any]:
    items = [f"Review {label.lower()} and agree on the next step" for label in topic.labels(4)]
    body: dict[str, Any] = {"kind": "list", "id": ref, "title": f"{topic.headline}: key points", "items": items}
    if topic.wants_ordered:
        body["ordered"] = True
    return {"list": body}


def _checklist(topic: Topic, ref: str) -> dict[str, Any]:
    items = [{"id": f"item-{index}", "label": f"Confirm {label.lower()}",
              "checked": topic.number(f"{ref}:check:{index}", 0, 3) == 0}
             for index, label in enumerate(topic.labels(4), start=1)]
    return {"checklist": {"kind": "checklist", "id": ref, "title": f"{topic.headline}: checklist", "items": items}}


def _svg(topic: Topic, ref: str) -> dict[str, Any]:
    boxes = []
    for index, label in enumerate(topic.labels(3)):
        x = 20 + index * 160  # px: three 120-wide boxes, 40 px apart
        boxes.append(f'<rect x="{x}" y="50" width="120" height="60" rx="8" fill="#eef2ff" stroke="#4f46e5"/>'
                     f'<text x="{x + 60}" y="85" text-anchor="middle" font-size="14">{escape(label)}</text>')
        if index:
            boxes.append(f'<line x1="{x - 40}" y1="80" x2="{x}" y2="80" stroke="#4f46e5" stroke-width="2"/>')
    content = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 480 160" width="480" height="160">'
               + "".join(boxes) + "</svg>")
    return {"svg": {"id": ref, "title": f"{topic.headline}: flow", "content": content}}


def _file(topic: Topic, ref: str) -> dict[str, Any]:
    lines = [f"# {topic.headline}", "", f"Prepared from the request: \"{cut_text(topic.latest_request, 400)}\"",
             "", "## Key points", ""]
    lines += [f"{label}: priority {topic.number(f'{ref}:priority:{label}', 1, 5)} of 5."
              for label in topic.labels(4)]
    return {"name": ref, "content": "\n".join(lines) + "\n"}


CATALOGUE: dict[str, Deliverable] = {item.tool: item for item in (
    Deliverable(tool="create_bar_chart", kind="chart", noun="bar chart", suffix="bar", build=_bar),
    Deliverable(tool="create_stacked_bar_chart", kind="chart", noun="stacked bar chart", suffix="stacked",
                build=_stacked_bar),
    Deliverable(tool="create_pie_chart", kind="chart", noun="pie chart", suffix="pie", build=_pie),
    Deliverable(tool="create_line_chart", kind="chart", noun="line chart", suffix="trend", build=_line),
    Deliverable(tool="create_area_chart", kind="chart", noun="area chart", suffix="area", build=_area),
    Deliverable(tool="create_scatter_chart", kind="chart", noun="scatter chart", suffix="scatter", build=_scatter),
    Deliverable(tool="create_table", kind="table", noun="table", suffix="table", build=_table),
    Deliverable(tool="create_checklist", kind="checklist", noun="checklist", suffix="checklist", build=_checklist),
    Deliverable(tool="create_list", kind="list", noun="list", suffix="list", build=_list),
    Deliverable(tool="create_svg", kind="svg", noun="diagram", suffix="diagram", build=_svg),
    Deliverable(tool="create_file", kind="file", noun="document", suffix="brief", build=_file),
)}
