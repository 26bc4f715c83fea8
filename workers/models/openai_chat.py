"""The ``openai-chat`` handle: ``/chat/completions`` for vLLM, Ollama, llama.cpp, LM Studio.

Chat completions are stateless, so the session keeps the message list itself: a system
message (the instructions), user messages, assistant messages with their ``tool_calls``
and one ``tool`` message per call, answered by ``tool_call_id``. Local servers are loose
about the answer's shape, so parsing tolerates ``content: null``, tool calls without ids
(stable ones are made up and kept in the history), and arguments sent as a JSON object,
HTML-escaped or fenced instead of a JSON string. Strict about what we send: an assistant
turn that carries tool calls has ``content: ""`` (never null: llama.cpp rejects it). Tool
calls are read from ``message.tool_calls``, never from ``finish_reason``.
"""
from __future__ import annotations

from typing import Any, Sequence

from workers.models.base import InputItem, ModelError, ModelTurn, ToolCall, ToolSpec
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

ENDPOINT = "chat/completions"
Message = dict[str, Any]


class OpenAIChatHandle(HttpModelHandle):
    """One per worker: holds the HTTP client; each job gets a ``ChatSession``."""

    endpoint = ENDPOINT

    def open_session(self, *, instructions: str, tools: Sequence[ToolSpec]) -> ChatSession:
        return ChatSession(client=self._client, model=self._model, instructions=instructions, tools=tools)

    def _summary_body(self, prompt: str, *, instructions: str) -> dict[str, Any]:
        return {"model": self._summary_model, "stream": False,
                "messages": _system(instructions) + [{"role": "user", "content": prompt}]}

    def _answer_text(self, data: dict[str, Any]) -> str:
        return parse_chat_answer(data, round_number=0)[0].text


class ChatSession:
    """One job's conversation; the whole message list travels with every round."""

    def __init__(self, *, client: ModelHttpClient, model: str, instructions: str,
                 tools: Sequence[ToolSpec]) -> None:
        self._client = client
        self._model = model
        self._tools = [chat_tool(spec) for spec in tools]
        self._messages: list[Message] = _system(instructions)
        self._rounds = 0

    def send(self, items: Sequence[InputItem], *, timeout: float | None = None) -> ModelTurn:
        """One round. On a context overflow the longest user message loses its middle and
        the round is retried once; the trimmed history is kept for later rounds."""
        results, texts = split_items(items)
        messages = self._messages + [
            {"role": "tool", "tool_call_id": result.call_id, "content": result.output} for result in results
        ] + [{"role": "user", "content": item.text} for item in texts]

        def attempt(ratio: float | None, remaining: float | None) -> tuple[list[Message], dict[str, Any]]:
            sent = messages if ratio is None else shorten_longest_user_message(messages, ratio)
            return sent, self._client.post(ENDPOINT, self._body(sent), timeout=remaining)

        sent, data = with_one_trim(attempt, timeout=timeout)
        self._rounds += 1
        turn, assistant = parse_chat_answer(data, round_number=self._rounds)
        self._messages = sent + [assistant]
        return turn

    def _body(self, messages: list[Message]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self._model, "messages": messages, "stream": False}
        if self._tools:
            body.update(tools=self._tools, tool_choice="auto", parallel_tool_calls=True)
        return body


def chat_tool(spec: ToolSpec) -> dict[str, Any]:
    """A ``ToolSpec`` in chat-completions form."""
    return {"type": "function", "function": {"name": spec.name, "description": spec.description,
                                             "parameters": plain_json(spec.parameters)}}


def shorten_longest_user_message(messages: list[Message], ratio: float) -> list[Message]:
    """A copy of ``messages`` whose longest user message lost its middle, so that the whole
    conversation shrinks to about ``ratio`` of its size."""
    lengths = [len(message.get("content") or "") if isinstance(message.get("content"), str) else 0
               for message in messages]
    users = [index for index, message in enumerate(messages) if message.get("role") == "user"]
    if not users:
        return messages
    longest = max(users, key=lambda index: lengths[index])
    shortened = list(messages)
    content = messages[longest]["content"]
    shortened[longest] = {**messages[longest],
                          "content": shrink_within(content, total_chars=sum(lengths), ratio=ratio)}
    return shortened


def parse_chat_answer(data: dict[str, Any], *, round_number: int) -> tuple[ModelTurn, Message]:
    """The turn of a chat-completions answer and the assistant message to keep in history.

    Calls without an id get ``call_<round>_<index>``, unique within the session.
    """
    choices = data.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict):
        raise ModelError(f"{ENDPOINT}: answer has no choices[0].message")
    text = content_text(message.get("content"))
    calls: list[ToolCall] = []
    raw_calls = message.get("tool_calls") if isinstance(message.get("tool_calls"), list) else []
    for index, raw in enumerate(raw_calls):
        if not isinstance(raw, dict):
            continue
        function = raw.get("function") if isinstance(raw.get("function"), dict) else {}
        given_id = raw.get("id")
        call_id = given_id if isinstance(given_id, str) and given_id else f"call_{round_number}_{index}"
        calls.append(ToolCall(call_id=call_id, name=str(function.get("name") or ""),
                              arguments=arguments_text(function.get("arguments"))))
    if not calls and not text and first.get("finish_reason") == "length":
        raise ModelError(f"{ENDPOINT}: answer cut at the output token limit with no text and no tool calls",
                         code="incomplete")
    # "" and never null: llama.cpp's server answers 500 to a null (or missing) content.
    assistant: Message = {"role": "assistant", "content": text}
    if calls:
        assistant["tool_calls"] = [
            {"id": call.call_id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in calls]
    usage = token_usage(data.get("usage"), input_key="prompt_tokens", output_key="completion_tokens")
    return ModelTurn(text=text, tool_calls=tuple(calls), usage=usage), assistant


def _system(instructions: str) -> list[Message]:
    return [{"role": "system", "content": instructions}] if instructions else []
