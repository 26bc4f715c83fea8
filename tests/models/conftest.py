"""Fixtures for the model-handle tests: a fake OpenAI server and a config pointing at it."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from shared.config.sections import ModelConfig
from tests.fakes.openai_server import FakeOpenAIServer
from workers.models.base import ToolSpec

API_KEY = "sk-test-7f3c9a1b2d4e6f80secretvalue"

LIST_TOOL = ToolSpec(name="create_list", description="Create a list.",
                     parameters={"type": "object", "properties": {"list": {"type": "object"}}, "required": ["list"]})
FILE_TOOL = ToolSpec(name="create_file", description="Create a file.",
                     parameters={"type": "object", "properties": {"name": {"type": "string"},
                                                                  "content": {"type": "string"}},
                                 "required": ["name", "content"]})


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@dataclasses.dataclass
class Recorder:
    """Collects what the handles report: sleeps (seconds) and on_request calls."""

    sleeps: list[float] = dataclasses.field(default_factory=list)
    requests: list[tuple[str, str, float]] = dataclasses.field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def on_request(self, endpoint: str, code: str, seconds: float) -> None:
        self.requests.append((endpoint, code, seconds))

    @property
    def codes(self) -> list[str]:
        return [code for _, code, _ in self.requests]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def model_config(server: FakeOpenAIServer, **overrides: Any) -> ModelConfig:
    values: dict[str, Any] = dict(base_url=server.base_url, api_key=API_KEY, model="gpt-test",
                                  summary_model="gpt-summary", connect_timeout=5.0, read_timeout=10.0,
                                  max_attempts=4)
    values.update(overrides)
    return ModelConfig(**values)
