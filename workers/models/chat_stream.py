"""Read a streamed chat completion (``stream: true``, server-sent events) into one answer.

With streaming, a long answer keeps the connection busy with small events, so the read
timeout (silence between events) can be short and still let a slow model finish, while a
server that stops producing fails fast; leaving the read early closes the connection, which
llama.cpp, vLLM and Ollama take as "stop generating". The events are folded into the shape
of a non-streamed answer (``choices[0].message`` with ``content`` and ``tool_calls``,
``finish_reason``, ``usage``) so one parser reads both.

Servers differ in the details this tolerates: tool-call fragments keyed by ``index``
(OpenAI, vLLM, llama.cpp) or whole calls in one event (Ollama), arguments as string
fragments or as an object, ``usage`` in the last event or absent, an ``error`` event, and a
stream cut short (``StreamEndedEarly``).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from workers.models.answer_fields import object_at
from workers.models.base import ModelError

DONE = "[DONE]"


class StreamEndedEarly(ModelError):
    """The stream stopped without a ``finish_reason``: the server failed after it had answered
    200 (llama-cpp-python does so for a prompt over its window), so only a non-streamed try
    can tell why."""


def sse_data(chunks: Iterable[bytes]) -> Iterator[str]:
    """The ``data:`` payloads of a server-sent event stream, one per event."""
    buffer = b""
    data: list[str] = []
    for chunk in chunks:
        buffer += chunk
        while b"\n" in buffer:
            raw, buffer = buffer.split(b"\n", 1)
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if not line:
                if data:
                    yield "\n".join(data)
                    data = []
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
    if data:
        yield "\n".join(data)


def collect_chat_stream(chunks: Iterable[bytes], *, endpoint: str) -> dict[str, Any]:
    """The streamed answer (server-sent event bytes) as a chat-completions answer body."""
    return fold_chat_events(_decoded_events(chunks), endpoint=endpoint)


def _decoded_events(chunks: Iterable[bytes]) -> Iterator[Any]:
    for payload in sse_data(chunks):
        if payload.strip() == DONE:
            return
        try:
            yield json.loads(payload)
        except ValueError:
            continue  # a comment or keep-alive some servers send


def fold_chat_events(events: Iterable[Any], *, endpoint: str) -> dict[str, Any]:
    """Streamed chat-completion chunks (decoded) folded into one chat-completions answer body."""
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish_reason: str | None = None
    usage: Any = None
    for event in events:
        if not isinstance(event, dict):
            continue
        if event.get("error"):
            error = event["error"]
            said = error.get("message") if isinstance(error, dict) else str(error)
            raise ModelError(f"{endpoint}: the server ended the stream with an error: {str(said)[:300]}")
        usage = event.get("usage") or usage
        choices = event.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        finish_reason = choice.get("finish_reason") or finish_reason
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else choice.get("message")
        if not isinstance(delta, dict):
            continue
        if isinstance(delta.get("content"), str):
            content.append(delta["content"])
        for position, fragment in enumerate(delta.get("tool_calls") or []):
            if isinstance(fragment, dict):
                _merge_call(calls, fragment, position)
    if finish_reason is None:
        raise StreamEndedEarly(f"{endpoint}: the streamed answer ended before the model finished (no "
                               "finish_reason): the server failed while answering", code="stream_ended_early")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    return {"choices": [{"index": 0, "message": message, "finish_reason": finish_reason}], "usage": usage}


def _merge_call(calls: dict[int, dict[str, Any]], fragment: dict[str, Any], position: int) -> None:
    given = fragment.get("index")
    index = given if isinstance(given, int) else position
    call = calls.setdefault(index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
    if isinstance(fragment.get("id"), str) and fragment["id"]:
        call["id"] = fragment["id"]
    function = object_at(fragment, "function")
    if isinstance(function.get("name"), str) and function["name"]:
        call["function"]["name"] = function["name"]
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        previous = call["function"]["arguments"]
        call["function"]["arguments"] = (previous if isinstance(previous, str) else "") + arguments
    elif arguments is not None:  # a whole object in one event (Ollama)
        call["function"]["arguments"] = arguments
