"""openai-chat with model.stream on: answers assembled from events, long streams alive, stalls cut."""
from __future__ import annotations

import json
import logging

import pytest

from shared.pipe.messages import ONCE_PER_POOL
from tests.fakes.openai_server import FakeOpenAIServer, Reply, chat_stream_events, context_length_error
from tests.harness import wait_for
from tests.models.conftest import LIST_TOOL, Recorder, model_config
from workers.models import manners
from workers.models.base import ModelDeadlineExceeded, ModelError, UserText
from workers.models.chat_stream import collect_chat_stream, sse_data
from workers.models.openai_chat import TOOL_STREAMS_CUT_KEY, ChatSession, OpenAIChatHandle

LIST_ARGS = {"list": {"kind": "list", "id": "steps", "items": ["a", "b"]}}


def session_for(server: FakeOpenAIServer, recorder: Recorder, **overrides: object) -> ChatSession:
    config = model_config(server, stream="on", **overrides)
    return OpenAIChatHandle(config=config, on_request=recorder.on_request, sleep=recorder.sleep).open_session(
        instructions="sys", tools=[LIST_TOOL])


def test_a_streamed_answer_is_assembled_text_tool_calls_and_usage(server: FakeOpenAIServer,
                                                                  recorder: Recorder) -> None:
    server.queue("chat/completions", Reply(events=chat_stream_events(
        text="Making it.", tool_calls=[{"name": "create_list", "arguments": LIST_ARGS, "call_id": "c7"}],
        usage={"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42})))
    turn = session_for(server, recorder).send([UserText(text="a list")])
    assert turn.text == "Making it." and [(c.call_id, c.name) for c in turn.tool_calls] == [("c7", "create_list")]
    assert json.loads(turn.tool_calls[0].arguments) == LIST_ARGS
    assert turn.usage == {"input_tokens": 30, "output_tokens": 12, "total_tokens": 42}
    body = server.requests[0].json
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_a_stream_longer_than_call_timeout_lives_while_events_arrive(server: FakeOpenAIServer,
                                                                     recorder: Recorder) -> None:
    # 8 events 0.1 s apart: 0.8 s in all, over the 0.3 s call_timeout, never 1 s silent.
    server.queue("chat/completions", Reply(events=chat_stream_events(text="slow but steady", pieces=6),
                                           event_delay=0.1))
    turn = session_for(server, recorder, call_timeout=0.3, read_timeout=1.0).send([UserText(text="x")],
                                                                                  timeout=30)
    assert turn.text == "slow but steady"


def test_a_stalled_stream_fails_fast_and_the_connection_is_closed(server: FakeOpenAIServer,
                                                                  recorder: Recorder) -> None:
    server.queue("chat/completions", Reply(events=chat_stream_events(text="never finished"), stall_after=2))
    with pytest.raises(ModelError) as caught:
        session_for(server, recorder, read_timeout=0.3).send([UserText(text="x")], timeout=30)
    assert "read_timeout (0.3s)" in caught.value.reason and caught.value.code == "timeout"
    assert len(server.requests) == 1  # not retried: the server may still be computing
    wait_for(lambda: server.abandoned_streams == 1, timeout=5, what="the server to see the stream closed")


def test_the_job_deadline_ends_a_stream_as_a_deadline(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("chat/completions", Reply(events=chat_stream_events(text="x" * 40, pieces=40), event_delay=0.05))
    with pytest.raises(ModelDeadlineExceeded) as caught:
        session_for(server, recorder).send([UserText(text="x")], timeout=0.5)
    assert caught.value.reason.startswith("job deadline exceeded")
    wait_for(lambda: server.abandoned_streams == 1, timeout=5, what="the server to see the stream closed")


def test_sse_parsing_tolerates_split_lines_comments_multiline_data_and_crlf() -> None:
    raw = b': keep-alive\r\n\r\ndata: {"a":\r\ndata: 1}\r\n\r\ndata: [DONE]\n\n'
    chunks = [raw[:7], raw[7:20], raw[20:33], raw[33:]]
    assert list(sse_data(chunks)) == ['{"a":\n1}', "[DONE]"]


def test_whole_tool_calls_in_one_event_and_error_events() -> None:
    ollama = [b'data: {"choices": [{"delta": {"tool_calls": [{"function": {"name": "create_list", '
              b'"arguments": {"list": {}}}}]}}]}\n\n', b'data: {"choices": [{"finish_reason": "tool_calls"}]}\n\n',
              b"data: [DONE]\n\n"]
    message = collect_chat_stream(ollama, endpoint="chat/completions")["choices"][0]["message"]
    assert message["tool_calls"][0]["function"] == {"name": "create_list", "arguments": {"list": {}}}
    with pytest.raises(ModelError, match="ended the stream with an error: out of memory"):
        collect_chat_stream([b'data: {"error": {"message": "out of memory"}}\n\n'], endpoint="chat/completions")


def test_summaries_stream_and_fit_the_window(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("chat/completions", Reply(events=chat_stream_events(text="Short notes.")))
    handle = OpenAIChatHandle(config=model_config(server, stream="on", context_window=2048, max_output_tokens=256),
                              on_request=recorder.on_request, sleep=recorder.sleep)
    notes = "HEAD " + "old conversation " * 3000 + " TAIL"
    assert handle.summarize(notes, instructions="Condense.", max_chars=100) == "Short notes."
    body = server.requests[0].json
    sent = body["messages"][-1]["content"]
    assert body["stream"] is True and sent.startswith("HEAD ") and sent.endswith(" TAIL")
    assert len(sent) <= (2048 - 256) * 3.0


def test_a_stream_cut_short_is_asked_again_unstreamed_and_its_overflow_planned_around(
        server: FakeOpenAIServer, recorder: Recorder) -> None:
    # llama-cpp-python answers 200 and ends the stream silently when the prompt exceeds its
    # window: before, that was an empty answer (then "no answer"), and the window never learnt.
    # Tools were offered, so the cut is first asked again streamed with tools off: cut again.
    cut = Reply(events=chat_stream_events(text="x")[:1])
    server.queue("chat/completions", cut, cut, context_length_error("openai", limit=3000, requested=9000),
                 Reply(events=chat_stream_events(text="Fitted.")))
    session = session_for(server, recorder)
    assert session.send([UserText(text="a list please " + "notes " * 2000)], timeout=30).text == "Fitted."
    sent = [request.json for request in server.requests_for("chat/completions")]
    assert [(body["stream"], body["tool_choice"]) for body in sent] == [
        (True, "auto"), (True, "none"), (False, "none"), (True, "auto")]
    assert "stream_options" not in sent[2] and len(json.dumps(sent[3])) < 3000 * 3.0


def test_a_server_that_cuts_streams_offering_tools_gets_tool_rounds_streamed_with_tools_off(
        server: FakeOpenAIServer, recorder: Recorder, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # llama-cpp-python cannot stream its automatic tool choice: the stream just stops. Unstreamed,
    # the same server ignores max_tokens and cannot be stopped (a small model's endless tool
    # argument held it until the job deadline), so the rounds stay streamed, with tools off.
    cut = Reply(events=chat_stream_events(text="x")[:1])
    server.queue("chat/completions", cut, Reply(events=chat_stream_events(text="A list, as text.")),
                 Reply(events=chat_stream_events(text="More text.")))
    monkeypatch.setattr(manners, "_tools_ignored_logged", False)
    with caplog.at_level(logging.WARNING, logger="xenon.worker.model"):
        handle = OpenAIChatHandle(config=model_config(server, stream="on"), on_request=recorder.on_request,
                                  sleep=recorder.sleep)
        first = handle.open_session(instructions="sys", tools=[LIST_TOOL])
        assert first.send([UserText(text="a list")], timeout=30).text == "A list, as text."
        later = handle.open_session(instructions="sys", tools=[LIST_TOOL])  # the next job on this worker
        assert later.send([UserText(text="another list")], timeout=30).text == "More text."
    assert not [r for r in caplog.records if "without calling any tool" in r.getMessage()], \
        "tools the runner withheld do not make the server one that ignores tools"
    notices = [r for r in caplog.records if "with tools off from now on" in r.getMessage()]
    assert [getattr(r, ONCE_PER_POOL, None) for r in notices] == [TOOL_STREAMS_CUT_KEY], \
        "a fact about the server: logged once per worker, relayed once per pool"
    sent = [request.json for request in server.requests_for("chat/completions")]
    assert [(body["stream"], body["tool_choice"]) for body in sent] == [(True, "auto"), (True, "none"),
                                                                         (True, "none")]
    assert "parallel_tool_calls" in sent[0] and not any("parallel_tool_calls" in body for body in sent[1:])
