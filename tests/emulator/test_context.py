"""The context JSON (protocol §3) and summary storage."""
from __future__ import annotations

from typing import Any

from tests.emulator.conftest import START, Cloud, FakeClock

CONTEXT_TYPES: dict[str, type | tuple[type, ...]] = {
    "workspaceId": str, "title": (str, type(None)), "legacyIdea": (str, type(None)), "messageCount": int,
    "recentMessages": list, "priorMessages": list, "recentText": str, "priorTextVerbatim": str,
    "recentTokenEstimate": int, "priorTokenEstimate": int, "priorNeedsSummarization": bool,
    "storedSummaryCoversPrior": bool, "storedPriorSummary": (dict, type(None)),
}


def _leased_context(cloud: Cloud, key: str, **spec: Any) -> tuple[str, dict[str, Any]]:
    workspace_id = cloud.enqueue(**spec)
    assert cloud.lease(key)["workspaceId"] == workspace_id
    reply = cloud.post("/getWorkspaceRunnerContext", {"workspaceId": workspace_id}, token=key)
    assert reply.status_code == 200, reply.text
    return workspace_id, reply.json()


def _messages(count: int, *, chars: int = 40) -> list[dict[str, Any]]:
    return [{"text": f"message {n} " + "x" * chars} for n in range(count)]


def test_context_has_every_field_with_its_type(cloud: Cloud, key: str) -> None:
    messages = _messages(8)
    messages[0]["subtitle"] = "Kick-off"
    workspace_id, context = _leased_context(cloud, key, title="Roadmap", messages=messages)
    assert set(context) == set(CONTEXT_TYPES)
    for field, expected in CONTEXT_TYPES.items():
        assert isinstance(context[field], expected), field
    assert context["workspaceId"] == workspace_id and context["title"] == "Roadmap"
    assert context["legacyIdea"] is None and context["messageCount"] == 8
    for message in context["priorMessages"] + context["recentMessages"]:
        assert message["role"] == "user"
        assert isinstance(message["id"], str) and isinstance(message["text"], str)
        assert isinstance(message["createdAtMs"], int)
    first = context["priorMessages"][0]
    assert first["subtitle"] == "Kick-off"
    assert "subtitle" not in context["priorMessages"][1]


def test_last_six_messages_are_recent(cloud: Cloud, key: str) -> None:
    workspace_id, context = _leased_context(cloud, key, messages=_messages(9))
    ids = [m["id"] for m in context["priorMessages"] + context["recentMessages"]]
    assert ids == [f"{workspace_id}-m{n:03d}" for n in range(1, 10)]
    assert len(context["recentMessages"]) == 6 and len(context["priorMessages"]) == 3
    times = [m["createdAtMs"] for m in context["priorMessages"] + context["recentMessages"]]
    assert times == sorted(times) and times[-1] == int(START * 1000)


def test_compiled_texts_and_token_estimates(cloud: Cloud, key: str) -> None:
    messages = [{"text": "alpha", "subtitle": "Notes"}, *({"text": f"r{n}"} for n in range(6))]
    _, context = _leased_context(cloud, key, messages=messages)
    assert context["priorTextVerbatim"] == "[Notes]\nalpha"
    assert context["recentText"] == "r0\n\nr1\n\nr2\n\nr3\n\nr4\n\nr5"
    assert context["priorTokenEstimate"] == 4  # ceil(13 / 4)
    assert context["recentTokenEstimate"] == 6  # ceil(22 / 4)


def test_few_messages_have_no_prior(cloud: Cloud, key: str) -> None:
    _, context = _leased_context(cloud, key, messages=_messages(3))
    assert context["priorMessages"] == [] and context["priorTextVerbatim"] == ""
    assert context["priorTokenEstimate"] == 0
    assert context["priorNeedsSummarization"] is False and context["storedSummaryCoversPrior"] is False


def test_legacy_idea_only(cloud: Cloud, key: str) -> None:
    _, context = _leased_context(cloud, key, title="Old idea", legacyIdea="A pie chart of costs")
    assert context["messageCount"] == 0 and context["legacyIdea"] == "A pie chart of costs"
    assert context["recentMessages"] == [] and context["recentText"] == ""


