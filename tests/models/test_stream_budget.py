"""The client-side output budget of streamed chat answers (``workers/models/chat_stream.py``): a
server that ignores ``max_tokens`` (llama-cpp-python's chatml-function-calling when the model
chooses for itself) is read no further than about the budget, then hung up on."""
from __future__ import annotations

import json
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.openai_server import FakeOpenAIServer, Reply, chat_stream_events
from tests.harness import wait_for
from tests.models.conftest import LIST_TOOL, Recorder, model_config
from workers.models.base import UserText
from workers.models.chat_stream import BUDGET_MARGIN, fold_chat_events
from workers.models.openai_chat import ChatSession, OpenAIChatHandle

BUDGET = 40  # tokens: model.max_output_tokens in these tests


def _event(delta: Mapping[str, object], finish: str | None = None) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


ROLE = _event({"role": "assistant"})
WORD = _event({"content": "word "})
CALL_START = _event({"tool_calls": [{"index": 0, "id": "c1", "type": "function",
                                     "function": {"name": "create_list", "arguments": ""}}]})
ARGUMENT_PIECE = _event({"tool_calls": [{"index": 0, "function": {"arguments": '"a", '}}]})


def session_for(server: FakeOpenAIServer, recorder: Recorder) -> ChatSession:
    config = model_config(server, stream="on", max_output_tokens=BUDGET, read_timeout=5.0)
    return OpenAIChatHandle(config=config, on_request=recorder.on_request, sleep=recorder.sleep).open_session(
        instructions="sys", tools=[LIST_TOOL])


def test_endless_text_is_cut_after_about_the_budget_and_the_server_sees_the_hang_up(
        server: FakeOpenAIServer, recorder: Recorder) -> None:
    # Before: the runner read on until the job's deadline while the server kept generating.
    server.queue("chat/completions", Reply(events=(ROLE, WORD), repeat_last=True, event_delay=0.001))
    turn = session_for(server, recorder).send([UserText(text="write")], timeout=10)
    words = turn.text.count("word")
    assert BUDGET < words <= BUDGET + BUDGET_MARGIN + 1
    assert server.requests_for("chat/completions")[0].json["max_tokens"] == BUDGET
    wait_for(lambda: server.abandoned_streams == 1, timeout=5, what="the server to see the connection closed")
    assert len(server.requests) == 1  # a cut answer with text is an answer: not asked again


def test_an_endless_tool_argument_is_cut_dropped_and_gets_the_repair_round(server: FakeOpenAIServer,
                                                                           recorder: Recorder) -> None:
    server.queue("chat/completions",
                 Reply(events=(ROLE, CALL_START, ARGUMENT_PIECE), repeat_last=True, event_delay=0.001),
                 Reply(events=chat_stream_events(text="Here is the list as text.")))
    turn = session_for(server, recorder).send([UserText(text="a list")], timeout=10)
    assert turn.text == "Here is the list as text." and not turn.tool_calls
    first, repair = (request.json for request in server.requests_for("chat/completions"))
    assert first["tool_choice"] == "auto" and repair["tool_choice"] == "none"
    wait_for(lambda: server.abandoned_streams == 1, timeout=5, what="the server to see the connection closed")


def test_calls_finished_before_the_cut_are_kept_and_the_one_being_written_is_not() -> None:
    first = {"tool_calls": [{"index": 0, "id": "c0", "function": {"name": "create_list", "arguments": "{}"}}]}
    second = {"tool_calls": [{"index": 1, "id": "c1", "function": {"name": "create_list", "arguments": "{"}}]}
    more = {"tool_calls": [{"index": 1, "function": {"arguments": '"a": 1, '}}]}
    events = [json.loads(_event(first)), json.loads(_event(second))] + [json.loads(_event(more))] * 100
    answer = fold_chat_events(events, endpoint="chat/completions", max_tokens=5)
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "length"
    assert [call["id"] for call in choice["message"]["tool_calls"]] == ["c0"]


@settings(max_examples=40)
@given(budget=st.integers(min_value=1, max_value=60), sent=st.integers(min_value=0, max_value=150),
       pieces=st.lists(st.sampled_from(["content", "argument", "empty"]), min_size=1, max_size=5))
def test_an_answer_within_budget_plus_margin_is_whole_and_a_longer_one_is_cut_right_past_it(
        budget: int, sent: int, pieces: list[str]) -> None:
    shapes = {"content": {"content": "t"}, "empty": {"content": ""},
              "argument": {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "x"}}]}}
    deltas = [shapes[pieces[number % len(pieces)]] for number in range(sent)]
    counted = sum(1 for delta in deltas if delta is not shapes["empty"])
    events = [{"choices": [{"delta": delta}]} for delta in deltas] + [{"choices": [{"finish_reason": "stop"}]}]
    choice = fold_chat_events(events, endpoint="e", max_tokens=budget)["choices"][0]
    if counted <= budget + BUDGET_MARGIN:
        assert choice["finish_reason"] == "stop"
        assert len(choice["message"]["content"]) == sum(delta is shapes["content"] for delta in deltas)
    else:
        assert choice["finish_reason"] == "length"
        read = [delta for delta in deltas if delta is not shapes["empty"]][:budget + BUDGET_MARGIN + 1]
        assert len(choice["message"]["content"]) == sum(delta is shapes["content"] for delta in read)
        assert "tool_calls" not in choice["message"]  # the one call was still being written
