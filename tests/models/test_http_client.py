"""The shared HTTP layer against the fake server: retries, Retry-After, errors, deadlines, secrets."""
from __future__ import annotations

import logging

import pytest
import requests

from shared.pipe.failures import FailureClass, JobFailure
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    Reply,
    context_length_error,
    insufficient_quota,
    openai_error,
    rate_limited,
    server_error,
    unauthorized,
)
from tests.fakes.trickle import TrickleServer, http_answer
from tests.harness import free_port
from tests.models.conftest import API_KEY, Recorder, model_config
from workers.models import http_client
from workers.models.base import (
    ModelAnswerTooLarge,
    ModelAuthError,
    ModelContextTooLong,
    ModelDeadlineExceeded,
    ModelEndpointDown,
    ModelError,
    ModelQuotaError,
)
from workers.models.http_client import ContextOverflow, ModelHttpClient

OK = Reply(body={"id": "resp_ok", "output": []})


def client_for(server: FakeOpenAIServer, recorder: Recorder, **overrides: object) -> ModelHttpClient:
    return ModelHttpClient.from_config(model_config(server, **overrides), on_request=recorder.on_request,
                                       sleep=recorder.sleep)


def test_posts_json_with_bearer_key_and_returns_the_answer(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", OK)
    answer = client_for(server, recorder).post("responses", {"model": "m"})
    assert answer == {"id": "resp_ok", "output": []}
    [request] = server.requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.json == {"model": "m"}
    assert [(endpoint, code) for endpoint, code, _ in recorder.requests] == [("responses", "200")]


def test_no_authorization_header_without_a_key(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", OK)
    client_for(server, recorder, api_key=None).post("responses", {})
    assert "authorization" not in server.requests[0].headers


def test_retry_after_seconds_is_honoured(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", rate_limited(retry_after=7), OK)
    client_for(server, recorder).post("responses", {})
    assert recorder.sleeps == [7.0]
    assert recorder.codes == ["429", "200"]


def test_retry_after_ms_wins_and_is_in_milliseconds(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", rate_limited(retry_after_ms=1500, retry_after=9), OK)
    client_for(server, recorder).post("responses", {})
    assert recorder.sleeps == [1.5]


def test_retry_after_is_capped_at_120_seconds(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", rate_limited(retry_after=3600), OK)
    client_for(server, recorder).post("responses", {})
    assert recorder.sleeps == [120.0]


@pytest.mark.parametrize("status", [408, 409, 500, 502, 503, 504, 529])
def test_transient_statuses_are_retried_with_jittered_backoff(server: FakeOpenAIServer, recorder: Recorder,
                                                              status: int) -> None:
    server.queue("responses", server_error(status), server_error(status), OK)
    assert client_for(server, recorder).post("responses", {})["id"] == "resp_ok"
    assert recorder.codes == [str(status), str(status), "200"]
    first, second = recorder.sleeps
    assert 0.5 * 0.85 <= first <= 0.5 * 1.15
    assert 1.0 * 0.85 <= second <= 1.0 * 1.15


def test_dropped_connection_is_a_retried_network_error(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", Reply(drop=True), OK)
    assert client_for(server, recorder).post("responses", {})["id"] == "resp_ok"
    assert recorder.codes == ["network", "200"]


def test_gives_up_after_max_attempts_with_the_last_reason(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", *[server_error(503, "overloaded right now")] * 3)
    with pytest.raises(ModelError) as caught:
        client_for(server, recorder, max_attempts=3).post("responses", {})
    assert "overloaded right now" in caught.value.reason
    assert "gave up after 3 tries" in caught.value.reason and caught.value.status == 503
    assert len(server.requests) == 3 and len(recorder.sleeps) == 2


def test_insufficient_quota_is_never_retried(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", insufficient_quota(), OK)
    with pytest.raises(ModelQuotaError) as caught:
        client_for(server, recorder).post("responses", {})
    assert caught.value.status == 429 and caught.value.code == "insufficient_quota"
    assert len(server.requests) == 1 and recorder.sleeps == []
    assert server.pending("responses") == 1


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_raise_model_auth_error_at_once(server: FakeOpenAIServer, recorder: Recorder,
                                                      status: int) -> None:
    server.queue("responses", openai_error(status, "no access to model"))
    with pytest.raises(ModelAuthError) as caught:
        client_for(server, recorder).post("responses", {})
    assert caught.value.status == status
    assert "no access to model" in caught.value.reason
    assert len(server.requests) == 1


def test_other_client_errors_carry_the_server_message_cut_short(server: FakeOpenAIServer,
                                                                recorder: Recorder) -> None:
    server.queue("responses", openai_error(400, "Invalid value for 'tools': " + "x" * 5000, code="invalid_value"))
    with pytest.raises(ModelError) as caught:
        client_for(server, recorder).post("responses", {})
    assert type(caught.value) is ModelError
    assert "Invalid value for 'tools'" in caught.value.reason and "invalid_value" in caught.value.reason
    assert len(caught.value.reason) < 400
    assert caught.value.status == 400 and len(server.requests) == 1


def test_plain_text_error_bodies_are_reported(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", Reply(status=404, text="<html>no such route</html>"))
    with pytest.raises(ModelError, match="404: <html>no such route</html>"):
        client_for(server, recorder).post("responses", {})


@pytest.mark.parametrize("family", ["openai", "vllm", "llamacpp"])
def test_context_length_errors_are_recognised_with_the_fit_ratio(server: FakeOpenAIServer, recorder: Recorder,
                                                                 family: str) -> None:
    server.queue("responses", context_length_error(family, limit=4000, requested=10000))
    with pytest.raises(ContextOverflow) as caught:
        client_for(server, recorder).post("responses", {})
    assert isinstance(caught.value, ModelContextTooLong)
    assert caught.value.fit_ratio == pytest.approx(0.4)
    assert len(server.requests) == 1


def test_the_api_key_never_appears_in_error_texts(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", unauthorized(f"Incorrect API key provided: {API_KEY}"),
                 openai_error(400, f"bad request for key {API_KEY}"))
    client = client_for(server, recorder)
    for _ in range(2):
        with pytest.raises(ModelError) as caught:
            client.post("responses", {})
        assert API_KEY not in str(caught.value) and API_KEY not in caught.value.reason
        assert "***" in caught.value.reason


def test_the_call_timeout_bounds_a_slow_answer(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", Reply(body={"id": "late"}, delay=30))
    with pytest.raises(ModelError) as caught:
        client_for(server, recorder).post("responses", {}, timeout=0.3)
    assert caught.value.code == "timeout"
    assert "0.3s" in caught.value.reason
    assert recorder.codes == ["timeout"]


def test_the_call_timeout_includes_retry_sleeps(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", rate_limited(retry_after=60), OK)
    with pytest.raises(ModelError) as caught:
        client_for(server, recorder).post("responses", {}, timeout=5)
    assert caught.value.code == "timeout" and "429" in caught.value.reason
    assert recorder.sleeps == [] and len(server.requests) == 1


def test_non_json_success_is_a_clear_error(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", Reply(text="not json"))
    with pytest.raises(ModelError, match="not JSON"):
        client_for(server, recorder).post("responses", {})


def test_plain_http_is_refused_except_on_loopback(server: FakeOpenAIServer, recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="https"):
        client_for(server, recorder, base_url="http://models.example.com/v1")
    client_for(server, recorder, base_url="https://models.example.com/v1")  # accepted, nothing sent


def _pooled(client: ModelHttpClient) -> requests.Session | None:
    """The client's connection pool, read afresh (a call, so mypy keeps no narrowing of it across the calls)."""
    return client._http._session


def test_session_is_reused_and_recreated_after_close(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", OK, OK, OK)
    client = client_for(server, recorder)
    assert _pooled(client) is None  # created lazily, in the process that uses it
    client.post("responses", {})
    first = _pooled(client)
    client.post("responses", {})
    assert _pooled(client) is first
    client.close()
    assert _pooled(client) is None
    client.post("responses", {})
    assert _pooled(client) is not None and _pooled(client) is not first


# ---------------------------------------------------------------- bounded tries (issue 14)

TRICKLED = http_answer(b'{"id": "resp_slow", "output": []}' + b" " * 400)


def test_a_trickling_server_ends_at_the_call_timeout_and_is_not_retried(recorder: Recorder) -> None:
    # One byte every 50 ms never trips the 1 s read timeout; before BoundedSession the call
    # waited for all ~440 bytes (22 s) and then retried.
    with TrickleServer(TRICKLED, byte_delay=0.05) as slow:
        client = ModelHttpClient(base_url=f"{slow.url}/v1", api_key=None, connect_timeout=1, read_timeout=1,
                                 max_attempts=4, call_timeout=0.5, on_request=recorder.on_request,
                                 sleep=recorder.sleep)
        with pytest.raises(ModelError) as caught:
            client.post("responses", {})
    assert caught.value.code == "timeout" and not isinstance(caught.value, ModelDeadlineExceeded)
    assert "model.call_timeout (0.5s)" in caught.value.reason
    assert recorder.codes == ["timeout"] and recorder.sleeps == [] and slow.served == 1


def test_the_job_deadline_inside_a_call_is_a_job_deadline(recorder: Recorder) -> None:
    with TrickleServer(TRICKLED, byte_delay=0.05) as slow:
        client = ModelHttpClient(base_url=f"{slow.url}/v1", api_key=None, connect_timeout=1, read_timeout=1,
                                 max_attempts=4, call_timeout=60, on_request=recorder.on_request,
                                 sleep=recorder.sleep)
        with pytest.raises(ModelDeadlineExceeded) as caught:
            client.post("responses", {}, timeout=0.5)
    assert isinstance(caught.value, JobFailure) and caught.value.reason.startswith("job deadline exceeded")
    assert caught.value.kind is FailureClass.DEADLINE  # counted as a job deadline, not a model error
    assert recorder.codes == ["timeout"]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked-or-unknown"])
def test_an_oversized_answer_is_a_typed_error_never_retried(recorder: Recorder, declared: bool) -> None:
    body = b'{"id": "huge", "output": "' + b"x" * 5000 + b'"}'
    answer = http_answer(body) if declared else http_answer(body).replace(
        f"Content-Length: {len(body)}\r\n".encode(), b"")
    with TrickleServer(answer) as big:
        client = ModelHttpClient(base_url=f"{big.url}/v1", api_key=None, connect_timeout=1, read_timeout=5,
                                 max_attempts=4, max_answer_bytes=1024, on_request=recorder.on_request,
                                 sleep=recorder.sleep)
        with pytest.raises(ModelAnswerTooLarge) as caught:
            client.post("responses", {})
    assert "1024 bytes" in caught.value.reason and caught.value.code == "answer_too_large"
    assert big.served == 1 and recorder.sleeps == []


def test_each_retry_is_logged_with_its_reason(server: FakeOpenAIServer, recorder: Recorder,
                                              caplog: pytest.LogCaptureFixture) -> None:
    server.queue("responses", server_error(503, "overloaded right now"), Reply(drop=True), OK)
    with caplog.at_level(logging.WARNING, logger="xenon.worker.model"):
        client_for(server, recorder).post("responses", {})
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2
    assert "try 1/4 failed (503 server_error: overloaded right now); retrying in" in lines[0]
    assert "try 2/4 failed (network error (" in lines[1] and "connection" in lines[1]  # reset or closed


def test_a_refused_connection_is_named_without_the_server_address(recorder: Recorder) -> None:
    port = free_port()  # nothing listens there
    client = ModelHttpClient(base_url=f"http://127.0.0.1:{port}/v1", api_key=None, connect_timeout=1,
                             read_timeout=1, max_attempts=2, on_request=recorder.on_request, sleep=recorder.sleep)
    with pytest.raises(ModelError) as caught:
        client.post("chat/completions", {})
    assert isinstance(caught.value, ModelEndpointDown)  # every job would fail the same way: pause the pool
    assert "connection refused" in caught.value.reason
    assert "127.0.0.1" not in caught.value.reason and str(port) not in caught.value.reason
    assert recorder.codes == ["network", "network"]


def test_a_500_the_server_repeats_about_our_request_is_not_retried_blindly(server: FakeOpenAIServer,
                                                                            recorder: Recorder) -> None:
    # llama-cpp-python's answer to an assistant turn with "content": null; it was tried 4 times.
    choked = openai_error(500, 'can only concatenate str (not "NoneType") to str', type="internal_server_error")
    server.queue("chat/completions", choked, choked, choked, choked)
    with pytest.raises(ModelError) as caught:
        client_for(server, recorder).post("chat/completions", {})
    assert caught.value.code == "request_rejected" and "NoneType" in caught.value.reason
    assert "failed the same way twice" in caught.value.reason
    assert len(server.requests) == 2 and server.pending("chat/completions") == 2


def test_a_quick_question_to_a_trickling_server_ends_at_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # /props, /tokenize and the start-up probe go through BoundedSession too: before, they were
    # bounded only by 10 s of silence, so a server trickling bytes held the worker's start-up.
    monkeypatch.setattr(http_client, "PROBE_DEADLINE", 0.5)
    with TrickleServer(TRICKLED, byte_delay=0.05) as slow:
        client = ModelHttpClient(base_url=f"{slow.url}/v1", api_key=None, connect_timeout=1, read_timeout=1,
                                 max_attempts=1)
        with pytest.raises(requests.Timeout):
            client.fetch_json("GET", f"{slow.url}/props")
        status, detail = client.probe("responses")
    assert status is None and detail  # the probe says the server could not be reached in time