def test_summarisation_threshold_default_and_per_job(cloud: Cloud, key: str) -> None:
    long_prior = [{"text": "y" * 16_004}] + _messages(6)  # 4,001 prior tokens: over the default 4,000
    _, context = _leased_context(cloud, key, messages=long_prior)
    assert context["priorTokenEstimate"] == 4_001 and context["priorNeedsSummarization"] is True
    _, at_threshold = _leased_context(cloud, key, messages=[{"text": "y" * 16_000}] + _messages(6))
    assert at_threshold["priorNeedsSummarization"] is False
    _, low = _leased_context(cloud, key, messages=_messages(7), summaryThreshold=0)
    assert low["priorNeedsSummarization"] is True


def test_summary_storage_and_covers_prior(cloud: Cloud, key: str) -> None:
    workspace_id, context = _leased_context(cloud, key, messages=_messages(9), summaryThreshold=0)
    prior_ids = [m["id"] for m in context["priorMessages"]]
    body = {"workspaceId": workspace_id, "summaryText": "partial", "fromMessageId": prior_ids[0],
            "throughMessageId": prior_ids[1]}
    assert cloud.post("/updateWorkspaceRunnerSummary", body, token=key).json() == {"ok": True}
    partial = cloud.post("/getWorkspaceRunnerContext", {"workspaceId": workspace_id}, token=key).json()
    assert partial["storedPriorSummary"] == {"text": "partial", "fromMessageId": prior_ids[0],
                                             "throughMessageId": prior_ids[1]}
    assert partial["storedSummaryCoversPrior"] is False
    full = {**body, "summaryText": "everything", "throughMessageId": prior_ids[-1]}
    assert cloud.post("/updateWorkspaceRunnerSummary", full, token=key).status_code == 200
    covered = cloud.post("/getWorkspaceRunnerContext", {"workspaceId": workspace_id}, token=key).json()
    assert covered["storedSummaryCoversPrior"] is True
    assert covered["storedPriorSummary"]["text"] == "everything"
    assert cloud.job(workspace_id)["summary"]["throughMessageId"] == prior_ids[-1]
    assert cloud.stats()["summariesStored"] == 2


def test_summary_survives_a_lost_lease(cloud: Cloud, key: str, clock: FakeClock) -> None:
    workspace_id, context = _leased_context(cloud, key, messages=_messages(7))
    prior_id = context["priorMessages"][0]["id"]
    cloud.post("/updateWorkspaceRunnerSummary", {"workspaceId": workspace_id, "summaryText": "s",
                                                 "fromMessageId": prior_id, "throughMessageId": prior_id}, token=key)
    clock.advance(601)
    assert cloud.lease(key)["workspaceId"] == workspace_id
    context = cloud.post("/getWorkspaceRunnerContext", {"workspaceId": workspace_id}, token=key).json()
    assert context["storedSummaryCoversPrior"] is True


def test_summary_bad_ids_and_fields(cloud: Cloud, key: str) -> None:
    workspace_id, context = _leased_context(cloud, key, messages=_messages(8))
    first, second = (m["id"] for m in context["priorMessages"])
    base = {"workspaceId": workspace_id, "summaryText": "s", "fromMessageId": first, "throughMessageId": second}
    cases = [
        ({"fromMessageId": "nope"}, "fromMessageId"),
        ({"throughMessageId": "ws-000999-m001"}, "throughMessageId"),
        ({"fromMessageId": second, "throughMessageId": first}, "after"),
        ({"summaryText": 5}, "summaryText"),
        ({"summaryText": ""}, "summaryText"),
    ]
    for change, word in cases:
        reply = cloud.post("/updateWorkspaceRunnerSummary", {**base, **change}, token=key)
        assert reply.status_code == 400, change
        assert word in reply.json()["error"], change
    missing = cloud.post("/updateWorkspaceRunnerSummary", {"workspaceId": workspace_id}, token=key)
    assert missing.status_code == 400 and "summaryText" in missing.json()["error"]
    assert cloud.job(workspace_id)["summary"] is None
