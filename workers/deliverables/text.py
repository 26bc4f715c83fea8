"""Text helpers shared by the validators: strings as the cloud (JavaScript) sees them, and
value descriptions for messages.

The cloud is JavaScript, so three of its string notions differ from Python's:

- length: ``"…".length`` counts UTF-16 code units (an emoji counts 2), see ``js_length``;
- whitespace: ``String.prototype.trim`` and ``\\s`` use ECMAScript WhiteSpace + LineTerminator,
  which includes U+FEFF and excludes ``\\x1c``–``\\x1f`` and ``\\x85`` (Python's ``str.strip()``
  and ``\\s`` do the opposite); ``JS_WHITESPACE``, ``js_trim`` and ``is_blank`` are the only
  notion of blank and trimmed in this package;
- lone surrogates: JSON (and so a model) can carry ``"\\ud800"``; JavaScript keeps it, but
  Python cannot encode it as UTF-8, so we refuse it (``lone_surrogate``) or replace it
  (``encodable``) before it reaches a request body.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

_UTF16 = "utf-16-le"
_UTF16_UNIT_BYTES = 2

# ECMAScript WhiteSpace (TAB, VT, FF, ZWNBSP U+FEFF and every Zs space) + LineTerminator
# (LF, CR, U+2028, U+2029): what String.prototype.trim removes and what \s matches.
JS_WHITESPACE = ("\t\v\f\ufeff \u00a0\u1680" + "".join(chr(code) for code in range(0x2000, 0x200B))
                 + "\u202f\u205f\u3000" + "\n\r\u2028\u2029")
JS_WHITESPACE_CLASS = "[" + re.escape(JS_WHITESPACE) + "]"  # for regular expressions: JavaScript's \s
_SURROGATE_RE = re.compile("[\ud800-\udfff]")  # in a Python str every surrogate is a lone one
REPLACEMENT_CHARACTER = "\ufffd"


def js_trim(text: str) -> str:
    """``text.trim()`` as JavaScript does it."""
    return text.strip(JS_WHITESPACE)


def is_blank(text: str) -> bool:
    """Whether JavaScript's ``text.trim()`` is empty."""
    return not js_trim(text)


def lone_surrogate(text: str) -> int | None:
    """Index of the first lone surrogate (U+D800–U+DFFF) in ``text``, or None."""
    match = _SURROGATE_RE.search(text)
    return match.start() if match else None


def encodable(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD, so it always encodes as UTF-8."""
    return _SURROGATE_RE.sub(REPLACEMENT_CHARACTER, text)


def js_length(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (JavaScript's ``String.length``)."""
    return len(text.encode(_UTF16, errors="surrogatepass")) // _UTF16_UNIT_BYTES


def js_cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-16 code units, never splitting a surrogate pair."""
    if len(text) <= limit // 2 or js_length(text) <= limit:
        return text
    head = text.encode(_UTF16, errors="surrogatepass")[: limit * _UTF16_UNIT_BYTES]
    return head.decode(_UTF16, errors="ignore")  # drops a dangling half of a pair


def js_number_text(value: float) -> str:
    """A finite float as JavaScript's ``Number.prototype.toString`` writes it.

    Both languages pick the shortest digits that read back as ``value`` (``repr``), but
    JavaScript writes plain notation from 1e-6 up to below 1e21 and ``1e-7`` / ``1.5e+21``
    outside that range, where ``repr`` switches at other exponents and pads: ``1e-07``.
    """
    if value == 0:
        return "0"  # also -0, which JavaScript shows as "0"
    sign = "-" if value < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    count = len(digits)
    point = int(exponent) + count  # value = 0.<digits> × 10**point
    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    power = point - 1
    head = digits[0] + ("." + digits[1:] if count > 1 else "")
    return f"{sign}{head}e{'+' if power > 0 else '-'}{abs(power)}"


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
    shown = shown.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + _SURROGATE_RE.sub(lambda match: f"\\u{ord(match.group()):04x}", shown) + '"'


def count_text(count: int, noun: str, plural: str | None = None) -> str:
    """``"1 label"``, ``"3 labels"``: a count for messages (``plural`` defaults to ``noun + "s"``)."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {plural or noun + 's'}"
