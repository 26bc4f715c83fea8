"""References inside YAML strings: ``${VAR}``, ``${VAR:-default}`` and ``${file:/path}``.

``${file:/path}`` is replaced by the file's content with surrounding whitespace stripped:
the way to read secrets mounted as files (Kubernetes Secret volumes, Docker secrets). It is
read again on every load, so SIGHUP picks up a rotated key without a restart, which an
environment variable cannot offer.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from .errors import Problem

_REFERENCE = re.compile(r"\$\{file:([^}]+)\}|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\$")


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
        if match.group(1) is not None:
            return _read_secret_file(match.group(1).strip(), path, problems)
        name, default = match.group(2), match.group(3)
        found = env.get(name)
        if found:
            return found
        if default is not None:
            return default
        problems.append(Problem(path, f"environment variable {name} is not set (referenced as ${{{name}}}; "
                                      f"set it or write ${{{name}:-default}})"))
        return ""

    return _REFERENCE.sub(replace, text)


def _read_secret_file(file_path: str, path: str, problems: list[Problem]) -> str:
    try:
        with open(file_path, encoding="utf-8") as handle:
            content = handle.read().strip()
    except OSError as exc:
        problems.append(Problem(path, f"cannot read {file_path} (referenced as ${{file:{file_path}}}): "
                                      f"{exc.strerror or exc}"))
        return ""
    if not content:
        problems.append(Problem(path, f"{file_path} is empty (referenced as ${{file:{file_path}}})"))
    return content


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)
