"""The context JSON of ``/getWorkspaceRunnerContext`` (protocol §3), built from a stored job.

How the emulator splits and measures a chat (the real cloud's rules are not published):

- the last ``RECENT_MESSAGE_COUNT`` (6) messages are *recent*, all earlier ones *prior*;
- a message compiles to its text, preceded by ``[subtitle]`` on its own line when it has a
  subtitle; the messages of a part are joined by a blank line (``recentText``,
  ``priorTextVerbatim``);
- token estimates are ``ceil(chars / 4)`` of the compiled text;
- ``priorNeedsSummarization`` is true when the prior estimate exceeds the job's
  ``summaryThreshold`` (default ``DEFAULT_SUMMARY_THRESHOLD`` = 4,000 tokens);
- ``storedSummaryCoversPrior`` is true when a stored summary's ``throughMessageId`` is the
  last prior message's id.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator.records import Job, Message

RECENT_MESSAGE_COUNT = 6
DEFAULT_SUMMARY_THRESHOLD = 4_000  # prior tokens
CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """Rough token count: one token per four characters, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def compile_text(messages: Sequence[Message]) -> str:
    """The plain text of ``messages`` as a runner feeds it to a model."""
    blocks = [f"[{m.subtitle}]\n{m.text}" if m.subtitle else m.text for m in messages]
    return "\n\n".join(blocks)


def build_context(job: Job) -> dict[str, Any]:
    """The full context JSON for ``job``, every field of protocol §3."""
    split = max(0, len(job.messages) - RECENT_MESSAGE_COUNT)
    prior, recent = job.messages[:split], job.messages[split:]
    prior_text, recent_text = compile_text(prior), compile_text(recent)
    prior_tokens = estimate_tokens(prior_text)
    summary = job.summary
    covers = bool(prior) and summary is not None and summary.through_message_id == prior[-1].id
    return {
        "workspaceId": job.workspace_id,
        "title": job.title,
        "legacyIdea": job.legacy_idea,
        "messageCount": len(job.messages),
        "recentMessages": [m.to_json() for m in recent],
        "priorMessages": [m.to_json() for m in prior],
        "recentText": recent_text,
        "priorTextVerbatim": prior_text,
        "recentTokenEstimate": estimate_tokens(recent_text),
        "priorTokenEstimate": prior_tokens,
        "priorNeedsSummarization": prior_tokens > job.summary_threshold,
        "storedSummaryCoversPrior": covers,
        "storedPriorSummary": summary.to_json() if summary else None,
    }
