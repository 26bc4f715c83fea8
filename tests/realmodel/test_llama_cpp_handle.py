"""``model.name: llama-cpp``: SmolLM2-135M loaded in-process (the optional ``[local]`` extra)."""
from __future__ import annotations

import importlib.util
import json

import pytest

from shared.config.sections import ModelConfig
from tests.realmodel.conftest import SEED, smollm2_weights
from workers.deliverables.tools import TOOL_SPECS
from workers.models.base import ModelDeadlineExceeded, ToolResult, UserText
from workers.models.loader import ModelLoadError, load_model_handle
from workers.prompt import JOB_INSTRUCTIONS

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def handle():
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install '.[local]'; .ci/run installs it)")
    loaded = load_model_handle(ModelConfig(name="llama-cpp", model_path=str(smollm2_weights()), context_window=4096,
                                           temperature=0.0, seed=SEED, max_output_tokens=256, threads=2))
    yield loaded
    loaded.close()


def test_a_job_conversation_runs_in_process_with_schema_valid_tool_calls(handle) -> None:
    session = handle.open_session(instructions=JOB_INSTRUCTIONS, tools=TOOL_SPECS)
    turn = session.send([UserText(text="Make a list with id steps of three steps to brew coffee.")], timeout=300)
    rounds = 1
    while turn.tool_calls and rounds < 4:
        for call in turn.tool_calls:  # the grammar makes every call's arguments a JSON object
            assert isinstance(json.loads(call.arguments), dict), call
            assert call.name in {spec.name for spec in TOOL_SPECS}
        turn = session.send([ToolResult(call_id=call.call_id, output='{"ok": true, "detail": "created"}')
                             for call in turn.tool_calls], timeout=300)
        rounds += 1
    assert turn.text.strip() or turn.tool_calls


def test_summaries_run_in_process(handle) -> None:
    summary = handle.summarize("We chose Postgres over MySQL for the bookings service. " * 20,
                               instructions="Condense into one sentence.", max_chars=400, timeout=300)
    assert 0 < len(summary) <= 400


def test_a_round_stops_at_its_deadline(handle) -> None:
    session = handle.open_session(instructions="", tools=[])
    with pytest.raises(ModelDeadlineExceeded) as caught:
        session.send([UserText(text="Write a very long story about a lighthouse keeper.")], timeout=0.05)
    assert caught.value.reason.startswith("job deadline exceeded")


def test_a_missing_model_path_is_a_clear_load_error() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    with pytest.raises(ModelLoadError, match="model.model_path: required for llama-cpp"):
        load_model_handle(ModelConfig(name="llama-cpp"))
    with pytest.raises(ModelLoadError, match="cannot load /nonexistent.gguf"):
        load_model_handle(ModelConfig(name="llama-cpp", model_path="/nonexistent.gguf"))
