"""Fault injection: each fault type (fixed seed, rate 1.0), per-route settings, determinism."""
from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from emulator import EmulatorServer
from shared.config.sections import EmulatorConfig
from tests.emulator.conftest import HTTP_TIMEOUT, Cloud, with_config


def _set_faults(cloud: Cloud, **settings: object) -> dict[str, Any]:
    reply = cloud.post("/admin/faults", settings)
    assert reply.status_code == 200, reply.text
    faults: dict[str, Any] = reply.json()
    return faults


def test_error_rate_answers_500_and_changes_nothing(cloud: Cloud, key: str) -> None:
    workspace_id = cloud.enqueue(messages=[{"text": "x"}])
    _set_faults(cloud, error_rate=1.0)
    reply = cloud.post("/leaseWorkspaceJob", {}, token=key)
    assert reply.status_code == 500 and reply.json() == {"error": "injected fault"}
    assert cloud.job(workspace_id)["state"] == "pending"  # admin routes are never faulted
    stats = cloud.stats()
    assert stats["faultsInjected"] == {"error": 1} and stats["leasesGranted"] == 0
    assert stats["requests"]["/leaseWorkspaceJob"] == {"500": 1}


@pytest.mark.parametrize("retry_after, header", [(2.0, "2"), (0.5, "0.5")])
def test_throttle_rate_answers_429_with_retry_after(cloud: Cloud, key: str, retry_after: float,
                                                    header: str) -> None:
    _set_faults(cloud, throttle_rate=1.0, retry_after=retry_after)
    reply = cloud.post("/leaseWorkspaceJob", {}, token=key)
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == header
    assert "error" in reply.json()


def test_drop_rate_closes_without_answer(cloud: Cloud, key: str) -> None:
    _set_faults(cloud, drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        cloud.post("/leaseWorkspaceJob", {}, token=key)
    stats = cloud.stats()  # the admin API is never faulted
    assert stats["requests"]["/leaseWorkspaceJob"] == {"dropped": 1}
    assert stats["faultsInjected"] == {"drop": 1}
    _set_faults(cloud)
    assert cloud.lease(key) == {"leased": False}  # the same session reconnects


def test_latency_delays_the_answer(cloud: Cloud, key: str) -> None:
    _set_faults(cloud, latency=0.2)
    started = time.monotonic()
    reply = cloud.post("/leaseWorkspaceJob", {}, token=key)
    assert reply.status_code == 200
    assert time.monotonic() - started >= 0.2  # a lower bound only: sleeping never takes less
    assert cloud.stats()["faultsInjected"] == {"latency": 1}


def test_malformed_rate_answers_200_with_unusable_bodies(cloud: Cloud, key: str) -> None:
    cloud.enqueue(messages=[{"text": "x"}])
    _set_faults(cloud, malformed_rate=1.0)
    kinds = set()
    for _ in range(12):
        reply = cloud.post("/leaseWorkspaceJob", {}, token=key)
        assert reply.status_code == 200
        try:
            body = json.loads(reply.content)
        except ValueError:
            kinds.add("non-json")
            assert reply.headers["Content-Type"] == "text/html"
        else:
            kinds.add("missing-fields")
            assert "leased" not in body and "workspaceId" not in body
    assert kinds == {"non-json", "missing-fields"}  # seed 7 gives both within 12 draws
    assert cloud.stats()["leasesGranted"] == 0


def test_route_settings_replace_global_ones(cloud: Cloud, key: str) -> None:
    _set_faults(cloud, error_rate=1.0)
    snapshot = _set_faults(cloud, route="/leaseWorkspaceJob")  # all zero for this route
    assert snapshot["global"]["error_rate"] == 1.0
    assert snapshot["routes"]["/leaseWorkspaceJob"]["error_rate"] == 0.0
    assert cloud.post("/leaseWorkspaceJob", {}, token=key).status_code == 200
    assert cloud.post("/heartbeatWorkspaceJob", {"workspaceId": "w"}, token=key).status_code == 500
    _set_faults(cloud, route="/leaseWorkspaceJob", remove=True)
    assert cloud.get("/admin/faults").json()["routes"] == {}
    assert cloud.post("/leaseWorkspaceJob", {}, token=key).status_code == 500


def test_faults_on_one_route_only(cloud: Cloud, key: str) -> None:
    _set_faults(cloud, route="/completeWorkspaceJob", throttle_rate=1.0, retry_after=3)
    assert cloud.post("/leaseWorkspaceJob", {}, token=key).status_code == 200
    reply = cloud.post("/completeWorkspaceJob", {"workspaceId": "w"}, token=key)
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "3"


def test_get_faults_reads_current_settings(cloud: Cloud) -> None:
    assert cloud.get("/admin/faults").json() == {
        "global": {"error_rate": 0.0, "throttle_rate": 0.0, "retry_after": 1.0, "drop_rate": 0.0,
                   "latency": 0.0, "malformed_rate": 0.0},
        "routes": {}}


@pytest.mark.parametrize("body, word", [
    ({"error_rate": 1.5}, "error_rate"),
    ({"latency": -1}, "latency"),
    ({"drop_rate": "all"}, "drop_rate"),
    ({"route": "/admin/jobs", "error_rate": 1}, "route"),
    ({"remove": True}, "route"),
    ({"eror_rate": 1}, "eror_rate"),
])
def test_bad_fault_settings_are_400(cloud: Cloud, body: dict[str, Any], word: str) -> None:
    reply = cloud.post("/admin/faults", body)
    assert reply.status_code == 400 and word in reply.json()["error"]


@with_config(error_rate=1.0, retry_after=4.0)
def test_config_sets_default_faults_and_reset_restores_them(cloud: Cloud, key: str) -> None:
    assert cloud.post("/leaseWorkspaceJob", {}, token=key).status_code == 500
    _set_faults(cloud)  # all zero
    assert cloud.post("/leaseWorkspaceJob", {}, token=key).status_code == 200
    assert cloud.post("/admin/reset", {}).status_code == 200
    assert cloud.get("/admin/faults").json()["global"]["retry_after"] == 4.0
    assert cloud.post("/leaseWorkspaceJob", {}, token=key).status_code == 500


def test_same_seed_same_fault_sequence() -> None:
    sequences = []
    for _ in range(2):
        config = EmulatorConfig(seed_jobs=0, error_rate=0.5)
        with EmulatorServer(config=config, seed=42) as server:
            key = server.create_instance()["runnerToken"]
            with requests.Session() as session:
                sequences.append([
                    session.post(server.url + "/leaseWorkspaceJob", json={}, timeout=HTTP_TIMEOUT,
                                 headers={"Authorization": f"Bearer {key}"}).status_code
                    for _ in range(24)])
    assert sequences[0] == sequences[1]
    assert set(sequences[0]) == {200, 500}
