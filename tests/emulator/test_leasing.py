"""Leasing: targeting, queue order, per-instance limits, heartbeats, expiry and 409s."""
from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.emulator.conftest import START, Cloud, FakeClock, with_config

LEASE_MS = 600_000


def test_lease_answer_shape(cloud: Cloud, key: str) -> None:
    workspace_id = cloud.enqueue(title="Plan", messages=[{"text": "a bar chart comparing x"}])
    lease = cloud.lease(key)
    assert lease["leased"] is True
    assert lease["workspaceId"] == workspace_id
    assert isinstance(lease["leaseExpiresAt"], int)
    assert lease["leaseExpiresAt"] == int(START * 1000) + LEASE_MS
    workspace = lease["workspace"]
    assert workspace["id"] == workspace_id and workspace["title"] == "Plan" and workspace["target"] == "global"
    assert workspace["messageCount"] == 1


def test_empty_queue(cloud: Cloud, key: str) -> None:
    assert cloud.lease(key) == {"leased": False}


def test_oldest_pending_first(cloud: Cloud, key: str) -> None:
    ids = [cloud.enqueue(messages=[{"text": f"job {n}"}]) for n in range(3)]
    assert [cloud.lease(key)["workspaceId"] for _ in ids] == ids


def test_global_and_user_targeting(cloud: Cloud) -> None:
    global_key = cloud.admin_key("global")
    alice_key = cloud.admin_key("user", owner="alice")
    bob_key = cloud.admin_key("user", owner="bob")
    bob_job = cloud.enqueue(target="user", owner="bob", messages=[{"text": "b"}])
    alice_job = cloud.enqueue(target="user", owner="alice", messages=[{"text": "a"}])
    global_job = cloud.enqueue(messages=[{"text": "g"}])
    assert cloud.lease(alice_key)["workspaceId"] == alice_job
    assert cloud.lease(alice_key) == {"leased": False}
    assert cloud.lease(global_key)["workspaceId"] == global_job
    assert cloud.lease(global_key) == {"leased": False}
    bob_lease = cloud.lease(bob_key)
    assert bob_lease["workspaceId"] == bob_job and bob_lease["workspace"]["owner"] == "bob"


@with_config(max_leases_per_instance=1)
def test_max_leases_per_instance(cloud: Cloud) -> None:
    first_key, second_key = cloud.admin_key(), cloud.admin_key()
    first_job = cloud.enqueue(messages=[{"text": "1"}])
    second_job = cloud.enqueue(messages=[{"text": "2"}])
    assert cloud.lease(first_key)["workspaceId"] == first_job
    assert cloud.lease(first_key) == {"leased": False}  # at its limit, though a job is pending
    assert cloud.stats()["leasesRefusedAtLimit"] == 1
    assert cloud.lease(second_key)["workspaceId"] == second_job
    cloud.post("/failWorkspaceJob", {"workspaceId": first_job, "error": "x"}, token=first_key)
    third_job = cloud.enqueue(messages=[{"text": "3"}])
    assert cloud.lease(first_key)["workspaceId"] == third_job


def test_unlimited_leases_by_default(cloud: Cloud, key: str) -> None:
    ids = [cloud.enqueue(messages=[{"text": str(n)}]) for n in range(4)]
    assert [cloud.lease(key)["workspaceId"] for _ in ids] == ids


def test_heartbeat_extends_from_now(cloud: Cloud, key: str, clock: FakeClock) -> None:
    workspace_id = cloud.enqueue(messages=[{"text": "x"}])
    cloud.lease(key)
    clock.advance(100)
    reply = cloud.post("/heartbeatWorkspaceJob", {"workspaceId": workspace_id}, token=key)
    assert reply.status_code == 200
    assert reply.json() == {"ok": True, "leaseExpiresAt": int((START + 100) * 1000) + LEASE_MS}
    assert cloud.job(workspace_id)["leaseExpiresAt"] == reply.json()["leaseExpiresAt"]
    assert cloud.stats()["heartbeats"] == 1


