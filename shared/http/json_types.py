"""The JSON name of a decoded value's type, for error texts about request and answer bodies.

One naming for the cloud client (answers it cannot use) and the emulator (requests it
refuses), so both say "got an array" the same way.
"""
from __future__ import annotations

from typing import Any


def json_type(value: Any) -> str:
    """``null``, ``boolean``, ``number``, ``string``, ``array`` or ``object``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_type_with_article(value: Any) -> str:
    """``null``, ``a boolean``, ``a number``, ``a string``, ``an array`` or ``an object``."""
    name = json_type(value)
    if value is None:
        return name
    return ("an " if name[0] in "aeiou" else "a ") + name
