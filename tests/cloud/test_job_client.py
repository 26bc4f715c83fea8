"""JobClient decisions the emulator cannot force on demand: retried completes answered 409,
lease pacing, response-shape checks and the separation of the two credentials."""
from __future__ import annotations

from collections.abc import Callable
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
from shared.cloud.errors import InvalidRequest
from shared.cloud.instances import INSTANCE_ROUTES
from shared.cloud.jobs import JOB_ROUTES
from shared.jobs import LeasedJob
from tests.cloud.conftest import ID_TOKEN, RUNNER_KEY
from tests.cloud.standin import DROP, HANG, StandIn, Step, answer

PAYLOAD = {"workspaceId": "ws-1", "assistantMessage": "done", "files": [], "charts": [], "datasets": [],
           "svgs": [], "lists": [], "checklists": []}
LOST = answer(409, {"error": "No active lease"})


@pytest.mark.parametrize("first", [answer(500), answer(502), answer(504), DROP, HANG],
                         ids=["500", "502", "504", "dropped", "read-timeout"])
def test_complete_answered_409_after_a_try_that_may_have_landed_counts_as_done(
        job_client: Callable[..., JobClient], first: Step) -> None:
    with StandIn(first, LOST) as server:
        outcome = job_client(server.url, read_timeout=0.3).complete(PAYLOAD)
    assert outcome is CompleteOutcome.PROBABLY_COMPLETED_EARLIER
    assert [seen.body for seen in server.requests] == [PAYLOAD, PAYLOAD]


def test_complete_answered_409_on_the_first_try_is_lease_lost(
        job_client: Callable[..., JobClient], sleeps: list[float]) -> None:
    with StandIn(LOST) as server:
        with pytest.raises(LeaseLost) as caught:
            job_client(server.url).complete(PAYLOAD)
    assert caught.value.attempts == 1 and sleeps == []


@pytest.mark.parametrize("first", [answer(429, Retry_After="1"), answer(408)], ids=["429", "408"])
def test_complete_answered_409_after_tries_that_never_ran_is_lease_lost(
        job_client: Callable[..., JobClient], first: Step) -> None:
    with StandIn(first, LOST) as server:
        with pytest.raises(LeaseLost) as caught:
            job_client(server.url).complete(PAYLOAD)
    assert caught.value.attempts == 2 and len(server.requests) == 2


def test_complete_succeeds_after_a_5xx(job_client: Callable[..., JobClient]) -> None:
    with StandIn(answer(503), answer(200, {"ok": True})) as server:
        assert job_client(server.url).complete(PAYLOAD) is CompleteOutcome.COMPLETED
    assert len(server.requests) == 2


def test_complete_accepts_a_2xx_whatever_its_body(job_client: Callable[..., JobClient]) -> None:
    with StandIn(answer(200, b"")) as server:
        assert job_client(server.url).complete(PAYLOAD) is CompleteOutcome.COMPLETED


def test_complete_400_is_never_retried(job_client: Callable[..., JobClient], sleeps: list[float]) -> None:
    with StandIn(answer(400, {"error": "invalid", "detail": {"path": "files[0].content"}})) as server:
        with pytest.raises(ValidationRejected) as caught:
            job_client(server.url).complete(PAYLOAD)
    assert caught.value.detail == {"path": "files[0].content"}
    assert len(server.requests) == 1 and sleeps == []


def test_complete_requires_a_workspace_id(job_client: Callable[..., JobClient]) -> None:
    with pytest.raises(InvalidRequest, match="workspaceId is not a string"):
        job_client("http://127.0.0.1:9").complete({"assistantMessage": "x"})


@pytest.mark.parametrize("workspace_id", ["", "ws\n2026-12-01 ERROR forged", "w" * 257, None])
def test_fail_with_an_unusable_workspace_id_raises_a_cloud_error_and_sends_nothing(
        job_client: Callable[..., JobClient], workspace_id: object) -> None:
    # Defect 3 (issue 9): fail() raised ValueError while the job was being failed for a first error.
    with StandIn() as server:
        with pytest.raises(InvalidRequest, match="POST /failWorkspaceJob: not sent: the workspaceId"):
            job_client(server.url).fail(workspace_id, "boom")  # type: ignore[arg-type]
    assert server.requests == []


def test_fail_follows_the_same_409_rule(job_client: Callable[..., JobClient]) -> None:
    with StandIn(DROP, LOST, LOST) as server:
        client = job_client(server.url)
        assert client.fail("ws-1", "boom") is FailOutcome.PROBABLY_FAILED_EARLIER
        with pytest.raises(LeaseLost):
            client.fail("ws-1", "boom")


def test_fail_sends_a_redacted_reason_cut_to_500_chars(job_client: Callable[..., JobClient]) -> None:
    with StandIn(answer(200, {"ok": True})) as server:
        outcome = job_client(server.url).fail("ws-1", f"model said {RUNNER_KEY} " + "x" * 2000)
    assert outcome is FailOutcome.FAILED
    sent = server.requests[0].body
    assert sent["workspaceId"] == "ws-1"
    assert len(sent["error"]) == 500
    assert sent["error"].startswith("model said *** x")


