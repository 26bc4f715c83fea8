"""Reading request bodies: JSON objects and typed fields, with errors that name the field.

Every helper raises ``ApiError(400, ...)`` naming what is wrong, so a route reads its
inputs in a few lines and malformed requests never reach the state.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from emulator.errors import ApiError
from shared.http.json_types import json_type


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_object(raw: bytes, *, empty_ok: bool) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is ``{}`` only when ``empty_ok``.

    NaN and Infinity are refused like a JavaScript server would.
    """
    if not raw.strip():
        if empty_ok:
            return {}
        raise ApiError(400, "request body is empty: send a JSON object")
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "request body is not valid JSON", {"reason": str(exc)[:200]}) from None
    if not isinstance(value, dict):
        raise ApiError(400, f"request body must be a JSON object, got {json_type(value)}")
    return value


def require_str(body: Mapping[str, Any], key: str, *, allow_empty: bool = False,
                max_chars: int | None = None) -> str:
    """``body[key]`` as a string (non-blank unless ``allow_empty``), at most ``max_chars`` long."""
    if key not in body:
        raise ApiError(400, f"missing field {key!r} (string)")
    return _check_str(body[key], key, allow_empty=allow_empty, max_chars=max_chars)


def optional_str(body: Mapping[str, Any], key: str, *, max_chars: int | None = None) -> str | None:
    """``body[key]`` as a string, or None when absent or null."""
    value = body.get(key)
    if value is None:
        return None
    return _check_str(value, key, allow_empty=True, max_chars=max_chars)


def _check_str(value: Any, key: str, *, allow_empty: bool, max_chars: int | None) -> str:
    if not isinstance(value, str):
        raise ApiError(400, f"field {key!r} must be a string, got {json_type(value)}")
    if not allow_empty and not value.strip():
        raise ApiError(400, f"field {key!r} must not be blank")
    if max_chars is not None and len(value) > max_chars:
        raise ApiError(400, f"field {key!r} is {len(value)} chars, at most {max_chars} allowed")
    return value


def optional_bool(body: Mapping[str, Any], key: str, *, default: bool) -> bool:
    """``body[key]`` as a boolean, ``default`` when absent."""
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise ApiError(400, f"field {key!r} must be a boolean, got {json_type(value)}")
    return value


def optional_number(body: Mapping[str, Any], key: str, *, default: float, minimum: float,
                    maximum: float) -> float:
    """``body[key]`` as a finite number within [minimum, maximum], ``default`` when absent."""
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ApiError(400, f"field {key!r} must be a number, got {json_type(value)}")
    if not minimum <= value <= maximum:
        raise ApiError(400, f"field {key!r} must be between {minimum:g} and {maximum:g}, got {value:g}")
    return float(value)


def reject_unknown(body: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """400 naming every key of ``body`` outside ``allowed`` (admin inputs are strict)."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(unknown)}", {"allowed": sorted(allowed)})


def bearer_token(authorization: str | None) -> str | None:
    """The value of ``Authorization: Bearer <value>``, or None when absent or another scheme."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
