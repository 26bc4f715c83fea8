"""What the two OpenAI handles share: the HTTP client, the model names, ``summarize``, ``close``.

A subclass names its ``endpoint``, builds the summary request body and reads the text of
an answer; sessions are its own business (``open_session``).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from workers.models.http_client import ModelHttpClient, RequestObserver
from workers.models.rounds import with_one_trim
from workers.models.trimming import cut_text, shrink_within

if TYPE_CHECKING:  # type-only: importing supervisor.config here would be circular
    from supervisor.config.sections import ModelConfig


class HttpModelHandle:
    """Base of ``OpenAIResponsesHandle`` and ``OpenAIChatHandle``; one per worker."""

    endpoint: ClassVar[str]

    def __init__(self, *, config: ModelConfig, on_request: RequestObserver | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = ModelHttpClient.from_config(config, on_request=on_request, sleep=sleep)
        self._model = config.model
        self._summary_model = config.summary_model

    def summarize(self, text: str, *, instructions: str, max_chars: int, timeout: float | None = None) -> str:
        """Ask the summary model (no tools); the input loses its middle once if it overflows
        the context; the answer is cut to ``max_chars``."""
        def attempt(ratio: float | None, remaining: float | None) -> str:
            prompt = text if ratio is None else shrink_within(
                text, total_chars=len(text) + len(instructions), ratio=ratio)
            body = self._summary_body(prompt, instructions=instructions)
            return self._answer_text(self._client.post(self.endpoint, body, timeout=remaining))

        return cut_text(with_one_trim(attempt, timeout=timeout).strip(), max_chars)

    def close(self) -> None:
        self._client.close()

    def _summary_body(self, prompt: str, *, instructions: str) -> dict[str, Any]:
        raise NotImplementedError

    def _answer_text(self, data: dict[str, Any]) -> str:
        raise NotImplementedError
