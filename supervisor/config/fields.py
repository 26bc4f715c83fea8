"""Turn one raw YAML/env value into the typed value a config field declares.

The expectations come from the field's type and its ``setting`` metadata, and the same
wording is used for every field, e.g. ``expected an integer ≥ 1, got "many"``.
"""
from __future__ import annotations

import math
import re
from collections import abc
from collections.abc import Mapping
from dataclasses import MISSING, Field
from typing import Any, Union, get_args, get_origin

from shared.config.sections import EMBEDDED
from shared.http.urls import insecure_url_problem

from .errors import quote

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_SIZE_FACTORS = {"": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1024 ** 2, "mb": 1000 ** 2,
                 "mib": 1024 ** 2, "g": 1024 ** 3, "gb": 1000 ** 3, "gib": 1024 ** 3,
                 "t": 1024 ** 4, "tb": 1000 ** 4, "tib": 1024 ** 4}
MAX_INT_DIGITS = 30      # digits of an integer written as text (int() refuses 4,300+, and no field needs 30)
MAX_URL_CHARS = 2048     # characters of a URL
_USERINFO = re.compile(r"(?<=://)[^/?#@]*@")


class FieldValueError(ValueError):
    """The value does not fit the field; the message is the part after ``path: ``."""


def default_of(field: Field[Any]) -> Any:
    """The value ``field`` takes when neither the file nor the environment sets it."""
    if field.default is not MISSING:
        return field.default
    if field.default_factory is not MISSING:
        return field.default_factory()
    raise TypeError(f"config field {field.name} has no default")


def convert(field: Field[Any], annotation: Any, raw: Any, *, hidden: bool = False) -> Any:
    """The typed value for ``raw``, or FieldValueError saying what was expected.

    A secret field's value, or one that came from a ``${file:}`` (``hidden``), is never
    quoted in the error, not even a malformed one.
    """
    meta: Mapping[str, Any] = field.metadata
    kind = meta.get("kind")
    optional, base = unwrap_optional(annotation)
    if raw is None:
        if optional:
            return None
        raise FieldValueError(f"expected {describe(field, annotation)}, got nothing (null)")
    if kind == "secret" or hidden:
        try:
            return _convert(field, base, raw)
        except FieldValueError:
            # Never echo a secret back, not even a malformed one.
            raise FieldValueError(f"expected {describe(field, annotation)}, got a {type(raw).__name__} "
                                  "(value hidden)") from None
    return _convert(field, annotation, raw)


def _convert(field: Field[Any], annotation: Any, raw: Any) -> Any:
    meta: Mapping[str, Any] = field.metadata
    kind = meta.get("kind")
    _, base = unwrap_optional(annotation)
    if kind == "bytes":
        value: Any = _to_bytes(raw, field, annotation)
    elif base is int:
        value = _to_int(raw, field, annotation)
    elif base is float:
        value = _to_float(raw, field, annotation)
    elif base is str:
        value = _to_str(raw, field, annotation)
    elif get_origin(base) is tuple:
        value = _to_str_tuple(raw, field, annotation)
    elif get_origin(base) in (abc.Mapping, dict) or base is dict:
        if not isinstance(raw, Mapping):
            raise FieldValueError(f"expected a mapping of options, got {quote(raw)}")
        value = dict(raw)
    else:  # pragma: no cover - a new field type needs a converter here
        raise TypeError(f"no converter for {annotation!r}")
    _check_bounds(value, raw, field, annotation)
    return value


def describe(field: Field[Any], annotation: Any) -> str:
    """What a valid value looks like, in words: ``an integer ≥ 1``, ``one of text, json``."""
    meta = field.metadata
    _, base = unwrap_optional(annotation)
    if meta.get("choices"):
        return "one of " + ", ".join(meta["choices"])
    kind = meta.get("kind")
    if kind == "listen":
        return "HOST:PORT (e.g. 127.0.0.1:9464)"
    if kind == "url":
        return "an https:// URL (http:// only for loopback)"
    if kind == "bytes":
        noun = "a size in bytes (e.g. 536870912 or 512MiB)"
    elif base is int:
        noun = "an integer"
    elif base is float:
        noun = "a number of seconds" if kind == "duration" else "a number"
    elif get_origin(base) is tuple:
        return "a list of non-empty strings"
    else:
        return "a string"
    return noun + _bounds_text(meta)


