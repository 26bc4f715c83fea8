"""The transport's retry, timeout, observer and safety rules, against a scripted loopback server."""
from __future__ import annotations

import logging
import pickle
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.cloud import CloudError, CredentialRejected, JobClient, LeaseLost, TransientCloudError, ValidationRejected
from shared.cloud.transport import JsonTransport
from shared.config.sections import CloudConfig
from shared.http.retry import RetryPolicy
from tests.cloud.conftest import RUNNER_KEY
from tests.cloud.standin import DROP, HANG, StandIn, answer

HEARTBEAT_OK = {"ok": True, "leaseExpiresAt": 1_700_000_600_000}


def test_sends_json_with_the_bearer_key_and_reports_each_try(
        job_client: Callable[..., JobClient], requests_seen: list[tuple[str, str, float]]) -> None:
    with StandIn(answer(200, HEARTBEAT_OK)) as server:
        expires = job_client(server.url).heartbeat("ws-1")
    assert expires == 1_700_000_600_000
    [seen] = server.requests
    assert seen.path == "/heartbeatWorkspaceJob"
    assert seen.body == {"workspaceId": "ws-1"}
    assert seen.headers["Authorization"] == f"Bearer {RUNNER_KEY}"
    assert seen.headers["Content-Type"] == "application/json"
    [(route, code, seconds)] = requests_seen
    assert (route, code) == ("/heartbeatWorkspaceJob", "200")
    assert seconds >= 0


def test_5xx_is_retried_with_jittered_backoff_then_succeeds(
        job_client: Callable[..., JobClient], sleeps: list[float], requests_seen: list[tuple[str, str, float]]) -> None:
    with StandIn(answer(503, {"error": "busy"}), answer(500), answer(200, HEARTBEAT_OK)) as server:
        job_client(server.url).heartbeat("ws-1")
    assert len(server.requests) == 3
    assert [code for _, code, _ in requests_seen] == ["503", "500", "200"]
    assert len(sleeps) == 2
    assert 0.5 * 0.85 <= sleeps[0] <= 0.5 * 1.15  # base 0.5 s × 2^0 × jitter
    assert 1.0 * 0.85 <= sleeps[1] <= 1.0 * 1.15  # base 0.5 s × 2^1 × jitter


def test_retry_after_is_honoured_in_seconds_and_capped(
        job_client: Callable[..., JobClient], sleeps: list[float]) -> None:
    with StandIn(answer(429, {"error": "slow down"}, Retry_After="7"),
                 answer(503, Retry_After="900"), answer(200, HEARTBEAT_OK)) as server:
        job_client(server.url, retry_after_cap=60.0).heartbeat("ws-1")
    assert sleeps == [7.0, 60.0]


def test_retries_exhausted_raise_transient_with_the_servers_words(
        job_client: Callable[..., JobClient], sleeps: list[float]) -> None:
    steps = [answer(500, {"error": "Could not complete job (internal: grpc)"}, Retry_After="2")] * 4
    with StandIn(*steps) as server:
        with pytest.raises(TransientCloudError) as caught:
            job_client(server.url).heartbeat("ws-1")
    error = caught.value
    assert (error.route, error.status, error.attempts, error.retry_after) == ("/heartbeatWorkspaceJob", 500, 4, 2.0)
    assert len(server.requests) == 4 and sleeps == [2.0, 2.0, 2.0]
    assert "POST /heartbeatWorkspaceJob: HTTP 500 Could not complete job" in str(error)
    assert "after 4 tries" in str(error)


@pytest.mark.parametrize(("status", "error_type"), [
    (400, ValidationRejected), (401, CredentialRejected), (403, CredentialRejected), (409, LeaseLost),
    (404, CloudError), (501, TransientCloudError),
])
def test_non_retryable_statuses_raise_their_type_after_one_try(
        job_client: Callable[..., JobClient], sleeps: list[float], status: int, error_type: type[CloudError]) -> None:
    with StandIn(answer(status, {"error": "nope", "detail": {"field": "files[0].name"}})) as server:
        with pytest.raises(error_type) as caught:
            job_client(server.url).heartbeat("ws-1")
    assert type(caught.value) is error_type
    assert caught.value.status == status and caught.value.attempts == 1
    assert len(server.requests) == 1 and sleeps == []
    assert str(caught.value).startswith(f"POST /heartbeatWorkspaceJob: HTTP {status} nope")


