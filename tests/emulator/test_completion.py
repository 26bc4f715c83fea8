"""Completing and failing jobs: stored payloads, server-side validation, double completion."""
from __future__ import annotations

from typing import Any

from tests.emulator.conftest import Cloud, FakeClock, empty_completion


def _full_payload(workspace_id: str) -> dict[str, Any]:
    return {
        "workspaceId": workspace_id,
        "assistantMessage": "See {{artifact:chart:rev}} and {{artifact:file:specs/plan.md}}.",
        "files": [{"name": "specs/plan.md", "content": "# Plan\n"}],
        "charts": [{"kind": "bar", "id": "rev", "title": "Revenue", "labels": ["A", "B"],
                    "series": [{"name": "2024", "values": [1, 2]}]},
                   {"kind": "pie", "id": "mix", "segments": [{"label": "x", "value": 3}]}],
        "datasets": [{"id": "owners", "kind": "table", "columns": ["a", "b"], "rows": [["1", "2"]]}],
        "svgs": [{"id": "flow", "content": "<svg xmlns='http://www.w3.org/2000/svg'></svg>"}],
        "lists": [{"id": "risks", "kind": "list", "items": ["one"]}],
        "checklists": [{"id": "launch", "kind": "checklist", "items": [{"id": "a", "label": "A", "checked": False}]}],
    }


def _leased(cloud: Cloud, key: str) -> str:
    workspace_id = cloud.enqueue(messages=[{"text": "a bar chart comparing x"}])
    assert cloud.lease(key)["workspaceId"] == workspace_id
    return workspace_id


def test_complete_stores_payload_and_releases_lease(cloud: Cloud, key: str) -> None:
    workspace_id = _leased(cloud, key)
    payload = _full_payload(workspace_id)
    reply = cloud.post("/completeWorkspaceJob", payload, token=key)
    assert reply.status_code == 200 and reply.json() == {"ok": True}
    job = cloud.job(workspace_id)
    assert job["state"] == "completed" and job["completeCount"] == 1
    assert job["payload"] == payload
    assert job["holder"] is None and job["leaseExpiresAt"] is None and job["finishedAtMs"] is not None
    stats = cloud.stats()
    assert stats["completions"] == 1 and stats["jobs"]["completed"] == 1 and stats["jobs"]["leased"] == 0


def test_invalid_completion_is_400_with_problems_and_keeps_the_lease(cloud: Cloud, key: str) -> None:
    workspace_id = _leased(cloud, key)
    bad = {**_full_payload(workspace_id),
           "svgs": [{"id": "x", "content": "<svg><script>alert(1)</script></svg>"}],
           "charts": [{"kind": "pie", "id": "p", "segments": []}]}
    reply = cloud.post("/completeWorkspaceJob", bad, token=key)
    assert reply.status_code == 400
    body = reply.json()
    assert body["error"] == "invalid completion payload"
    problems = body["detail"]["problems"]
    assert any(p.startswith("svgs[0].content") for p in problems)
    assert any(p.startswith("charts[0].segments") for p in problems)
    job = cloud.job(workspace_id)
    assert job["state"] == "leased" and job["payload"] is None
    assert cloud.stats()["validationRejections"] == 1
    # The runner may repair and complete under the same lease.
    assert cloud.post("/completeWorkspaceJob", _full_payload(workspace_id), token=key).status_code == 200


def test_missing_arrays_are_problems(cloud: Cloud, key: str) -> None:
    workspace_id = _leased(cloud, key)
    reply = cloud.post("/completeWorkspaceJob", {"workspaceId": workspace_id, "assistantMessage": "hi"}, token=key)
    assert reply.status_code == 400
    assert any(p.startswith("checklists") for p in reply.json()["detail"]["problems"])


def test_double_complete_refused(cloud: Cloud, key: str) -> None:
    workspace_id = _leased(cloud, key)
    assert cloud.post("/completeWorkspaceJob", empty_completion(workspace_id), token=key).status_code == 200
    again = cloud.post("/completeWorkspaceJob", empty_completion(workspace_id, "second"), token=key)
    assert again.status_code == 409
    assert again.json()["detail"]["reason"] == "the job is already completed"
    job = cloud.job(workspace_id)
    assert job["completeCount"] == 1 and job["payload"]["assistantMessage"] == "Done."


def test_complete_without_lease_is_409_before_validation(cloud: Cloud, key: str) -> None:
    workspace_id = cloud.enqueue(messages=[{"text": "x"}])
    reply = cloud.post("/completeWorkspaceJob", {"workspaceId": workspace_id}, token=key)
    assert reply.status_code == 409
    assert cloud.stats()["validationRejections"] == 0


def test_completed_job_is_not_leased_again(cloud: Cloud, key: str, clock: FakeClock) -> None:
    workspace_id = _leased(cloud, key)
    cloud.post("/completeWorkspaceJob", empty_completion(workspace_id), token=key)
    clock.advance(10_000)
    assert cloud.lease(key) == {"leased": False}
    assert cloud.job(workspace_id)["state"] == "completed"


def test_fail_marks_failed_and_cuts_error(cloud: Cloud, key: str) -> None:
    workspace_id = _leased(cloud, key)
    reply = cloud.post("/failWorkspaceJob", {"workspaceId": workspace_id, "error": "e" * 900}, token=key)
    assert reply.status_code == 200 and reply.json() == {"ok": True}
    job = cloud.job(workspace_id)
    assert job["state"] == "failed" and job["error"] == "e" * 500 and job["holder"] is None
    again = cloud.post("/failWorkspaceJob", {"workspaceId": workspace_id, "error": "x"}, token=key)
    assert again.status_code == 409 and again.json()["detail"]["reason"] == "the job is already failed"
    assert cloud.stats()["failures"] == 1


def test_fail_needs_a_string_error(cloud: Cloud, key: str) -> None:
    workspace_id = _leased(cloud, key)
    for body in ({"workspaceId": workspace_id}, {"workspaceId": workspace_id, "error": {"code": 1}}):
        reply = cloud.post("/failWorkspaceJob", body, token=key)
        assert reply.status_code == 400 and "'error'" in reply.json()["error"]
    assert cloud.job(workspace_id)["state"] == "leased"