def _bounds_text(meta: Mapping[str, Any]) -> str:
    low, high = meta.get("minimum"), meta.get("maximum")
    if low is not None and high is not None:
        if meta.get("exclusive_minimum"):
            return f" > {_num(low)} and ≤ {_num(high)}"
        return f" between {_num(low)} and {_num(high)}"
    if low is not None:
        return f" {'>' if meta.get('exclusive_minimum') else '≥'} {_num(low)}"
    if high is not None:
        return f" ≤ {_num(high)}"
    return ""


def _check_bounds(value: Any, raw: Any, field: Field[Any], annotation: Any) -> None:
    """Choices and numeric bounds; the message shows the value as the operator wrote it."""
    meta = field.metadata
    choices = meta.get("choices")
    if choices and value not in choices:
        raise FieldValueError(f"expected {describe(field, annotation)}, got {quote(raw)}")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    low, high = meta.get("minimum"), meta.get("maximum")
    too_low = low is not None and (value <= low if meta.get("exclusive_minimum") else value < low)
    if too_low or (high is not None and value > high):
        raise FieldValueError(f"expected {describe(field, annotation)}, got {quote(raw)}")


def _to_int(raw: Any, field: Field[Any], annotation: Any) -> int:
    if isinstance(raw, bool):
        raise FieldValueError(f"expected {describe(field, annotation)}, got {quote(raw)}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"\s*[+-]?\d+\s*", raw):
        if len(raw.strip().lstrip("+-")) > MAX_INT_DIGITS:
            raise FieldValueError(f"expected {describe(field, annotation)}, got a number of more than "
                                  f"{MAX_INT_DIGITS} digits")
        return int(raw)
    raise FieldValueError(f"expected {describe(field, annotation)}, got {quote(raw)}")


def _to_float(raw: Any, field: Field[Any], annotation: Any) -> float:
    value: float | None = None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw)
        except ValueError:
            value = None
    if value is None or not math.isfinite(value):
        raise FieldValueError(f"expected {describe(field, annotation)}, got {quote(raw)}")
    return value


def _to_str(raw: Any, field: Field[Any], annotation: Any) -> str:
    if not isinstance(raw, str):
        raise FieldValueError(f"expected {describe(field, annotation)}, got {quote(raw)}")
    kind = field.metadata.get("kind")
    if kind == "url":
        return _to_url(raw.strip(), field)
    if kind == "listen":
        return _to_listen(raw.strip())
    return raw


def _to_url(url: str, field: Field[Any]) -> str:
    if url == EMBEDDED and field.metadata.get("allow_embedded"):
        return url
    if len(url) > MAX_URL_CHARS:
        raise FieldValueError(f"expected a URL of at most {MAX_URL_CHARS} characters, got {len(url)}")
    # The rule's message quotes the URL: check one without user:password@ (it decides nothing).
    masked = _USERINFO.sub("***@", url)
    try:
        problem = insecure_url_problem(masked)
    except ValueError:   # urlsplit: a malformed IPv6 host or port
        problem = f"expected an http(s) URL like https://host[:port][/path], got {quote(masked)}"
    if problem:
        raise FieldValueError(problem)
    return url.rstrip("/")


def _to_listen(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not re.fullmatch(r"[0-9]{1,5}", port) or int(port) > 65535:
        raise FieldValueError(f"expected HOST:PORT (e.g. 127.0.0.1:9464), got {quote(text)}")
    return text


def _to_str_tuple(raw: Any, field: Field[Any], annotation: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(item, str) and item for item in raw):
        raise FieldValueError(f"expected {describe(field, annotation)}, got {quote(raw)}")
    return tuple(raw)


def _to_bytes(raw: Any, field: Field[Any], annotation: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        match = _SIZE.match(raw)
        if match:
            size = float(match.group(1)) * _SIZE_FACTORS[(match.group(2) or "").lower()]
            maximum = field.metadata.get("maximum")
            if math.isfinite(size) and (maximum is None or size <= maximum):
                return int(size)   # finite and bounded: int() cannot overflow
    raise FieldValueError(f"expected {describe(field, annotation)}, got {quote(raw)}")


def unwrap_optional(annotation: Any) -> tuple[bool, Any]:
    args = get_args(annotation)
    if get_origin(annotation) is Union or (args and type(None) in args and len(args) == 2):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and type(None) in args:
            return True, rest[0]
    return False, annotation


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
