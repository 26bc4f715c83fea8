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

import json
import logging
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import closing
from typing import Any, cast

from shared.config.sections import ModelConfig
from shared.http.bounded import StreamedAnswer
from shared.pipe.messages import ONCE_PER_POOL
from workers.models.answer_fields import array_at, object_at
from workers.models.base import InputItem, ModelError, ModelTurn, ToolCall, ToolSpec, UserText
from workers.models.chat_stream import StreamEndedEarly, collect_chat_stream
from workers.models.http_client import ContextOverflow, ModelHttpClient, RequestObserver
from workers.models.http_handle import HttpModelHandle
from workers.models.manners import (
    EMPTY_ANSWER_PROMPT,
    NO_ANSWER,
    SMALL_MODEL_TOOL_TURNS,
    SessionManners,
    is_empty,
)
from workers.models.request_plan import SMALL_WINDOW, ChatPlan, plan_chat_request
from workers.models.rounds import (
    arguments_text,
    content_text,
    plain_json,
    split_items,
    token_usage,
    with_one_trim,
)
from workers.models.trimming import shrink_within, trim_middle
from workers.models.window import ServerFacts

log = logging.getLogger("xenon.worker.model")
TOOL_STREAMS_CUT_KEY = "model-cuts-tool-streams"   # the once-per-pool key of the "tools off" notice

ENDPOINT = "chat/completions"
DEFAULT_ANSWER_RESERVE = 1024  # tokens kept for the answer when model.max_output_tokens is 0
Message = dict[str, Any]


