"""Pick and build the worker's model handle from ``model.name``.

Names: ``openai-responses``, ``openai-chat``, ``builtin``, ``llama-cpp`` (optional extra),
or ``package.module:callable`` for an operator's own handle. The callable is called once per worker as
``callable(config=<ModelConfig>)`` and must return an object with ``open_session``,
``summarize`` and ``close`` (``workers.models.base.ModelHandle``). The OpenAI handles probe
their endpoint once when built: a server without the configured API fails the load naming
the ``model.name`` it does serve. Every way loading can
fail raises ``ModelLoadError`` with a reason fit for the log; the worker then exits with
its reserved "model load failed" code instead of crash-looping.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from shared.config.model_names import describe_model_name_problem
from shared.config.sections import ModelConfig
from shared.http.redact import redact, register_secret
from workers.models.base import ModelHandle
from workers.models.builtin import BuiltinModelHandle
from workers.models.http_client import RequestObserver
from workers.models.http_handle import HttpModelHandle
from workers.models.openai_chat import OpenAIChatHandle
from workers.models.openai_responses import OpenAIResponsesHandle

Probed = TypeVar("Probed", bound=HttpModelHandle)

_BUILT_IN: dict[str, Callable[[ModelConfig, RequestObserver | None], ModelHandle]] = {
    "openai-responses": lambda config, on_request: _probed(OpenAIResponsesHandle(config=config,
                                                                                  on_request=on_request)),
    "openai-chat": lambda config, on_request: _probed(OpenAIChatHandle(config=config, on_request=on_request)),
    "builtin": lambda config, on_request: BuiltinModelHandle(latency=config.latency),
    "llama-cpp": lambda config, on_request: _llama_cpp_handle(config),
}


class ModelLoadError(Exception):
    """The model handle could not be created; ``reason`` says why (safe to log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def load_model_handle(config: ModelConfig, *,
                      on_request: Callable[[str, str, float], None] | None = None) -> ModelHandle:
    """Build the handle ``config.name`` names. ``on_request(endpoint, code, seconds)`` is
    called once per HTTP try of the OpenAI handles (for metrics)."""
    register_secret(config.api_key)  # before any error text can quote it
    problem = describe_model_name_problem(config.name)
    if problem:
        raise ModelLoadError(f"model.name: {problem}")
    builder = _BUILT_IN.get(config.name)
    if builder is not None:
        try:
            return builder(config, on_request)
        except ValueError as exc:
            raise ModelLoadError(f"model {config.name}: {redact(exc)}") from None
    return _load_callable_handle(config)


def _llama_cpp_handle(config: ModelConfig) -> ModelHandle:
    from workers.models.llama_cpp_handle import LlamaCppHandle  # imports llama_cpp only when asked for

    return LlamaCppHandle(config=config)


def _probed(handle: Probed) -> Probed:
    """``handle`` after its start-up probe (a wrong API raises ``ValueError``)."""
    handle.probe()
    return handle


def _load_callable_handle(config: ModelConfig) -> ModelHandle:
    module_name, _, attribute_path = config.name.partition(":")
    factory = _import_callable(module_name, attribute_path, config.name)
    try:
        handle = factory(config=config)
    except Exception as exc:  # an operator's code may raise anything; report it, don't crash
        raise ModelLoadError(f"model {config.name}: the callable raised {type(exc).__name__}: "
                             f"{redact(exc)}") from None
    if not isinstance(handle, ModelHandle):
        missing = [name for name in ("open_session", "summarize", "close")
                   if not callable(getattr(handle, name, None))]
        raise ModelLoadError(f"model {config.name}: the callable returned {type(handle).__name__}, which is not "
                             f"a model handle (missing {', '.join(missing)})")
    return handle


def _import_callable(module_name: str, attribute_path: str, name: str) -> Callable[..., Any]:
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or any error raised while the module runs
        raise ModelLoadError(f"model {name}: cannot import module {module_name!r}: "
                             f"{type(exc).__name__}: {redact(exc)}") from None
    for part in attribute_path.split("."):
        if not hasattr(target, part):
            raise ModelLoadError(f"model {name}: {getattr(target, '__name__', module_name)!r} has no "
                                 f"attribute {part!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ModelLoadError(f"model {name}: {attribute_path!r} is a {type(target).__name__}, not a callable")
    function: Callable[..., Any] = target
    return function
