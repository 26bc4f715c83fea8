"""Fixtures for the emulator tests: a started emulator on 127.0.0.1 with an injected clock,
and a small client that speaks its routes with ``requests``."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emulator import EmulatorServer
from shared.config.sections import EmulatorConfig

START = 1_800_000_000.0  # epoch seconds of the fake clock
HTTP_TIMEOUT = 10.0  # seconds; a safety net only


class FakeClock:
    """A clock the test moves by hand, so lease expiry needs no sleeping."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Cloud:
    """Talks to one started emulator over HTTP, keeping a kept-alive session."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.url = server.url
        self.session = requests.Session()

    def post(self, path: str, body: Any = None, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.session.post(self.url + path, json={} if body is None else body, headers=headers,
                                 timeout=HTTP_TIMEOUT, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url + path, timeout=HTTP_TIMEOUT, **kwargs)

    def admin_key(self, kind: str = "global", owner: str | None = None) -> str:
        body = {"kind": kind} if owner is None else {"kind": kind, "owner": owner}
        reply = self.post("/admin/instances", body)
        assert reply.status_code == 201, reply.text
        key: str = reply.json()["runnerToken"]
        return key

    def enqueue(self, **spec: Any) -> str:
        reply = self.post("/admin/jobs", {"target": "global", **spec})
        assert reply.status_code == 201, reply.text
        workspace_id: str = reply.json()["workspaceId"]
        return workspace_id

    def lease(self, token: str) -> dict[str, Any]:
        reply = self.post("/leaseWorkspaceJob", {}, token=token)
        assert reply.status_code == 200, reply.text
        lease: dict[str, Any] = reply.json()
        return lease

    def job(self, workspace_id: str) -> dict[str, Any]:
        reply = self.get(f"/admin/jobs/{workspace_id}")
        assert reply.status_code == 200, reply.text
        job: dict[str, Any] = reply.json()
        return job

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.get("/admin/stats").json()
        return stats


def empty_completion(workspace_id: str, message: str = "Done.") -> dict[str, Any]:
    """A valid completion body with a message and no artifacts."""
    return {"workspaceId": workspace_id, "assistantMessage": message, "files": [], "charts": [],
            "datasets": [], "svgs": [], "lists": [], "checklists": []}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(seed_jobs=0, lease_seconds=600.0)


@pytest.fixture
def server(config: EmulatorConfig, clock: FakeClock) -> Iterator[EmulatorServer]:
    with EmulatorServer(config=config, clock=clock, seed=7) as started:
        yield started


@pytest.fixture
def cloud(server: EmulatorServer) -> Iterator[Cloud]:
    client = Cloud(server)
    yield client
    client.session.close()


@pytest.fixture
def key(cloud: Cloud) -> str:
    """A global runner key."""
    return cloud.admin_key()


def with_config(**changes: Any) -> pytest.MarkDecorator:
    """Parametrise the ``config`` fixture for one test: ``@with_config(lease_seconds=30)``."""
    base = EmulatorConfig(seed_jobs=0, lease_seconds=600.0)
    return pytest.mark.parametrize("config", [dataclasses.replace(base, **changes)])
