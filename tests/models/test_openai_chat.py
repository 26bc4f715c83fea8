"""The openai-chat handle against the fake server: message history, loose parsing, trimming, summaries."""
from __future__ import annotations

import json

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply, chat_reply, context_length_error, rate_limited
from tests.models.conftest import API_KEY, LIST_TOOL, Recorder, model_config
from workers.models.base import ModelAuthError, ModelContextTooLong, ModelError, ToolResult, UserText
from workers.models.openai_chat import OpenAIChatHandle
from workers.models.trimming import TRIM_MARKER

LIST_ARGS = {"list": {"kind": "list", "id": "steps", "items": ["a"]}}


def handle_for(server: FakeOpenAIServer, recorder: Recorder, **overrides: object) -> OpenAIChatHandle:
    return OpenAIChatHandle(config=model_config(server, **overrides), on_request=recorder.on_request,
                            sleep=recorder.sleep)


def test_request_shape_and_message_history(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("chat/completions",
                 Reply(body=chat_reply(tool_calls=[{"name": "create_list", "arguments": LIST_ARGS,
                                                    "call_id": "call_1"}])),
                 Reply(body=chat_reply(text="All set {{artifact:list:steps}}")))
    session = handle_for(server, recorder).open_session(instructions="Be useful.", tools=[LIST_TOOL])
    turn = session.send([UserText(text="make steps")])
    assert turn.text == "" and [(c.call_id, c.name) for c in turn.tool_calls] == [("call_1", "create_list")]
    assert json.loads(turn.tool_calls[0].arguments) == LIST_ARGS
    assert turn.usage == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}

    final = session.send([ToolResult(call_id="call_1", output='{"ok": true, "detail": "created"}')])
    assert final.text == "All set {{artifact:list:steps}}"

    first, second = (request.json for request in server.requests_for("chat/completions"))
    assert first["model"] == "gpt-test" and first["stream"] is False
    assert first["tool_choice"] == "auto" and first["parallel_tool_calls"] is True
    assert first["tools"] == [{"type": "function", "function": {
        "name": "create_list", "description": "Create a list.", "parameters": dict(LIST_TOOL.parameters)}}]
    assert first["messages"] == [{"role": "system", "content": "Be useful."},
                                 {"role": "user", "content": "make steps"}]
    assert second["messages"][2:] == [
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "create_list",
                                                              "arguments": json.dumps(LIST_ARGS)}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"ok": true, "detail": "created"}'}]
    assert server.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


def test_tool_calls_are_read_from_the_message_not_finish_reason(server: FakeOpenAIServer,
                                                                recorder: Recorder) -> None:
    server.queue("chat/completions", Reply(body=chat_reply(text="thinking", finish_reason="stop",
                                                           tool_calls=[("create_list", LIST_ARGS)])))
    turn = handle_for(server, recorder).open_session(instructions="", tools=[LIST_TOOL]).send([UserText(text="x")])
    assert turn.text == "thinking" and [call.name for call in turn.tool_calls] == ["create_list"]


def test_loose_servers_missing_ids_object_arguments_and_malformed_json(server: FakeOpenAIServer,
                                                                       recorder: Recorder) -> None:
    loose = {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [
        {"type": "function", "function": {"name": "create_list", "arguments": LIST_ARGS}},
        {"id": "", "function": {"name": "create_list", "arguments": "{not json"}},
        {"id": "given", "function": {"name": "create_list"}}]}, "finish_reason": "stop"}]}
    server.queue("chat/completions", Reply(body=loose), Reply(body=chat_reply(text="done")))
    session = handle_for(server, recorder).open_session(instructions="", tools=[LIST_TOOL])
    calls = session.send([UserText(text="x")]).tool_calls
    assert [call.call_id for call in calls] == ["call_1_0", "call_1_1", "given"]
    assert json.loads(calls[0].arguments) == LIST_ARGS
    assert calls[1].arguments == "{not json"
    assert calls[2].arguments == "{}"
    session.send([ToolResult(call_id=call.call_id, output="{}") for call in calls])
    history = server.requests_for("chat/completions")[1].json["messages"]
    assert [call["id"] for call in history[1]["tool_calls"]] == ["call_1_0", "call_1_1", "given"]
    assert [message["tool_call_id"] for message in history[2:]] == ["call_1_0", "call_1_1", "given"]


@pytest.mark.parametrize("sent", [
    json.dumps(LIST_ARGS), LIST_ARGS, json.dumps(LIST_ARGS).replace('"', "&quot;"),
    "```json\n" + json.dumps(LIST_ARGS) + "\n```", json.dumps(json.dumps(LIST_ARGS))],
    ids=["json-text", "object", "html-escaped", "code-fence", "json-string-of-json"])