@pytest.mark.parametrize("status", [429, 503])
def test_lease_is_tried_once_and_passes_retry_after_on(
        job_client: Callable[..., JobClient], sleeps: list[float], status: int) -> None:
    with StandIn(answer(status, {"error": "throttled"}, Retry_After="12")) as server:
        with pytest.raises(TransientCloudError) as caught:
            job_client(server.url).lease()
    assert caught.value.retry_after == 12.0 and caught.value.status == status
    assert len(server.requests) == 1 and sleeps == []


def test_lease_network_failure_is_not_retried(job_client: Callable[..., JobClient], sleeps: list[float]) -> None:
    with StandIn(DROP) as server:
        with pytest.raises(TransientCloudError) as caught:
            job_client(server.url).lease()
    assert caught.value.status is None and caught.value.retry_after is None
    assert len(server.requests) == 1 and sleeps == []


def test_lease_parses_both_answers(job_client: Callable[..., JobClient]) -> None:
    leased = {"leased": True, "workspaceId": "ws-9", "leaseExpiresAt": 1_700_000_000_000.0,
              "workspace": {"title": "T"}, "extra": "ignored"}
    with StandIn(answer(200, {"leased": False}), answer(200, leased)) as server:
        client = job_client(server.url)
        assert client.lease() is None
        lease = client.lease()
    assert lease == LeasedJob(workspace_id="ws-9", lease_expires_at_ms=1_700_000_000_000, workspace={"title": "T"})
    assert isinstance(lease.lease_expires_at_ms, int)
    assert server.requests[0].body == {}


@pytest.mark.parametrize(("body", "complaint"), [
    (b"<html>maintenance</html>", "the body is not JSON: <html>maintenance</html>"),
    ([1, 2], "expected a JSON object, got an array"),
    ({}, "field 'leased' is missing"),
    ({"leased": "yes"}, "field 'leased' should be a boolean, got a string \"yes\""),
    ({"leased": True, "leaseExpiresAt": 1_700_000_000_000}, "field 'workspaceId' is missing"),
    ({"leased": True, "workspaceId": 7, "leaseExpiresAt": 1},
     "field 'workspaceId' should be a string, got a number 7"),
    ({"leased": True, "workspaceId": "w", "leaseExpiresAt": "soon"},
     "field 'leaseExpiresAt' should be a finite number"),
    ({"leased": True, "workspaceId": "w", "leaseExpiresAt": True}, "field 'leaseExpiresAt' should be a finite number"),
    (b'{"leased": true, "workspaceId": "w", "leaseExpiresAt": NaN}', "field 'leaseExpiresAt' should be a finite"),
    ({"leased": True, "workspaceId": "w", "leaseExpiresAt": 1_700_000_000_000, "workspace": []},
     "field 'workspace' should be a JSON object"),
    # Defect 3 (issue 9): each of these crashed the worker or a later call.
    (b'{"leased": true, "workspaceId": "w", "leaseExpiresAt": 1' + b"0" * 400 + b"}",
     "field 'leaseExpiresAt' should be epoch milliseconds between 946684800000 and 7258118400000 (years 2000-2200), "
     "got a 401-digit number"),
    ({"leased": True, "workspaceId": "w", "leaseExpiresAt": 1}, "field 'leaseExpiresAt' should be epoch milliseconds"),
    ({"leased": True, "workspaceId": "w", "leaseExpiresAt": 1e300}, "field 'leaseExpiresAt' should be epoch milli"),
    ({"leased": True, "workspaceId": "", "leaseExpiresAt": 1_700_000_000_000}, "field 'workspaceId' is empty"),
    ({"leased": True, "workspaceId": "w\x1b[31m", "leaseExpiresAt": 1_700_000_000_000},
     "field 'workspaceId' contains the control character U+001B"),
    ({"leased": True, "workspaceId": "w" * 257, "leaseExpiresAt": 1_700_000_000_000},
     "field 'workspaceId' is 257 characters long, over the 256 allowed"),
    ({"leased": True, "workspaceId": "w", "leaseExpiresAt": 1_700_000_000_000, "workspace": {"x": "y" * 70_000}},
     "field 'workspace' is 70009 characters of JSON, over the 65536 allowed"),
    (b'{"leased": true, "workspaceId": "w", "leaseExpiresAt": 1700000000000, "workspace": {"a": '
     + b"[" * 40 + b"]" * 40 + b"}}", "field 'workspace' is nested deeper than 32 levels"),
    (b"[" * 100_000, "the body is nested too deeply"),
])
def test_malformed_lease_answers_say_what_is_wrong(
        job_client: Callable[..., JobClient], body: bytes | dict[str, Any], complaint: str) -> None:
    with StandIn(answer(200, body)) as server:
        with pytest.raises(MalformedResponse) as caught:
            job_client(server.url).lease()
    assert str(caught.value).startswith("POST /leaseWorkspaceJob: HTTP 200 answer unusable: ")
    assert complaint in str(caught.value)
    assert caught.value.route == "/leaseWorkspaceJob"


