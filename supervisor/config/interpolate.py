"""References inside YAML strings: ``${VAR}``, ``${VAR:-default}`` and ``${file:/path}``.

``${file:/path}`` is replaced by the file's content with surrounding whitespace stripped:
the way to read secrets mounted as files (Kubernetes Secret volumes, Docker secrets). It is
read again on every load, so SIGHUP picks up a rotated key without a restart, which an
environment variable cannot offer. Such a file must be a regular UTF-8 file of at most
``MAX_SECRET_FILE_BYTES``; its content is registered as a secret at once, and the key paths
it lands in are collected so that no error message ever quotes it (it may be a key, or
``/proc/self/environ``). All references of one file together may add at most
``MAX_EXPANDED_CHARS`` characters, so a file repeating a big reference stays small.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.http.redact import register_secret

from .errors import Problem, escape
from .files import MAX_SECRET_FILE_BYTES, FileProblem, read_text

MAX_EXPANDED_CHARS = 1024 * 1024   # characters all references of one config may add
# Bounded repeats: a reference never spans more than a path or a default, so an unclosed "${file:"
# repeated through a big file costs linear time, not quadratic.
_REFERENCE = re.compile(r"\$\{file:([^}]{1,1024})\}|\$\{([A-Za-z_][A-Za-z0-9_]{0,255})(?::-([^}]{0,1024}))?\}|\$\$")


@dataclass
class Interpolation:
    """One load's references: the env, the problems found, and which key paths hold file contents."""

    env: Mapping[str, str] = field(repr=False)
    problems: list[Problem]
    from_files: set[str] = field(default_factory=set)   # key paths whose string took a ${file:} content
    budget: int = MAX_EXPANDED_CHARS                     # characters references may still add
    # path → content, each file read once per load; never in a repr (contents are secrets)
    _files: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def apply(self, value: Any, path: str = "") -> Any:
        """Return ``value`` with every ``${VAR}`` in its strings replaced from the env.

        Walks mappings and lists. ``$$`` stands for a literal ``$``. A reference to an unset
        (or empty) variable without a default is a problem at ``path``; empty counts as unset
        so that ``RUNNER_TOKEN=`` in an env file does not pass as a key.
        """
        if isinstance(value, str):
            return _REFERENCE.sub(lambda match: self._replace(match, path), value)
        if isinstance(value, Mapping):
            return {key: self.apply(item, _join(path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.apply(item, f"{path}[{index}]") for index, item in enumerate(value)]
        return value

    def _replace(self, match: re.Match[str], path: str) -> str:
        if match.group(0) == "$$":
            return "$"
        if self.budget < 0:
            return ""   # already reported
        if match.group(1) is not None:
            self.from_files.add(path)
            text = self._read_secret_file(match.group(1).strip(), path)
        else:
            text = self._variable(match.group(2), match.group(3), path)
        self.budget -= len(text)
        if self.budget < 0:
            self.problems.append(Problem(path, f"references (${{…}}) add more than {MAX_EXPANDED_CHARS} "
                                               "characters to this file"))
            return ""
        return text

    def _variable(self, name: str, default: str | None, path: str) -> str:
        found = self.env.get(name)
        if found:
            return found
        if default is not None:
            return default
        self.problems.append(Problem(path, f"environment variable {name} is not set (referenced as ${{{name}}}; "
                                           f"set it or write ${{{name}:-default}})"))
        return ""

    def _read_secret_file(self, file_path: str, path: str) -> str:
        if file_path in self._files:
            return self._files[file_path]
        shown = escape(file_path[:200])
        try:
            content = read_text(file_path, MAX_SECRET_FILE_BYTES).strip()
        except FileProblem as exc:
            self.problems.append(Problem(path, f"{shown} {exc} (referenced as ${{file:{shown}}})"))
            content = ""
        else:
            register_secret(content)
            if not content:
                self.problems.append(Problem(path, f"{shown} is empty (referenced as ${{file:{shown}}})"))
        self._files[file_path] = content
        return content


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)
