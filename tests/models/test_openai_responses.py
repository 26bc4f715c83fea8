"""The openai-responses handle against the fake server: request shapes, parsing, trimming, summaries."""
from __future__ import annotations

import json

import pytest

from tests.fakes.openai_server import (
    FakeOpenAIServer,
    Reply,
    context_length_error,
    insufficient_quota,
    responses_reply,
)
from tests.models.conftest import FILE_TOOL, LIST_TOOL, Recorder, model_config
from workers.models.base import ModelContextTooLong, ModelError, ModelQuotaError, ToolResult, UserText
from workers.models.openai_responses import OpenAIResponsesHandle
from workers.models.trimming import TRIM_MARKER

LIST_ARGS = {"list": {"kind": "list", "id": "steps", "items": ["a", "b"]}}


def handle_for(server: FakeOpenAIServer, recorder: Recorder, **overrides: object) -> OpenAIResponsesHandle:
    return OpenAIResponsesHandle(config=model_config(server, **overrides), on_request=recorder.on_request,
                                 sleep=recorder.sleep)


def test_first_round_request_shape(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", Reply(body=responses_reply(text="hello")))
    session = handle_for(server, recorder).open_session(instructions="Be brief.", tools=[LIST_TOOL, FILE_TOOL])
    turn = session.send([UserText(text="Plan my week")])
    assert turn.text == "hello" and turn.tool_calls == ()
    body = server.requests_for("responses")[0].json
    assert body["model"] == "gpt-test"
    assert body["instructions"] == "Be brief."
    assert body["input"] == [{"type": "message", "role": "user", "content": "Plan my week"}]
    assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is True and body["stream"] is False
    assert body["tools"] == [
        {"type": "function", "name": "create_list", "description": "Create a list.",
         "parameters": dict(LIST_TOOL.parameters), "strict": False},
        {"type": "function", "name": "create_file", "description": "Create a file.",
         "parameters": dict(FILE_TOOL.parameters), "strict": False}]
    assert "previous_response_id" not in body and "truncation" not in body


def test_tool_calls_are_parsed_and_results_chained_by_previous_response_id(server: FakeOpenAIServer,
                                                                            recorder: Recorder) -> None:
    server.queue("responses",
                 Reply(body=responses_reply(response_id="resp_1", tool_calls=[
                     {"name": "create_list", "arguments": LIST_ARGS, "call_id": "call_a"},
                     {"name": "create_file", "arguments": '{"name": "a.md", "content"', "call_id": "call_b"}])),
                 Reply(body=responses_reply(response_id="resp_2", text="Done: {{artifact:list:steps}}")))
    session = handle_for(server, recorder).open_session(instructions="I", tools=[LIST_TOOL, FILE_TOOL])
    turn = session.send([UserText(text="make a list")])
    assert [(call.call_id, call.name) for call in turn.tool_calls] == [("call_a", "create_list"),
                                                                       ("call_b", "create_file")]
    assert json.loads(turn.tool_calls[0].arguments) == LIST_ARGS
    assert turn.tool_calls[1].arguments == '{"name": "a.md", "content"'  # malformed JSON passed through raw
    assert turn.usage == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}

    final = session.send([ToolResult(call_id="call_a", output='{"ok": true, "detail": "created"}'),
                          ToolResult(call_id="call_b", output='{"ok": false, "detail": "bad JSON"}')])
    assert final.text == "Done: {{artifact:list:steps}}" and final.tool_calls == ()
    second = server.requests_for("responses")[1].json
    assert second["previous_response_id"] == "resp_1"
    assert second["instructions"] == "I" and second["tools"][0]["name"] == "create_list"
    assert second["input"] == [
        {"type": "function_call_output", "call_id": "call_a", "output": '{"ok": true, "detail": "created"}'},
        {"type": "function_call_output", "call_id": "call_b", "output": '{"ok": false, "detail": "bad JSON"}'}]


def test_repair_round_sends_results_then_the_user_message(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", Reply(body=responses_reply(response_id="resp_1", text="cites {{artifact:list:x}}")),
                 Reply(body=responses_reply(response_id="resp_2", text="fixed")))
    session = handle_for(server, recorder).open_session(instructions="I", tools=[LIST_TOOL])
    session.send([UserText(text="go")])
    session.send([UserText(text="call create_list with id \"x\""), ToolResult(call_id="c1", output="{}")])
    body = server.requests_for("responses")[1].json
    assert body["previous_response_id"] == "resp_1"
    assert [item["type"] for item in body["input"]] == ["function_call_output", "message"]
    assert body["input"][1]["content"] == "call create_list with id \"x\""


def test_tool_calls_are_read_from_items_not_status(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", Reply(body=responses_reply(status="incomplete", text="partial",
                                                         tool_calls=[("create_list", LIST_ARGS)])))
    turn = handle_for(server, recorder).open_session(instructions="", tools=[LIST_TOOL]).send([UserText(text="x")])
    assert turn.text == "partial" and [call.name for call in turn.tool_calls] == ["create_list"]


