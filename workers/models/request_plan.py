"""Plan a chat request that fits the model's window, with room left for the answer.

Given the whole conversation and the tools, ``plan_chat_request`` tries ever smaller
requests, cheapest loss first, and returns the first whose estimated size fits
``window - reserve`` tokens:

1. everything as it is (on a window of at most ``SMALL_WINDOW`` tokens, the small models'
   windows, steps 1-3 are skipped: only the compact tools the ask needs are offered);
2. tool schemas compacted (``tool_fit.compact_tool``);
3. earlier tool-call arguments and tool results in the history shortened (the
   deliverables already exist; the model needs to know what it did, not every byte again);
4. only the tools the ask needs (``tool_fit.tools_for_ask``);
5. the longest user message loses its middle (head and tail kept, never below
   ``MIN_USER_CHARS``);
6. no tools at all (a text answer beats no answer).

When even the smallest request does not fit, ``ModelContextTooLong`` names the window and
the need. The plan never changes the caller's messages; it returns new lists.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workers.models.base import ModelContextTooLong, ToolSpec
from workers.models.tool_fit import compact_tool, tools_for_ask
from workers.models.trimming import cut_text, trim_middle
from workers.models.window import TokenEstimate

log = logging.getLogger("xenon.worker.model")

Message = dict[str, Any]

SMALL_WINDOW = 8192  # tokens: up to this, only the tools the ask needs are offered, compacted
MIN_USER_CHARS = 400  # a user message is never trimmed below this (or below its own length)
HISTORY_VALUE_CHARS = 80  # a string inside earlier tool arguments keeps this many characters
HISTORY_LIST_ITEMS = 3  # a list inside earlier tool arguments keeps this many items
HISTORY_RESULT_CHARS = 300  # an earlier tool result keeps this many characters


@dataclass(frozen=True, kw_only=True)
class ChatPlan:
    """What to send: the messages, the tools (``ToolSpec``s, maybe compacted), and the
    estimated prompt size in tokens; ``steps`` names what was given up to fit."""

    messages: list[Message]
    tools: list[ToolSpec]
    tokens: int
    steps: tuple[str, ...] = ()


def plan_chat_request(*, messages: Sequence[Message], tools: Sequence[ToolSpec], window: int, reserve: int,
                      estimate: TokenEstimate, render_tool: Callable[[ToolSpec], Mapping[str, Any]]) -> ChatPlan:
    """The first request, in the order of the module docstring, that fits ``window - reserve``."""
    budget = window - reserve  # tokens the prompt may take

    def size(sent: Sequence[Message], offered: Sequence[ToolSpec]) -> int:
        return estimate.of_messages(sent) + estimate.of_tools([render_tool(spec) for spec in offered])

    compact = [compact_tool(spec) for spec in tools]
    needed = tools_for_ask(compact, _ask_text(messages))
    fewer = f"{len(needed)} of {len(tools)} tools"
    shortened = shorten_history(messages)
    candidates: list[tuple[tuple[str, ...], list[Message], list[ToolSpec]]] = [
        ((), list(messages), list(tools)),
        (("compact tools",), list(messages), compact),
        (("compact tools", "earlier tool calls shortened"), shortened, compact),
        (("compact tools", "earlier tool calls shortened", fewer), shortened, needed),
    ]
    if window <= SMALL_WINDOW:  # a small model: every schema costs prompt time and confuses the choice
        candidates = [(("compact tools", fewer), list(messages), needed), *candidates[3:]]
    for steps, sent, offered in candidates:
        tokens = size(sent, offered)
        if tokens <= budget:
            return _chosen(ChatPlan(messages=sent, tools=offered, tokens=tokens, steps=steps))
    smallest = 0
    for steps, offered in (((f"{len(needed)} of {len(tools)} tools",), needed), (("no tools",), [])):
        tool_tokens = size([], offered)
        trimmed = _trim_longest_user(shortened, budget - tool_tokens, estimate)
        tokens = size(trimmed, offered)
        smallest = tokens
        if tokens <= budget:
            return _chosen(ChatPlan(messages=trimmed, tools=offered, tokens=tokens,
                                    steps=("compact tools", "earlier tool calls shortened", *steps,
                                           "longest user message trimmed")))
    raise ModelContextTooLong(
        f"the request does not fit the model's context window: even the smallest request needs about "
        f"{smallest + reserve} tokens ({smallest} for the prompt, {reserve} kept for the answer) and the window "
        f"is {window} tokens (model.context_window; raise it on the server, e.g. llama.cpp --ctx-size / "
        f"--n_ctx, Ollama num_ctx)", code="context_window")


def shorten_history(messages: Sequence[Message]) -> list[Message]:
    """``messages`` with every tool call's arguments and every tool result shortened."""
    shortened: list[Message] = []
    for message in messages:
        if message.get("role") == "assistant" and message.get("tool_calls"):
            calls = [{**call, "function": {**call["function"],
                                           "arguments": shorten_arguments(call["function"].get("arguments"))}}
                     if isinstance(call, dict) and isinstance(call.get("function"), dict) else call
                     for call in message["tool_calls"]]
            shortened.append({**message, "tool_calls": calls})
        elif message.get("role") == "tool" and isinstance(message.get("content"), str):
            shortened.append({**message, "content": cut_text(message["content"], HISTORY_RESULT_CHARS)})
        else:
            shortened.append(message)
    return shortened


def shorten_arguments(arguments: Any) -> str:
    """Tool-call arguments with long strings cut and long lists kept to their first items
    (still a JSON object, so servers that parse history arguments accept it)."""
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return "{}"
    if not isinstance(parsed, dict):
        return "{}"
    return json.dumps(_shorten_value(parsed))


def _shorten_value(value: Any) -> Any:
    if isinstance(value, str):
        return cut_text(value, HISTORY_VALUE_CHARS)
    if isinstance(value, list):
        kept = [_shorten_value(item) for item in value[:HISTORY_LIST_ITEMS]]
        return kept + ([f"… {len(value) - HISTORY_LIST_ITEMS} more"] if len(value) > HISTORY_LIST_ITEMS else [])
    if isinstance(value, dict):
        return {key: _shorten_value(item) for key, item in value.items()}
    return value


def _trim_longest_user(messages: list[Message], budget: int, estimate: TokenEstimate) -> list[Message]:
    """``messages`` with the longest user message trimmed so the whole fits ``budget`` tokens,
    if it can without going below ``MIN_USER_CHARS``; else as close as that allows."""
    users = [index for index, message in enumerate(messages)
             if message.get("role") == "user" and isinstance(message.get("content"), str)]
    if not users:
        return messages
    longest = max(users, key=lambda index: len(messages[index]["content"]))
    text = messages[longest]["content"]
    excess = estimate.of_messages(messages) - budget  # tokens
    if excess <= 0:
        return messages
    target = max(min(len(text), MIN_USER_CHARS), len(text) - int(excess * estimate.chars_per_token) - 1)
    trimmed = list(messages)
    trimmed[longest] = {**messages[longest], "content": trim_middle(text, target)}
    return trimmed


def _ask_text(messages: Sequence[Message]) -> str:
    return "\n".join(message["content"] for message in messages
                     if message.get("role") == "user" and isinstance(message.get("content"), str))


def _chosen(plan: ChatPlan) -> ChatPlan:
    if plan.steps:
        log.info("request fitted to the model's window (~%d prompt tokens): %s", plan.tokens, ", ".join(plan.steps))
    return plan
