"""One job end to end with real parts: emulator (cloud), scripted OpenAI server (model), real clients."""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest

from shared.jobs import LeasedJob
from shared.pipe.messages import JobFinished, LeaseRenewed
from tests.cloud.standin import StandIn, answer
from tests.fakes.openai_server import RecordedRequest, Reply, chat_reply, rate_limited, responses_reply, unauthorized
from tests.worker.calls import ALL_KINDS, CITATIONS, bar_chart
from tests.worker.conftest import API_KEY, Harness
from workers.deliverables.tools import citation

PROTOCOLS = ("responses", "chat")
REPLY: dict[str, Callable[..., dict[str, Any]]] = {"responses": responses_reply, "chat": chat_reply}
PATH = {"responses": "responses", "chat": "chat/completions"}


def script(harness: Harness, protocol: str, *turns: dict[str, Any]) -> None:
    """Queue model turns given as ``dict(text=..., tool_calls=[...])`` for ``protocol``."""
    harness.openai.queue(PATH[protocol], *(Reply(body=REPLY[protocol](**turn)) for turn in turns))


def tool_outputs(harness: Harness, protocol: str, request_index: int) -> list[dict[str, Any]]:
    """The ``{"ok", "detail"}`` answers the runner sent back in model request ``request_index``."""
    body = harness.openai.requests_for(PATH[protocol])[request_index].json
    if protocol == "responses":
        texts = [item["output"] for item in body["input"] if item.get("type") == "function_call_output"]
    else:
        texts = [message["content"] for message in body["messages"] if message["role"] == "tool"]
    return [json.loads(text) for text in texts]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_deliverable_kind_is_completed_with_three_cloud_calls(harness: Harness, protocol: str) -> None:
    workspace_id = harness.enqueue(messages=[{"text": "Plan the launch with every kind of deliverable."}])
    script(harness, protocol, dict(tool_calls=ALL_KINDS), dict(text="Here is the plan. " + CITATIONS))

    finished = harness.run(protocol=protocol)

    assert finished.outcome == "completed", finished.reason
    job = harness.job(workspace_id)
    assert job["state"] == "completed"
    payload = job["payload"]
    assert [f["name"] for f in payload["files"]] == ["specs/plan.md"]
    assert sorted(c["kind"] for c in payload["charts"]) == ["area", "bar", "line", "pie", "scatter", "stacked_bar"]
    assert [t["id"] for t in payload["datasets"]] == ["costs"]
    assert [x["id"] for x in payload["lists"]] == ["steps"]
    assert [x["id"] for x in payload["checklists"]] == ["launch"]
    assert [x["id"] for x in payload["svgs"]] == ["diagram"]
    assert all(result["ok"] for result in tool_outputs(harness, protocol, 1))
    # A short job costs lease + context + complete: no heartbeat, no extra call.
    assert harness.routes_called() == ["/leaseWorkspaceJob", "/getWorkspaceRunnerContext", "/completeWorkspaceJob"]
    assert finished in harness.sent