def test_arguments_are_read_in_every_shape_servers_send(server: FakeOpenAIServer, recorder: Recorder,
                                                        sent: object) -> None:
    body = {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "create_list", "arguments": sent}}]}}]}
    server.queue("chat/completions", Reply(body=body))
    [call] = handle_for(server, recorder).open_session(instructions="", tools=[LIST_TOOL]).send(
        [UserText(text="x")]).tool_calls
    assert json.loads(call.arguments) == LIST_ARGS


def test_content_given_as_parts_is_joined(server: FakeOpenAIServer, recorder: Recorder) -> None:
    body = {"choices": [{"message": {"role": "assistant", "content": [{"type": "text", "text": "a"},
                                                                      {"type": "text", "text": "b"}]}}]}
    server.queue("chat/completions", Reply(body=body))
    assert handle_for(server, recorder).open_session(instructions="", tools=[]).send([UserText(text="x")]).text == "ab"


def test_answers_without_choices_or_cut_empty_are_errors(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("chat/completions", Reply(body={"choices": []}),
                 Reply(body=chat_reply(text=None, finish_reason="length")))
    session = handle_for(server, recorder).open_session(instructions="", tools=[])
    with pytest.raises(ModelError, match="no choices"):
        session.send([UserText(text="x")])
    with pytest.raises(ModelError, match="output token limit"):
        session.send([UserText(text="x")])


def test_rate_limit_is_retried_after_the_hinted_delay(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("chat/completions", rate_limited(retry_after=3), Reply(body=chat_reply(text="ok")))
    assert handle_for(server, recorder).open_session(instructions="", tools=[]).send([UserText(text="x")]).text == "ok"
    assert recorder.sleeps == [3.0] and recorder.codes == ["429", "200"]
    assert {endpoint for endpoint, _, _ in recorder.requests} == {"chat/completions"}


def test_unauthorized(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("chat/completions", Reply(status=401, body={"error": "unauthorized"}))
    with pytest.raises(ModelAuthError, match="unauthorized"):
        handle_for(server, recorder).open_session(instructions="", tools=[]).send([UserText(text="x")])


@pytest.mark.parametrize("family", ["openai", "vllm", "llamacpp"])
def test_context_overflow_trims_the_longest_user_message_once(server: FakeOpenAIServer, recorder: Recorder,
                                                              family: str) -> None:
    long_text = "BEGIN " + "filler " * 3000 + " END"
    server.queue("chat/completions", context_length_error(family, limit=2000, requested=4000),
                 Reply(body=chat_reply(tool_calls=[("create_list", LIST_ARGS)])),
                 Reply(body=chat_reply(text="done")))
    session = handle_for(server, recorder).open_session(instructions="sys", tools=[LIST_TOOL])
    call = session.send([UserText(text=long_text)]).tool_calls[0]
    retried = server.requests_for("chat/completions")[1].json["messages"]
    trimmed = retried[1]["content"]
    assert retried[0] == {"role": "system", "content": "sys"}
    assert trimmed.startswith("BEGIN ") and trimmed.endswith(" END") and TRIM_MARKER in trimmed
    assert len(trimmed) < len(long_text) * 0.5
    session.send([ToolResult(call_id=call.call_id, output="{}")])
    later = server.requests_for("chat/completions")[2].json["messages"]
    # The trimmed history is kept; the window learnt from the error plans the later round.
    assert later[1]["content"].startswith("BEGIN ") and len(later[1]["content"]) <= len(trimmed)


def test_second_overflow_raises_model_context_too_long(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("chat/completions", context_length_error("llamacpp"), context_length_error("llamacpp"))
    session = handle_for(server, recorder).open_session(instructions="", tools=[])
    with pytest.raises(ModelContextTooLong) as caught:
        session.send([UserText(text="long " * 500)])
    assert caught.value.status == 400 and "exceed_context_size_error" in caught.value.reason
    assert len(server.requests) == 2


def test_failed_round_leaves_history_unchanged(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("chat/completions", Reply(status=400, body={"error": {"message": "bad"}}),
                 Reply(body=chat_reply(text="ok")))
    session = handle_for(server, recorder).open_session(instructions="", tools=[])
    with pytest.raises(ModelError):
        session.send([UserText(text="first")])
    session.send([UserText(text="second")])
    assert server.requests[1].json["messages"] == [{"role": "user", "content": "second"}]


def test_round_timeout(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("chat/completions", Reply(body=chat_reply(text="late"), delay=30))
    with pytest.raises(ModelError) as caught:
        handle_for(server, recorder).open_session(instructions="", tools=[]).send([UserText(text="x")], timeout=0.3)
    assert caught.value.code == "timeout"


def test_summarize(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("chat/completions", Reply(body=chat_reply(text="A summary that is rather long.")))
    summary = handle_for(server, recorder).summarize("old messages", instructions="Summarise.", max_chars=9)
    assert summary == "A summar…"
    body = server.requests[0].json
    assert body["model"] == "gpt-summary" and "tools" not in body
    assert body["messages"] == [{"role": "system", "content": "Summarise."},
                                {"role": "user", "content": "old messages"}]
