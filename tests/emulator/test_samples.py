"""Sample jobs: every deliverable kind asked for, legacy-only jobs, long histories, determinism."""
from __future__ import annotations

from typing import Any

import pytest
import requests

from emulator import EmulatorServer, sample_jobs
from emulator.jobspec import parse_job_spec
from shared.config.sections import EmulatorConfig
from tests.emulator.conftest import HTTP_TIMEOUT

PHRASES = ("bar chart comparing", "table of", "checklist", "file specs/", "SVG diagram", "pie chart",
           "line chart", "list of", "scatter plot", "stacked bar", "area chart")


def _request_text(spec: dict[str, Any]) -> str:
    text: str = spec["messages"][-1]["text"] if spec["messages"] else spec["legacyIdea"]
    return text


def test_twelve_samples_ask_for_every_kind() -> None:
    texts = [_request_text(spec) for spec in sample_jobs(12)]
    for phrase in PHRASES:
        assert any(phrase in text for text in texts), phrase


def test_samples_are_valid_global_specs_with_legacy_and_long_ones() -> None:
    specs = sample_jobs(12)
    for spec in specs:
        parse_job_spec(spec)
        assert spec["target"] == "global" and spec["title"]
    legacy = [spec for spec in specs if not spec["messages"]]
    assert 1 <= len(legacy) <= 2 and all(spec["legacyIdea"] for spec in legacy)
    assert sum(len(spec["messages"]) > 6 for spec in specs) >= 2


def test_samples_are_deterministic_per_seed() -> None:
    assert sample_jobs(8, seed=3) == sample_jobs(8, seed=3)
    assert sample_jobs(8, seed=3) != sample_jobs(8, seed=4)
    assert sample_jobs(0) == []
    with pytest.raises(ValueError):
        sample_jobs(-1)


def test_seeded_jobs_served_with_contexts_that_need_summarising() -> None:
    with EmulatorServer(config=EmulatorConfig(seed_jobs=12), seed=0) as server:
        key = server.create_instance()["runnerToken"]
        headers = {"Authorization": f"Bearer {key}"}
        contexts = []
        with requests.Session() as session:
            while (lease := session.post(server.url + "/leaseWorkspaceJob", json={}, headers=headers,
                                         timeout=HTTP_TIMEOUT).json())["leased"]:
                contexts.append(session.post(server.url + "/getWorkspaceRunnerContext", headers=headers,
                                             json={"workspaceId": lease["workspaceId"]}, timeout=HTTP_TIMEOUT).json())
    assert len(contexts) == 12
    assert any(c["priorNeedsSummarization"] for c in contexts)
    assert any(c["messageCount"] == 0 and c["legacyIdea"] for c in contexts)
    assert any(c["messageCount"] > 0 and not c["priorMessages"] for c in contexts)