def test_requests_carry_tools_and_chain_rounds(harness: Harness) -> None:
    harness.enqueue(title="Launch", messages=[{"text": "Compare sales in a bar chart."}])
    script(harness, "responses", dict(tool_calls=[bar_chart("q3")], response_id="resp_a"),
           dict(text="See {{artifact:chart:q3}}."))

    assert harness.run().outcome == "completed"

    first, second = harness.openai.requests_for("responses")
    assert first.json["tool_choice"] == "auto" and first.json["parallel_tool_calls"] is True
    assert {tool["name"] for tool in first.json["tools"]} == {name for name, _ in ALL_KINDS}
    assert "Title: Launch" in json.dumps(first.json["input"])
    assert second.json["previous_response_id"] == "resp_a"
    assert first.headers["authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_repair_round_creates_the_missing_artifact(harness: Harness, protocol: str) -> None:
    workspace_id = harness.enqueue(messages=[{"text": "Show Q3."}])
    script(harness, protocol, dict(text="Q3 is up: {{artifact:chart:q3}}."),
           dict(tool_calls=[bar_chart("q3")]), dict(text="Q3 is up: {{artifact:chart:q3}}."))

    finished = harness.run(protocol=protocol)

    assert finished.outcome == "completed", finished.reason
    repair_request = json.dumps(harness.openai.requests_for(PATH[protocol])[1].json)
    assert "q3" in repair_request and "create_" in repair_request
    assert [c["id"] for c in harness.job(workspace_id)["payload"]["charts"]] == ["q3"]


def test_repair_that_does_not_help_fails_the_job_naming_what_is_missing(harness: Harness) -> None:
    workspace_id = harness.enqueue(messages=[{"text": "Show Q3."}])
    script(harness, "responses", *[dict(text="See {{artifact:chart:q3}} and {{artifact:list:todo}}.")] * 5)

    finished = harness.run()

    assert finished.outcome == "failed"
    assert finished.reason.startswith("deliverable_placeholder_mismatch:")
    assert "chart:q3" in finished.reason and "list:todo" in finished.reason
    job = harness.job(workspace_id)
    assert job["state"] == "failed" and job["error"] == finished.reason
    assert len(harness.openai.requests_for("responses")) == 5   # 1 answer + 4 repair rounds


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_malformed_tool_arguments_get_an_actionable_refusal(harness: Harness, protocol: str) -> None:
    harness.enqueue(messages=[{"text": "A bar chart please."}])
    broken = {"name": "create_bar_chart", "arguments": '{"id": "q3", "labels": [', "call_id": "c1"}
    script(harness, protocol, dict(tool_calls=[broken]), dict(tool_calls=[bar_chart("q3")]),
           dict(text="{{artifact:chart:q3}}"))

    finished = harness.run(protocol=protocol)

    assert finished.outcome == "completed", finished.reason
    [refusal] = tool_outputs(harness, protocol, 1)
    assert refusal["ok"] is False and "JSON" in refusal["detail"]


def test_caps_are_enforced_with_a_reason_the_model_can_act_on(harness: Harness) -> None:
    workspace_id = harness.enqueue(messages=[{"text": "Thirteen charts."}])
    script(harness, "responses", dict(tool_calls=[bar_chart(f"c{i}") for i in range(13)]),
           dict(text=" ".join(citation("chart", f"c{i}") for i in range(12))))

    assert harness.run().outcome == "completed"

    outputs = tool_outputs(harness, "responses", 1)
    assert [o["ok"] for o in outputs] == [True] * 12 + [False]
    assert "12" in outputs[-1]["detail"]
    assert len(harness.job(workspace_id)["payload"]["charts"]) == 12


def test_model_429_is_retried_after_its_retry_after(harness: Harness) -> None:
    harness.enqueue(messages=[{"text": "Hello"}])
    harness.openai.queue("responses", rate_limited(retry_after=7), Reply(body=responses_reply(text="Hi!")))

    finished = harness.run()

    assert finished.outcome == "completed", finished.reason
    assert harness.sleeps == [7.0]


def test_model_401_fails_the_job_without_leaking_the_key_and_pauses_the_pool(harness: Harness) -> None:
    workspace_id = harness.enqueue(messages=[{"text": "Hello"}])
    harness.openai.queue("responses", unauthorized(f"Incorrect API key provided: {API_KEY}"))

    finished = harness.run()

    assert finished.outcome == "failed" and finished.model_unavailable
    assert finished.reason.startswith("model error:") and "401" in finished.reason
    assert API_KEY not in finished.reason and API_KEY not in harness.job(workspace_id)["error"]
    assert len(harness.openai.requests_for("responses")) == 1   # never retried


def test_a_wrong_model_endpoint_fails_the_job_and_pauses_the_pool(harness: Harness) -> None:
    # Before: a 404 on the API path was a plain model error, and the pool failed job after job.
    harness.enqueue(messages=[{"text": "Hello"}])
    harness.openai.queue("responses", Reply(status=404, body={"detail": "Not Found"}))

    finished = harness.run()

    assert finished.outcome == "failed" and finished.model_unavailable
    assert finished.reason.startswith("model error:") and "404" in finished.reason
    assert "127.0.0.1" not in finished.reason


def test_lease_lost_on_heartbeat_stops_the_job_without_completing(harness: Harness) -> None:
    workspace_id = harness.enqueue(messages=[{"text": "Hello"}])
    client = harness.client()
    lease = client.lease()
    assert lease is not None
    # A 3 s lease: the keeper heartbeats after 2 s, while the model is still thinking.
    # By then the emulator's clock has jumped past the lease, so the heartbeat gets 409.
    short = LeasedJob(workspace_id=workspace_id, lease_expires_at_ms=int((harness.clock() + 3) * 1000))

    def slow_answer(request: RecordedRequest) -> Reply:
        harness.clock.offset += 3600
        return Reply(body=responses_reply(text="Hi"), delay=2.5)

    harness.openai.queue("responses", slow_answer)
    finished = harness.run(client=client, job=short)

    assert finished.outcome == "lease_lost"
    assert "/completeWorkspaceJob" not in harness.routes_called()
    assert "/failWorkspaceJob" not in harness.routes_called()
    assert ("/heartbeatWorkspaceJob", "409") in [(route, code) for route, code, _ in harness.api_requests]


def test_heartbeats_renew_the_lease_and_are_reported(harness: Harness) -> None:
    harness.enqueue(messages=[{"text": "Hello"}])
    client = harness.client()
    lease = client.lease()
    assert lease is not None
    short = LeasedJob(workspace_id=lease.workspace_id, lease_expires_at_ms=int((harness.clock() + 1.5) * 1000))
    harness.openai.queue("responses", Reply(body=responses_reply(text="Hi"), delay=1.5))

    finished = harness.run(client=client, job=short)

    assert finished.outcome == "completed", finished.reason
    assert harness.routes_called().count("/heartbeatWorkspaceJob") >= 1
    assert any(isinstance(message, LeaseRenewed) for message in harness.sent)


def test_long_history_is_summarised_and_the_summary_persisted(harness: Harness) -> None:
    messages = [{"text": f"Requirement {i}: " + "details " * 40} for i in range(12)]
    workspace_id = harness.enqueue(messages=messages, summaryThreshold=10)
    harness.openai.queue("responses", Reply(body=responses_reply(text="SUMMARY: requirements 0-5.")),
                         Reply(body=responses_reply(text="Done.")))

    assert harness.run().outcome == "completed"

    summary_request, job_request = harness.openai.requests_for("responses")
    assert summary_request.json["model"] == "test-summary-model" and "tools" not in summary_request.json
    assert "SUMMARY: requirements 0-5." in json.dumps(job_request.json["input"])
    assert "/updateWorkspaceRunnerSummary" in harness.routes_called()
    summary = harness.job(workspace_id)["summary"]
    assert summary["text"] == "SUMMARY: requirements 0-5."
    assert summary["fromMessageId"].endswith("m001") and summary["throughMessageId"].endswith("m006")


def test_empty_context_fails_with_empty_context(harness: Harness) -> None:
    workspace_id = harness.enqueue(legacyIdea="   ")

    finished = harness.run()

    assert (finished.outcome, finished.reason) == ("failed", "empty_context")
    assert harness.job(workspace_id)["error"] == "empty_context"
    assert harness.openai.requests == []


def test_server_400_on_complete_fails_the_job_with_the_server_detail(harness: Harness) -> None:
    context: dict[str, Any] = {"workspaceId": "ws-x", "title": None, "legacyIdea": "Write a haiku", "messageCount": 0,
               "recentMessages": [], "priorMessages": [], "recentText": "", "priorTextVerbatim": "",
               "recentTokenEstimate": 0, "priorTokenEstimate": 0, "priorNeedsSummarization": False,
               "storedSummaryCoversPrior": False, "storedPriorSummary": None}
    rejection = {"error": "invalid completion payload", "detail": {"problems": ["charts[0]: unsupported"]}}
    harness.openai.queue("responses", Reply(body=responses_reply(text="A haiku.")))
    with StandIn(answer(200, context), answer(400, rejection), answer(200, {"ok": True})) as cloud:
        finished = harness.run(client=harness.client(cloud.url),
                               job=LeasedJob(workspace_id="ws-x", lease_expires_at_ms=10 ** 13))
        fail_body = cloud.requests[-1].body

    assert finished.outcome == "failed"
    assert "charts[0]: unsupported" in finished.reason
    assert cloud.requests[-1].path == "/failWorkspaceJob" and fail_body["error"] == finished.reason


def test_abort_fails_the_job_in_hand_at_once(harness: Harness) -> None:
    workspace_id = harness.enqueue(messages=[{"text": "Hello"}])
    release = threading.Event()

    def stuck(request: RecordedRequest) -> Reply:
        release.wait(10)
        return Reply(body=responses_reply(text="too late"))

    harness.openai.queue("responses", stuck)
    client = harness.client()
    lease = client.lease()
    assert lease is not None
    from shared.pipe.failures import Failure, FailureClass
    from workers.job import JobRunner
    runner = JobRunner(client=client, model=harness.model(), job_timeout=60, send=harness.sent.append)
    thread = threading.Thread(target=runner.run, args=(lease,))
    thread.start()
    from tests.harness import wait_for
    wait_for(lambda: harness.openai.requests, what="the model call")
    runner.abort(Failure(FailureClass.SHUTDOWN, "runner shutting down"))
    job = harness.job(workspace_id)
    release.set()
    thread.join(10)

    assert job["state"] == "failed" and job["error"] == "runner shutting down"
    finished = [m for m in harness.sent if isinstance(m, JobFinished)]
    assert [(m.outcome, m.reason) for m in finished] == [("failed", "runner shutting down")]
    assert "/completeWorkspaceJob" not in harness.routes_called()


def test_the_job_log_line_shows_output_tokens_and_their_rate(harness: Harness,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    harness.enqueue(messages=[{"text": "Chart the quarter."}])
    harness.openai.queue(PATH["chat"],
                         Reply(body=chat_reply(tool_calls=[bar_chart("q3")],
                                               usage={"prompt_tokens": 50, "completion_tokens": 30})),
                         Reply(body=chat_reply(text="Done: {{artifact:chart:q3}}",
                                               usage={"prompt_tokens": 80, "completion_tokens": 12})))
    with caplog.at_level("INFO", logger="xenon.worker.job"):
        finished = harness.run(protocol="chat")
    assert finished.outcome == "completed", finished.reason
    [line] = [record.getMessage() for record in caplog.records if record.getMessage().startswith("completed ")]
    assert re.search(r" model=\d+\.\d\ds tokens_out=42 \(\d+\.\d tok/s\) ", line), line  # 30 + 12 over both rounds
