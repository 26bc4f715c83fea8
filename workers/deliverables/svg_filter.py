"""The SVG blocklist of protocol §4, applied to what a browser would see.

The protocol forbids ``<script``, ``javascript:``, ``on…=`` handlers, ``<foreignObject``,
``<iframe``, ``<embed`` and ``<object``. Matching those strings in the raw text is not
enough, because a browser acts on the markup after its own decoding:

- it decodes character references in attribute values, so ``jav&#x61;script:``,
  ``javascript&#58;`` and ``javascript&colon;`` are a ``javascript:`` URL (``html.unescape``
  decodes numeric and named references the way HTML does, missing semicolons included);
- its URL parser drops tabs and line breaks inside a scheme (``java&#9;script:``);
- the cloud is JavaScript, whose ``\\s`` also matches U+FEFF and the other Unicode spaces, so
  it refuses ``onclick\\ufeff=`` where Python's ``\\s`` would let it through;
- an XML parser runs ``<svg:script>`` (a namespace prefix) as a script.

So each pattern runs over the raw content and over its entity-decoded form, with
JavaScript whitespace and control characters allowed wherever a parser might skip them.
Where it is unsure (``&lt;script`` in text, ``<objective>``), it refuses: a refused SVG
costs the model one more tool call, a passed one could run script in Studio.
"""
from __future__ import annotations

import html
import re
from typing import NamedTuple

from shared.protocol.limits import SVG_FORBIDDEN_ELEMENTS, SVG_FORBIDDEN_SCHEME
from workers.deliverables.text import JS_WHITESPACE

_SKIPPED = "[" + re.escape(JS_WHITESPACE) + r"\x00-\x1f\x7f]*"  # what a parser may skip between characters
_ELEMENT_ARTICLES = {"script": "a", "foreignObject": "a", "iframe": "an", "embed": "an", "object": "an"}


def _element(name: str) -> tuple[re.Pattern[str], str]:
    # "<name" or "<prefix:name"; no word boundary after the name: the protocol's rule is the prefix
    return re.compile(r"<(?:[\w.-]+:)?" + re.escape(name), re.IGNORECASE), f"{_ELEMENT_ARTICLES[name]} <{name}> element"


_SCHEME = re.compile(_SKIPPED.join(SVG_FORBIDDEN_SCHEME + ":"), re.IGNORECASE)
_HANDLER = re.compile(r"on\w+" + _SKIPPED + "=", re.IGNORECASE)
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    *(_element(name) for name in SVG_FORBIDDEN_ELEMENTS),
    (_SCHEME, f"a {SVG_FORBIDDEN_SCHEME}: URL"),
    (_HANDLER, "an on…= event-handler attribute"),
)


class Forbidden(NamedTuple):
    """One piece of forbidden markup: the rule (``"a javascript: URL"``), the matched markup
    widened to the word it starts in (``content=`` for a match at ``ontent=``), and whether
    it only shows once character references are decoded."""

    what: str
    excerpt: str
    decoded: bool


def forbidden_markup(content: str) -> Forbidden | None:
    """The first forbidden markup in ``content`` as sent, else as a browser decodes it; None if none."""
    decoded = html.unescape(content)
    views = (content, decoded) if decoded != content else (content,)
    for view in views:
        for pattern, what in PATTERNS:
            match = pattern.search(view)
            if match:
                return Forbidden(what, _around(view, match), view is not content)
    return None


def _around(text: str, match: re.Match[str]) -> str:
    """The matched markup widened to the whole word it starts in, e.g. ``content=`` for ``ontent=``."""
    start = match.start()
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-:"):
        start -= 1
    return text[start:match.end()]
