"""``model.name: llama-cpp``: SmolLM2-135M loaded in-process (the optional ``[local]`` extra)."""
from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator

import pytest

from shared.config.sections import ModelConfig
from tests.realmodel.conftest import SEED, smollm2_weights
from workers.deliverables.tools import TOOL_SPECS
from workers.models.base import ModelDeadlineExceeded, ToolResult, UserText
from workers.models.llama_cpp_handle import LlamaCppHandle, LocalChatServer
from workers.models.loader import ModelLoadError, load_model_handle
from workers.prompt import JOB_INSTRUCTIONS

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def handle() -> Iterator[LlamaCppHandle]:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install '.[local]'; .ci/run installs it)")
    loaded = load_model_handle(ModelConfig(name="llama-cpp", model_path=str(smollm2_weights()), context_window=4096,
                                           temperature=0.0, seed=SEED, max_output_tokens=256, threads=2))
    assert isinstance(loaded, LlamaCppHandle), loaded
    yield loaded
    loaded.close()


def test_a_job_conversation_runs_in_process_with_schema_valid_tool_calls(handle: LlamaCppHandle) -> None:
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


def test_summaries_run_in_process(handle: LlamaCppHandle) -> None:
    summary = handle.summarize("We chose Postgres over MySQL for the bookings service. " * 20,
                               instructions="Condense into one sentence.", max_chars=400, timeout=300)
    assert 0 < len(summary) <= 400


def test_a_round_stops_at_its_deadline(handle: LlamaCppHandle) -> None:
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


# A tool whose arguments cannot be short: the grammar made from its schema needs 300 list items.
LONG_TOOL = {"type": "function", "function": {
    "name": "create_list", "description": "Create a list of items.",
    "parameters": {"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "minItems": 300, "items": {"type": "string"}}}}}}


def test_max_tokens_bounds_a_tool_call_that_would_run_to_the_end_of_the_window(handle: LlamaCppHandle) -> None:
    # Before: llama-cpp-python's function-calling handler ignores max_tokens when tool_choice is "auto", so the
    # arguments ran until the 4,096-token window was full (minutes on a CPU) and the handle then raised
    # ContextOverflow ("Requested tokens exceed context window"), as if the prompt had been too long.
    server = handle._client
    assert isinstance(server, LocalChatServer)   # the in-process stand-in for the HTTP client
    body = {"messages": [{"role": "system", "content": "Call create_list."},
                         {"role": "user", "content": "Make a list of 300 fruits."}],
            "tools": [LONG_TOOL], "tool_choice": "auto", "max_tokens": 48, "temperature": 0.0, "seed": SEED}
    answer = server.post("chat/completions", body, timeout=300)
    assert answer["choices"][0]["finish_reason"] == "length"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": ""}
    assert server._llama.n_tokens < 1000, "generation stopped near max_tokens, far from the end of the window"
    follow_up = server.post("chat/completions", {**body, "tools": [], "max_tokens": 16}, timeout=300)
    assert follow_up["choices"][0]["message"]["role"] == "assistant"   # the model is usable after the cut
