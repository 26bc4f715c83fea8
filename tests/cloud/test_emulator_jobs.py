"""JobClient against the real local cloud emulator over 127.0.0.1: every route and every error class."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from shared.cloud import (
    CompleteOutcome,
    CredentialRejected,
    FailOutcome,
    InstanceClient,
    JobClient,
    LeaseLost,
    MalformedResponse,
    TransientCloudError,
    ValidationRejected,
)
from shared.http.retry import RetryPolicy
from tests.cloud import emulated
from tests.cloud.emulated import DONE_PAYLOAD, Cloud, running_cloud

HEARTBEAT = "/heartbeatWorkspaceJob"


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    yield from running_cloud()


@pytest.fixture
def client(cloud: Cloud, requests_seen: list[tuple[str, str, float]], sleeps: list[float]) -> Iterator[JobClient]:
    with JobClient(base_url=cloud.url, token=cloud.runner_key(), connect_timeout=5.0, read_timeout=10.0,
                   retry=RetryPolicy(), on_request=lambda *report: requests_seen.append(report),
                   sleep=sleeps.append) as job_client:
        yield job_client


def done(workspace_id: str, **changes: Any) -> dict[str, Any]:
    return {"workspaceId": workspace_id, **DONE_PAYLOAD, **changes}


def test_a_job_goes_through_every_route(
        cloud: Cloud, client: JobClient, requests_seen: list[tuple[str, str, float]]) -> None:
    assert client.lease() is None  # empty queue
    workspace_id = cloud.enqueue(messages=3)
    lease = client.lease()
    assert lease is not None and lease.workspace_id == workspace_id
    assert lease.workspace["title"] == "Test job"
    assert client.heartbeat(workspace_id) >= lease.lease_expires_at_ms
    context = client.get_context(workspace_id)
    assert context["workspaceId"] == workspace_id and context["messageCount"] == 3
    ids = [message["id"] for message in context["priorMessages"] + context["recentMessages"]]
    client.update_summary(workspace_id=workspace_id, summary_text="Earlier: greetings.", from_message_id=ids[0],
                          through_message_id=ids[1])
    assert client.complete(done(workspace_id)) is CompleteOutcome.COMPLETED
    job = cloud.job(workspace_id)
    assert (job["state"], job["completeCount"]) == ("completed", 1)
    assert job["summary"] == {"text": "Earlier: greetings.", "fromMessageId": ids[0], "throughMessageId": ids[1]}
    assert [(route, code) for route, code, _ in requests_seen] == [
        ("/leaseWorkspaceJob", "200"), ("/leaseWorkspaceJob", "200"), (HEARTBEAT, "200"),
        ("/getWorkspaceRunnerContext", "200"), ("/updateWorkspaceRunnerSummary", "200"),
        ("/completeWorkspaceJob", "200")]


def test_fail_finishes_the_job_with_the_reason(cloud: Cloud, client: JobClient) -> None:
    workspace_id = cloud.enqueue()
    client.lease()
    assert client.fail(workspace_id, "empty_context") is FailOutcome.FAILED
    job = cloud.job(workspace_id)
    assert (job["state"], job["error"]) == ("failed", "empty_context")


def test_400_carries_the_validation_detail_and_keeps_the_lease(
        cloud: Cloud, client: JobClient, sleeps: list[float]) -> None:
    workspace_id = cloud.enqueue()
    client.lease()
    with pytest.raises(ValidationRejected) as caught:
        client.complete(done(workspace_id, files=[{"name": "tool.exe", "content": "x"}]))
    assert "files[0].name: must end in .md or .txt" in caught.value.detail["problems"]
    assert "HTTP 400 invalid completion payload" in str(caught.value)
    assert sleeps == []
    assert cloud.job(workspace_id)["state"] == "leased"


def test_unknown_or_revoked_keys_and_id_tokens_on_job_routes_are_401(cloud: Cloud) -> None:
    for token in ("credunknown.not-a-real-secret", cloud.server.admin_id_token):
        with JobClient(base_url=cloud.url, token=token, connect_timeout=5, read_timeout=10,
                       retry=RetryPolicy()) as client:
            with pytest.raises(CredentialRejected) as caught:
                client.lease()
        assert caught.value.status == 401 and caught.value.attempts == 1


def test_409_when_the_lease_is_not_ours(cloud: Cloud, client: JobClient) -> None:
    workspace_id = cloud.enqueue()
    with pytest.raises(LeaseLost) as caught:
        client.heartbeat(workspace_id)  # never leased
    assert caught.value.status == 409
    with pytest.raises(LeaseLost):
        client.complete(done(workspace_id))
    with pytest.raises(LeaseLost):
        client.fail(workspace_id, "x")


def test_5xx_is_retried_then_succeeds(
        cloud: Cloud, requests_seen: list[tuple[str, str, float]], sleeps: list[float]) -> None:
    cloud.set_faults(HEARTBEAT, error_rate=1.0)
    key = cloud.runner_key()
    with JobClient(base_url=cloud.url, token=key, connect_timeout=5, read_timeout=10, retry=RetryPolicy(),
                   on_request=lambda *report: requests_seen.append(report),
                   sleep=cloud.clear_faults_on_sleep(HEARTBEAT, sleeps)) as client:
        workspace_id = cloud.enqueue()
        client.lease()
        assert client.heartbeat(workspace_id) > 0
    assert [code for route, code, _ in requests_seen if route == HEARTBEAT] == ["500", "200"]
    assert len(sleeps) == 1 and 0.425 <= sleeps[0] <= 0.575  # 0.5 s × jitter 0.85–1.15


def test_5xx_exhausts_the_retries(cloud: Cloud, client: JobClient, sleeps: list[float]) -> None:
    workspace_id = cloud.enqueue()
    client.lease()
    cloud.set_faults(HEARTBEAT, error_rate=1.0)
    with pytest.raises(TransientCloudError) as caught:
        client.heartbeat(workspace_id)
    assert (caught.value.status, caught.value.attempts) == (500, 4)
    assert len(sleeps) == 3
    assert str(caught.value) == "POST /heartbeatWorkspaceJob: HTTP 500 injected fault (after 4 tries)"


def test_429_retry_after_is_honoured(cloud: Cloud, sleeps: list[float]) -> None:
    cloud.set_faults(HEARTBEAT, throttle_rate=1.0, retry_after=7)
    with JobClient(base_url=cloud.url, token=cloud.runner_key(), connect_timeout=5, read_timeout=10,
                   retry=RetryPolicy(), sleep=cloud.clear_faults_on_sleep(HEARTBEAT, sleeps)) as client:
        workspace_id = cloud.enqueue()
        client.lease()
        client.heartbeat(workspace_id)
    assert sleeps == [7.0]  # the server's Retry-After, not the 0.5 s backoff


def test_429_on_lease_raises_at_once_with_retry_after(cloud: Cloud, client: JobClient, sleeps: list[float]) -> None:
    cloud.set_faults("/leaseWorkspaceJob", throttle_rate=1.0, retry_after=3)
    with pytest.raises(TransientCloudError) as caught:
        client.lease()
    assert (caught.value.status, caught.value.retry_after, sleeps) == (429, 3.0, [])


def test_dropped_connection_is_retried(
        cloud: Cloud, requests_seen: list[tuple[str, str, float]], sleeps: list[float]) -> None:
    route = "/getWorkspaceRunnerContext"
    cloud.set_faults(route, drop_rate=1.0)
    with JobClient(base_url=cloud.url, token=cloud.runner_key(), connect_timeout=5, read_timeout=10,
                   retry=RetryPolicy(), on_request=lambda *report: requests_seen.append(report),
                   sleep=cloud.clear_faults_on_sleep(route, sleeps)) as client:
        workspace_id = cloud.enqueue()
        client.lease()
        assert client.get_context(workspace_id)["workspaceId"] == workspace_id
    assert [code for seen_route, code, _ in requests_seen if seen_route == route] == ["network", "200"]


def test_read_timeout_is_a_transient_error(cloud: Cloud, requests_seen: list[tuple[str, str, float]]) -> None:
    cloud.set_faults(HEARTBEAT, latency=1.0)
    with JobClient(base_url=cloud.url, token=cloud.runner_key(), connect_timeout=5, read_timeout=0.2,
                   retry=RetryPolicy(max_attempts=1),
                   on_request=lambda *report: requests_seen.append(report)) as client:
        with pytest.raises(TransientCloudError) as caught:
            client.heartbeat("ws-any")
    assert caught.value.status is None
    assert requests_seen[-1][:2] == (HEARTBEAT, "timeout")


def test_malformed_2xx_answers_are_reported(cloud: Cloud, client: JobClient) -> None:
    cloud.set_faults("/leaseWorkspaceJob", malformed_rate=1.0)
    complaints = set()
    for _ in range(6):  # the emulator picks non-JSON or fields-missing at random
        with pytest.raises(MalformedResponse) as caught:
            client.lease()
        assert str(caught.value).startswith("POST /leaseWorkspaceJob: HTTP 200 answer unusable: ")
        complaints.add(str(caught.value).split("unusable: ")[1].split(":")[0])
    assert complaints <= {"the body is not JSON", "field 'leased' is missing"}


def test_complete_whose_answer_was_lost_counts_as_completed(cloud: Cloud, sleeps: list[float]) -> None:
    """The first try lands but its answer times out; the retry gets 409 → PROBABLY_COMPLETED_EARLIER."""
    route = "/completeWorkspaceJob"
    workspace_id = cloud.enqueue()
    cloud.set_faults(route, latency=0.5)  # seconds the emulator waits before handling the request
    sleep = cloud.clear_faults_on_sleep(route, sleeps, before=lambda: cloud.wait_for_state(workspace_id, "completed"))
    with JobClient(base_url=cloud.url, token=cloud.runner_key(), connect_timeout=5, read_timeout=0.1,
                   retry=RetryPolicy(), sleep=sleep) as client:
        client.lease()
        outcome = client.complete(done(workspace_id))
    assert outcome is CompleteOutcome.PROBABLY_COMPLETED_EARLIER
    job = cloud.job(workspace_id)
    assert (job["state"], job["completeCount"]) == ("completed", 1)
    assert len(sleeps) == 1


def test_waiting_for_a_state_the_job_never_reaches_fails(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper the two tests around this one wait with: before, it returned the job in any state."""
    monkeypatch.setattr(emulated, "SAFETY_TIMEOUT", 0.05)
    workspace_id = cloud.enqueue()
    with pytest.raises(AssertionError, match=f"job {workspace_id} not completed within 0.05s"):
        cloud.wait_for_state(workspace_id, "completed")