def test_validation_rejected_carries_the_servers_detail(job_client: Callable[..., JobClient]) -> None:
    detail = {"path": "charts[2].series[0].values", "problem": "length differs from labels"}
    with StandIn(answer(400, {"error": "invalid payload", "detail": detail})) as server:
        with pytest.raises(ValidationRejected) as caught:
            job_client(server.url).heartbeat("ws-1")
    assert caught.value.detail == detail
    assert "charts[2].series[0].values" in str(caught.value)


def test_dropped_connection_is_retried_and_reported_as_network(
        job_client: Callable[..., JobClient], sleeps: list[float], requests_seen: list[tuple[str, str, float]]) -> None:
    with StandIn(DROP, answer(200, HEARTBEAT_OK)) as server:
        assert job_client(server.url).heartbeat("ws-1") == HEARTBEAT_OK["leaseExpiresAt"]
    assert [code for _, code, _ in requests_seen] == ["network", "200"]
    assert len(sleeps) == 1


def test_read_timeout_is_retried_and_reported_as_timeout(
        job_client: Callable[..., JobClient], requests_seen: list[tuple[str, str, float]]) -> None:
    with StandIn(HANG, answer(200, HEARTBEAT_OK)) as server:
        assert job_client(server.url, read_timeout=0.3).heartbeat("ws-1") == HEARTBEAT_OK["leaseExpiresAt"]
    assert [code for _, code, _ in requests_seen] == ["timeout", "200"]


def test_read_timeout_on_the_last_try_is_transient_without_status(job_client: Callable[..., JobClient]) -> None:
    with StandIn(HANG) as server:
        with pytest.raises(TransientCloudError) as caught:
            job_client(server.url, read_timeout=0.3, max_attempts=1).heartbeat("ws-1")
    assert caught.value.status is None
    assert "timeout error" in str(caught.value) and "ReadTimeout" in str(caught.value)


def test_refused_connection_exhausts_retries(
        job_client: Callable[..., JobClient], sleeps: list[float], requests_seen: list[tuple[str, str, float]]) -> None:
    with socket.socket() as placeholder:  # a port that was free a moment ago: nothing listens there
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    with pytest.raises(TransientCloudError) as caught:
        job_client(f"http://127.0.0.1:{port}", max_attempts=3).heartbeat("ws-1")
    assert caught.value.attempts == 3 and len(sleeps) == 2
    assert [code for _, code, _ in requests_seen] == ["network"] * 3


@pytest.mark.parametrize("url", ["http://cloud.example.com", "http://10.0.0.8:8080", "ftp://127.0.0.1", "cloud"])
def test_insecure_or_invalid_base_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="cloud base URL refused"):
        JobClient(base_url=url, token=RUNNER_KEY, connect_timeout=1, read_timeout=1, retry=RetryPolicy())


@pytest.mark.parametrize("url", ["https://cloud.example.com", "http://127.0.0.1:8080", "http://localhost/",
                                 "http://[::1]:9"])
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    JobClient(base_url=url, token=RUNNER_KEY, connect_timeout=1, read_timeout=1, retry=RetryPolicy()).close()


@pytest.mark.parametrize("token", ["", "   ", "cred.sec ret", "cred.secret\n"])
def test_unusable_keys_are_refused_without_echoing_them(token: str) -> None:
    with pytest.raises(ValueError) as caught:
        JobClient(base_url="https://x.example", token=token, connect_timeout=1, read_timeout=1, retry=RetryPolicy())
    assert "runner key" in str(caught.value)
    assert token.strip() == "" or token.strip() not in str(caught.value)


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_non_positive_timeouts_are_refused(timeout: float) -> None:
    with pytest.raises(ValueError, match="read_timeout must be a positive number"):
        JobClient(base_url="https://x.example", token=RUNNER_KEY, connect_timeout=1, read_timeout=timeout,
                  retry=RetryPolicy())


def test_a_client_posts_only_to_its_own_routes() -> None:
    transport = JsonTransport(base_url="http://127.0.0.1:9", credential=RUNNER_KEY, credential_name="runner key",
                              routes=frozenset({"/leaseWorkspaceJob"}), connect_timeout=1, read_timeout=1,
                              retry=RetryPolicy())
    with pytest.raises(ValueError, match="/createRunnerInstance is not a route of this client"):
        transport.post("/createRunnerInstance", {"kind": "user"})
    transport.close()


def test_a_failing_observer_does_not_change_the_outcome(sleeps: list[float], caplog: pytest.LogCaptureFixture) -> None:
    def broken(route: str, code: str, seconds: float) -> None:
        raise RuntimeError("metrics backend down")

    with StandIn(answer(200, HEARTBEAT_OK)) as server:
        client = JobClient(base_url=server.url, token=RUNNER_KEY, connect_timeout=5, read_timeout=5,
                           retry=RetryPolicy(), on_request=broken, sleep=sleeps.append)
        with caplog.at_level(logging.WARNING, logger="shared.cloud"):
            assert client.heartbeat("ws-1") == HEARTBEAT_OK["leaseExpiresAt"]
        client.close()
    assert "request observer failed" in caplog.text