def test_heartbeat_keeps_a_lease_alive_past_its_first_expiry(cloud: Cloud, key: str, clock: FakeClock) -> None:
    workspace_id = cloud.enqueue(messages=[{"text": "x"}])
    cloud.lease(key)
    for _ in range(3):
        clock.advance(500)
        assert cloud.post("/heartbeatWorkspaceJob", {"workspaceId": workspace_id}, token=key).status_code == 200
    assert cloud.job(workspace_id)["state"] == "leased"


def test_lease_expiry_returns_job_to_pending_and_counts_leases(cloud: Cloud, key: str, clock: FakeClock) -> None:
    workspace_id = cloud.enqueue(messages=[{"text": "x"}])
    cloud.enqueue(messages=[{"text": "younger"}])
    cloud.lease(key)
    clock.advance(599.999)
    assert cloud.job(workspace_id)["state"] == "leased"
    clock.advance(0.001)  # reaching leaseExpiresAt ends the lease
    snapshot = cloud.job(workspace_id)
    assert snapshot["state"] == "pending" and snapshot["holder"] is None
    other_key = cloud.admin_key()
    assert cloud.lease(other_key)["workspaceId"] == workspace_id  # still the oldest
    assert cloud.job(workspace_id)["leaseCount"] == 2
    assert cloud.stats()["leasesExpired"] == 1


@pytest.mark.parametrize("path, extra", [
    ("/heartbeatWorkspaceJob", {}),
    ("/getWorkspaceRunnerContext", {}),
    ("/updateWorkspaceRunnerSummary", {"summaryText": "s", "fromMessageId": "ws-000001-m001",
                                       "throughMessageId": "ws-000001-m001"}),
    ("/completeWorkspaceJob", {"assistantMessage": "done", "files": [], "charts": [], "datasets": [],
                               "svgs": [], "lists": [], "checklists": []}),
    ("/failWorkspaceJob", {"error": "boom"}),
])
def test_every_job_route_409s_after_expiry(cloud: Cloud, key: str, clock: FakeClock, path: str,
                                           extra: dict[str, Any]) -> None:
    workspace_id = cloud.enqueue(messages=[{"text": "x"}])
    assert workspace_id == "ws-000001"
    cloud.lease(key)
    clock.advance(601)
    reply = cloud.post(path, {"workspaceId": workspace_id, **extra}, token=key)
    assert reply.status_code == 409
    assert reply.json()["detail"] == {"workspaceId": workspace_id, "reason": "the lease expired or was never granted"}
    assert cloud.job(workspace_id)["state"] == "pending"


def test_409_without_lease_and_for_another_instances_lease(cloud: Cloud, key: str) -> None:
    workspace_id = cloud.enqueue(messages=[{"text": "x"}])
    never = cloud.post("/heartbeatWorkspaceJob", {"workspaceId": workspace_id}, token=key)
    assert never.status_code == 409
    other_key = cloud.admin_key()
    cloud.lease(other_key)
    stolen = cloud.post("/heartbeatWorkspaceJob", {"workspaceId": workspace_id}, token=key)
    assert stolen.status_code == 409
    assert stolen.json()["detail"]["reason"] == "the job is leased by another runner instance"
    unknown = cloud.post("/heartbeatWorkspaceJob", {"workspaceId": "ws-999999"}, token=key)
    assert unknown.status_code == 409 and unknown.json()["detail"]["reason"] == "no such workspace"


def test_concurrent_leases_never_hand_out_a_job_twice(cloud: Cloud) -> None:
    ids = {cloud.enqueue(messages=[{"text": str(n)}]) for n in range(40)}
    keys = [cloud.admin_key() for _ in range(8)]
    leased: list[str] = []
    lock = threading.Lock()

    def drain(token: str) -> None:
        client = Cloud(cloud.server)
        while True:
            answer = client.lease(token)
            if not answer["leased"]:
                return
            with lock:
                leased.append(answer["workspaceId"])

    threads = [threading.Thread(target=drain, args=(token,)) for token in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(leased) == sorted(ids)
    assert cloud.stats()["jobs"]["leased"] == 40
