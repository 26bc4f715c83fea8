"""The loader: every built-in name, module:callable success, and each way loading fails."""
from __future__ import annotations

import pytest

from shared.config.model_names import BUILT_IN_NAMES, describe_model_name_problem
from shared.config.sections import ModelConfig
from tests.models import custom_handles
from workers.models import loader
from workers.models.base import ModelHandle, UserText
from workers.models.builtin import BuiltinModelHandle
from workers.models.loader import ModelLoadError, load_model_handle
from workers.models.openai_chat import OpenAIChatHandle
from workers.models.openai_responses import OpenAIResponsesHandle

SECRET = "sk-loader-5b1e9c0d7a3f2468"


@pytest.mark.parametrize(("name", "handle_type"), [("openai-responses", OpenAIResponsesHandle),
                                                   ("openai-chat", OpenAIChatHandle),
                                                   ("builtin", BuiltinModelHandle)])
def test_built_in_names(name: str, handle_type: type) -> None:
    handle = load_model_handle(ModelConfig(name=name, api_key=SECRET))
    assert type(handle) is handle_type and isinstance(handle, ModelHandle)
    handle.close()


def test_builtin_gets_the_configured_latency() -> None:
    sleeps: list[float] = []
    handle = load_model_handle(ModelConfig(name="builtin", latency=0.5))
    session = handle.open_session(instructions="", tools=[])
    session._sleep = sleeps.append  # type: ignore[attr-defined]  # observe without waiting
    session.send([UserText(text="hi")])
    assert sleeps == [0.5]


def test_module_callable_is_called_with_the_config() -> None:
    config = ModelConfig(name="tests.models.custom_handles:make_handle", options={"gpu": 1})
    handle = load_model_handle(config)
    assert isinstance(handle, custom_handles.EchoHandle) and handle.config is config
    assert custom_handles.CALLS[-1] is config
    assert handle.open_session(instructions="", tools=[]).send([UserText(text="ping")]).text == "ping"


def test_dotted_attribute_path() -> None:
    handle = load_model_handle(ModelConfig(name="tests.models.custom_handles:Factories.build"))
    assert isinstance(handle, custom_handles.EchoHandle)


@pytest.mark.parametrize(("name", "expected"), [
    ("tests.models.no_such_module:make", "cannot import module 'tests.models.no_such_module'"),
    ("tests.models.broken_handles:make", "No module named 'torch'"),
    ("tests.models.custom_handles:missing", "has no attribute 'missing'"),
    ("tests.models.custom_handles:NOT_CALLABLE", "is a int, not a callable"),
    ("tests.models.custom_handles:make_nothing", "returned int, which is not a model handle (missing open_session, "
                                                 "summarize, close)"),
    ("tests.models.custom_handles:explode", "the callable raised RuntimeError: GPU not found"),
    ("gpt-4o", "unknown model 'gpt-4o'"),
    ("pkg:", "not a valid package.module:callable"),
])
def test_load_failures_raise_model_load_error_with_a_clear_reason(name: str, expected: str) -> None:
    with pytest.raises(ModelLoadError) as caught:
        load_model_handle(ModelConfig(name=name, api_key=SECRET))
    assert expected in caught.value.reason
    assert SECRET not in str(caught.value)


def test_insecure_base_url_is_a_load_error() -> None:
    with pytest.raises(ModelLoadError, match="plain http is allowed only for loopback"):
        load_model_handle(ModelConfig(name="openai-chat", base_url="http://10.0.0.5:8000/v1"))


@pytest.mark.parametrize("name", ["openai-responses", "openai-chat", "builtin", "pkg.mod:make",
                                  "mod:Factory.create", "_private.mod:_f"])
def test_describe_accepts_valid_names(name: str) -> None:
    assert describe_model_name_problem(name) is None


@pytest.mark.parametrize(("name", "expected"), [
    ("", "expected one of openai-responses, openai-chat, builtin"),
    ("openai", "unknown model 'openai'"),
    ("pkg.mod:", "not a valid package.module:callable"),
    ("pkg-name.mod:make", "not a valid package.module:callable"),
    ("a:b:c", "not a valid package.module:callable"),
])
def test_describe_reports_bad_names(name: str, expected: str) -> None:
    problem = describe_model_name_problem(name)
    assert problem is not None and expected in problem


def test_describe_imports_nothing() -> None:
    import sys
    assert describe_model_name_problem("tests.models.never_imported_module:make") is None
    assert "tests.models.never_imported_module" not in sys.modules


def test_model_modules_import_first_without_a_cycle_and_without_supervisor_config() -> None:
    import subprocess
    import sys
    code = ("import sys, workers.models.builtin, workers.models.loader; "
            "assert 'supervisor.config' not in sys.modules, 'model modules must not import supervisor.config'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_config_check_knows_exactly_the_names_the_worker_builds() -> None:
    """The supervisor validates ``model.name`` from a list the worker does not own; keep them equal."""
    assert set(BUILT_IN_NAMES) == set(loader._BUILT_IN)