def test_secrets_echoed_by_the_server_never_reach_errors_or_logs(
        job_client: Callable[..., JobClient], caplog: pytest.LogCaptureFixture) -> None:
    echo = {"error": f"bad key Bearer {RUNNER_KEY}", "detail": {"seen": RUNNER_KEY, "tail": RUNNER_KEY.split(".")[1]}}
    secret_tail = RUNNER_KEY.split(".", 1)[1]
    with StandIn(answer(503, echo), answer(401, echo)) as server:
        with caplog.at_level(logging.DEBUG):
            with pytest.raises(CredentialRejected) as caught:
                job_client(server.url).heartbeat("ws-1")
    texts = [str(caught.value), repr(caught.value), caplog.text, str(caught.value.args)]
    assert "HTTP 503 bad key Bearer ***" in caplog.text  # the retry was logged, with the server's words
    for text in texts:
        assert secret_tail not in text
    assert 'detail: {"seen": "***", "tail": "***"}' in str(caught.value)


def test_huge_server_bodies_are_truncated_in_messages(job_client: Callable[..., JobClient]) -> None:
    with StandIn(answer(400, {"error": "x" * 1_000_000, "detail": ["y" * 1000] * 1000})) as server:
        with pytest.raises(ValidationRejected) as caught:
            job_client(server.url).heartbeat("ws-1")
    assert len(str(caught.value)) < 1000
    assert "chars]" in str(caught.value)  # the cut is marked: …[+N chars]


def test_non_json_error_bodies_are_quoted_as_text(job_client: Callable[..., JobClient]) -> None:
    with StandIn(answer(404, b"<html>\n  <body>Not   Found</body>\n</html>")) as server:
        with pytest.raises(CloudError) as caught:
            job_client(server.url).heartbeat("ws-1")
    assert str(caught.value) == "POST /heartbeatWorkspaceJob: HTTP 404 <html> <body>Not Found</body> </html>"


def test_unserialisable_bodies_are_refused_before_sending(job_client: Callable[..., JobClient]) -> None:
    client = job_client("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        client.complete({"workspaceId": "ws-1", "charts": [{"value": float("nan")}]})


@pytest.mark.parametrize("error", [
    LeaseLost("POST /x: HTTP 409", route="/x", status=409, attempts=2, earlier_try_may_have_landed=True),
    ValidationRejected("POST /x: HTTP 400", route="/x", status=400, detail={"a": 1}),
    TransientCloudError("POST /x: HTTP 503", route="/x", status=503, retry_after=3.0),
])
def test_errors_survive_pickling_with_their_attributes(error: CloudError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)


def test_a_netrc_entry_cannot_replace_the_bearer_key(
        job_client: Callable[..., JobClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with StandIn(answer(200, HEARTBEAT_OK)) as server:
        job_client(server.url).heartbeat("ws-1")
    assert server.requests[0].headers["Authorization"] == f"Bearer {RUNNER_KEY}"


def test_from_config_uses_the_configured_url_timeouts_and_attempts() -> None:
    # Retry-After: 0 keeps the real sleep of from_config's client at zero seconds.
    with StandIn(answer(503, Retry_After="0"), answer(503, Retry_After="0"), answer(200, HEARTBEAT_OK)) as server:
        config = CloudConfig(base_url=server.url, max_attempts=2, connect_timeout=2.0, read_timeout=3.0)
        with JobClient.from_config(config, token=RUNNER_KEY) as client:
            with pytest.raises(TransientCloudError) as caught:
                client.heartbeat("ws-1")
    assert caught.value.attempts == 2 and len(server.requests) == 2


def test_from_config_refuses_the_embedded_placeholder() -> None:
    with pytest.raises(ValueError, match="start the emulator first"):
        JobClient.from_config(CloudConfig(base_url="embedded"), token=RUNNER_KEY)


def test_from_config_takes_the_started_emulators_url_for_embedded() -> None:
    with StandIn(answer(200, HEARTBEAT_OK)) as server:
        with JobClient.from_config(CloudConfig(base_url="embedded"), token=RUNNER_KEY, base_url=server.url) as client:
            assert client.heartbeat("ws-1") == HEARTBEAT_OK["leaseExpiresAt"]
