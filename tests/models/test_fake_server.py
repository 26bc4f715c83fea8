"""The fake OpenAI server's own promises, which other suites rely on."""
from __future__ import annotations

import pytest
import requests

from tests.fakes.openai_server import FakeOpenAIServer, RecordedRequest, Reply, chat_reply, full_path


def test_base_url_is_loopback_and_ends_in_v1(server: FakeOpenAIServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")


def test_empty_queue_answers_500_naming_the_path(server: FakeOpenAIServer) -> None:
    answer = requests.post(f"{server.base_url}/chat/completions", json={"model": "m"}, timeout=10)
    assert answer.status_code == 500
    assert answer.json()["error"]["message"] == "fake server: no scripted reply for POST /v1/chat/completions"
    assert server.unscripted == ["/v1/chat/completions"]


def test_replies_are_used_in_order_then_the_fallback(server: FakeOpenAIServer) -> None:
    server.queue("responses", Reply(status=201, body={"n": 1}, headers={"X-Test": "yes"}))
    server.set_fallback("responses", lambda request: Reply(body={"echo": request.json["q"]}))
    first = requests.post(f"{server.base_url}/responses", json={"q": "a"}, timeout=10)
    second = requests.post(f"{server.base_url}/responses", json={"q": "b"}, timeout=10)
    assert (first.status_code, first.json(), first.headers["X-Test"]) == (201, {"n": 1}, "yes")
    assert second.json() == {"echo": "b"}
    assert [request.json for request in server.requests_for("responses")] == [{"q": "a"}, {"q": "b"}]
    assert server.unscripted == []


def test_callable_replies_see_the_recorded_request(server: FakeOpenAIServer) -> None:
    seen: list[RecordedRequest] = []

    def reply(request: RecordedRequest) -> Reply:
        seen.append(request)
        return Reply(body=chat_reply(text=f"{len(request.json['messages'])} messages"))

    server.queue("/v1/chat/completions", reply)
    answer = requests.post(f"{server.base_url}/chat/completions", json={"messages": [{}, {}]},
                           headers={"Authorization": "Bearer k"}, timeout=10)
    assert answer.json()["choices"][0]["message"]["content"] == "2 messages"
    assert seen[0].headers["authorization"] == "Bearer k" and seen[0].path == "/v1/chat/completions"


def test_raw_text_replies(server: FakeOpenAIServer) -> None:
    server.queue("responses", Reply(status=502, text="Bad Gateway"))
    answer = requests.post(f"{server.base_url}/responses", json={}, timeout=10)
    assert (answer.status_code, answer.text) == (502, "Bad Gateway")


def test_unknown_paths_are_rejected_when_scripting() -> None:
    assert full_path("chat/completions") == "/v1/chat/completions"
    with pytest.raises(ValueError, match="not /v1/embeddings"):
        full_path("embeddings")
