"""The ``llama-cpp`` handle: a GGUF model loaded in-process, once per worker.

Install the optional extra (``pip install 'xenonflare-runner[local]'``, which compiles
llama.cpp) and set ``model.model_path`` to a ``.gguf`` file. Each worker loads the model
when it starts; the weights are memory-mapped (``use_mmap``), so the workers of a pool
share one copy in the page cache and each pays only for its own context (KV cache,
buffers). GPU offload (``model.gpu_layers``) is passed through to llama.cpp as is.

The conversation runs exactly like ``openai-chat``: this handle is an ``OpenAIChatHandle``
whose "server" is a ``LocalChatServer`` answering chat-completions bodies with
``Llama.create_chat_completion``. The chat format is ``chatml-function-calling``, which
constrains every tool call with a grammar made from the tool's JSON Schema, so a small
model emits calls whose arguments parse and fit the schema. The window is the context
llama.cpp was given (``model.context_window``, 0 = the model's own), counted with the
model's own tokenizer; a round's deadline aborts llama.cpp's next decode step (its abort
callback), so generation stops within one token.

``max_tokens`` (``model.max_output_tokens``) is enforced here, not left to llama-cpp-python:
its function-calling handler, when tools are offered with ``tool_choice: "auto"``, generates
the answer and each tool call's arguments with no token limit at all, so a small model writing
an endless JSON array ran until the window was full (minutes on a CPU) and the next step then
failed "Requested tokens exceed context window", which looked like a prompt too long. Every
token sampled during one request counts (``OutputBudget``); past the limit the next decode
step aborts and the answer comes back empty with ``finish_reason: "length"``, as a server
reports an answer cut at its output limit.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from shared.config.sections import ModelConfig
from shared.http.bounded import StreamedAnswer
from workers.models.base import ModelDeadlineExceeded, ModelError
from workers.models.http_client import ContextOverflow
from workers.models.openai_chat import OpenAIChatHandle
from workers.models.window import ServerFacts

log = logging.getLogger("xenon.worker.model")

CHAT_FORMAT = "chatml-function-calling"
_OVERFLOW = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")
_REQUEST_KEYS = ("messages", "tools", "tool_choice", "max_tokens", "temperature", "seed")


class OutputBudget:
    """The tokens llama.cpp sampled during one request, against its ``max_tokens``.

    Counted by a logits processor, which llama-cpp-python calls before each token it samples;
    a call for the same position again (a resample under a grammar) is not a new token.
    """

    def __init__(self, limit: int | None) -> None:
        self.limit = limit   # tokens; None = no limit
        self.sampled = 0     # tokens sampled so far, over every completion the chat handler ran
        self._position = -1  # length of the token sequence at the last call

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """The logits processor: counts the token about to be sampled, leaves the scores as they are."""
        if len(input_ids) != self._position:
            self._position = len(input_ids)
            self.sampled += 1
        return scores

    @property
    def spent(self) -> bool:
        """More tokens were sampled than ``limit`` allows: stop at the next decode step."""
        return self.limit is not None and self.sampled > self.limit


class LocalChatServer:
    """Answers chat-completions bodies in-process; stands where ``ModelHttpClient`` stands."""

    def __init__(self, llama: Any, *, clock: Callable[[], float] = time.monotonic) -> None:
        import llama_cpp

        self._llama = llama
        self._lock = threading.Lock()  # one llama.cpp context: one generation at a time
        self._clock = clock
        self._abort_at: float | None = None  # clock seconds; None = never abort
        self._budget = OutputBudget(None)     # the request in hand's output tokens
        self._abort_callback = llama_cpp.ggml_abort_callback(self._should_abort)  # kept: C holds a pointer to it
        llama_cpp.llama_set_abort_callback(llama._ctx.ctx, self._abort_callback, None)
        self.base_url = "local"

    def post(self, endpoint: str, body: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        """Run ``body`` (a chat-completions request); ``timeout`` (seconds) aborts llama.cpp's
        next decode step once it has passed, so generation stops within one token; so does
        sampling more than ``max_tokens`` tokens (an empty answer cut at the limit)."""
        request = {key: body[key] for key in _REQUEST_KEYS if key in body}
        if not request.get("tools"):
            request.pop("tool_choice", None)
        limit = body.get("max_tokens")
        with self._lock:
            self._abort_at = None if timeout is None else self._clock() + timeout
            self._budget = OutputBudget(limit if isinstance(limit, int) and limit > 0 else None)
            try:
                answer = self._llama.create_chat_completion(**request, stream=False,
                                                            logits_processor=[self._budget])
            except RuntimeError as exc:  # "llama_decode returned 2": our abort callback said stop
                if self._budget.spent:
                    return _cut_answer(self._budget.limit or 0)
                if self._abort_at is not None and self._clock() >= self._abort_at:
                    raise ModelDeadlineExceeded(f"job deadline exceeded during a model call: the call's time of "
                                                f"{timeout:g}s ran out (llama-cpp; generation stopped)") from None
                raise ModelError(f"llama-cpp: {exc}") from None
            except ValueError as exc:  # llama.cpp's "Requested tokens exceed context window", bad grammar, …
                overflow = _OVERFLOW.search(str(exc))
                if overflow:
                    requested, limit = int(overflow.group(1)), int(overflow.group(2))
                    raise ContextOverflow(f"llama-cpp: {exc}", status=None, code="context_length_exceeded",
                                          fit_ratio=limit / requested, limit=limit) from None
                raise ModelError(f"llama-cpp: {exc}") from None
            finally:
                self._abort_at = None
                self._budget = OutputBudget(None)
        plain: dict[str, Any] = json.loads(json.dumps(answer))  # plain dicts, as a server's answer would be
        return plain

    def _should_abort(self, _data: Any) -> bool:
        """llama.cpp's abort callback, asked during each decode step (from this thread)."""
        return self._budget.spent or (self._abort_at is not None and self._clock() >= self._abort_at)

    def exchange(self, endpoint: str, body: Mapping[str, Any], consume: Callable[[StreamedAnswer], Any], *,
                 timeout: float | None = None, streamed: bool = False) -> Any:
        raise ModelError("llama-cpp answers whole; model.stream does not apply")

    def fetch_json(self, method: str, url: str, body: Mapping[str, Any] | None = None) -> Any:
        """Only the tokenizer question ``ServerFacts`` asks: answered by the model's tokenizer."""
        if url.endswith("/extras/tokenize") and body is not None:
            return {"tokens": self._llama.tokenize(str(body.get("input", "")).encode("utf-8"), special=True)}
        raise ModelError(f"llama-cpp: no {url.rsplit('/', 1)[-1]}")

    def probe(self, endpoint: str) -> tuple[int | None, str]:
        return 400, "local"

    def close(self) -> None:
        close = getattr(self._llama, "close", None)
        if callable(close):
            close()


