"""Strings as the cloud's JavaScript sees them, for the emulator's completion rules.

Written apart from the runner's ``workers.deliverables.text`` on purpose: the emulator is a
second, independent reading of protocol §4, so a mistake in one is caught by the other.

- ``utf16_length``: ``"…".length`` (code units; a character beyond U+FFFF counts 2).
- ``js_trim``: ``String.prototype.trim``, whose whitespace is ECMAScript WhiteSpace (TAB, VT,
  FF, U+FEFF and every Unicode ``Zs`` space) plus LineTerminator (LF, CR, U+2028, U+2029),
  derived here from the Unicode database rather than listed.
- ``JS_SPACE_CLASS``: the same set as a regular-expression class (JavaScript's ``\\s``).
- ``utf16_cut``: the first ``limit`` code units.
"""
from __future__ import annotations

import re
import unicodedata

_BMP_LIMIT = 0xFFFF  # characters above this are two UTF-16 code units (a surrogate pair)
_LINE_TERMINATORS = "\n\r\u2028\u2029"
_NAMED_WHITESPACE = "\t\v\f\ufeff"
_SPACE_SEPARATORS = "".join(chr(code) for code in range(_BMP_LIMIT + 1)  # every Zs is in the BMP
                            if unicodedata.category(chr(code)) == "Zs")
JS_SPACE = _NAMED_WHITESPACE + _SPACE_SEPARATORS + _LINE_TERMINATORS
JS_SPACE_CLASS = "[" + "".join(f"\\u{ord(char):04x}" for char in JS_SPACE) + "]"


def utf16_length(text: str) -> int:
    """JavaScript's ``text.length``."""
    return len(text) + sum(1 for char in text if ord(char) > _BMP_LIMIT)


def js_trim(text: str) -> str:
    """JavaScript's ``text.trim()``."""
    return text.strip(JS_SPACE)


def utf16_cut(text: str, limit: int) -> str:
    """The longest head of ``text`` of at most ``limit`` code units (a pair is kept whole or dropped)."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > _BMP_LIMIT else 1
        if units > limit:
            return text[:index]
    return text


def ascii_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled as a JavaScript ``/…/i`` would match: ASCII ``\\w`` and case folding."""
    return re.compile(pattern, re.IGNORECASE | re.ASCII)
