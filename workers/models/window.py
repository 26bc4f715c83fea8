"""How big the model's window is and how many tokens a request takes, without a tokenizer.

- ``TokenEstimate`` turns characters into tokens at a ratio (characters per token): the
  calibrated ratio of this server's tokenizer when we could measure it, else a cautious
  default. A chat request is counted whole: every message's text plus a per-message
  overhead for the chat template, and the tools' JSON (servers render the schemas into the
  prompt) plus a per-tool overhead.
- ``ServerFacts`` asks the server once (lazily, in the worker) what it will tell:
  its context window (llama.cpp ``/props``, vLLM ``/v1/models`` ``max_model_len``,
  Ollama ``/api/show``) and, through a tokenize endpoint (llama.cpp ``/tokenize``,
  llama-cpp-python ``/extras/tokenize``, vLLM ``/tokenize``), the characters per token of
  a sample of what we send. A server that says nothing leaves the window unknown until
  an overflow error names it (``learn_window``).
"""
from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workers.models.answer_fields import object_at

log = logging.getLogger("xenon.worker.model")

DEFAULT_CHARS_PER_TOKEN = 3.0  # cautious: English prose runs ~4, JSON schemas ~3 on small vocabularies
CALIBRATION_SAFETY = 0.9  # the sample is not the request: count a tenth more tokens than measured
MESSAGE_OVERHEAD_TOKENS = 8  # role markers and separators of a chat template, per message
TOOL_OVERHEAD_TOKENS = 16  # the template's framing of each tool, per tool
REQUEST_OVERHEAD_TOKENS = 64  # the tool-calling preamble servers add when tools are offered
OLLAMA_DEFAULT_NUM_CTX = 2048  # Ollama's window when the model's num_ctx is not raised (older releases)

_NUM_CTX = re.compile(r"^\s*num_ctx\s+(\d+)", re.MULTILINE)

Fetch = Callable[[str, str, "Mapping[str, Any] | None"], Any]
"""``fetch(method, url, json_body)`` → the decoded JSON answer, or raises on any failure."""


@dataclass(frozen=True)
class TokenEstimate:
    """Tokens of texts and requests at ``chars_per_token``."""

    chars_per_token: float = DEFAULT_CHARS_PER_TOKEN

    def of_text(self, text: str) -> int:
        return math.ceil(len(text) / self.chars_per_token)

    def of_messages(self, messages: Sequence[Mapping[str, Any]]) -> int:
        """Every message's content and tool calls, plus the template's overhead per message."""
        total = 0
        for message in messages:
            content = message.get("content")
            total += MESSAGE_OVERHEAD_TOKENS + self.of_text(content if isinstance(content, str)
                                                            else json.dumps(content))
            calls = message.get("tool_calls")
            if calls:
                total += self.of_text(json.dumps(calls))
        return total

    def of_tools(self, tools: Sequence[Mapping[str, Any]]) -> int:
        if not tools:
            return 0
        return REQUEST_OVERHEAD_TOKENS + sum(TOOL_OVERHEAD_TOKENS + self.of_text(json.dumps(tool))
                                             for tool in tools)