def test_fail_whose_answer_was_lost_counts_as_failed(cloud: Cloud, sleeps: list[float]) -> None:
    route = "/failWorkspaceJob"
    workspace_id = cloud.enqueue()
    cloud.set_faults(route, latency=0.5)
    sleep = cloud.clear_faults_on_sleep(route, sleeps, before=lambda: cloud.wait_for_state(workspace_id, "failed"))
    with JobClient(base_url=cloud.url, token=cloud.runner_key(), connect_timeout=5, read_timeout=0.1,
                   retry=RetryPolicy(), sleep=sleep) as client:
        client.lease()
        assert client.fail(workspace_id, "model unavailable") is FailOutcome.PROBABLY_FAILED_EARLIER
    assert cloud.job(workspace_id)["state"] == "failed"


def test_the_runner_key_never_reaches_errors_or_logs(cloud: Cloud, caplog: pytest.LogCaptureFixture) -> None:
    created = cloud.server.create_instance(kind="global")
    key, secret = created["runnerToken"], created["runnerToken"].split(".", 1)[1]
    cloud.set_faults(HEARTBEAT, error_rate=1.0)
    with caplog.at_level(logging.DEBUG):
        with JobClient(base_url=cloud.url, token=key, connect_timeout=5, read_timeout=10,
                       retry=RetryPolicy(max_attempts=2), sleep=lambda seconds: None) as client:
            with pytest.raises(TransientCloudError) as transient:
                client.heartbeat("ws-1")
            with InstanceClient(base_url=cloud.url, id_token=cloud.server.admin_id_token, connect_timeout=5,
                                read_timeout=10, retry=RetryPolicy()) as instances:
                instances.revoke(instance_id=created["instanceId"])
            with pytest.raises(CredentialRejected) as rejected:
                client.lease()
    assert "retrying" in caplog.text
    for text in (str(transient.value), repr(transient.value), str(rejected.value), repr(rejected.value),
                 caplog.text):
        assert secret not in text
