"""Load the configuration: YAML file → ``${VAR}`` interpolation → env → flags → typed objects.

Precedence is flag > env > YAML > default. Every problem found is collected and raised
together as one ``ConfigError`` whose lines name the key path, so an operator fixes a file
in one pass. Nothing here prints or exits; the CLI turns ``ConfigError`` into exit code 2.

``load_config`` is the one validation path: ``check-config``, ``run`` and a SIGHUP reload
all call it, so what one refuses the others refuse. It reads in bounded time and memory
(``files.py``, ``yaml_loader.py``, ``interpolate.py`` state the bounds), registers every
candidate secret before the first check (``secrets.py``), and ends with the checks against
the machine that ``run`` would otherwise fail on (``usable.py``).
"""
from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping
from typing import Any, get_type_hints

import yaml

from shared.config.model_names import describe_model_name_problem
from shared.config.sections import EMBEDDED, RunnerConfig
from shared.http.redact import register_secret

from .errors import ConfigError, Problem, escape, quote
from .fields import FieldValueError, convert
from .files import MAX_CONFIG_BYTES, FileProblem, read_text
from .interpolate import Interpolation
from .secrets import register_env_candidates, register_file_candidates
from .usable import path_problems
from .yaml_loader import YamlLimitError, parse

# Env variables the official runner gives in milliseconds; we keep seconds inside.
_MILLISECOND_ENV = {"POLL_MS": 500.0, "RUNNER_JOB_MAX_RUNTIME_MS": 0.0}  # name → minimum ms
_OPENAI_HANDLES = ("openai-responses", "openai-chat")  # the handles that need model.api_key


