"""Which ``model.name`` values are valid: syntax only, so the supervisor's config check can
say what is wrong with a name without importing a model handle (or an operator's plugin).

The worker's ``workers.models.loader`` builds a handle for each of ``BUILT_IN_NAMES`` (a test
keeps the two lists equal) and imports ``package.module:callable`` names.
"""
from __future__ import annotations

import re

BUILT_IN_NAMES: tuple[str, ...] = ("openai-responses", "openai-chat", "builtin", "llama-cpp")

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_CALLABLE_NAME = re.compile(rf"^{_IDENTIFIER}(?:\.{_IDENTIFIER})*:{_IDENTIFIER}(?:\.{_IDENTIFIER})*$")


def describe_model_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a ``model.name``, or None. Syntax only: imports nothing."""
    if not isinstance(name, str) or not name.strip():
        return f"expected one of {', '.join(BUILT_IN_NAMES)} or package.module:callable, got {name!r}"
    if name in BUILT_IN_NAMES or _CALLABLE_NAME.match(name):
        return None
    if ":" in name:
        return (f"{name!r} is not a valid package.module:callable reference (dotted Python names on both "
                "sides of one ':', e.g. mypkg.handles:make_handle)")
    return f"unknown model {name!r}: expected one of {', '.join(BUILT_IN_NAMES)} or package.module:callable"
