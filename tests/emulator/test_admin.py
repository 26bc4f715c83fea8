"""The admin API: enqueueing, job reads, stats, instances, accounts, reset."""
from __future__ import annotations

import pytest

from emulator import JobSpecError
from tests.emulator.conftest import Cloud, empty_completion


def test_enqueue_and_read_jobs(cloud: Cloud, key: str) -> None:
    first = cloud.enqueue(title="One", messages=[{"text": "hello", "subtitle": "intro"}])
    second = cloud.enqueue(legacyIdea="an idea")
    jobs = cloud.get("/admin/jobs").json()["jobs"]
    assert [job["workspaceId"] for job in jobs] == [first, second]
    assert all("payload" not in job for job in jobs)
    snapshot = cloud.job(first)
    for field in ("state", "leaseCount", "completeCount", "holder", "payload", "error", "summary",
                  "createdAtMs", "leasedAtMs", "finishedAtMs", "leaseExpiresAt"):
        assert field in snapshot, field
    assert snapshot["state"] == "pending" and snapshot["title"] == "One" and snapshot["messageCount"] == 1
    lease = cloud.lease(key)
    cloud.post("/completeWorkspaceJob", empty_completion(lease["workspaceId"]), token=key)
    completed = cloud.get("/admin/jobs?state=completed").json()["jobs"]
    assert [job["workspaceId"] for job in completed] == [first]
    assert [job["workspaceId"] for job in cloud.get("/admin/jobs?state=pending").json()["jobs"]] == [second]


def test_bad_state_filter_and_unknown_job(cloud: Cloud) -> None:
    assert cloud.get("/admin/jobs?state=done").status_code == 400
    missing = cloud.get("/admin/jobs/ws-424242")
    assert missing.status_code == 404 and missing.json() == {"error": "no job ws-424242"}


def test_job_spec_problems_are_all_listed(cloud: Cloud) -> None:
    reply = cloud.post("/admin/jobs", {"target": "user", "messages": [{"text": ""}, "hi", {"text": "ok", "x": 1}],
                                       "summaryThreshold": -1, "colour": "red", "title": 5})
    assert reply.status_code == 400
    body = reply.json()
    assert body["error"] == "invalid job spec"
    problems = body["detail"]["problems"]
    for expected in ("colour: unknown field", "owner: required", "messages[0].text", "messages[1]: must be an object",
                     "messages[2].x: unknown field", "summaryThreshold", "title: must be a string"):
        assert any(p.startswith(expected) for p in problems), expected
    assert cloud.post("/admin/jobs", {"target": "team"}).status_code == 400
    assert cloud.post("/admin/jobs", {}).status_code == 400


def test_sample_jobs_via_admin(cloud: Cloud) -> None:
    reply = cloud.post("/admin/jobs", {"sample": True})
    assert reply.status_code == 201
    job = cloud.job(reply.json()["workspaceId"])
    assert job["target"] == "global" and job["title"]
    zed_key = cloud.admin_key("user", owner="zed")
    user_job = cloud.post("/admin/jobs", {"sample": True, "target": "user", "owner": "zed"}).json()["workspaceId"]
    assert cloud.lease(zed_key)["workspaceId"] == user_job
    assert cloud.post("/admin/jobs", {"sample": True, "title": "x"}).status_code == 400


def test_batch(cloud: Cloud) -> None:
    reply = cloud.post("/admin/jobs/batch", {"count": 5})
    assert reply.status_code == 201
    ids = reply.json()["workspaceIds"]
    assert len(ids) == 5 and len(set(ids)) == 5
    assert cloud.stats()["jobs"]["pending"] == 5
    for bad in ({"count": 0}, {"count": "3"}, {"count": True}, {}, {"count": 1, "extra": 1}):
        assert cloud.post("/admin/jobs/batch", bad).status_code == 400, bad
    assert cloud.get("/admin/jobs/batch").status_code == 405


def test_stats_shape(cloud: Cloud, key: str) -> None:
    cloud.enqueue(messages=[{"text": "x"}])
    cloud.lease(key)
    cloud.lease(key)
    stats = cloud.stats()
    assert stats["jobs"] == {"pending": 0, "leased": 1, "completed": 0, "failed": 0}
    assert stats["requests"]["/leaseWorkspaceJob"] == {"200": 2}
    assert stats["requests"]["/admin/instances"] == {"201": 1}
    assert stats["leasesGranted"] == 1 and stats["instancesCreated"] == 1
    for field in ("completions", "validationRejections", "leasesExpired", "faultsInjected"):
        assert field in stats


def test_admin_instances(cloud: Cloud) -> None:
    reply = cloud.post("/admin/instances", {"kind": "user", "name": "box"})
    assert reply.status_code == 201 and reply.json()["name"] == "box" and reply.json()["kind"] == "user"
    default_owner_job = cloud.enqueue(target="user", owner="local-admin", messages=[{"text": "x"}])
    assert cloud.lease(reply.json()["runnerToken"])["workspaceId"] == default_owner_job
    assert cloud.post("/admin/instances", {"kind": "other"}).status_code == 400
    assert cloud.post("/admin/instances", {"kind": "user", "secret": 1}).status_code == 400


def test_admin_accounts(cloud: Cloud) -> None:
    admin = cloud.post("/admin/accounts", {"uid": "root2", "admin": True}).json()["idToken"]
    assert cloud.post("/createRunnerInstance", {"kind": "global"}, token=admin).status_code == 201
    plain = cloud.post("/admin/accounts", {"uid": "plain"}).json()["idToken"]
    assert cloud.post("/createRunnerInstance", {"kind": "global"}, token=plain).status_code == 403
    assert cloud.post("/admin/accounts", {"admin": True}).status_code == 400
    assert cloud.post("/admin/accounts", {"uid": "x", "admin": "yes"}).status_code == 400


def test_reset_clears_jobs_stats_and_faults_but_keeps_keys(cloud: Cloud, key: str) -> None:
    cloud.enqueue(messages=[{"text": "x"}])
    cloud.lease(key)
    cloud.post("/admin/faults", {"route": "/failWorkspaceJob", "error_rate": 1})
    assert cloud.post("/admin/reset", {}).json() == {"ok": True}
    assert cloud.get("/admin/jobs").json() == {"jobs": []}
    assert cloud.get("/admin/faults").json()["routes"] == {}
    stats = cloud.stats()
    assert stats["leasesGranted"] == 0 and stats["jobs"]["leased"] == 0
    fresh = cloud.enqueue(messages=[{"text": "y"}])
    assert fresh == "ws-000002"  # ids keep counting, never reused
    assert cloud.lease(key)["workspaceId"] == fresh
    assert cloud.post("/admin/reset", {"all": True}).status_code == 400


def test_enqueue_job_python_api(cloud: Cloud, key: str) -> None:
    workspace_id = cloud.server.enqueue_job({"target": "global", "messages": [{"text": "a list of risks"}]})
    assert cloud.lease(key)["workspaceId"] == workspace_id
    with pytest.raises(JobSpecError) as caught:
        cloud.server.enqueue_job({"target": "user"})
    assert any(p.startswith("owner") for p in caught.value.problems)
