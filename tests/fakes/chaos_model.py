"""A ``module:callable`` model handle for chaos tests: the builtin model plus directives.

A job whose text contains one of these directives misbehaves in its first model round:

* ``[[crash]]``       the worker kills itself with SIGKILL (every attempt)
* ``[[crash-once]]``  SIGKILL on the first attempt only (a marker file in ``state_dir``
                      remembers the crash across worker processes)
* ``[[hang]]``        the worker stops itself with SIGSTOP (the hung-worker watchdog's case)
* ``[[sleep:S]]``     the round takes S seconds (slow jobs for drain and deadline tests)
* ``[[leak:MB]]``     the worker allocates MB mebibytes and keeps them (memory policy)
* ``[[fork-child]]``  the worker starts a child process that sleeps (orphan tests); its pid
                      goes to ``state_dir/child-<pid>``

Use it as ``model: {name: "tests.fakes.chaos_model:make_handle", options: {state_dir: DIR}}``.
"""
from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from typing import Any, Sequence

from supervisor.config.sections import ModelConfig
from workers.models.base import InputItem, ModelTurn, ToolSpec, UserText
from workers.models.builtin import BuiltinModelHandle

_DIRECTIVE = re.compile(r"\[\[(crash-once|crash|hang|sleep:[0-9.]+|leak:[0-9]+|fork-child)\]\]")
_LEAKED: list[bytearray] = []


def make_handle(*, config: ModelConfig) -> "ChaosHandle":
    return ChaosHandle(state_dir=str(config.options.get("state_dir", "/tmp")), latency=config.latency)


class ChaosHandle:
    def __init__(self, *, state_dir: str, latency: float) -> None:
        self._builtin = BuiltinModelHandle(latency=latency)
        self._state_dir = state_dir

    def open_session(self, *, instructions: str, tools: Sequence[ToolSpec]) -> "ChaosSession":
        return ChaosSession(self._builtin.open_session(instructions=instructions, tools=tools), self._state_dir)

    def summarize(self, text: str, *, instructions: str, max_chars: int, timeout: float | None = None) -> str:
        return self._builtin.summarize(text, instructions=instructions, max_chars=max_chars, timeout=timeout)

    def close(self) -> None:
        self._builtin.close()


class ChaosSession:
    def __init__(self, inner: Any, state_dir: str) -> None:
        self._inner = inner
        self._state_dir = state_dir

    def send(self, items: Sequence[InputItem], *, timeout: float | None = None) -> ModelTurn:
        for item in items:
            if isinstance(item, UserText):
                for directive in _DIRECTIVE.findall(item.text):
                    self._act(directive, item.text)
        return self._inner.send(items, timeout=timeout)

    def _act(self, directive: str, text: str) -> None:
        if directive == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        elif directive == "crash-once":
            marker = os.path.join(self._state_dir, "crashed-" + hashlib.sha1(text.encode()).hexdigest())
            if not os.path.exists(marker):
                open(marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
        elif directive == "hang":
            os.kill(os.getpid(), signal.SIGSTOP)
        elif directive.startswith("sleep:"):
            time.sleep(float(directive.split(":", 1)[1]))
        elif directive.startswith("leak:"):
            _LEAKED.append(bytearray(int(directive.split(":", 1)[1]) * 2 ** 20))
        elif directive == "fork-child":
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            open(os.path.join(self._state_dir, f"child-{child.pid}"), "w").close()