@pytest.mark.parametrize(("body", "complaint"), [
    ({"ok": True}, "field 'leaseExpiresAt' is missing"),
    ({"ok": True, "leaseExpiresAt": None}, "should be a finite number (epoch milliseconds), got null"),
])
def test_malformed_heartbeat_answers_say_what_is_wrong(
        job_client: Callable[..., JobClient], body: bytes | dict[str, Any], complaint: str) -> None:
    with StandIn(answer(200, body)) as server:
        with pytest.raises(MalformedResponse, match="heartbeatWorkspaceJob") as caught:
            job_client(server.url).heartbeat("ws-1")
    assert complaint in str(caught.value)


def test_context_must_be_a_json_object(job_client: Callable[..., JobClient]) -> None:
    with StandIn(answer(200, ["not", "an", "object"]), answer(200, {"workspaceId": "ws-1", "x": 1})) as server:
        client = job_client(server.url)
        with pytest.raises(MalformedResponse, match="getWorkspaceRunnerContext.*expected a JSON object"):
            client.get_context("ws-1")
        assert client.get_context("ws-1") == {"workspaceId": "ws-1", "x": 1}


def test_update_summary_sends_the_protocol_fields(job_client: Callable[..., JobClient]) -> None:
    with StandIn(answer(200, {"ok": True})) as server:
        job_client(server.url).update_summary(workspace_id="ws-1", summary_text="S", from_message_id="m1",
                                              through_message_id="m9")
    assert server.requests[0].path == "/updateWorkspaceRunnerSummary"
    assert server.requests[0].body == {"workspaceId": "ws-1", "summaryText": "S", "fromMessageId": "m1",
                                       "throughMessageId": "m9"}


def test_each_credential_reaches_only_its_own_routes(
        job_client: Callable[..., JobClient], instance_client: Callable[..., InstanceClient]) -> None:
    """Call every route of both clients; record which credential each path received."""
    ok = answer(200, {"ok": True, "leased": False, "leaseExpiresAt": 1_700_000_000_000, "name": "n"})
    created = answer(201, {"instanceId": "i", "credentialId": "c", "runnerToken": "c.tok-secret", "kind": "user",
                           "name": None})
    with StandIn(*[ok] * 6, created, ok, ok) as server:
        jobs = job_client(server.url)
        jobs.lease()
        jobs.heartbeat("w")
        jobs.get_context("w")
        jobs.update_summary(workspace_id="w", summary_text="s", from_message_id="a", through_message_id="b")
        jobs.complete({"workspaceId": "w"})
        jobs.fail("w", "e")
        instances = instance_client(server.url)
        instances.create(kind="user", name=None)
        instances.rename(instance_id="i", name="n")
        instances.revoke(instance_id="i")
    by_credential: dict[str, set[str]] = {}
    for seen in server.requests:
        by_credential.setdefault(seen.headers["Authorization"], set()).add(seen.path)
    assert by_credential == {f"Bearer {RUNNER_KEY}": set(JOB_ROUTES), f"Bearer {ID_TOKEN}": set(INSTANCE_ROUTES)}
    assert not JOB_ROUTES & INSTANCE_ROUTES
    assert not {"create", "rename", "revoke"} & set(dir(JobClient))
    assert not {"lease", "heartbeat", "complete", "fail"} & set(dir(InstanceClient))


def test_create_is_never_retried(instance_client: Callable[..., InstanceClient], sleeps: list[float]) -> None:
    with StandIn(answer(503, {"error": "busy"})) as server:
        with pytest.raises(TransientCloudError):
            instance_client(server.url).create(kind="user", name="a")
    assert len(server.requests) == 1 and sleeps == []


def test_created_instance_repr_hides_the_key(instance_client: Callable[..., InstanceClient]) -> None:
    body = {"instanceId": "i", "credentialId": "c", "runnerToken": "c.very-secret-value", "kind": "user",
            "name": "box"}
    with StandIn(answer(201, body)) as server:
        created = instance_client(server.url).create(kind="user", name="box")
    assert created.runner_token == "c.very-secret-value"
    assert "very-secret-value" not in repr(created)
    assert server.requests[0].body == {"kind": "user", "name": "box"}


def test_instance_client_rejects_bad_input_before_sending(instance_client: Callable[..., InstanceClient]) -> None:
    client = instance_client("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="kind must be one of user, global"):
        client.create(kind="team", name=None)
    with pytest.raises(ValueError, match="instance_id must be a non-empty string"):
        client.revoke(instance_id="")


def test_id_token_rejection_is_credential_rejected(instance_client: Callable[..., InstanceClient]) -> None:
    with StandIn(answer(403, {"error": "admin account required"})) as server:
        with pytest.raises(CredentialRejected, match="HTTP 403 admin account required"):
            instance_client(server.url).create(kind="global", name=None)
