"""``Reader``: reads the fields of one deliverable in one of two modes.

Normalising (``strict=False``, the tool side): what protocol §4 says is "trimmed and cut"
(artifact ids to 64, titles to 200) is trimmed and cut; ``null`` optional fields and
unknown fields are dropped; a missing ``checked`` is false. Everything else that breaks a
limit is refused.

Strict (``strict=True``, the completion check): the item must already be in normal form.
Anything normalising would change is refused too, so the cloud never sees an item that
depends on how generously it normalises.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from shared.protocol.limits import CITATION_BREAKERS, MAX_ID_CHARS, MAX_TITLE_CHARS, SAFE_ID_RE
from workers.deliverables.errors import DeliverableError, Where
from workers.deliverables.text import (
    count_text,
    describe_value,
    is_blank,
    js_cut,
    js_length,
    js_trim,
    lone_surrogate,
    quote,
)

_ABSENT: Any = object()  # an optional field that is missing (or null, when normalising)


@dataclass(frozen=True, kw_only=True)
class Reader:
    """Field readers for the item called ``subject`` (e.g. ``bar chart "sales"``)."""

    subject: str
    strict: bool

    def about(self, subject: str) -> Reader:
        """The same reader, naming the item ``subject`` from now on (e.g. once its id is known)."""
        return replace(self, subject=subject)

    def fail(self, where: Where, reason: str) -> DeliverableError:
        """The error to raise for ``reason`` at ``where``."""
        return DeliverableError.at(where, reason, subject=self.subject)

    # --- objects and their fields ------------------------------------------------------------
    def mapping(self, value: Any, where: Where, *, allowed: Sequence[str] | None = None) -> Mapping[str, Any]:
        """``value`` as an object; in strict mode any field outside ``allowed`` (if given) is refused."""
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected an object, got {describe_value(value)}")
        if self.strict and allowed is not None:
            for key in value:
                if key not in allowed:
                    raise self.fail(where.field(str(key)), f"unexpected field; the fields are {', '.join(allowed)}")
        return value

    def required(self, obj: Mapping[str, Any], where: Where, name: str, *, expected: str) -> Any:
        """Field ``name`` of ``obj``, which must be present and not null; ``expected`` says what it holds."""
        value = obj.get(name)
        if value is None:
            raise self.fail(where.field(name), f"is required ({expected})")
        return value

    def optional(self, obj: Mapping[str, Any], where: Where, name: str) -> Any:
        """Field ``name`` of ``obj``, or ``_ABSENT``; ``null`` counts as absent unless strict."""
        if name not in obj:
            return _ABSENT
        if obj[name] is None:
            if self.strict:
                raise self.fail(where.field(name), "is null; leave the field out instead")
            return _ABSENT
        return obj[name]

    def kind(self, obj: Mapping[str, Any], where: Where, expected: str) -> None:
        """The ``kind`` tag of tables, lists and checklists: required when strict, else added."""
        if self.strict:
            value = self.required(obj, where, "kind", expected=quote(expected))
        else:
            value = self.optional(obj, where, "kind")
        if value is not _ABSENT and value != expected:
            raise self.fail(where.field("kind"), f"expected {quote(expected)}, got {describe_value(value)}")

    # --- scalars -----------------------------------------------------------------------------
    def string(self, value: Any, where: Where) -> str:
        """A string without lone surrogates (JSON can carry them; UTF-8 cannot)."""
        if not isinstance(value, str):
            raise self.fail(where, f"expected a string, got {describe_value(value)}")
        position = lone_surrogate(value)
        if position is not None:
            raise self.fail(where, f"has a lone surrogate (U+{ord(value[position]):04X} at character {position}), "
                                   f"which cannot be sent as UTF-8; remove it or send the whole character")
        return value

    def text(self, value: Any, where: Where, *, limit: int, blank_ok: bool = False, empty_ok: bool = False) -> str:
        """A string kept verbatim, at most ``limit`` characters: not blank (JavaScript's
        ``trim``) unless ``blank_ok``; when blank is allowed, not empty unless ``empty_ok``."""
        text = self.string(value, where)
        if not blank_ok and is_blank(text):
            raise self.fail(where, "is blank")
        if not empty_ok and not text:
            raise self.fail(where, "is empty")
        self._check_length(text, where, limit)
        return text

    def identifier(self, value: Any, where: Where, *, limit: int, cut: bool, safe: bool) -> str:
        """An id: trimmed; cut to ``limit`` if ``cut`` (refused over it otherwise); ``safe`` ids
        may hold only letters, digits, ``_`` and ``-``."""
        text = self._trimmed(self.string(value, where), where)
        if not text:
            raise self.fail(where, "is blank")
        if cut and not self.strict:
            text = _cut(text, limit)
        self._check_length(text, where, limit)
        if safe and not SAFE_ID_RE.fullmatch(text):
            raise self.fail(where, f"{quote(text)} may contain only letters, digits, '_' and '-'")
        if not safe and CITATION_BREAKERS.intersection(text):
            raise self.fail(where, f"{quote(text)} contains '{{' or '}}', which would break its citation")
        return text

    def artifact_id(self, obj: Mapping[str, Any], where: Where, *, safe: bool) -> str:
        """The item's ``id``: trimmed and cut to 64 characters (refused over 64 when strict)."""
        value = self.required(obj, where, "id", expected='a short id such as "sales-2024"')
        return self.identifier(value, where.field("id"), limit=MAX_ID_CHARS, cut=True, safe=safe)

    def title(self, obj: Mapping[str, Any], where: Where) -> str | None:
        """The optional ``title``: trimmed and cut to 200 characters; a blank one is dropped."""
        value = self.optional(obj, where, "title")
        if value is _ABSENT:
            return None
        at = where.field("title")
        text = self._trimmed(self.string(value, at), at)
        if not text:
            if self.strict:
                raise self.fail(at, "is blank; leave the field out instead")
            return None
        if not self.strict:
            text = _cut(text, MAX_TITLE_CHARS)
        self._check_length(text, at, MAX_TITLE_CHARS)
        return text

    def number(self, value: Any, where: Where, *, non_negative: str = "") -> int | float:
        """A finite JSON number; if ``non_negative`` (the reason why) is given, also ≥ 0."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where, f"expected a finite number, got {describe_value(value)}")
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an int too large for a float (JavaScript would read Infinity)
            finite = False
        if not finite:
            raise self.fail(where, f"expected a finite number, got {describe_value(value)}")
        if non_negative and value < 0:
            raise self.fail(where, f"is {value!r}; {non_negative}")
        return value

    def boolean(self, value: Any, where: Where) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"expected true or false, got {describe_value(value)}")
        return value

    def choice(self, value: Any, where: Where, options: Sequence[str]) -> str:
        if not isinstance(value, str) or value not in options:
            shown = " or ".join(quote(option) for option in options)
            raise self.fail(where, f"expected {shown}, got {describe_value(value)}")
        return value

    # --- lists -------------------------------------------------------------------------------
    def array(self, value: Any, where: Where, *, noun: str, plural: str | None = None,
              low: int = 0, high: int | None = None) -> list[Any]:
        """A list of ``low``..``high`` elements; ``noun``/``plural`` name them in messages."""
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list of {plural or noun + 's'}, got {describe_value(value)}")
        size = len(value)
        if size < low:
            raise self.fail(where, f"has {count_text(size, noun, plural)}; at least {low} needed")
        if high is not None and size > high:
            raise self.fail(where, f"has {count_text(size, noun, plural)}; the limit is {high}")
        return value

    def required_array(self, obj: Mapping[str, Any], where: Where, name: str, *, expected: str, noun: str,
                       plural: str | None = None, low: int = 0, high: int | None = None) -> list[Any]:
        """Field ``name`` of ``obj``: present (``expected`` says what it holds) and a list of
        ``low``..``high`` elements, as ``array`` checks it."""
        return self.array(self.required(obj, where, name, expected=expected), where.field(name),
                          noun=noun, plural=plural, low=low, high=high)

    def text_list(self, obj: Mapping[str, Any], where: Where, name: str, *, expected: str, noun: str,
                  low: int, high: int, limit: int) -> list[str]:
        """Field ``name`` of ``obj``: a list of ``low``..``high`` non-blank strings of at most
        ``limit`` characters each (labels, column names, list items)."""
        at = where.field(name)
        values = self.required_array(obj, where, name, expected=expected, noun=noun, low=low, high=high)
        return [self.text(value, at.index(position), limit=limit) for position, value in enumerate(values)]

    # --- helpers -----------------------------------------------------------------------------
    def _trimmed(self, text: str, where: Where) -> str:
        trimmed = js_trim(text)
        if trimmed != text and self.strict:
            raise self.fail(where, "has leading or trailing whitespace")
        return trimmed

    def _check_length(self, text: str, where: Where, limit: int) -> None:
        length = js_length(text)
        if length > limit:
            raise self.fail(where, f"is {length:,} characters; the limit is {limit:,}")


def _cut(trimmed: str, limit: int) -> str:
    """``trimmed`` cut to ``limit`` UTF-16 units and trimmed again: a cut can end in whitespace
    (``"a … a b"`` cut before the ``b``), which the stored form must not."""
    return js_trim(js_cut(trimmed, limit))


def is_absent(value: Any) -> bool:
    """True for what ``Reader.optional`` returns when the field is not there."""
    return value is _ABSENT
