"""Text helpers shared by the validators: lengths as the cloud counts them, value descriptions.

The cloud is JavaScript, where ``"…".length`` counts UTF-16 code units: an emoji counts 2.
Counting the same way means nothing we accept is refused by the cloud for its length.
"""
from __future__ import annotations

import math
from typing import Any

_UTF16 = "utf-16-le"
_UTF16_UNIT_BYTES = 2


def js_length(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (JavaScript's ``String.length``)."""
    return len(text.encode(_UTF16, errors="surrogatepass")) // _UTF16_UNIT_BYTES


def js_cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-16 code units, never splitting a surrogate pair."""
    if len(text) <= limit // 2 or js_length(text) <= limit:
        return text
    head = text.encode(_UTF16, errors="surrogatepass")[: limit * _UTF16_UNIT_BYTES]
    return head.decode(_UTF16, errors="ignore")  # drops a dangling half of a pair


def describe_value(value: Any) -> str:
    """A short, JSON-flavoured description of ``value`` for error texts (never the whole value)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:  # beyond any float: JavaScript would read it as Infinity
            return "a number out of range"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {quote(value)}"
    if isinstance(value, (list, tuple)):
        return f"a list of {count_text(len(value), 'item')}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def quote(text: str, *, limit: int | None = 40) -> str:
    """``text`` in double quotes for messages, shortened to ``limit`` characters (None: never)."""
    shown = text if limit is None or len(text) <= limit else text[: limit - 1] + "…"
    return '"' + shown.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def count_text(count: int, noun: str, plural: str | None = None) -> str:
    """``"1 label"``, ``"3 labels"``: a count for messages (``plural`` defaults to ``noun + "s"``)."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {plural or noun + 's'}"
