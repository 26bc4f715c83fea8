"""A notice about the whole setup is logged once per pool, not once per worker (supervisor/log_once.py)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulator import EmulatorServer
from tests.fakes.openai_server import FakeOpenAIServer, Reply, chat_reply
from tests.harness import enqueue, wait_final
from tests.integration.conftest import StartRunner

TOOLS_IGNORED = "answered without calling any tool"   # the notice of workers/models/manners.py
ANSWER_DELAY = 1.5   # seconds each model answer takes: long enough that both workers hold a job at once


@pytest.fixture
def tool_blind_model() -> Iterator[FakeOpenAIServer]:
    """An OpenAI-compatible server that ignores ``tools``: every answer is text, slowly."""
    with FakeOpenAIServer() as server:
        server.set_fallback("chat/completions", Reply(body=chat_reply(text="Costs: rent 10, food 5."),
                                                      delay=ANSWER_DELAY))
        yield server


def test_two_workers_that_find_the_server_ignores_tools_log_it_once(
        cloud: EmulatorServer, start_runner: StartRunner, tool_blind_model: FakeOpenAIServer) -> None:
    # Before: each worker process logged the notice once, so a pool of 2 logged it twice.
    model: dict[str, Any] = {"name": "openai-chat", "base_url": tool_blind_model.base_url, "api_key": "sk-test-k",
                             "max_attempts": 1}
    runner = start_runner(workers=2, model=model)
    jobs = enqueue(cloud, "Job 1: make a table of costs.", "Job 2: make a table of costs.")
    runner.wait_status(lambda s: all(w["state"] == "busy" for w in s["workers"]), what="both workers busy at once")

    assert all(job["state"] == "completed" for job in wait_final(cloud, jobs).values())
    log = runner.log()
    assert log.count(TOOLS_IGNORED) == 1, log
    assert "Logged once per pool." in log