class OpenAIChatHandle(HttpModelHandle):
    """One per worker: holds the HTTP client and what the server told about its window;
    each job gets a ``ChatSession``."""

    endpoint = ENDPOINT
    other_api = ("openai-responses", "responses")

    def __init__(self, *, config: ModelConfig, on_request: RequestObserver | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(config=config, on_request=on_request, sleep=sleep)
        self._facts = ServerFacts(base_url=config.base_url, model=config.model,
                                  configured_window=config.context_window, fetch=self._client.fetch_json)
        self._max_output_tokens = config.max_output_tokens
        self._stream = config.stream == "on"
        self._sampling = {name: value for name, value in (("temperature", config.temperature), ("seed", config.seed))
                          if value is not None}

    def open_session(self, *, instructions: str, tools: Sequence[ToolSpec]) -> ChatSession:
        return ChatSession(client=self._client, model=self._model, instructions=instructions, tools=tools,
                           facts=self._facts, max_output_tokens=self._max_output_tokens,
                           stream=self._stream, sampling=self._sampling)

    def _summary_body(self, prompt: str, *, instructions: str) -> dict[str, Any]:
        body = {"model": self._summary_model, "stream": False, **self._sampling,
                "messages": _system(instructions) + [{"role": "user", "content": prompt}]}
        if self._max_output_tokens:
            body["max_tokens"] = self._max_output_tokens
        return body

    def _answer_text(self, data: dict[str, Any]) -> str:
        return parse_chat_answer(data, round_number=0)[0].text

    def _post(self, body: dict[str, Any], *, timeout: float | None) -> dict[str, Any]:
        if self._stream:
            body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        return post_chat(self._client, body, stream=self._stream, timeout=timeout)

    def _fit_summary_input(self, text: str, *, instructions: str) -> str:
        window = self._facts.window()
        if window is None:
            return text
        reserve = self._max_output_tokens or min(DEFAULT_ANSWER_RESERVE, window // 4)  # tokens
        estimate = self._facts.estimate()
        room = window - reserve - estimate.of_messages([{"content": instructions}, {"content": ""}])  # tokens
        return trim_middle(text, max(0, int(room * estimate.chars_per_token)))


class ChatSession:
    """One job's conversation; the whole message list travels with every round, planned to
    fit the model's window when it is known (``request_plan``)."""

    def __init__(self, *, client: ModelHttpClient, model: str, instructions: str, tools: Sequence[ToolSpec],
                 facts: ServerFacts | None = None, max_output_tokens: int = 0, stream: bool = False,
                 sampling: Mapping[str, Any] | None = None) -> None:
        self._client = client
        self._model = model
        self._tools = list(tools)
        self._facts = facts
        self._max_output_tokens = max_output_tokens  # tokens; 0 = the server's default
        self._stream = stream
        self._sampling = dict(sampling or {})  # temperature, seed: sent as they are
        self._messages: list[Message] = _system(instructions)
        self._rounds = 0
        self._manners = SessionManners(self._tools)
        self._clock = time.monotonic

    def send(self, items: Sequence[InputItem], *, timeout: float | None = None) -> ModelTurn:
        """One round, planned to fit the window (see ``_round``). An empty answer gets one
        repair round with tools off, then fails as ``manners.NO_ANSWER``; so does an answer
        cut at the output limit with nothing whole in it while tools were offered (a small
        model writing an endless tool argument), which fails as cut when the repair is cut too."""
        started = self._clock()
        for item in items:
            if isinstance(item, UserText):
                self._manners.note_ask(item.text)
        tool_choice = self._manners.tool_choice()
        repaired = False
        try:
            turn = self._round(items, timeout, tool_choice=tool_choice)
        except ModelError as error:
            if error.code != "incomplete" or not self._tools or tool_choice == "none":
                raise
            self._manners.note_cut_answer()
            log.warning("the model's answer was cut at the output token limit before any of it was whole (a tool "
                        "call too long for model.max_output_tokens?); asking once more for a text reply (tools off)")
            turn = self._round([*items, UserText(text=EMPTY_ANSWER_PROMPT)], _left(timeout, started, self._clock()),
                               tool_choice="none")
            repaired = True
        if is_empty(turn) and not repaired:
            log.warning("the model returned an empty answer; asking once more for a text reply (tools off)")
            self._messages.pop()  # an empty assistant turn renders as a broken turn in some chat templates
            turn = self._round([UserText(text=EMPTY_ANSWER_PROMPT)], _left(timeout, started, self._clock()),
                               tool_choice="none")
        if is_empty(turn):
            raise ModelError(f"{ENDPOINT}: {NO_ANSWER} (an empty answer twice)", code="empty_answer")
        window = self._window()
        small = window is not None and window <= SMALL_WINDOW
        self._manners.observe(turn, tool_turn_limit=SMALL_MODEL_TOOL_TURNS if small else None)
        return turn

    def _round(self, items: Sequence[InputItem], timeout: float | None, *, tool_choice: str) -> ModelTurn:
        """One request. On a context overflow the window the error names is learnt and the
        round planned again (when the window stays unknown, the longest user message loses
        its middle); one retry. The sent history is kept."""
        results, texts = split_items(items)
        messages = self._messages + [
            {"role": "tool", "tool_call_id": result.call_id, "content": result.output} for result in results
        ] + [{"role": "user", "content": item.text} for item in texts]

        def attempt(ratio: float | None, remaining: float | None) -> tuple[list[Message], dict[str, Any]]:
            plan = self._plan(messages)
            sent = plan.messages
            if ratio is not None and self._window() is None:
                sent = shorten_longest_user_message(sent, ratio)
            try:
                body = self._body(sent, plan.tools, tool_choice=tool_choice)
                # A server seen to cut streams that let the model choose tools (llama-cpp-python
                # cannot stream its automatic tool choice) gets those rounds with tools off from
                # then on: unstreamed, the same server also ignores max_tokens and cannot be stopped.
                auto_tools = bool(body.get("tools")) and body.get("tool_choice") == "auto"
                if auto_tools and self._stream and self._facts is not None and self._facts.tool_streams_fail:
                    body["tool_choice"] = "none"
                    body.pop("parallel_tool_calls", None)
                    auto_tools = False
                    self._manners.note_cut_answer()  # tools withheld by us: not a server that ignores them
                return sent, post_chat(self._client, body, stream=self._stream, timeout=remaining,
                                       on_cut=self._note_cut_tool_stream if auto_tools else None)
            except ContextOverflow as overflow:
                if self._facts is not None:
                    self._facts.learn_overflow(limit=overflow.limit,
                                               fit_ratio=overflow.fit_ratio if plan.tokens else None)
                raise

        sent, data = with_one_trim(attempt, timeout=timeout)
        self._rounds += 1
        turn, assistant = parse_chat_answer(data, round_number=self._rounds)
        self._messages = sent + [assistant]
        return turn

    def _note_cut_tool_stream(self) -> None:
        self._manners.note_cut_answer()  # this server cuts the stream when the model picks a tool
        if self._facts is not None and not self._facts.tool_streams_fail:
            log.warning("the model server cuts streamed rounds that let the model choose tools (llama-cpp-python "
                        "cannot stream its automatic tool choice): those rounds are asked with tools off from now on, "
                        "streamed so that model.max_output_tokens holds; model.stream: off keeps tools, unbounded. "
                        "Logged once per pool.", extra={ONCE_PER_POOL: TOOL_STREAMS_CUT_KEY})
            self._facts.tool_streams_fail = True

    def _window(self) -> int | None:
        return self._facts.window() if self._facts is not None else None

    def _plan(self, messages: list[Message]) -> ChatPlan:
        """The request to send: as it is while the window is unknown, else fitted to it."""
        window = self._window()
        if window is None or self._facts is None:
            return ChatPlan(messages=messages, tools=self._tools, tokens=0)
        self._facts.calibrate(json.dumps([chat_tool(spec) for spec in self._tools]) + _system_text(messages))
        reserve = self._max_output_tokens or min(DEFAULT_ANSWER_RESERVE, window // 4)  # tokens
        return plan_chat_request(messages=messages, tools=self._tools, window=window, reserve=reserve,
                                 estimate=self._facts.estimate(), render_tool=chat_tool)

    def _body(self, messages: list[Message], tools: Sequence[ToolSpec], *, tool_choice: str) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self._model, "messages": messages, "stream": self._stream,
                                **self._sampling}
        if self._stream:
            body["stream_options"] = {"include_usage": True}
        if self._max_output_tokens:
            body["max_tokens"] = self._max_output_tokens
        if tools:
            body.update(tools=[chat_tool(spec) for spec in tools], tool_choice=tool_choice)
            if tool_choice == "auto":
                body["parallel_tool_calls"] = True
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
    choices = array_at(data, "choices")
    first = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = first.get("message")
    if not isinstance(message, dict):
        raise ModelError(f"{ENDPOINT}: answer has no choices[0].message")
    text = content_text(message.get("content"))
    calls: list[ToolCall] = []
    for index, raw in enumerate(array_at(message, "tool_calls")):
        if not isinstance(raw, dict):
            continue
        function = object_at(raw, "function")
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


def _left(timeout: float | None, started: float, now: float) -> float | None:
    """Seconds left of a round's ``timeout`` (None: no limit) that began at ``started``."""
    return None if timeout is None else max(0.0, timeout - (now - started))


def post_chat(client: ModelHttpClient, body: dict[str, Any], *, stream: bool, timeout: float | None,
              on_cut: Callable[[], None] | None = None) -> dict[str, Any]:
    """One chat-completions call, streamed when ``stream``, read no further than about
    ``max_tokens`` (``chat_stream``: a server that ignores it is cut off and hung up on).

    A stream cut short (no ``finish_reason``) is asked again. With ``on_cut`` (a round that
    let the model choose tools), first streamed with tools off: when that one streams, the
    tools were what the server could not stream, and ``on_cut`` is told. Otherwise without
    streaming, once, so the server's error (a prompt over its window: learnt, then planned
    around) reaches us as an HTTP status instead of a silent end."""
    if not stream:
        return client.post(ENDPOINT, body, timeout=timeout)
    started = time.monotonic()
    read_stream = _stream_reader(body.get("max_tokens"))
    try:
        return client.exchange(ENDPOINT, body, read_stream, timeout=timeout, streamed=True)
    except StreamEndedEarly as early:
        log.warning("%s; asking again %s", early.reason,
                    "with tools off" if on_cut is not None else "without streaming to read the server's error")
    if on_cut is not None:
        body = {key: value for key, value in body.items() if key != "parallel_tool_calls"}
        body["tool_choice"] = "none"
        try:
            answer = client.exchange(ENDPOINT, body, read_stream, timeout=_left(timeout, started, time.monotonic()),
                                     streamed=True)
        except StreamEndedEarly as early:
            log.warning("%s; asking again without streaming to read the server's error", early.reason)
        else:
            on_cut()
            return answer
    plain = {key: value for key, value in body.items() if key != "stream_options"}
    remaining = None if timeout is None else max(0.001, timeout - (time.monotonic() - started))
    return client.post(ENDPOINT, {**plain, "stream": False}, timeout=remaining)


def _stream_reader(max_tokens: object) -> Callable[[StreamedAnswer], dict[str, Any]]:
    """Reads a streamed answer no further than ``max_tokens`` (when an int) plus the margin."""
    budget = max_tokens if isinstance(max_tokens, int) else None

    def read_stream(answer: StreamedAnswer) -> dict[str, Any]:
        # Closed here, not when collected: a read stopped at the budget must let go of the socket now.
        with closing(cast(Generator[bytes, None, None], answer.iter_chunks())) as chunks:
            return collect_chat_stream(chunks, endpoint=ENDPOINT, max_tokens=budget)

    return read_stream


def _system_text(messages: list[Message]) -> str:
    return "".join(message["content"] for message in messages if message.get("role") == "system")


def _system(instructions: str) -> list[Message]:
    return [{"role": "system", "content": instructions}] if instructions else []
