"""What the two OpenAI handles share: the HTTP client, the model names, ``summarize``, ``close``.

A subclass names its ``endpoint``, builds the summary request body and reads the text of
an answer; sessions are its own business (``open_session``).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar

from shared.config.sections import ModelConfig
from workers.models.http_client import ModelHttpClient, RequestObserver
from workers.models.rounds import with_one_trim
from workers.models.trimming import cut_text, shrink_within

log = logging.getLogger("xenon.worker.model")


class HttpModelHandle:
    """Base of ``OpenAIResponsesHandle`` and ``OpenAIChatHandle``; one per worker."""

    endpoint: ClassVar[str]
    other_api: ClassVar[tuple[str, str]]  # (model.name, endpoint) of the other OpenAI API
    # Sessions may run at once on several job lanes: each is its own object over a thread-safe HTTP session.
    concurrent_sessions: ClassVar[bool] = True

    def __init__(self, *, config: ModelConfig, on_request: RequestObserver | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = ModelHttpClient.from_config(config, on_request=on_request, sleep=sleep)
        self._model = config.model
        self._summary_model = config.summary_model

    def summarize(self, text: str, *, instructions: str, max_chars: int, timeout: float | None = None) -> str:
        """Ask the summary model (no tools); the input loses its middle once if it overflows
        the context; the answer is cut to ``max_chars``."""
        fitted = self._fit_summary_input(text, instructions=instructions)

        def attempt(ratio: float | None, remaining: float | None) -> str:
            prompt = fitted if ratio is None else shrink_within(
                fitted, total_chars=len(fitted) + len(instructions), ratio=ratio)
            body = self._summary_body(prompt, instructions=instructions)
            return self._answer_text(self._post(body, timeout=remaining))

        return cut_text(with_one_trim(attempt, timeout=timeout).strip(), max_chars)

    def _post(self, body: dict[str, Any], *, timeout: float | None) -> dict[str, Any]:
        """One call of this handle's API (a subclass may stream it)."""
        return self._client.post(self.endpoint, body, timeout=timeout)

    def _fit_summary_input(self, text: str, *, instructions: str) -> str:
        """The text to summarise, cut to the model's window where the handle knows it."""
        return text

    def probe(self) -> None:
        """Ask the endpoint once, at worker start, whether it serves this handle's API.

        A server without the API (404) while it serves the other OpenAI API raises
        ``ValueError`` naming the ``model.name`` to use; an unreachable server or a refused
        key is logged (jobs will pause the pool until it answers: it may come up later).
        """
        status, detail = self._client.probe(self.endpoint)
        where = f"{self._client.base_url}/{self.endpoint}"
        if status is None:
            log.warning("model endpoint %s is unreachable at start-up (%s): jobs will pause leasing until it "
                        "answers", where, detail)
        elif status in (401, 403):
            log.warning("model endpoint %s refused the API key at start-up (%s)", where, detail)
        elif status == 404:
            other_name, other_endpoint = self.other_api
            other_status, _ = self._client.probe(other_endpoint)
            if other_status is not None and other_status != 404:
                raise ValueError(f"the model server has no /{self.endpoint} (404) but serves /{other_endpoint}: "
                                 f"use model.name: {other_name}")
            raise ValueError(f"the model server answers 404 to /{self.endpoint} and /{other_endpoint}: check "
                             "model.base_url (an OpenAI-compatible base URL ends in /v1)")

    def close(self) -> None:
        self._client.close()

    def _summary_body(self, prompt: str, *, instructions: str) -> dict[str, Any]:
        raise NotImplementedError

    def _answer_text(self, data: dict[str, Any]) -> str:
        raise NotImplementedError