def load_config(path: str | None = None, *, env: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> RunnerConfig:
    """Build the validated ``RunnerConfig``.

    ``path``: YAML file, or None for defaults + env only (the official runner's ``.env``
    alone is enough). ``overrides``: command-line flags as ``{"pool.workers": 8}``.
    Every secret found is registered for redaction before this returns.
    """
    env = os.environ if env is None else env
    problems: list[Problem] = []
    register_env_candidates(env)
    raw = _read_yaml(path, problems) if path else {}
    references = Interpolation(env, problems)   # registers each ${file:} content as it reads it
    raw = references.apply(raw)
    register_file_candidates(raw)
    sections = _typed_sections(raw, env, overrides or {}, problems, references.from_files)
    problems.extend(path_problems(sections["logging"], sections["metrics"]))
    config = RunnerConfig(**sections) if not problems else None
    if config is not None:
        problems.extend(_cross_checks(config))
    if problems or config is None:
        raise ConfigError(problems)
    for secret in (config.cloud.token, config.model.api_key, *config.cloud.tokens):
        register_secret(secret)
    return config


def _read_yaml(path: str, problems: list[Problem]) -> dict[str, Any]:
    shown = escape(path[:200])
    try:
        data = parse(read_text(path, MAX_CONFIG_BYTES))
    except FileProblem as exc:
        problems.append(Problem("--config", f"{shown} {exc}"))
        return {}
    except YamlLimitError as exc:
        line = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
        problems.append(Problem(exc.path or "--config", f"{shown}{line}: {exc.message}"))
        return {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        # PyYAML's problem text names characters, never values, but may hold control characters.
        problems.append(Problem("--config", f"{shown} is not valid YAML{where}: "
                                            f"{escape(str(getattr(exc, 'problem', None) or 'unreadable'))}"))
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(Problem("--config", f"{shown} must hold a mapping of sections (cloud:, pool:, …), "
                                            f"got a {type(data).__name__}"))
        return {}
    return data


def _typed_sections(raw: Mapping[str, Any], env: Mapping[str, str], overrides: Mapping[str, Any],
                    problems: list[Problem], hidden: set[str]) -> dict[str, Any]:
    section_types = get_type_hints(RunnerConfig)
    _reject_unknown(raw, section_types, "", problems)
    built: dict[str, Any] = {}
    for name, section_type in section_types.items():
        given = raw.get(name) or {}
        if not isinstance(given, Mapping):
            problems.append(Problem(name, f"expected a mapping of {name} settings, got {type(given).__name__}"))
            given = {}
        built[name] = _typed_section(name, section_type, given, env, overrides, problems, hidden)
    return built


def _typed_section(name: str, section_type: type, given: Mapping[str, Any], env: Mapping[str, str],
                   overrides: Mapping[str, Any], problems: list[Problem], hidden: set[str]) -> Any:
    """One section's dataclass; a field with a problem keeps its default (the problem is recorded)."""
    hints = get_type_hints(section_type)
    _reject_unknown(given, hints, name, problems)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(section_type):
        path = f"{name}.{field.name}"
        source, raw_value = _pick_source(field, path, given, env, overrides)
        if source is None or any(problem.path == path for problem in problems):
            continue   # unset, or a reference in it already failed (its value would only repeat that)
        try:
            from_file = any(p == path or p.startswith((path + "[", path + ".")) for p in hidden)
            values[field.name] = convert(field, hints[field.name], raw_value, hidden=source == "yaml" and from_file)
        except FieldValueError as exc:
            where = path if source == "yaml" else f"{path} (from {source})"
            problems.append(Problem(where, str(exc)))
    try:
        return section_type(**values)
    except TypeError as exc:  # pragma: no cover - guarded by _reject_unknown
        problems.append(Problem(name, str(exc)))
        return section_type()


def _pick_source(field: dataclasses.Field[Any], path: str, given: Mapping[str, Any], env: Mapping[str, str],
                 overrides: Mapping[str, Any]) -> tuple[str | None, Any]:
    """Which layer sets this field, and its raw value: flag > env > YAML > (default)."""
    if path in overrides and overrides[path] is not None:
        return "flag", overrides[path]
    env_name = field.metadata.get("env")
    if env_name and env.get(env_name, "").strip():
        if path == "cloud.token" and given.get("tokens"):
            return ("yaml", given["token"]) if "token" in given else (None, None)
        text = env[env_name].strip()
        if env_name in _MILLISECOND_ENV:
            try:
                return env_name, max(_MILLISECOND_ENV[env_name], float(text)) / 1000.0
            except ValueError:
                return env_name, text
        return env_name, text
    if field.name in given:
        return "yaml", given[field.name]
    return None, None


def _reject_unknown(given: Mapping[str, Any], known: Mapping[str, Any], section: str,
                    problems: list[Problem]) -> None:
    for key in given:
        if key in known:
            continue
        path = f"{section}.{key}" if section else str(key)
        if not isinstance(key, str) or len(path) > 100:
            path = f"{section}.{quote(key)}" if section else quote(key)
        close = difflib.get_close_matches(str(key)[:100], list(known), n=1, cutoff=0.6)
        hint = f'; did you mean "{close[0]}"?' if close else f"; known keys: {', '.join(known)}"
        problems.append(Problem(path, f"unknown key{hint}"))


def _cross_checks(config: RunnerConfig) -> list[Problem]:
    """Rules that involve more than one field."""
    problems: list[Problem] = []
    cloud, pool, model = config.cloud, config.pool, config.model
    if cloud.token and cloud.tokens:
        problems.append(Problem("cloud.tokens", "set either cloud.token (one key for every worker) or "
                                                "cloud.tokens (a key per worker slot), not both"))
    if not config.embedded_cloud and not cloud.token and not cloud.tokens:
        problems.append(Problem("cloud.token", "a runner key is required: set RUNNER_TOKEN, cloud.token or "
                                               "cloud.tokens (Studio → Settings → Runners), or use "
                                               f"cloud.base_url: {EMBEDDED} for a local trial"))
    if len(set(cloud.tokens)) != len(cloud.tokens):
        problems.append(Problem("cloud.tokens", "the same runner key is listed twice"))
    problem = describe_model_name_problem(model.name)
    if problem:
        problems.append(Problem("model.name", problem))
    elif model.name in _OPENAI_HANDLES and not model.api_key:
        problems.append(Problem("model.api_key", f"required for {model.name}: set OPENAI_API_KEY or "
                                                 "model.api_key (or use model.name: builtin for a dry run)"))
    if pool.restart_backoff_max < pool.restart_backoff:
        problems.append(Problem("pool.restart_backoff_max", f"must be ≥ pool.restart_backoff "
                                                            f"({pool.restart_backoff})"))
    return problems
