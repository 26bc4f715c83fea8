"""``${VAR}`` and ``${VAR:-default}`` references to the environment inside YAML strings."""
from __future__ import annotations

import re
from typing import Any, Mapping

from .errors import Problem

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\$")


def interpolate(value: Any, env: Mapping[str, str], path: str, problems: list[Problem]) -> Any:
    """Return ``value`` with every ``${VAR}`` in its strings replaced from ``env``.

    Walks mappings and lists. ``$$`` stands for a literal ``$``. A reference to an unset
    (or empty) variable without a default is a problem at ``path``; empty counts as unset
    so that ``RUNNER_TOKEN=`` in an env file does not pass as a key.
    """
    if isinstance(value, str):
        return _interpolate_string(value, env, path, problems)
    if isinstance(value, Mapping):
        return {key: interpolate(item, env, _join(path, key), problems) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env, f"{path}[{index}]", problems) for index, item in enumerate(value)]
    return value


def _interpolate_string(text: str, env: Mapping[str, str], path: str, problems: list[Problem]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        found = env.get(name)
        if found:
            return found
        if default is not None:
            return default
        problems.append(Problem(path, f"environment variable {name} is not set (referenced as ${{{name}}}; "
                                      f"set it or write ${{{name}:-default}})"))
        return ""

    return _REFERENCE.sub(replace, text)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)
