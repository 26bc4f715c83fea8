"""Read the fields the protocol promises from a 2xx answer, or say exactly what is wrong.

Each reader raises ``MalformedResponse`` naming the route, the field and the rule it broke;
unknown extra fields are ignored, as the protocol asks. Nothing an answer holds is trusted:
JSON nested too deeply is refused while parsing, numbers must be finite, ids must be
non-empty, at most ``MAX_ID_CHARS`` long and free of control characters, epoch times must
be finite and within ``EPOCH_MS_RANGE`` (compared before any conversion, so a 401-digit
integer is refused, not overflowed), and embedded records are bounded in size and depth.
"""
from __future__ import annotations

import json
import math
import unicodedata
from typing import Any

from shared.cloud.errors import MalformedResponse, quote_server_text
from shared.cloud.transport import Reply
from shared.http.json_types import json_type_with_article

MAX_ID_CHARS = 256  # characters of an id (workspaceId, instanceId, message id, ...)
MAX_NAME_CHARS = 200  # characters of an instance name
EPOCH_MS_RANGE = (946_684_800_000, 7_258_118_400_000)  # 2000-01-01 .. 2200-01-01, epoch milliseconds
MAX_RECORD_CHARS = 64 * 1024  # characters of an embedded record (the lease's workspace) as JSON
MAX_JSON_DEPTH = 32  # nesting of arrays and objects in an embedded record


def json_object(reply: Reply) -> dict[str, Any]:
    """The reply body as a JSON object; an empty body counts as ``{}``."""
    if not reply.content.strip():
        return {}
    try:
        body = json.loads(reply.content)
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad UTF-8 and over-long integers; RecursionError, nesting bombs.
        why = "nested too deeply" if isinstance(exc, RecursionError) else "not JSON"
        preview = quote_server_text(reply.content.decode("utf-8", errors="replace"), limit=120)  # redact, then cut
        raise _malformed(reply, f"the body is {why}: {preview}") from None
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


def require_id(reply: Reply, body: dict[str, Any], key: str) -> str:
    """A non-empty id of at most ``MAX_ID_CHARS`` characters, none of them a control character."""
    value = require_str(reply, body, key)
    problem = id_problem(value)
    if problem:
        raise _malformed(reply, f"field {key!r} {problem}")
    return value


def require_epoch_ms(reply: Reply, body: dict[str, Any], key: str) -> int:
    """A finite JSON number of epoch milliseconds within ``EPOCH_MS_RANGE``, as an int."""
    value = _require(reply, body, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
        raise _wrong_type(reply, key, "a finite number (epoch milliseconds)", value)
    low, high = EPOCH_MS_RANGE
    if not low <= value <= high:  # compared as is: int(1e400-digit) never happens
        shown = value if abs(value) < 10 ** 20 else f"a {len(str(abs(int(value))))}-digit number"
        raise _malformed(reply, f"field {key!r} should be epoch milliseconds between {low} and {high} "
                                f"(years 2000-2200), got {shown}")
    return int(value)


def optional_object(reply: Reply, body: dict[str, Any], key: str) -> dict[str, Any]:
    """A JSON object field, ``{}`` when absent or null, at most ``MAX_RECORD_CHARS`` as JSON and
    ``MAX_JSON_DEPTH`` deep (it is kept for the job's life and crosses the worker's pipe)."""
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _wrong_type(reply, key, "a JSON object", value)
    if json_depth(value) > MAX_JSON_DEPTH:
        raise _malformed(reply, f"field {key!r} is nested deeper than {MAX_JSON_DEPTH} levels")
    size = len(json.dumps(value, ensure_ascii=False))
    if size > MAX_RECORD_CHARS:
        raise _malformed(reply, f"field {key!r} is {size} characters of JSON, over the {MAX_RECORD_CHARS} allowed")
    return value


def optional_str(reply: Reply, body: dict[str, Any], key: str, *, max_chars: int | None = None) -> str | None:
    """A string or null; with ``max_chars``, also bounded and free of control characters."""
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise _wrong_type(reply, key, "a string or null", value)
    if value is not None and max_chars is not None:
        problem = text_problem(value, max_chars=max_chars)
        if problem:
            raise _malformed(reply, f"field {key!r} {problem}")
    return value


def id_problem(value: str) -> str | None:
    """Why ``value`` is not a usable id (empty, too long, control characters), or None."""
    if not value:
        return "is empty"
    return text_problem(value, max_chars=MAX_ID_CHARS)


def text_problem(value: str, *, max_chars: int) -> str | None:
    """Why ``value`` is not a short one-line text (too long, control characters), or None."""
    if len(value) > max_chars:
        return f"is {len(value)} characters long, over the {max_chars} allowed"
    for char in value:
        if unicodedata.category(char)[0] == "C" or unicodedata.category(char) in ("Zl", "Zp"):
            return f"contains the control character U+{ord(char):04X}"
    return None


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (0 for a scalar); iterative, so a
    nesting bomb cannot exhaust the stack."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _finite(value: int | float) -> bool:
    return isinstance(value, int) or math.isfinite(value)



def _require(reply: Reply, body: dict[str, Any], key: str) -> Any:
    if key not in body:
        raise _malformed(reply, f"field {key!r} is missing")
    return body[key]


def _wrong_type(reply: Reply, key: str, expected: str, value: Any) -> MalformedResponse:
    if isinstance(value, (dict, list)):
        shown = ""  # a record's contents say nothing useful here and may be huge or deep
    else:
        shown = " " + quote_server_text(json.dumps(value) if isinstance(value, str) else _number_text(value), limit=60)
    return _malformed(reply, f"field {key!r} should be {expected}, got {json_type_with_article(value)}{shown}")


def _number_text(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** 20:
        return f"({len(str(abs(value)))} digits)"
    return str(value)


def _malformed(reply: Reply, problem: str) -> MalformedResponse:
    return MalformedResponse(f"POST {reply.route}: HTTP {reply.status} answer unusable: {problem}",
                             route=reply.route, status=reply.status)
