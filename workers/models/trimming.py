"""Shorten texts: plain cuts for messages and summaries, middle cuts for oversized prompts.

When a prompt overflows the model's context the handles trim it once and retry. The
middle of a conversation is the least valuable part (the head states the task, the tail
holds the latest request), so prompts lose their middle and keep head and tail.
"""
from __future__ import annotations

TRIM_MARKER = "\n\n[… middle of the text trimmed to fit the model's context …]\n\n"
DEFAULT_KEEP_RATIO = 0.5  # share of the prompt kept when the server did not say its limit
_SAFETY = 0.85  # characters are only a proxy for tokens: aim below the limit
_MIN_KEEP_RATIO = 0.05


def cut_text(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters, ending in "…" when it was cut."""
    if max_chars <= 0:
        return ""
    if len(text) <= max_chars:
        return text
    return text[: max_chars - 1] + "…"


def trim_middle(text: str, max_chars: int) -> str:
    """``text`` at most ``max_chars`` long, its middle replaced by a marker (head and tail kept)."""
    if len(text) <= max_chars:
        return text
    room = max_chars - len(TRIM_MARKER)
    if room <= 0:
        return cut_text(text, max_chars)
    head = (room + 1) // 2
    tail = room - head
    return text[:head] + TRIM_MARKER + (text[-tail:] if tail else "")


def keep_ratio(fit_ratio: float | None) -> float:
    """Share of the prompt to keep given the server's limit/requested ratio (None = unknown)."""
    if fit_ratio is None:
        return DEFAULT_KEEP_RATIO
    return min(1.0, max(_MIN_KEEP_RATIO, fit_ratio * _SAFETY))


def shrink_within(text: str, *, total_chars: int, ratio: float) -> str:
    """Trim ``text`` from the middle so the whole prompt (``total_chars``) shrinks to ``ratio``.

    ``text`` is the part we may shorten (the longest user message); the rest of the prompt
    stays as it is, so all the excess comes out of ``text`` (at least a tenth of it goes).
    """
    excess = total_chars - int(total_chars * ratio)
    target = max(0, len(text) - max(excess, len(text) // 10))
    return trim_middle(text, target)
