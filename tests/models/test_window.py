"""Requests that fit the model's window: the plan, the window the server tells, the tokenizer ratio."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.openai_server import FakeOpenAIServer, Reply, chat_reply, context_length_error
from tests.models.conftest import Recorder, model_config
from workers.deliverables.tools import TOOL_SPECS
from workers.models.base import ModelContextTooLong, ToolResult, ToolSpec, UserText
from workers.models.openai_chat import OpenAIChatHandle, chat_tool
from workers.models.request_plan import MIN_USER_CHARS, ChatPlan, Message, plan_chat_request, shorten_arguments
from workers.models.tool_fit import compact_tool, tools_for_ask
from workers.models.window import TokenEstimate
from workers.prompt import JOB_INSTRUCTIONS

ESTIMATE = TokenEstimate()
SYSTEM: Message = {"role": "system", "content": JOB_INSTRUCTIONS}


def plan(messages: Sequence[Message], *, window: int, reserve: int = 512,
         tools: Sequence[ToolSpec] = TOOL_SPECS) -> ChatPlan:
    return plan_chat_request(messages=messages, tools=tools, window=window, reserve=reserve, estimate=ESTIMATE,
                             render_tool=chat_tool)


def prompt_tokens(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
    return ESTIMATE.of_messages(messages) + ESTIMATE.of_tools([chat_tool(spec) for spec in tools])


def test_the_issue_request_fits_a_4096_window_without_losing_the_short_user_message() -> None:
    # Before: the 11 tool schemas alone overflowed 4,096 tokens and the trim cut a
    # 103-character user message to nothing.
    ask = "Make a bar chart of our Q3 revenue by region: North 120, South 95, East 140, West 80 please."
    messages = [SYSTEM, {"role": "user", "content": ask}]
    assert prompt_tokens(messages, TOOL_SPECS) > 4096 - 512  # as sent before
    chosen = plan(messages, window=4096)
    assert chosen.tokens == prompt_tokens(chosen.messages, chosen.tools) <= 4096 - 512
    assert chosen.messages[-1]["content"] == ask
    assert "create_bar_chart" in [spec.name for spec in chosen.tools]


def test_a_small_window_offers_only_the_compact_tools_the_ask_needs() -> None:
    chosen = plan([SYSTEM, {"role": "user", "content": "A pie chart of the budget split, please."}], window=8192)
    assert [spec.name for spec in chosen.tools] == ["create_pie_chart"]
    assert chosen.tools[0] == compact_tool(next(spec for spec in TOOL_SPECS if spec.name == "create_pie_chart"))


def test_a_large_window_sends_everything_as_it_is() -> None:
    messages = [SYSTEM, {"role": "user", "content": "hello"}]
    chosen = plan(messages, window=128_000)
    assert chosen.messages == messages and list(chosen.tools) == list(TOOL_SPECS) and chosen.steps == ()


def test_earlier_tool_arguments_are_shortened_before_the_ask_is_touched() -> None:
    huge = {"name": "specs/plan.md", "content": "x" * 40_000}
    messages: list[Message] = [
        SYSTEM, {"role": "user", "content": "Write the plan as a file."},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "create_file", "arguments": json.dumps(huge)}}]},
        {"role": "tool", "tool_call_id": "c1", "content": json.dumps({"ok": True, "detail": "y" * 2000})}]
    chosen = plan(messages, window=16_384)
    arguments = json.loads(chosen.messages[2]["tool_calls"][0]["function"]["arguments"])
    assert arguments["name"] == "specs/plan.md" and len(arguments["content"]) <= 80
    assert len(chosen.messages[3]["content"]) <= 300
    assert chosen.messages[1]["content"] == "Write the plan as a file."
    assert "earlier tool calls shortened" in chosen.steps
    assert messages[2]["tool_calls"][0]["function"]["arguments"] == json.dumps(huge)  # caller's list untouched


def test_a_request_that_cannot_fit_names_the_window_and_the_need() -> None:
    with pytest.raises(ModelContextTooLong) as caught:
        plan([SYSTEM, {"role": "user", "content": "hi"}], window=600)
    assert "window is 600 tokens" in caught.value.reason and "needs about" in caught.value.reason
    assert caught.value.code == "context_window"


def test_compact_tools_keep_every_constraint_and_drop_the_prose() -> None:
    for spec in TOOL_SPECS:
        compact = compact_tool(spec)
        text = json.dumps(compact.parameters)
        assert '"description"' not in text
        assert compact.parameters.get("required") == spec.parameters.get("required")
        assert set(compact.parameters["properties"]) == set(spec.parameters["properties"])
    assert sum(len(json.dumps(chat_tool(compact_tool(s)))) for s in TOOL_SPECS) < 0.5 * sum(
        len(json.dumps(chat_tool(s))) for s in TOOL_SPECS)


def test_tools_for_ask_keeps_what_the_text_names() -> None:
    names = [spec.name for spec in tools_for_ask(TOOL_SPECS, "A checklist for the launch and an architecture diagram")]
    assert names == ["create_checklist", "create_svg"]
    assert tools_for_ask(TOOL_SPECS, "thanks, that's all") == []


def test_shortened_arguments_stay_a_json_object() -> None:
    assert json.loads(shorten_arguments('{"items": [1, 2, 3, 4, 5], "t": "' + "z" * 500 + '"}')) == {
        "items": [1, 2, 3, "… 2 more"], "t": "z" * 79 + "…"}
    assert shorten_arguments("{not json") == "{}"


@settings(max_examples=40, deadline=None)
@given(user_chars=st.integers(min_value=1, max_value=60_000), window=st.integers(min_value=256, max_value=32_768),
       reserve=st.integers(min_value=16, max_value=2048), history=st.integers(min_value=0, max_value=20_000))
def test_the_plan_fits_or_names_the_need(user_chars: int, window: int, reserve: int, history: int) -> None:
    ask = "table " + "w" * user_chars
    messages: list[Message] = [SYSTEM, {"role": "user", "content": ask}]
    if history:
        messages += [{"role": "assistant", "content": "", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "create_table",
                                                         "arguments": json.dumps({"x": "v" * history})}}]},
                     {"role": "tool", "tool_call_id": "c", "content": "r" * history}]
    try:
        chosen = plan(messages, window=window, reserve=reserve)
    except ModelContextTooLong as exc:
        assert f"window is {window} tokens" in exc.reason
        return
    assert prompt_tokens(chosen.messages, chosen.tools) <= window - reserve
    kept = chosen.messages[1]["content"]
    assert len(kept) >= min(len(ask), MIN_USER_CHARS - 1)


# ---------------------------------------------------------------- through the handle, on the fake server

def handle_for(server: FakeOpenAIServer, recorder: Recorder, **overrides: object) -> OpenAIChatHandle:
    return OpenAIChatHandle(config=model_config(server, **overrides), on_request=recorder.on_request,
                            sleep=recorder.sleep)


@pytest.mark.parametrize("route, reply", [
    (("GET", "/props"), {"default_generation_settings": {"n_ctx": 3000}}),
    (("GET", "/v1/models"), {"data": [{"id": "gpt-test", "max_model_len": 3000}]}),
    (("POST", "/api/show"), {"parameters": "num_ctx 3000\ntemperature 0", "model_info": {"x.context_length": 9}}),
], ids=["llama.cpp", "vllm", "ollama"])
def test_the_window_the_server_tells_plans_the_request(server: FakeOpenAIServer, recorder: Recorder,
                                                       route: tuple[str, str], reply: dict[str, Any]) -> None:
    server.serve_info(*route, Reply(body=reply))
    server.queue("chat/completions", Reply(body=chat_reply(text="ok")))
    handle_for(server, recorder, max_output_tokens=300).open_session(
        instructions=JOB_INSTRUCTIONS, tools=TOOL_SPECS).send([UserText(text="a bar chart of sales")])
    body = server.requests_for("chat/completions")[0].json
    assert body["max_tokens"] == 300
    sent_tools = [tool["function"]["name"] for tool in body["tools"]]
    assert 0 < len(sent_tools) < len(TOOL_SPECS)  # 3,000 tokens leave no room for all eleven
    assert prompt_tokens(body["messages"], [s for s in map(compact_tool, TOOL_SPECS) if s.name in sent_tools]) \
        <= 3000 - 300


def test_the_tokenizer_endpoint_calibrates_the_estimate(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.serve_info("POST", "/extras/tokenize", lambda request: Reply(
        body={"tokens": list(range(len(request.json["input"]) // 5))}))
    server.queue("chat/completions", Reply(body=chat_reply(text="ok")))
    handle = handle_for(server, recorder, context_window=8192)
    handle.open_session(instructions="sys", tools=TOOL_SPECS).send([UserText(text="x")])
    assert handle._facts.estimate().chars_per_token == pytest.approx(5 * 0.9, rel=0.01)
    assert [request.path for request in server.info_requests] == ["/extras/tokenize"]


def test_an_overflow_teaches_the_window_and_the_round_is_planned_again(server: FakeOpenAIServer,
                                                                       recorder: Recorder) -> None:
    server.queue("chat/completions", context_length_error("openai", limit=2500, requested=6000),
                 Reply(body=chat_reply(text="ok")), Reply(body=chat_reply(text="again")))
    session = handle_for(server, recorder).open_session(instructions=JOB_INSTRUCTIONS, tools=TOOL_SPECS)
    assert session.send([UserText(text="a table of prices " + "p" * 300)]).text == "ok"
    first, second = server.requests_for("chat/completions")[:2]
    assert len(second.raw) < len(first.raw) / 2
    assert second.json["messages"][-1]["content"] == "a table of prices " + "p" * 300
    session.send([UserText(text="thanks")])  # later rounds are planned without another overflow
    assert len(server.requests_for("chat/completions")) == 3


def test_max_tokens_temperature_and_seed_are_sent_only_when_set(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("chat/completions", Reply(body=chat_reply(text="a")), Reply(body=chat_reply(text="b")))
    handle_for(server, recorder).open_session(instructions="", tools=[]).send([UserText(text="x")])
    handle_for(server, recorder, max_output_tokens=64, temperature=0.0, seed=7).open_session(
        instructions="", tools=[]).send([UserText(text="x")])
    first, second = (request.json for request in server.requests_for("chat/completions"))
    assert not {"max_tokens", "temperature", "seed"} & set(first)
    assert (second["max_tokens"], second["temperature"], second["seed"]) == (64, 0.0, 7)


def test_tool_results_after_a_plan_keep_their_call_ids(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("chat/completions", Reply(body=chat_reply(tool_calls=[{"name": "create_table", "call_id": "t1",
                                                                         "arguments": {"id": "p"}}])),
                 Reply(body=chat_reply(text="done")))
    session = handle_for(server, recorder, context_window=4096).open_session(instructions=JOB_INSTRUCTIONS,
                                                                             tools=TOOL_SPECS)
    session.send([UserText(text="a table of prices")])
    session.send([ToolResult(call_id="t1", output='{"ok": true}')])
    last = server.requests_for("chat/completions")[1].json["messages"]
    assert last[-1] == {"role": "tool", "tool_call_id": "t1", "content": '{"ok": true}'}
    assert last[-2]["tool_calls"][0]["id"] == "t1"
