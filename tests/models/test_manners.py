"""Small-model manners on the fake server: empty answers, repeated calls, servers that ignore tools."""
from __future__ import annotations

import logging

import pytest

import workers.models.manners as manners
from tests.fakes.openai_server import FakeOpenAIServer, Reply, chat_reply
from tests.models.conftest import LIST_TOOL, Recorder, model_config
from workers.models.base import ModelError, ToolResult, UserText
from workers.models.openai_chat import ChatSession, OpenAIChatHandle

LIST_ARGS = {"list": {"kind": "list", "id": "steps", "items": ["a"]}}


def session_for(server: FakeOpenAIServer, recorder: Recorder) -> ChatSession:
    handle = OpenAIChatHandle(config=model_config(server), on_request=recorder.on_request, sleep=recorder.sleep)
    return handle.open_session(instructions="sys", tools=[LIST_TOOL])


def test_an_empty_answer_gets_one_repair_round_with_tools_off(server: FakeOpenAIServer, recorder: Recorder) -> None:
    # Before: the empty answer was returned as the reply and the job failed later with our own
    # "invalid_payload: assistantMessage: is empty".
    server.queue("chat/completions", Reply(body=chat_reply(text="")), Reply(body=chat_reply(text="Here it is.")))
    assert session_for(server, recorder).send([UserText(text="make a list of steps")]).text == "Here it is."
    first, repair = (request.json for request in server.requests_for("chat/completions"))
    assert first["tool_choice"] == "auto" and repair["tool_choice"] == "none"
    assert repair["messages"][-2] == {"role": "user", "content": "make a list of steps"}  # empty turn left out
    assert repair["messages"][-1] == {"role": "user", "content": manners.EMPTY_ANSWER_PROMPT}


def test_two_empty_answers_fail_with_a_named_reason(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("chat/completions", Reply(body=chat_reply(text=" ")), Reply(body=chat_reply(text=None)))
    with pytest.raises(ModelError) as caught:
        session_for(server, recorder).send([UserText(text="hello")])
    assert manners.NO_ANSWER in caught.value.reason and caught.value.code == "empty_answer"
    assert len(server.requests_for("chat/completions")) == 2


def test_an_answer_cut_before_anything_was_whole_gets_one_repair_round_with_tools_off(
        server: FakeOpenAIServer, recorder: Recorder, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: the job failed at once ("answer cut at the output token limit"); a small model that starts an
    # endless tool argument does so every time, so the runner asks for the reply as text instead.
    monkeypatch.setattr(manners, "_tools_ignored_logged", False)
    server.queue("chat/completions", Reply(body=chat_reply(text=None, finish_reason="length")),
                 Reply(body=chat_reply(text="Steps: a, b.")))
    with caplog.at_level(logging.WARNING, logger="xenon.worker.model"):
        assert session_for(server, recorder).send([UserText(text="make a list of steps")]).text == "Steps: a, b."
    assert not [r for r in caplog.records if "without calling any tool" in r.getMessage()], \
        "a model cut inside a tool call does not make the server one that ignores tools"
    first, repair = (request.json for request in server.requests_for("chat/completions"))
    assert first["tool_choice"] == "auto" and repair["tool_choice"] == "none"
    assert repair["messages"][-2:] == [{"role": "user", "content": "make a list of steps"},
                                       {"role": "user", "content": manners.EMPTY_ANSWER_PROMPT}]


def test_a_repair_round_that_is_cut_or_empty_again_fails(server: FakeOpenAIServer, recorder: Recorder) -> None:
    cut = Reply(body=chat_reply(text=None, finish_reason="length"))
    server.queue("chat/completions", cut, cut, cut, Reply(body=chat_reply(text=" ")))
    with pytest.raises(ModelError, match="output token limit"):
        session_for(server, recorder).send([UserText(text="make a list of steps")])
    with pytest.raises(ModelError) as caught:
        session_for(server, recorder).send([UserText(text="make a list of steps")])
    assert manners.NO_ANSWER in caught.value.reason
    assert len(server.requests_for("chat/completions")) == 4, "one repair round each, never two"


def test_repeated_tool_calls_switch_tools_off_for_the_next_round(server: FakeOpenAIServer,
                                                                 recorder: Recorder) -> None:
    call = {"name": "create_list", "arguments": LIST_ARGS}
    server.queue("chat/completions", Reply(body=chat_reply(tool_calls=[{**call, "call_id": "a"}])),
                 Reply(body=chat_reply(tool_calls=[{**call, "call_id": "b"}])),
                 Reply(body=chat_reply(text="Done.")))
    session = session_for(server, recorder)
    session.send([UserText(text="make a list of steps")])
    session.send([ToolResult(call_id="a", output='{"ok": true}')])
    assert session.send([ToolResult(call_id="b", output='{"ok": false}')]).text == "Done."
    choices = [request.json["tool_choice"] for request in server.requests_for("chat/completions")]
    assert choices == ["auto", "auto", "none"]


def test_a_server_that_ignores_tools_is_logged_once(server: FakeOpenAIServer, recorder: Recorder,
                                                    caplog: pytest.LogCaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manners, "_tools_ignored_logged", False)
    server.set_fallback("chat/completions", Reply(body=chat_reply(text="Steps: a, b, c.")))
    with caplog.at_level(logging.WARNING, logger="xenon.worker.model"):
        for _ in range(3):
            session_for(server, recorder).send([UserText(text="make a list of steps")])
        session_for(server, recorder).send([UserText(text="thanks!")])  # asks for nothing: not a sign
    notices = [record for record in caplog.records if "without calling any tool" in record.getMessage()]
    assert len(notices) == 1


def test_a_small_window_session_asks_for_its_reply_after_a_few_tool_rounds(server: FakeOpenAIServer,
                                                                          recorder: Recorder) -> None:
    calls = [Reply(body=chat_reply(tool_calls=[{"name": "create_list", "call_id": f"c{n}",
                                                "arguments": {"list": {"id": f"l{n}", "items": ["a"]}}}]))
             for n in range(manners.SMALL_MODEL_TOOL_TURNS)]
    server.queue("chat/completions", *calls, Reply(body=chat_reply(text="Done.")))
    handle = OpenAIChatHandle(config=model_config(server, context_window=8192), on_request=recorder.on_request,
                              sleep=recorder.sleep)
    session = handle.open_session(instructions="sys", tools=[LIST_TOOL])
    turn = session.send([UserText(text="make lists")])
    while turn.tool_calls:
        turn = session.send([ToolResult(call_id=call.call_id, output='{"ok": true}') for call in turn.tool_calls])
    choices = [request.json["tool_choice"] for request in server.requests_for("chat/completions")]
    assert choices == ["auto"] * manners.SMALL_MODEL_TOOL_TURNS + ["none"] and turn.text == "Done."
