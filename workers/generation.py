"""One job's conversation with the model: the tool loop, then placeholder repair.

A tool loop sends the input, answers every tool call the model makes through the job's
``DeliverableCollector`` and ends when a turn has no tool calls (at most 24 rounds). Then
every ``{{artifact:…}}`` the reply cites must exist; up to 4 repair loops tell the model
exactly which tool calls are missing. Between rounds ``checkpoint`` lets the job stop
(lease lost, abort, deadline) and says how many seconds the next round may take.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shared.pipe.failures import FailureClass, JobFailure
from shared.pipe.liveness import bounded_wait
from shared.protocol.limits import MAX_MESSAGE_CHARS, MAX_REPAIR_ROUNDS, MAX_TOOL_ROUNDS

from .deliverables.collector import DeliverableCollector
from .deliverables.placeholders import mismatch_reason, missing_citations, repair_prompt
from .deliverables.tools import TOOL_SPECS
from .models.base import InputItem, ModelHandle, ModelSession, ModelTurn, UserText
from .prompt import JOB_INSTRUCTIONS

_CUT_NOTICE = "\n\n…(message cut to fit the 24,000 character limit)"

log = logging.getLogger("xenon.worker.generation")

Checkpoint = Callable[[], float]  # raises to stop the job; returns seconds allowed for the next round


class GenerationFailed(JobFailure):
    """The model did not produce a usable answer."""


@dataclass(frozen=True, kw_only=True)
class Generation:
    message: str
    collector: DeliverableCollector
    model_rounds: int
    repair_rounds: int
    output_tokens: int | None  # tokens the model generated over all rounds; None when the server did not say


def generate(*, model: ModelHandle, model_input: str, checkpoint: Checkpoint,
             round_limit: float = float("inf")) -> Generation:
    """Run the model until it has answered and every cited artifact exists.

    ``round_limit`` (seconds) is the longest one model round may take by the model config;
    each round declares ``min(round_limit, job time left)`` to the supervisor's watchdog.
    """
    collector = DeliverableCollector()
    loop = _ToolLoop(session=model.open_session(instructions=JOB_INSTRUCTIONS, tools=TOOL_SPECS),
                     collector=collector, checkpoint=checkpoint, round_limit=round_limit)
    message = loop.run([UserText(text=model_input)])
    repairs = 0
    missing = missing_citations(message, collector)
    while missing and repairs < MAX_REPAIR_ROUNDS:
        repairs += 1
        log.info("repair %d/%d: %s", repairs, MAX_REPAIR_ROUNDS, mismatch_reason(missing))
        message = loop.run([UserText(text=repair_prompt(missing))])
        missing = missing_citations(message, collector)
    if missing:
        raise GenerationFailed(mismatch_reason(missing), kind=FailureClass.PLACEHOLDER_MISMATCH)
    return Generation(message=_fit_message(message), collector=collector, model_rounds=loop.rounds,
                      repair_rounds=repairs, output_tokens=loop.output_tokens)


class _ToolLoop:
    def __init__(self, *, session: ModelSession, collector: DeliverableCollector, checkpoint: Checkpoint,
                 round_limit: float) -> None:
        self._session = session
        self._collector = collector
        self._checkpoint = checkpoint
        self._round_limit = round_limit  # seconds
        self.rounds = 0
        self.output_tokens: int | None = None  # summed from the turns' usage, when servers report it

    def run(self, items: Sequence[InputItem]) -> str:
        """Send ``items`` and keep answering tool calls; the final turn's text."""
        for _ in range(MAX_TOOL_ROUNDS):
            turn = self._send(items)
            if not turn.tool_calls:
                return turn.text.strip()
            items = [self._collector.apply(call) for call in turn.tool_calls]
        raise GenerationFailed(f"tool loop exceeded {MAX_TOOL_ROUNDS} model rounds")

    def _send(self, items: Sequence[InputItem]) -> ModelTurn:
        seconds_left = self._checkpoint()
        self.rounds += 1
        with bounded_wait(min(seconds_left, self._round_limit), what=f"model round {self.rounds}"):
            turn = self._session.send(items, timeout=seconds_left)
        produced = turn.usage.get("output_tokens")
        if produced is not None:
            self.output_tokens = (self.output_tokens or 0) + produced
        return turn


def _fit_message(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[:MAX_MESSAGE_CHARS - len(_CUT_NOTICE)] + _CUT_NOTICE
