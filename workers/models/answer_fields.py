"""Typed, lenient reads of one field of a model server's JSON answer.

A server's answer is read, never trusted: a field of the wrong JSON type reads as empty,
so the caller decides what a missing part means (the same as an absent one).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def object_at(answer: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``answer[key]`` when it is a JSON object, else ``{}``."""
    value = answer.get(key)
    return value if isinstance(value, dict) else {}


def array_at(answer: Mapping[str, Any], key: str) -> list[Any]:
    """``answer[key]`` when it is a JSON array, else ``[]``."""
    value = answer.get(key)
    return value if isinstance(value, list) else []
