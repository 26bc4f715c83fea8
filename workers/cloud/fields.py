"""Read the fields the protocol promises from a 2xx answer, or say exactly what is wrong.

Each reader raises ``MalformedResponse`` naming the route, the field and what arrived
instead; unknown extra fields are ignored, as the protocol asks.
"""
from __future__ import annotations

import json
import math
from typing import Any

from workers.cloud.errors import MalformedResponse, quote_server_text
from workers.cloud.transport import Reply
from workers.http.json_types import json_type_with_article


def json_object(reply: Reply) -> dict[str, Any]:
    """The reply body as a JSON object; an empty body counts as ``{}``."""
    if not reply.content.strip():
        return {}
    try:
        body = json.loads(reply.content)
    except ValueError:
        preview = quote_server_text(reply.content.decode("utf-8", errors="replace"), limit=120)
        raise _malformed(reply, f"the body is not JSON: {preview}") from None
    if not isinstance(body, dict):
        raise _malformed(reply, f"expected a JSON object, got {json_type_with_article(body)}")
    return body


def require_bool(reply: Reply, body: dict[str, Any], key: str) -> bool:
    value = _require(reply, body, key)
    if not isinstance(value, bool):
        raise _wrong_type(reply, key, "a boolean", value)
    return value


def require_str(reply: Reply, body: dict[str, Any], key: str) -> str:
    value = _require(reply, body, key)
    if not isinstance(value, str):
        raise _wrong_type(reply, key, "a string", value)
    return value


def require_epoch_ms(reply: Reply, body: dict[str, Any], key: str) -> int:
    """A finite JSON number of epoch milliseconds, as an int."""
    value = _require(reply, body, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _wrong_type(reply, key, "a finite number (epoch milliseconds)", value)
    return int(value)


def optional_object(reply: Reply, body: dict[str, Any], key: str) -> dict[str, Any]:
    """A JSON object field, ``{}`` when absent or null."""
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _wrong_type(reply, key, "a JSON object", value)
    return value


def optional_str(reply: Reply, body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise _wrong_type(reply, key, "a string or null", value)
    return value


def _require(reply: Reply, body: dict[str, Any], key: str) -> Any:
    if key not in body:
        raise _malformed(reply, f"field {key!r} is missing")
    return body[key]


def _wrong_type(reply: Reply, key: str, expected: str, value: Any) -> MalformedResponse:
    return _malformed(reply, f"field {key!r} should be {expected}, got {json_type_with_article(value)} "
                             f"{quote_server_text(json.dumps(value) if isinstance(value, str) else value, limit=60)}")


def _malformed(reply: Reply, problem: str) -> MalformedResponse:
    return MalformedResponse(f"POST {reply.route}: HTTP {reply.status} answer unusable: {problem}",
                             route=reply.route, status=reply.status)
