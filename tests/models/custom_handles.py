"""Operator-style handle factories for the loader tests (``tests.models.custom_handles:…``)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.config.sections import ModelConfig
from workers.models.base import ModelTurn, ToolSpec

CALLS: list[ModelConfig] = []
NOT_CALLABLE = 3


class EchoHandle:
    """A minimal valid handle: remembers its config, echoes user text."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config

    def open_session(self, *, instructions: str, tools: Sequence[ToolSpec]) -> Any:
        return self

    def send(self, items: Sequence[Any], *, timeout: float | None = None) -> ModelTurn:
        return ModelTurn(text=" ".join(getattr(item, "text", "") for item in items))

    def summarize(self, text: str, *, instructions: str, max_chars: int, timeout: float | None = None) -> str:
        return text[:max_chars]

    def close(self) -> None:
        return None


def make_handle(*, config: ModelConfig) -> EchoHandle:
    CALLS.append(config)
    return EchoHandle(config)


class Factories:
    @staticmethod
    def build(*, config: ModelConfig) -> EchoHandle:
        return EchoHandle(config)


def make_nothing(*, config: ModelConfig) -> object:
    return 42


def explode(*, config: ModelConfig) -> EchoHandle:
    raise RuntimeError(f"GPU not found (key {config.api_key})")
