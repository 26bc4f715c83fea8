"""Make untrusted text safe to show to a human: one line, no terminal control, bounded length.

Workspace ids, model citations, server messages and config values can carry anything. Written
raw to a text log or a terminal, a ``\\n`` forges a log record, an ANSI escape moves the cursor
or recolours the screen, a bidi override reorders what is shown, and a 1 MB id makes a 1 MB
line. Every place that writes such text for a human (the supervisor's text log formatter, the
``status`` table, the commands' messages) goes through ``shown``; JSON output goes through
``cap`` and ``escape_json_line``. Redact first (``shared.http.redact``), then escape and cut.

What is escaped (``UNSAFE``): C0 controls (tab and newline included), DEL, C1 controls, the
Unicode line and paragraph separators U+2028/U+2029, the bidi embeddings, overrides and
isolates U+202A–U+202E and U+2066–U+2069, and lone surrogates (which UTF-8 cannot encode).
They are written as Python-style escapes: ``\\n``, ``\\t``, ``\\x1b``, ``\\u2028``, ``\\udc80``.
Backslashes are left as they are (paths stay readable), so an escape in the output may also be
a literal backslash sequence in the input; it can never be a control character.

A capped value ends with a visible marker, ``…[+N chars]`` (N source characters left out);
the whole result, marker included, is at most ``limit`` characters (a limit below
``MIN_LIMIT`` counts as ``MIN_LIMIT``, so the marker always fits).
"""
from __future__ import annotations

import re

UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
MIN_LIMIT = 24  # characters; room for the marker and a little text


def escape_char(char: str) -> str:
    """One unsafe character as its escape (``\\n``, ``\\x1b``, ``\\u2028``)."""
    named = _NAMED.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with every unsafe character escaped; nothing cut."""
    return UNSAFE.sub(lambda match: escape_char(match.group()), text)


def marker(omitted: int) -> str:
    """The visible sign that ``omitted`` characters were cut off."""
    return f"…[+{omitted} chars]"


def cut_point(text: str, limit: int) -> int:
    """How many leading characters of ``text`` ``cap`` keeps (all of them when it fits)."""
    if len(text) <= limit:
        return len(text)
    return max(0, max(limit, MIN_LIMIT) - len(marker(len(text))))


def cap(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters (marker included); no escaping."""
    keep = cut_point(text, limit)
    return text if keep == len(text) else text[:keep] + marker(len(text) - keep)


def shown(value: object, limit: int) -> str:
    """``value`` as one safe line of at most ``limit`` characters (escapes and marker included).

    Escapes are never split: a value is cut between whole source characters.
    """
    text = value if isinstance(value, str) else str(value)
    limit = max(limit, MIN_LIMIT)
    if len(text) <= limit and not UNSAFE.search(text):
        return text
    head = text[:limit]
    escaped = escape_controls(head)
    if len(text) <= limit and len(escaped) <= limit:
        return escaped
    room = limit - len(marker(len(text)))   # the widest marker this value can need
    if len(escaped) <= room:
        return escaped + marker(len(text) - len(head))
    pieces: list[str] = []
    used = 0
    for char in head:
        piece = escape_char(char) if UNSAFE.match(char) else char
        if used + len(piece) > room:
            break
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces) + marker(len(text) - len(pieces))


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def escape_json_line(line: str) -> str:
    """A ``json.dumps(..., ensure_ascii=False)`` line with the characters it leaves raw escaped.

    json.dumps escapes C0 controls but not DEL, C1, the Unicode line separators, bidi
    controls or lone surrogates; outside strings a JSON line is pure ASCII, so each of
    them sits in a string and its ``\\uXXXX`` form is the same JSON value.
    """
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", line)
