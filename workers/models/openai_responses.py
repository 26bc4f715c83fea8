"""The ``openai-responses`` handle: OpenAI's Responses API, as the official runner uses it.

Each round is one non-streaming ``POST {base_url}/responses`` with the job's instructions,
the function tools, ``tool_choice: "auto"`` and ``parallel_tool_calls: true``. The first
round sends the user message; later rounds send ``function_call_output`` items (and, during
repair, a user message) chained to the previous answer by ``previous_response_id``, so the
server keeps the history. Whether the model called tools is read from the ``function_call``
items of ``output``, never from status fields.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workers.models.answer_fields import array_at, object_at
from workers.models.base import InputItem, ModelError, ModelTurn, ToolCall, ToolResult, ToolSpec, UserText
from workers.models.http_client import ModelHttpClient
from workers.models.http_handle import HttpModelHandle
from workers.models.rounds import (
    arguments_text,
    content_text,
    plain_json,
    split_items,
    token_usage,
    with_one_trim,
)
from workers.models.trimming import shrink_within

ENDPOINT = "responses"


class OpenAIResponsesHandle(HttpModelHandle):
    """One per worker: holds the HTTP client; each job gets a ``ResponsesSession``."""

    endpoint = ENDPOINT
    other_api = ("openai-chat", "chat/completions")

    def open_session(self, *, instructions: str, tools: Sequence[ToolSpec]) -> ResponsesSession:
        return ResponsesSession(client=self._client, model=self._model, instructions=instructions, tools=tools)

    def _summary_body(self, prompt: str, *, instructions: str) -> dict[str, Any]:
        return {"model": self._summary_model, "instructions": instructions,
                "input": [_user_message(prompt)], "stream": False}

    def _answer_text(self, data: dict[str, Any]) -> str:
        return parse_response(data)[0].text


class ResponsesSession:
    """One job's conversation, chained server-side by ``previous_response_id``."""

    def __init__(self, *, client: ModelHttpClient, model: str, instructions: str,
                 tools: Sequence[ToolSpec]) -> None:
        self._client = client
        self._model = model
        self._instructions = instructions
        self._tools = [function_tool(spec) for spec in tools]
        self._previous_id: str | None = None

    def send(self, items: Sequence[InputItem], *, timeout: float | None = None) -> ModelTurn:
        """One round. On a context overflow it retries once with ``truncation: "auto"`` and,
        on the first round, the user input trimmed from the middle."""
        results, texts = split_items(items)

        def attempt(ratio: float | None, remaining: float | None) -> dict[str, Any]:
            body = self._body(results, self._trimmed(texts, ratio))
            if ratio is not None:
                body["truncation"] = "auto"
            return self._client.post(ENDPOINT, body, timeout=remaining)

        turn, self._previous_id = parse_response(with_one_trim(attempt, timeout=timeout))
        return turn

    def _body(self, results: list[ToolResult], texts: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model, "instructions": self._instructions,
            "input": [{"type": "function_call_output", "call_id": result.call_id, "output": result.output}
                      for result in results] + [_user_message(text) for text in texts],
            "stream": False,
        }
        if self._tools:
            body.update(tools=self._tools, tool_choice="auto", parallel_tool_calls=True)
        if self._previous_id is not None:
            body["previous_response_id"] = self._previous_id
        return body

    def _trimmed(self, texts: list[UserText], ratio: float | None) -> list[str]:
        """The user texts to send; after an overflow on the first round the longest loses its middle."""
        plain = [item.text for item in texts]
        if ratio is None or self._previous_id is not None or not plain:
            return plain
        longest = max(range(len(plain)), key=lambda index: len(plain[index]))
        total = len(self._instructions) + sum(len(text) for text in plain)
        plain[longest] = shrink_within(plain[longest], total_chars=total, ratio=ratio)
        return plain


def function_tool(spec: ToolSpec) -> dict[str, Any]:
    """A ``ToolSpec`` as a Responses API function tool."""
    return {"type": "function", "name": spec.name, "description": spec.description,
            "parameters": plain_json(spec.parameters), "strict": False}


def parse_response(data: dict[str, Any]) -> tuple[ModelTurn, str]:
    """The turn (text and tool calls) and response id of a Responses API answer."""
    response_id = data.get("id")
    if not isinstance(response_id, str) or not response_id:
        raise ModelError(f"{ENDPOINT}: answer has no response id")
    status = data.get("status")
    if status == "failed":
        error = object_at(data, "error")
        raise ModelError(f"{ENDPOINT}: response failed: {error.get('message') or 'no reason given'}",
                         code=error.get("code") if isinstance(error.get("code"), str) else None)
    calls: list[ToolCall] = []
    texts: list[str] = []
    for index, item in enumerate(array_at(data, "output")):
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call":
            call_id = item.get("call_id") or item.get("id") or f"{response_id}_call_{index}"
            calls.append(ToolCall(call_id=str(call_id), name=str(item.get("name") or ""),
                                  arguments=arguments_text(item.get("arguments"))))
        elif item.get("type") == "message":
            texts.append(content_text(item.get("content")))
    text = "\n".join(part for part in texts if part)
    if not text and not texts and isinstance(data.get("output_text"), str):
        text = data["output_text"]
    if status == "incomplete" and not calls and not text:
        details = object_at(data, "incomplete_details")
        raise ModelError(f"{ENDPOINT}: response incomplete ({details.get('reason') or 'no reason given'}) "
                         "with no text and no tool calls", code="incomplete")
    usage = token_usage(data.get("usage"), input_key="input_tokens", output_key="output_tokens")
    return ModelTurn(text=text, tool_calls=tuple(calls), usage=usage), response_id


def _user_message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": text}