def _cut_answer(limit: int) -> dict[str, Any]:
    """What a server answers when the output limit cut the answer before any of it was whole."""
    return {"object": "chat.completion", "choices": [{"index": 0, "finish_reason": "length",
                                                      "message": {"role": "assistant", "content": ""}}],
            "usage": {"completion_tokens": limit}}


class LlamaCppHandle(OpenAIChatHandle):
    """``model.name: llama-cpp``: the chat handle over an in-process model."""

    concurrent_sessions: ClassVar[bool] = False   # one llama.cpp context: one generation at a time

    def __init__(self, *, config: ModelConfig, **_: Any) -> None:
        if not config.model_path:
            raise ValueError("model.model_path: required for llama-cpp (the path of a .gguf file)")
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ValueError("llama-cpp needs the optional extra: pip install 'xenonflare-runner[local]' "
                             "(it compiles llama.cpp)") from None
        started = time.monotonic()
        seed: dict[str, Any] = {"seed": config.seed} if config.seed is not None else {}  # else llama.cpp's default
        try:
            llama = Llama(model_path=config.model_path, n_ctx=config.context_window, n_gpu_layers=config.gpu_layers,
                          n_threads=config.threads or None, use_mmap=True, logits_all=False,
                          chat_format=CHAT_FORMAT, verbose=False,
                          **seed)
        except (ValueError, OSError) as exc:
            raise ValueError(f"cannot load {config.model_path}: {exc}") from None
        super().__init__(config=config)
        self._client = LocalChatServer(llama)  # type: ignore[assignment]  # stands in for ModelHttpClient (duck-typed)
        self._facts = ServerFacts(base_url="local", model=config.model, configured_window=llama.n_ctx(),
                                  fetch=self._client.fetch_json)
        self._stream = False
        log.info("llama-cpp: loaded %s in %.1fs (context %d tokens, %d layers on the GPU)", config.model_path,
                 time.monotonic() - started, llama.n_ctx(), config.gpu_layers)

    def probe(self) -> None:
        """Nothing to ask: the model is loaded in this process."""
