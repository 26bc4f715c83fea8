"""Read the error bodies of OpenAI-compatible servers and tell the cases we act on apart.

Servers disagree on the shape: OpenAI and llama.cpp send ``{"error": {"message", "type",
"code", ...}}``, older vLLM sends ``{"object": "error", "message", "type", "code"}``,
Ollama sends ``{"error": "<text>"}``, proxies send HTML or plain text. ``parse_server_error``
folds them into one ``ServerError``; the predicates below recognise the two errors that
change what the client does: an exhausted quota (never retry) and a prompt that does not
fit the model's context (trim and retry once).
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.http.redact import redact
from workers.models.trimming import cut_text

MAX_REASON_CHARS = 300  # server messages are cut to this (after redaction) before they reach logs

_CONTEXT_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})
_CONTEXT_WORDING = ("context length", "context_length", "context size", "context window")
_LIMIT_TOKENS = re.compile(r"maximum context length is (\d+)", re.IGNORECASE)
_SHAPE_FAILURE = re.compile(
    r"NoneType|not subscriptable|has no attribute|can only concatenate|object is not|unexpected keyword"
    r"|validation error|Input should be|field required|KeyError|TypeError|jinja|template", re.IGNORECASE)
_REQUESTED_TOKENS = re.compile(r"(?:you requested|resulted in|requested)\s+(\d+)\s+tokens", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class ServerError:
    """One non-2xx answer: HTTP status, the server's message, its error code/type if any."""

    status: int
    message: str
    code: str | None = None
    type: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """``<status> <code>: <message>``, redacted, then cut to ``MAX_REASON_CHARS``: cutting
        first could leave part of a secret that no longer matches the registry."""
        label = self.code or self.type
        head = f"{self.status} {label}" if label else str(self.status)
        return cut_text(redact(f"{head}: {self.message}" if self.message else head), MAX_REASON_CHARS)


def parse_server_error(status: int, raw: bytes) -> ServerError:
    """Fold any server's error body (JSON of several shapes, or text) into a ``ServerError``."""
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return ServerError(status=status, message=cut_text(redact(" ".join(text.split())), MAX_REASON_CHARS))
    error = data.get("error")
    if isinstance(error, str):
        return ServerError(status=status, message=error, details=data)
    source = error if isinstance(error, dict) else data
    message = source.get("message") or source.get("detail") or ""
    return ServerError(status=status, message=str(message), code=_text_or_none(source.get("code")),
                       type=_text_or_none(source.get("type")), details=source)


def is_insufficient_quota(error: ServerError) -> bool:
    """OpenAI's 429 ``insufficient_quota``: billing, not load — retrying cannot help."""
    return "insufficient_quota" in (error.code, error.type)


def is_context_length(error: ServerError) -> bool:
    """The prompt does not fit the context (OpenAI, vLLM, llama.cpp, LM Studio wordings)."""
    if error.status in (401, 403, 429) or error.status >= 500:
        return False
    if error.code in _CONTEXT_CODES or error.type in _CONTEXT_CODES:
        return True
    message = error.message.lower()
    return any(marker in message for marker in _CONTEXT_WORDING)


def context_fit_ratio(error: ServerError) -> float | None:
    """The context limit divided by the prompt size, when the server told both, else None.

    llama.cpp sends ``n_ctx`` and ``n_prompt_tokens``; OpenAI and vLLM say "maximum context
    length is N tokens … requested / resulted in M tokens".
    """
    limit = error.details.get("n_ctx")
    requested = error.details.get("n_prompt_tokens")
    if not (isinstance(limit, int) and isinstance(requested, int)):
        limit_match = _LIMIT_TOKENS.search(error.message)
        requested_match = _REQUESTED_TOKENS.search(error.message)
        if not (limit_match and requested_match):
            return None
        limit, requested = int(limit_match.group(1)), int(requested_match.group(1))
    if limit <= 0 or requested <= 0:
        return None
    return limit / requested


def context_limit(error: ServerError) -> int | None:
    """The model's context window in tokens when an overflow error names it, else None."""
    limit = error.details.get("n_ctx")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
        return limit
    match = _LIMIT_TOKENS.search(error.message)
    return int(match.group(1)) if match else None


def is_request_shape_failure(error: ServerError) -> bool:
    """A 500 whose message is a program error about what it was sent (llama-cpp-python's
    template choking on a null content: "can only concatenate str (not \"NoneType\") …"),
    not load: the same request will fail the same way, so retrying it blindly cannot help."""
    return error.status == 500 and bool(_SHAPE_FAILURE.search(error.message))


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
