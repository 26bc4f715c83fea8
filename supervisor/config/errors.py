"""The one error type configuration problems raise: every problem names its key path.

A problem's text may quote a value the operator wrote, but only through ``quote``: the value
is redacted first (every candidate secret is registered before validation starts), then
capped and escaped, so an error can neither echo a secret, nor part of one cut at the cap,
nor forge lines or terminal escapes on the operator's screen.
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from shared.http.redact import redact

QUOTE_CHARS = 60   # characters of a quoted value shown before "…"
PATH_CHARS = 300   # characters of a quoted file path (paths are long and never secret by themselves)
# A string of key characters (no "/": not a path) with letters and digits, 16+ long: maybe an unregistered key.
_KEY_LIKE = re.compile(r"(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9._~+=-]{16,}")
_UNPRINTABLE = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")   # Unicode categories shown as \uXXXX


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration, e.g. ``pool.workers``: ``expected an integer ≥ 1, got "many"``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` lists every reason found (redacted and escaped once more here)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = [Problem(_clean(p.path), _clean(p.message)) for p in problems]
        super().__init__("\n".join(str(p) for p in self.problems))


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """``value`` as an error message may show it: redacted, then capped, then escaped.

    Redaction comes before the cut so that a secret longer than the cap is still masked
    whole; a string shaped like an unregistered key is described, not shown.
    """
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, (list, tuple, dict, set)):
        return type(value).__name__
    if not isinstance(value, str):
        return f"a {type(value).__name__}"
    text = redact(value)
    if _KEY_LIKE.fullmatch(text):
        return f"a {len(text)}-character string (not shown: it looks like a key)"
    return '"' + escape(text[:limit]) + '"' + ("…" if len(text) > limit else "")


def escape(text: str, *, quotes: bool = True) -> str:
    """``text`` with every control/format character written as an escape (and quotes and backslashes too)."""
    out = []
    for char in text:
        if quotes and char in '"\\':
            out.append("\\" + char)
        elif unicodedata.category(char) in _UNPRINTABLE:
            out.append(json.dumps(char)[1:-1] if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
        else:
            out.append(char)
    return "".join(out)


def _clean(text: str) -> str:
    """Redacted, with control characters escaped: one problem is one line, whoever built its text."""
    return escape(redact(text), quotes=False)


def _number(value: int | float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, int) and abs(value) >= 10 ** 24:
        return "a number of more than 24 digits"   # str() of a 4,300+-digit int would raise
    return str(value)
