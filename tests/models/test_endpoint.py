"""A dead or wrong model endpoint: errors that pause the pool, the start-up probe, no addresses."""
from __future__ import annotations

import logging

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply, server_error
from tests.harness import free_port
from tests.models.conftest import Recorder, model_config
from workers.models.base import ModelEndpointDown, ModelUnavailable
from workers.models.http_client import ModelHttpClient
from workers.models.loader import ModelLoadError, load_model_handle


def client_for(server: FakeOpenAIServer, recorder: Recorder, **overrides: object) -> ModelHttpClient:
    return ModelHttpClient.from_config(model_config(server, **overrides), on_request=recorder.on_request,
                                       sleep=recorder.sleep)


def test_a_404_on_the_api_path_is_an_endpoint_down_at_once(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("responses", Reply(status=404, body={"detail": "Not Found"}))
    with pytest.raises(ModelEndpointDown) as caught:
        client_for(server, recorder).post("responses", {})
    assert isinstance(caught.value, ModelUnavailable) and caught.value.status == 404
    assert "model.base_url" in caught.value.reason and len(server.requests) == 1


def test_5xx_on_every_try_is_an_endpoint_down(server: FakeOpenAIServer, recorder: Recorder) -> None:
    server.queue("chat/completions", *[server_error(502, "bad gateway")] * 3)
    with pytest.raises(ModelEndpointDown, match="gave up after 3 tries"):
        client_for(server, recorder, max_attempts=3).post("chat/completions", {})


def test_the_start_up_probe_names_the_api_the_server_does_serve(server: FakeOpenAIServer) -> None:
    # llama.cpp's server has /v1/chat/completions only: before, every job failed on a 404.
    server.serve_info("POST", "/v1/responses", Reply(status=404, body={"detail": "Not Found"}))
    with pytest.raises(ModelLoadError) as caught:
        load_model_handle(model_config(server, name="openai-responses"))
    assert "use model.name: openai-chat" in caught.value.reason
    assert server.requests == []  # the probe never reaches the API's real traffic
    assert [request.json for request in server.info_requests] == [{}, {}]


def test_the_start_up_probe_fails_a_base_url_without_either_api(server: FakeOpenAIServer) -> None:
    for path in ("/v1/responses", "/v1/chat/completions"):
        server.serve_info("POST", path, Reply(status=404, text="not here"))
    with pytest.raises(ModelLoadError, match=r"check model.base_url \(an OpenAI-compatible base URL ends in /v1\)"):
        load_model_handle(model_config(server, name="openai-chat"))


def test_an_unreachable_endpoint_at_start_up_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    from shared.config.sections import ModelConfig
    config = ModelConfig(name="openai-chat", base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="k-local",
                         connect_timeout=1)
    with caplog.at_level(logging.WARNING, logger="xenon.worker.model"):
        handle = load_model_handle(config)
    handle.close()
    assert any("unreachable at start-up (connection refused)" in record.getMessage() for record in caplog.records)


def test_a_server_with_the_api_passes_the_probe(server: FakeOpenAIServer) -> None:
    load_model_handle(model_config(server, name="openai-chat")).close()
    assert [request.path for request in server.info_requests] == ["/v1/chat/completions"]
