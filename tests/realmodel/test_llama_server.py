"""The runner against a real OpenAI-compatible server: llama.cpp's, with SmolLM2-135M and tools on.

Protocol first (the message shapes this server accepts, its window, its errors), then whole
pools on the emulator with ``openai-chat``: every job ends with a reason in bounded time,
no 500 loops, and at least two thirds of the jobs complete with a valid payload on a 4,096
token window. Greedy sampling with a fixed seed: runs repeat.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from emulator import EmulatorServer
from shared.config.sections import EmulatorConfig, ModelConfig
from tests.harness import Runner, wait_for
from tests.realmodel.conftest import SEED, LlamaServer
from workers.deliverables.tools import TOOL_SPECS
from workers.models.base import ModelError, ToolResult, UserText
from workers.models.manners import NO_ANSWER
from workers.models.openai_chat import OpenAIChatHandle
from workers.prompt import JOB_INSTRUCTIONS

pytestmark = pytest.mark.timeout(900)  # the whole of one pool run, server start included, on 2 busy cores

JOBS = 3  # sample jobs 0-2: a bar chart, a table (long history, summarised), a checklist
JOB_TIMEOUT = 240.0  # seconds per job


def model_settings(server: LlamaServer, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "name": "openai-chat", "base_url": server.base_url, "api_key": "local", "model": "smollm2",
        "summary_model": "smollm2", "temperature": 0.0, "seed": SEED, "max_output_tokens": 384,
        "stream": "on", "connect_timeout": 5, "read_timeout": 200, "call_timeout": 300, "max_attempts": 2}
    settings.update(overrides)
    return settings


def test_a_tool_round_trip_is_accepted_by_the_server(llama_server: LlamaServer) -> None:
    # Before: the tool-call turn went back with "content": null and this server answered 500 (4 times).
    handle = OpenAIChatHandle(config=ModelConfig(**model_settings(llama_server)))
    session = handle.open_session(instructions=JOB_INSTRUCTIONS, tools=TOOL_SPECS)
    first = session.send([UserText(text="Make a bar chart with id sales of sales: North 10, South 20.")],
                         timeout=120)
    results = [ToolResult(call_id=call.call_id, output=json.dumps({"ok": True, "detail": "created"}))
               for call in first.tool_calls]
    second = session.send(results or [UserText(text="Go on.")], timeout=120)
    assert second.text.strip() or second.tool_calls  # an answer, not a 500
    handle.close()


def test_the_window_is_learnt_from_the_servers_overflow_error(llama_server: LlamaServer) -> None:
    handle = OpenAIChatHandle(config=ModelConfig(**model_settings(llama_server)))
    session = handle.open_session(instructions=JOB_INSTRUCTIONS, tools=TOOL_SPECS)
    try:  # the stream is cut short (the server's way to say "too long"); the unstreamed retry says why
        turn = session.send([UserText(text="Give me a list of risks. " + "Background notes. " * 1500)], timeout=240)
        assert turn.text.strip() or turn.tool_calls
    except ModelError as exc:  # a 135M model may have nothing to say about 25,000 characters of notes
        assert NO_ANSWER in exc.reason, exc.reason
    assert handle._facts.window() == llama_server.window
    handle.close()


def _with_payloads(cloud: EmulatorServer) -> list[dict[str, Any]]:
    """Every job's snapshot with its payload (the emulator never drops a job)."""
    snapshots = []
    for job in cloud.state.job_snapshots():
        snapshot = cloud.state.job_snapshot(job["workspaceId"])
        assert snapshot is not None, job
        snapshots.append(snapshot)
    return snapshots


@pytest.mark.parametrize("llama_server, context_window, jobs", [(4096, 0, JOBS), (8192, 8192, JOBS)],
                         indirect=["llama_server"], ids=["window-4096", "window-8192"])
def test_a_pool_completes_most_jobs_on_a_small_real_model(tmp_path: Path, llama_server: LlamaServer,
                                                          context_window: int, jobs: int) -> None:
    cloud = EmulatorServer(config=EmulatorConfig(listen="127.0.0.1:0", seed_jobs=jobs, lease_seconds=600), seed=3)
    cloud.start()
    instance = cloud.create_instance(kind="global")
    runner = Runner(tmp_path, cloud_url=cloud.url, token=instance["runnerToken"], workers=1,
                    model=model_settings(llama_server, context_window=context_window),
                    pool={"job_timeout": JOB_TIMEOUT, "boot_timeout": 60, "hung_timeout": 300})
    started = time.monotonic()
    try:
        runner.start()
        wait_for(lambda: cloud.state.job_counts()["pending"] + cloud.state.job_counts()["leased"] == 0,
                 timeout=jobs * JOB_TIMEOUT + 60, interval=1.0,
                 what=lambda: f"every job to end: {cloud.state.job_counts()}\n{runner.log_tail()}")
    finally:
        runner.kill_tree()
        snapshots = _with_payloads(cloud)
        cloud.stop()
    elapsed = time.monotonic() - started
    log = runner.log()
    completed = [job for job in snapshots if job["state"] == "completed"]
    failed = [job for job in snapshots if job["state"] == "failed"]
    summary = f"{len(completed)}/{jobs} completed in {elapsed:.0f}s; failures: {[job['error'] for job in failed]}"
    print(summary)
    assert len(completed) + len(failed) == jobs, summary
    assert 3 * len(completed) >= 2 * jobs, f"{summary}\n{log[-4000:]}"
    for job in completed:
        assert job["payload"]["assistantMessage"].strip(), job
    for job in failed:  # every failure says why, without internal addresses
        assert job["error"] and "127.0.0.1" not in job["error"] and str(llama_server.port) not in job["error"]
    assert "request_rejected" not in log and "failed (500" not in log, log[-4000:]
