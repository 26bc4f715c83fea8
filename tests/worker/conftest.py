"""Fixtures for job-level tests: a real emulator and a scripted OpenAI server on loopback,
and a ``JobRunner`` wired to them with real clients (nothing mocked)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emulator import EmulatorServer
from shared.cloud.jobs import JobClient
from shared.config.sections import EmulatorConfig, ModelConfig
from shared.http.retry import RetryPolicy
from shared.jobs import LeasedJob
from shared.pipe.messages import JobFinished
from tests.fakes.openai_server import FakeOpenAIServer
from workers.job import JobRunner
from workers.models.openai_chat import OpenAIChatHandle
from workers.models.openai_responses import OpenAIResponsesHandle

API_KEY = "sk-test-worker-secret-0123456789"
HANDLES = {"responses": OpenAIResponsesHandle, "chat": OpenAIChatHandle}


class ShiftableClock:
    """Real time plus an offset a test can bump, to expire leases without sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Harness:
    """One emulator, one fake model server, and helpers to run a leased job end to end."""

    def __init__(self, cloud: EmulatorServer, openai: FakeOpenAIServer, clock: ShiftableClock) -> None:
        self.cloud, self.openai, self.clock = cloud, openai, clock
        self.token = cloud.create_instance(kind="global")["runnerToken"]
        self.sent: list[Any] = []
        self.sleeps: list[float] = []
        self.api_requests: list[tuple[str, str, float]] = []

    def enqueue(self, **spec: Any) -> str:
        return self.cloud.enqueue_job({"target": "global", **spec})

    def client(self, base_url: str | None = None) -> JobClient:
        return JobClient(base_url=base_url or self.cloud.url, token=self.token, connect_timeout=2, read_timeout=10,
                         retry=RetryPolicy(max_attempts=2, base_delay=0.01),
                         on_request=lambda *report: self.api_requests.append(report))

    def model(self, protocol: str = "responses", **overrides: Any) -> Any:
        config = ModelConfig(name=f"openai-{protocol}", base_url=self.openai.base_url, api_key=API_KEY,
                             model="test-model", summary_model="test-summary-model", max_attempts=3,
                             read_timeout=10, **overrides)
        return HANDLES[protocol](config=config, sleep=self.sleeps.append)

    def run(self, *, protocol: str = "responses", job_timeout: float = 60, client: JobClient | None = None,
            job: LeasedJob | None = None) -> JobFinished:
        """Run ``job`` (else the next job, leased with a real client) through a real ``JobRunner``."""
        client = client or self.client()
        if job is None:
            job = client.lease()
            assert job is not None, "nothing to lease"
        runner = JobRunner(client=client, model=self.model(protocol), job_timeout=job_timeout, send=self.sent.append)
        return runner.run(job)

    def job(self, workspace_id: str) -> dict[str, Any]:
        answer = requests.get(f"{self.cloud.url}/admin/jobs/{workspace_id}", timeout=5)
        answer.raise_for_status()
        job: dict[str, Any] = answer.json()
        return job

    def routes_called(self) -> list[str]:
        return [route for route, _, _ in self.api_requests]


@pytest.fixture
def harness() -> Iterator[Harness]:
    clock = ShiftableClock()
    config = EmulatorConfig(listen="127.0.0.1:0", seed_jobs=0, lease_seconds=600)
    with EmulatorServer(config=config, clock=clock, seed=1) as cloud, FakeOpenAIServer() as openai:
        yield Harness(cloud, openai, clock)