def test_incomplete_empty_and_failed_responses_are_errors(server: FakeOpenAIServer, recorder: Recorder) -> None:
    empty = {**responses_reply(status="incomplete"), "incomplete_details": {"reason": "max_output_tokens"}}
    failed = {**responses_reply(status="failed"), "error": {"code": "server_error", "message": "model crashed"}}
    server.queue("responses", Reply(body=empty), Reply(body=failed), Reply(body={"output": []}))
    session = handle_for(server, recorder).open_session(instructions="", tools=[])
    with pytest.raises(ModelError, match="max_output_tokens"):
        session.send([UserText(text="x")])
    with pytest.raises(ModelError, match="model crashed"):
        session.send([UserText(text="x")])
    with pytest.raises(ModelError, match="no response id"):
        session.send([UserText(text="x")])


def test_text_of_several_message_items_is_joined(server: FakeOpenAIServer, recorder: Recorder) -> None:
    body = {"id": "r", "status": "completed", "output": [
        {"type": "reasoning", "summary": []},
        {"type": "message", "content": [{"type": "output_text", "text": "one "}, {"type": "output_text",
                                                                                    "text": "two"}]},
        {"type": "message", "content": [{"type": "refusal", "refusal": "no"}, {"type": "output_text",
                                                                               "text": "three"}]}]}
    server.queue("responses", Reply(body=body))
    turn = handle_for(server, recorder).open_session(instructions="", tools=[]).send([UserText(text="x")])
    assert turn.text == "one two\nthree"


def test_quota_error_surfaces_without_retry(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", insufficient_quota())
    with pytest.raises(ModelQuotaError):
        handle_for(server, recorder).open_session(instructions="", tools=[]).send([UserText(text="x")])
    assert len(server.requests) == 1


def test_context_overflow_on_first_round_retries_once_trimmed_with_truncation_auto(
        server: FakeOpenAIServer, recorder: Recorder) -> None:
    prompt = "HEAD-" + "middle words " * 2000 + "-TAIL"
    server.queue("responses", context_length_error("openai", limit=5000, requested=10000),
                 Reply(body=responses_reply(text="fits now")))
    turn = handle_for(server, recorder).open_session(instructions="I", tools=[]).send([UserText(text=prompt)])
    assert turn.text == "fits now"
    first, second = (request.json for request in server.requests_for("responses"))
    assert "truncation" not in first and first["input"][0]["content"] == prompt
    assert second["truncation"] == "auto"
    trimmed = second["input"][0]["content"]
    assert trimmed.startswith("HEAD-") and trimmed.endswith("-TAIL") and TRIM_MARKER in trimmed
    assert len(trimmed) <= len(prompt) * 0.5


def test_context_overflow_on_later_round_retries_with_truncation_only(server: FakeOpenAIServer,
                                                                      recorder: Recorder) -> None:
    server.queue("responses", Reply(body=responses_reply(response_id="resp_1", tool_calls=[("create_list", {})])),
                 context_length_error("openai"), Reply(body=responses_reply(text="ok")))
    session = handle_for(server, recorder).open_session(instructions="", tools=[LIST_TOOL])
    call = session.send([UserText(text="x")]).tool_calls[0]
    assert session.send([ToolResult(call_id=call.call_id, output="{}")]).text == "ok"
    retried = server.requests_for("responses")[2].json
    assert retried["truncation"] == "auto" and retried["previous_response_id"] == "resp_1"
    assert retried["input"] == [{"type": "function_call_output", "call_id": call.call_id, "output": "{}"}]


def test_second_context_overflow_raises_model_context_too_long(server: FakeOpenAIServer,
                                                               recorder: Recorder) -> None:
    server.queue("responses", context_length_error("openai"), context_length_error("openai"),
                 Reply(body=responses_reply(text="never")))
    with pytest.raises(ModelContextTooLong, match="still too long after trimming"):
        handle_for(server, recorder).open_session(instructions="", tools=[]).send([UserText(text="long " * 100)])
    assert len(server.requests) == 2


def test_round_timeout(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", Reply(body=responses_reply(text="late"), delay=30))
    with pytest.raises(ModelError) as caught:
        handle_for(server, recorder).open_session(instructions="", tools=[]).send([UserText(text="x")], timeout=0.3)
    assert caught.value.code == "timeout"


def test_summarize_uses_the_summary_model_without_tools_and_cuts(server: FakeOpenAIServer,
                                                                 recorder: Recorder) -> None:
    server.queue("responses", Reply(body=responses_reply(text="  " + "s" * 500 + "  ")))
    summary = handle_for(server, recorder).summarize("older talk", instructions="Summarise.", max_chars=100)
    assert len(summary) == 100 and summary.startswith("sss")
    body = server.requests[0].json
    assert body["model"] == "gpt-summary" and body["instructions"] == "Summarise."
    assert body["input"] == [{"type": "message", "role": "user", "content": "older talk"}]
    assert "tools" not in body and "previous_response_id" not in body


def test_summarize_trims_its_input_once_on_overflow(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", context_length_error("vllm", limit=1000, requested=4000),
                 Reply(body=responses_reply(text="short")))
    text = "start " + "x" * 8000 + " end"
    assert handle_for(server, recorder).summarize(text, instructions="S", max_chars=50) == "short"
    sent = server.requests[1].json["input"][0]["content"]
    assert sent.startswith("start ") and sent.endswith(" end") and len(sent) < len(text) * 0.3


def test_send_needs_input_items(server: FakeOpenAIServer, recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="at least one input item"):
        handle_for(server, recorder).open_session(instructions="", tools=[]).send([])
    assert server.requests == []
