"""Small-model manners: what a session does about answers a large model would not give.

- **An empty answer** (no text, no tool calls) gets one repair round that asks for the
  reply as plain text with tools switched off (``tool_choice: "none"``: llama.cpp's
  function-calling template can only produce tool calls or nothing while tools are on);
  a second empty answer fails the round with the named reason ``NO_ANSWER``. An answer cut at
  the output limit before anything in it was whole, while tools were offered (a small model
  writing an endless tool argument), gets the same repair round (``openai_chat``).
- **The same tool call again**: a model that does not see its tool results (some chat
  templates drop ``tool`` messages) repeats its calls; once every call of a turn repeats
  an earlier one (same tool, same arguments), the next round switches tools off so the
  model writes its reply instead of looping until the round limit.
- **Many tool rounds on a small window**: after ``SMALL_MODEL_TOOL_TURNS`` turns with tool
  calls (when the window is small) the next round asks for the reply with tools off: a small
  model's window holds only a few rounds, and some never see their tool results at all.
- **A server that ignores tools**: a job whose ask names deliverables ends without any tool
  call: logged once per pool, since every later job will do the same. Each worker process sends
  the notice once, marked ``ONCE_PER_POOL``; the supervisor relays only the first worker's.
"""
from __future__ import annotations

import logging
import threading

from shared.pipe.messages import ONCE_PER_POOL
from workers.models.base import ModelTurn, ToolCall, ToolSpec
from workers.models.tool_fit import tools_for_ask

log = logging.getLogger("xenon.worker.model")

NO_ANSWER = "the model returned no answer"
SMALL_MODEL_TOOL_TURNS = 3  # turns with tool calls before a small-window session asks for its reply
EMPTY_ANSWER_PROMPT = ("Your last reply was empty. Write your reply to the user now, as plain text, "
                       "citing only artifacts that tool calls confirmed with ok=true.")

_notice_lock = threading.Lock()
_tools_ignored_logged = False   # this process sent the notice already
TOOLS_IGNORED_KEY = "model-ignores-tools"   # the notice's once-per-pool key


def is_empty(turn: ModelTurn) -> bool:
    """No text (whitespace counts as none) and no tool calls."""
    return not turn.text.strip() and not turn.tool_calls


class SessionManners:
    """One session's watch over repeated calls and deliverables asked for but never made."""

    def __init__(self, tools: list[ToolSpec]) -> None:
        self._tools = tools
        self._seen: set[tuple[str, str]] = set()
        self._calls_made = 0
        self._tool_turns = 0
        self._text_only_next = False
        self._ask = ""

    def note_ask(self, text: str) -> None:
        """Remember the user's texts (to tell, at the end, whether deliverables were asked for)."""
        self._ask += "\n" + text

    def note_cut_answer(self) -> None:
        """An answer was cut at the output limit before anything in it was whole, tools offered: the
        model spent its tokens on a tool call, so the server does not ignore ``tools``."""
        self._calls_made += 1

    def tool_choice(self) -> str:
        """``"none"`` for the round after a turn that only repeated calls, else ``"auto"``."""
        return "none" if self._text_only_next else "auto"

    def observe(self, turn: ModelTurn, *, tool_turn_limit: int | None = None) -> None:
        """Account for ``turn``: repeated calls, or ``tool_turn_limit`` turns with tool calls,
        switch tools off for the next round; a final text answer after no tool call at all,
        to an ask that names deliverables, is logged."""
        keys = [_key(call) for call in turn.tool_calls]
        self._tool_turns += bool(keys)
        self._text_only_next = bool(keys) and all(key in self._seen for key in keys)
        if self._text_only_next:
            log.warning("the model repeated its earlier tool calls (%s); asking for the reply with tools off",
                        ", ".join(sorted({call.name for call in turn.tool_calls})))
        elif keys and tool_turn_limit is not None and self._tool_turns >= tool_turn_limit:
            self._text_only_next = True
            log.info("%d rounds of tool calls on a small model's window; asking for the reply with tools off",
                     self._tool_turns)
        self._seen.update(keys)
        self._calls_made += len(keys)
        if not keys and self._calls_made == 0 and self._tools and tools_for_ask(self._tools, self._ask):
            _log_tools_ignored_once()


def _key(call: ToolCall) -> tuple[str, str]:
    return call.name, " ".join(call.arguments.split())


def _log_tools_ignored_once() -> None:
    global _tools_ignored_logged
    with _notice_lock:
        if _tools_ignored_logged:
            return
        _tools_ignored_logged = True
    log.warning("a job asked for deliverables and the model answered without calling any tool: the model "
                "server may ignore `tools` (llama.cpp needs --jinja or a function-calling chat format, vLLM "
                "--enable-auto-tool-choice with a --tool-call-parser); such jobs complete with text only. "
                "Logged once per pool.", extra={ONCE_PER_POOL: TOOLS_IGNORED_KEY})
