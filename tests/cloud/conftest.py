"""Shared fixtures of the cloud client tests: recorded sleeps and client factories."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared.cloud import InstanceClient, JobClient
from shared.http.retry import RetryPolicy

RUNNER_KEY = "cred-test.s3cr3t-runner-key-value"
ID_TOKEN = "eyJhbGciOi.fake-firebase-id-token.signature"


@pytest.fixture
def sleeps() -> list[float]:
    """Seconds the client asked to sleep; the client under test appends instead of sleeping."""
    return []


@pytest.fixture
def requests_seen() -> list[tuple[str, str, float]]:
    """Every ``on_request(route, code, seconds)`` report."""
    return []


@pytest.fixture
def job_client(sleeps: list[float], requests_seen: list[tuple[str, str, float]]) -> Iterator[Callable[..., JobClient]]:
    """Build a JobClient for a base URL with fast timeouts, recorded sleeps and reports."""
    made: list[JobClient] = []

    def make(base_url: str, *, token: str = RUNNER_KEY, read_timeout: float = 10.0, **retry: Any) -> JobClient:
        client = JobClient(base_url=base_url, token=token, connect_timeout=5.0, read_timeout=read_timeout,
                           retry=RetryPolicy(**retry), on_request=lambda *report: requests_seen.append(report),
                           sleep=sleeps.append)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def instance_client(sleeps: list[float]) -> Iterator[Callable[..., InstanceClient]]:
    made: list[InstanceClient] = []

    def make(base_url: str, *, id_token: str = ID_TOKEN) -> InstanceClient:
        client = InstanceClient(base_url=base_url, id_token=id_token, connect_timeout=5.0, read_timeout=10.0,
                                retry=RetryPolicy(), sleep=sleeps.append)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
