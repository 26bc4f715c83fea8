"""Pieces both HTTP handles use around a model call: input checks, trim-once-and-retry,
and the lenient readers of answer fields (content, tool arguments, usage)."""
from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from workers.models.base import InputItem, ModelContextTooLong, ToolResult, UserText
from workers.models.http_client import ContextOverflow
from workers.models.trimming import keep_ratio

T = TypeVar("T")

_CODE_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)

RoundAttempt = Callable[[float | None, float | None], T]
"""``attempt(keep_ratio, timeout)``: keep_ratio None = send as is, else the share to keep."""


def split_items(items: Sequence[InputItem]) -> tuple[list[ToolResult], list[UserText]]:
    """Tool results and user texts of one round, each in order (results go first on the wire)."""
    if not items:
        raise ValueError("a model round needs at least one input item (UserText or ToolResult)")
    results: list[ToolResult] = []
    texts: list[UserText] = []
    for item in items:
        if isinstance(item, ToolResult):
            results.append(item)
        elif isinstance(item, UserText):
            texts.append(item)
        else:
            raise TypeError(f"model input items must be UserText or ToolResult, got {type(item).__name__}")
    return results, texts


def with_one_trim(attempt: RoundAttempt[T], *, timeout: float | None,
                  clock: Callable[[], float] = time.monotonic) -> T:
    """Run ``attempt``; if the prompt overflows the context, trim once and run it again.

    The second overflow becomes ``ModelContextTooLong``. ``timeout`` (seconds) covers both
    attempts together.
    """
    started = clock()

    def remaining() -> float | None:
        return None if timeout is None else max(0.0, timeout - (clock() - started))

    try:
        return attempt(None, remaining())
    except ContextOverflow as overflow:
        ratio = keep_ratio(overflow.fit_ratio)
    try:
        return attempt(ratio, remaining())
    except ContextOverflow as again:
        raise ModelContextTooLong(f"{again.reason} (still too long after trimming the input once)",
                                  status=again.status, code=again.code) from None


def token_usage(usage: Any, *, input_key: str, output_key: str) -> dict[str, int]:
    """The server's usage block as ``{"input_tokens", "output_tokens", "total_tokens"}``."""
    if not isinstance(usage, Mapping):
        return {}
    picked = {"input_tokens": usage.get(input_key), "output_tokens": usage.get(output_key),
              "total_tokens": usage.get("total_tokens")}
    return {name: value for name, value in picked.items()
            if isinstance(value, int) and not isinstance(value, bool)}


def arguments_text(value: Any) -> str:
    """Tool-call arguments as JSON text, however the server sent them.

    A JSON object passes through as sent. Servers and small models also send an object
    (serialised here), HTML-escaped JSON (``{&quot;a&quot;: 1}``), JSON wrapped in a code
    fence, or a JSON string holding the JSON text; each is unwrapped when that gives a JSON
    object. Anything else passes through raw (the tool answers the model with the parse
    error); a missing value becomes ``{}``.
    """
    if value is None:
        return "{}"
    if not isinstance(value, str):
        return json.dumps(value)
    for candidate in _argument_readings(value):
        try:
            parsed = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(parsed, str) and _is_json_object(parsed):
            return parsed.strip()
        if isinstance(parsed, dict):
            return candidate if candidate is value else json.dumps(parsed)
    return value


def _argument_readings(text: str) -> list[str]:
    """``text`` itself first, then the unwrapped readings of it worth trying."""
    readings = [text]
    stripped = text.strip()
    fence = _CODE_FENCE.fullmatch(stripped)
    if fence:
        stripped = fence.group(1).strip()
    readings.append(stripped)
    if "&" in stripped:
        readings.append(html.unescape(stripped))
    return readings


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def plain_json(value: Any) -> Any:
    """``value`` with every mapping turned into a dict and every sequence into a list."""
    if isinstance(value, Mapping):
        return {str(key): plain_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(item) for item in value]
    return value


def content_text(content: Any) -> str:
    """Text of a message ``content``: a string, or the text parts of a list (``output_text``
    in the Responses API, ``text`` in chat completions); None and other parts give ""."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(part["text"] for part in content
                   if isinstance(part, dict) and part.get("type") in ("output_text", "text")
                   and isinstance(part.get("text"), str))