class ServerFacts:
    """What the model server told about itself; asked once per process, on first use."""

    def __init__(self, *, base_url: str, model: str, configured_window: int, fetch: Fetch) -> None:
        self._base_url = base_url.rstrip("/")
        self._root = self._base_url[:-3] if self._base_url.endswith("/v1") else self._base_url
        self._model = model
        self._configured = configured_window  # tokens; 0 = ask the server
        self._fetch = fetch
        self._lock = threading.Lock()
        self._asked = False
        self._calibrated = False
        self._window: int | None = configured_window or None
        self._estimate = TokenEstimate()
        self.tool_streams_fail = False  # the server cut a streamed round that offered tools

    def window(self) -> int | None:
        """The context window in tokens: configured, told by the server, or learnt; None = unknown."""
        self._ask_once()
        return self._window

    def estimate(self) -> TokenEstimate:
        self._ask_once()
        return self._estimate

    def learn_window(self, tokens: int) -> None:
        """An overflow error named the window: use it from now on (unless it was configured)."""
        if not self._configured and tokens > 0 and tokens != self._window:
            log.info("the model server's context window is %d tokens (from its overflow error)", tokens)
            self._window = tokens

    def learn_overflow(self, *, limit: int | None, fit_ratio: float | None) -> None:
        """A request we planned to fit overflowed: take the window the error named and, when
        it told limit/requested (``fit_ratio`` < 1), count that much more cautiously from now on."""
        if limit:
            self.learn_window(limit)
        if fit_ratio is not None and 0 < fit_ratio < 1:
            ratio = max(1.0, self._estimate.chars_per_token * fit_ratio * CALIBRATION_SAFETY)
            log.info("the model server counted more tokens than estimated: now %.2f characters per token", ratio)
            self._estimate = TokenEstimate(chars_per_token=ratio)

    def calibrate(self, sample: str) -> None:
        """Measure characters per token on ``sample`` with the server's tokenizer, if it has
        one; only the first call asks."""
        with self._lock:
            if self._calibrated:
                return
            self._calibrated = True
        count = self._token_count(sample)
        if count:
            ratio = max(1.0, min(8.0, len(sample) / count)) * CALIBRATION_SAFETY
            self._estimate = TokenEstimate(chars_per_token=ratio)
            log.info("model tokenizer: %.2f characters per token (measured on %d characters)", ratio, len(sample))

    def _ask_once(self) -> None:
        with self._lock:
            if self._asked:
                return
            self._asked = True
            if self._window is None:
                self._window = self._told_window()
                if self._window:
                    log.info("the model server's context window is %d tokens", self._window)

    def _told_window(self) -> int | None:
        askers: tuple[Callable[[], int | None], ...] = (self._llama_cpp_props, self._models_list,
                                                        self._ollama_show)
        for ask in askers:
            try:
                window = ask()
            except Exception:  # any failure means "this server does not say"
                continue
            if window:
                return window
        return None

    def _llama_cpp_props(self) -> int | None:
        props = self._fetch("GET", f"{self._root}/props", None)
        settings = props.get("default_generation_settings") if isinstance(props, dict) else None
        return _positive(settings.get("n_ctx") if isinstance(settings, dict) else None) or _positive(
            props.get("n_ctx") if isinstance(props, dict) else None)

    def _models_list(self) -> int | None:
        listing = self._fetch("GET", f"{self._base_url}/models", None)
        entries = listing.get("data") if isinstance(listing, dict) else None
        entries = entries if isinstance(entries, list) else []
        for entry in entries:
            if not isinstance(entry, dict) or (entry.get("id") != self._model and len(entries) > 1):
                continue
            meta = object_at(entry, "meta")
            found = _positive(entry.get("max_model_len")) or _positive(meta.get("n_ctx"))
            if found:
                return found
        return None

    def _ollama_show(self) -> int | None:
        shown = self._fetch("POST", f"{self._root}/api/show", {"model": self._model})
        if not isinstance(shown, dict):
            return None
        parameters = shown.get("parameters")
        match = _NUM_CTX.search(parameters) if isinstance(parameters, str) else None
        if match:
            return int(match.group(1))
        info = shown.get("model_info")
        trained = [value for key, value in info.items() if key.endswith(".context_length")] if isinstance(
            info, dict) else []
        return min(OLLAMA_DEFAULT_NUM_CTX, *trained) if trained and _positive(trained[0]) else None

    def _token_count(self, sample: str) -> int | None:
        attempts = ((f"{self._root}/extras/tokenize", {"input": sample, "model": self._model}),
                    (f"{self._root}/tokenize", {"content": sample}),
                    (f"{self._root}/tokenize", {"model": self._model, "prompt": sample}))
        for url, body in attempts:
            try:
                answer = self._fetch("POST", url, body)
            except Exception:  # no tokenize endpoint there
                continue
            if isinstance(answer, dict):
                count = _positive(answer.get("count"))
                tokens = answer.get("tokens")
                if count:
                    return count
                if isinstance(tokens, list) and tokens:
                    return len(tokens)
        return None


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
