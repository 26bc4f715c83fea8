"""A ``module:callable`` model handle for chaos tests: the builtin model plus directives.

A job whose text contains one of these directives misbehaves in its first model round:

* ``[[crash]]``       the worker kills itself with SIGKILL (every attempt)
* ``[[hang]]``        the worker stops itself with SIGSTOP (the hung-worker watchdog's case)
* ``[[sleep:S]]``     the round takes S seconds (slow jobs for drain and deadline tests)
* ``[[leak:MB]]``     the worker allocates MB mebibytes, touches them and keeps them (memory policy)
* ``[[fork-child]]``  the worker starts a child process that sleeps (orphan tests); its pid
                      goes to ``state_dir/child-<pid>``

Prefixed with ``once:`` (``[[once:hang]]``, ``[[once:leak:300]]``) a directive acts on the
job's first attempt only: a marker file in ``state_dir`` remembers it across worker
processes, so a re-run of the job on a replacement worker goes through.
``[[crash-once]]`` is short for ``[[once:crash]]``.

Boot gate: when ``CHAOS_BOOT_GATE`` names a file, the handle is created only once that file
exists, so a test decides when workers become READY. ``CHAOS_BOOT_STOP=1`` makes every
worker stop itself (SIGSTOP) while loading the model: a boot that never finishes.

Use it as ``model: {name: "tests.fakes.chaos_model:make_handle", options: {state_dir: DIR}}``, or
give the directory in the environment as ``CHAOS_STATE_DIR`` (what ``tests.harness`` does: the
environment reaches every worker, whatever the start method, since the supervisor starts them).
"""
from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from shared.config.sections import ModelConfig
from workers.models.base import InputItem, ModelSession, ModelTurn, ToolSpec, UserText
from workers.models.builtin import BuiltinModelHandle

STATE_DIR_ENV = "CHAOS_STATE_DIR"
BOOT_GATE_ENV = "CHAOS_BOOT_GATE"
BOOT_STOP_ENV = "CHAOS_BOOT_STOP"
BOOT_GATE_POLL = 0.02   # seconds between looks at the boot gate file

_ACTION = r"crash|hang|sleep:[0-9.]+|leak:[0-9]+|fork-child"
_DIRECTIVE = re.compile(rf"\[\[(crash-once|(?:once:)?(?:{_ACTION}))\]\]")
_LEAKED: list[bytearray] = []
_PAGE = 4096   # bytes: one write per page makes the kernel back the whole allocation


def make_handle(*, config: ModelConfig) -> ChaosHandle:
    state_dir = config.options.get("state_dir") or os.environ.get(STATE_DIR_ENV)
    if not state_dir:
        raise ValueError(f"chaos model: set model.options.state_dir or {STATE_DIR_ENV}")
    if os.environ.get(BOOT_STOP_ENV) == "1":
        os.kill(os.getpid(), signal.SIGSTOP)
    gate = os.environ.get(BOOT_GATE_ENV)
    while gate and not os.path.exists(gate):
        time.sleep(BOOT_GATE_POLL)
    return ChaosHandle(state_dir=str(state_dir), latency=config.latency)


class ChaosHandle:
    concurrent_sessions = True   # sessions share nothing (the builtin model's): pool.jobs_per_worker applies

    def __init__(self, *, state_dir: str, latency: float) -> None:
        self._builtin = BuiltinModelHandle(latency=latency)
        self._state_dir = state_dir

    def open_session(self, *, instructions: str, tools: Sequence[ToolSpec]) -> ChaosSession:
        return ChaosSession(self._builtin.open_session(instructions=instructions, tools=tools), self._state_dir)

    def summarize(self, text: str, *, instructions: str, max_chars: int, timeout: float | None = None) -> str:
        return self._builtin.summarize(text, instructions=instructions, max_chars=max_chars, timeout=timeout)

    def close(self) -> None:
        self._builtin.close()


class ChaosSession:
    def __init__(self, inner: ModelSession, state_dir: str) -> None:
        self._inner = inner
        self._state_dir = state_dir

    def send(self, items: Sequence[InputItem], *, timeout: float | None = None) -> ModelTurn:
        for item in items:
            if isinstance(item, UserText):
                for directive in _DIRECTIVE.findall(item.text):
                    self._perform(directive, item.text)
        return self._inner.send(items, timeout=timeout)

    def _perform(self, directive: str, text: str) -> None:
        if directive == "crash-once":
            directive = "once:crash"
        if directive.startswith("once:"):
            directive = directive[len("once:"):]
            marker = os.path.join(self._state_dir, f"once-{directive.replace(':', '_')}-"
                                  + hashlib.sha1(text.encode()).hexdigest())
            if os.path.exists(marker):
                return
            open(marker, "w").close()
        _act(directive, self._state_dir)


def _act(directive: str, state_dir: str) -> None:
    if directive == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    elif directive == "hang":
        os.kill(os.getpid(), signal.SIGSTOP)
    elif directive.startswith("sleep:"):
        time.sleep(float(directive.split(":", 1)[1]))
    elif directive.startswith("leak:"):
        block = bytearray(int(directive.split(":", 1)[1]) * 2 ** 20)
        for offset in range(0, len(block), _PAGE):
            block[offset] = 1
        _LEAKED.append(block)
    elif directive == "fork-child":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open(os.path.join(state_dir, f"child-{child.pid}"), "w").close()
