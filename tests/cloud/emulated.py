"""A running local cloud emulator plus the admin calls the cloud client tests need.

Faults are set per route through the real admin HTTP API. ``clear_faults_on_sleep``
gives a client a ``sleep`` that records the wait and then lifts a fault, so "fail, then
succeed on the retry" is deterministic without sleeping or relying on random draws.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from emulator import EmulatorServer
from shared.config.sections import EmulatorConfig

ADMIN_TIMEOUT = (5.0, 30.0)  # seconds (connect, read) for admin calls
SAFETY_TIMEOUT = 10.0  # seconds: waiting for server-side state that must arrive much sooner
DONE_PAYLOAD = {"assistantMessage": "Done.", "files": [], "charts": [], "datasets": [], "svgs": [], "lists": [],
                "checklists": []}


class Cloud:
    """An ``EmulatorServer`` with helpers over its admin API."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.url = server.url

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = requests.request(method, self.url + path, json=body, timeout=ADMIN_TIMEOUT)
        response.raise_for_status()
        document: dict[str, Any] = response.json()   # every admin route answers a JSON object
        return document

    def set_faults(self, route: str, **settings: float) -> None:
        self.admin("POST", "/admin/faults", {"route": route, **settings})

    def clear_faults(self, route: str) -> None:
        self.admin("POST", "/admin/faults", {"route": route, "remove": True})

    def job(self, workspace_id: str) -> dict[str, Any]:
        return self.admin("GET", f"/admin/jobs/{workspace_id}")

    def account(self, uid: str, *, admin: bool = False) -> str:
        """A Studio account's ID token."""
        token: str = self.admin("POST", "/admin/accounts", {"uid": uid, "admin": admin})["idToken"]
        return token

    def runner_key(self, *, kind: str = "global", owner: str = "local-admin") -> str:
        key: str = self.server.create_instance(kind=kind, owner=owner)["runnerToken"]
        return key

    def enqueue(self, *, target: str = "global", owner: str | None = None, messages: int = 1) -> str:
        spec: dict[str, Any] = {"target": target, "title": "Test job",
                                "messages": [{"text": f"message {index}"} for index in range(messages)]}
        if owner is not None:
            spec["owner"] = owner
        return self.server.enqueue_job(spec)

    def wait_for_state(self, workspace_id: str, state: str) -> dict[str, Any]:
        """The job once it reaches ``state``; fails after ``SAFETY_TIMEOUT`` seconds."""
        deadline = time.monotonic() + SAFETY_TIMEOUT
        while True:
            job = self.job(workspace_id)
            if job["state"] == state:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {workspace_id} not {state} within {SAFETY_TIMEOUT:g}s: {job}")
            time.sleep(0.01)

    def clear_faults_on_sleep(self, route: str, sleeps: list[float],
                              before: Callable[[], object] | None = None) -> Callable[[float], None]:
        """A ``sleep`` for clients: record the seconds, run ``before``, lift ``route``'s faults."""
        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            if before is not None:
                before()
            self.clear_faults(route)
        return sleep


def running_cloud(**config: Any) -> Iterator[Cloud]:
    """Start an emulator with no sample jobs (plus ``config`` overrides) on 127.0.0.1:0."""
    server = EmulatorServer(config=EmulatorConfig(seed_jobs=0, **config), seed=7)
    server.start()
    try:
        yield Cloud(server)
    finally:
        server.stop()
