"""The "Earlier context" section: verbatim, a stored summary, or a fresh summary we persist.

Rules (protocol §3): verbatim when the cloud says no summary is needed; the stored summary
when it covers the prior messages; otherwise summarise the last 360,000 characters with the
summary model (output at most 39,800 characters) and persist it with
``updateWorkspaceRunnerSummary`` so the next job reuses it. If summarising fails, the job
goes on with the tail of the verbatim text; unlike the official runner we do not persist
that fallback, so the next job gets another chance at a real summary.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from .context import RunnerContext
from .models.base import ModelError, ModelHandle
from .prompt import SUMMARY_INSTRUCTIONS

MAX_SUMMARY_INPUT_CHARS = 360_000
MAX_SUMMARY_OUTPUT_CHARS = 39_800

log = logging.getLogger("xenon.worker.context")

PersistSummary = Callable[[str, str, str], None]  # (text, fromMessageId, throughMessageId)


def resolve_prior_section(context: RunnerContext, *, model: ModelHandle, persist: PersistSummary,
                          timeout: float) -> tuple[str, str]:
    """The prior section text and how it was obtained (none|verbatim|stored|summarized|truncated).

    ``timeout`` (seconds) bounds the summary model call.
    """
    if context.message_count == 0 or not context.prior_message_ids:
        return "", "none"
    if not context.prior_needs_summarization:
        return context.prior_text_verbatim, "verbatim"
    stored = context.stored_prior_summary
    if context.stored_summary_covers_prior and stored is not None:
        return stored.text, "stored"
    try:
        summary = summarize_prior(context.prior_text_verbatim, model=model, timeout=timeout)
    except ModelError as exc:
        log.warning("summarising %d prior messages failed (%s); using the truncated verbatim text",
                    len(context.prior_message_ids), exc.reason)
        return truncated_tail(context.prior_text_verbatim), "truncated"
    persist(summary, context.prior_message_ids[0], context.prior_message_ids[-1])
    return summary, "summarized"


def summarize_prior(text: str, *, model: ModelHandle, timeout: float) -> str:
    """Summary of ``text`` within MAX_SUMMARY_OUTPUT_CHARS; empty output counts as a failure."""
    if len(text) > MAX_SUMMARY_INPUT_CHARS:
        text = "…(earlier material cut from the start)\n\n" + text[-MAX_SUMMARY_INPUT_CHARS:]
    summary = model.summarize(text, instructions=SUMMARY_INSTRUCTIONS, max_chars=MAX_SUMMARY_OUTPUT_CHARS,
                              timeout=timeout).strip()
    if not summary:
        raise ModelError("the summary model returned no text")
    return summary[:MAX_SUMMARY_OUTPUT_CHARS]


def truncated_tail(text: str) -> str:
    if len(text) <= MAX_SUMMARY_OUTPUT_CHARS:
        return text
    return "…(truncated)\n\n" + text[-MAX_SUMMARY_OUTPUT_CHARS:]
