"""Read a streamed chat completion (``stream: true``, server-sent events) into one answer.

With streaming, a long answer keeps the connection busy with small events, so the read
timeout (silence between events) can be short and still let a slow model finish, while a
server that stops producing fails fast; leaving the read early closes the connection, which
llama.cpp, vLLM and Ollama take as "stop generating". The events are folded into the shape
of a non-streamed answer (``choices[0].message`` with ``content`` and ``tool_calls``,
``finish_reason``, ``usage``) so one parser reads both.

**The output budget is enforced here too.** Some servers ignore ``max_tokens`` (llama-cpp-python's
``chatml-function-calling`` format when the model picks a tool or a message itself), so the
events are counted while they arrive: each delta carrying new content or a tool-call argument
fragment counts as one token. llama.cpp (C++ and llama-cpp-python), vLLM and Ollama send about
one token per event; they may merge several tokens into one event (llama.cpp holds back the
bytes of an unfinished UTF-8 character or a possible stop string, vLLM batches under load), so
the count errs low and the cut comes no earlier than the server's own limit would. Past
``max_tokens`` + ``BUDGET_MARGIN`` counted events the read stops, and the answer is reported
cut (``finish_reason: "length"``) with what was whole in it: the text so far and the tool calls
finished before the one being written. Leaving the read closes the connection (the caller's
exchange), which llama.cpp, vLLM and Ollama take as "stop generating".

Servers differ in the details this tolerates: tool-call fragments keyed by ``index``
(OpenAI, vLLM, llama.cpp) or whole calls in one event (Ollama), arguments as string
fragments or as an object, ``usage`` in the last event or absent, an ``error`` event, and a
stream cut short (``StreamEndedEarly``).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from workers.models.answer_fields import object_at
from workers.models.base import ModelError

log = logging.getLogger("xenon.worker.model")

DONE = "[DONE]"
BUDGET_MARGIN = 16  # events read past max_tokens before the cut: slack for servers that split a token in two


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


def collect_chat_stream(chunks: Iterable[bytes], *, endpoint: str, max_tokens: int | None = None) -> dict[str, Any]:
    """The streamed answer (server-sent event bytes) as a chat-completions answer body, read
    no further than ``max_tokens`` (None: no limit) plus ``BUDGET_MARGIN`` events."""
    return fold_chat_events(_decoded_events(chunks), endpoint=endpoint, max_tokens=max_tokens)


def _decoded_events(chunks: Iterable[bytes]) -> Iterator[Any]:
    for payload in sse_data(chunks):
        if payload.strip() == DONE:
            return
        try:
            yield json.loads(payload)
        except ValueError:
            continue  # a comment or keep-alive some servers send


def fold_chat_events(events: Iterable[Any], *, endpoint: str, max_tokens: int | None = None) -> dict[str, Any]:
    """Streamed chat-completion chunks (decoded) folded into one chat-completions answer body;
    past ``max_tokens`` + ``BUDGET_MARGIN`` counted events, the answer so far, cut."""
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish_reason: str | None = None
    usage: Any = None
    counted = 0  # events that carried output: about one token each
    allowed = None if not max_tokens or max_tokens < 1 else max_tokens + BUDGET_MARGIN
    writing: int | None = None  # index of the tool call whose arguments arrived last
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
        if isinstance(delta.get("content"), str) and delta["content"]:
            content.append(delta["content"])
            counted += 1
        for position, fragment in enumerate(delta.get("tool_calls") or []):
            if isinstance(fragment, dict):
                index = _merge_call(calls, fragment, position)
                arguments = object_at(fragment, "function").get("arguments")
                if isinstance(arguments, str) and arguments:
                    writing, counted = index, counted + 1
                elif arguments is not None and arguments != "":  # a whole call in one event (Ollama)
                    counted += 1
        if allowed is not None and counted > allowed and finish_reason is None:
            log.warning("%s: the server streamed past max_tokens (%d; %d output events read): stopped reading, "
                        "closed the connection, and took the answer as cut at the output limit",
                        endpoint, max_tokens, counted)
            if writing is not None:
                del calls[writing]  # unfinished: its arguments stop mid-way
            finish_reason = "length"
            break
    if finish_reason is None:
        raise StreamEndedEarly(f"{endpoint}: the streamed answer ended before the model finished (no "
                               "finish_reason): the server failed while answering", code="stream_ended_early")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    return {"choices": [{"index": 0, "message": message, "finish_reason": finish_reason}], "usage": usage}


def _merge_call(calls: dict[int, dict[str, Any]], fragment: dict[str, Any], position: int) -> int:
    """Add ``fragment`` to the call it belongs to; that call's index."""
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
    return index
