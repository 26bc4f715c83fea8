"""Shared facts and readers for the tests of the operations kit in ``deploy/``.

The metric names are the contract of design.md (plus the extra series the supervisor
exports); the dashboard and the rules may use nothing else. Durations are seconds.
"""
from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from shared.config.sections import PoolConfig
from tests.harness import REPO, runner_env

DEPLOY = REPO / "deploy"
DOCKER = DEPLOY / "docker"
SYSTEMD = DEPLOY / "systemd"
KUBERNETES = DEPLOY / "kubernetes"
PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
OPERATIONS_DOC = REPO / "docs" / "operations.md"
RULES_FILE = PROMETHEUS / "rules" / "xenon-runner.rules.yml"
RUNBOOK_BASE = "https://github.com/xenonflare/xenonflare-runner/blob/main/docs/operations.md"

COUNTERS = {
    "xenon_runner_jobs_total", "xenon_runner_lease_requests_total", "xenon_runner_worker_restarts_total",
    "xenon_runner_api_requests_total", "xenon_runner_heartbeats_total", "xenon_runner_deliverables_total",
    "xenon_runner_job_failures_total", "xenon_runner_model_requests_total",
}
HISTOGRAMS = {
    "xenon_runner_job_duration_seconds", "xenon_runner_api_request_duration_seconds",
    "xenon_runner_model_request_duration_seconds",
}
GAUGES = {
    "xenon_runner_workers", "xenon_runner_worker_rss_bytes", "xenon_runner_worker_memory_limit_bytes",
    "xenon_runner_pool_workers_desired", "xenon_runner_draining", "xenon_runner_supervisor_rss_bytes",
}
CONTRACT_SERIES = (COUNTERS | GAUGES
                   | {f"{name}{suffix}" for name in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")})

# PromQL words that look like metric names but are not.
_PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
    "offset", "inf", "nan",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_LABEL_BLOCK = re.compile(r"\{[^}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENTIFIER = re.compile(r"(?<![\w:$.])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords and labels removed)."""
    text = _STRING.sub('""', expr)
    text = _LABEL_BLOCK.sub("", text)
    text = _GROUPING.sub("", text)
    text = _RANGE.sub("", text)
    names = {match.group(1) for match in _IDENTIFIER.finditer(text)}
    return {name for name in names if name.lower() not in _PROMQL_WORDS and not re.fullmatch(r"[\d.e]+", name)}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def recording_rule_names() -> set[str]:
    return {rule["record"] for group in load_yaml(RULES_FILE)["groups"] for rule in group["rules"] if "record" in rule}


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(RULES_FILE)["groups"] for rule in group["rules"] if "alert" in rule]


def pool_setting(config: dict[str, Any], name: str) -> float:
    """A ``pool`` value of a runner YAML, or the built-in default when the file leaves it out."""
    return float(config.get("pool", {}).get(name, PoolConfig.__dataclass_fields__[name].default))


def drain_budget(config: dict[str, Any]) -> float:
    """Seconds a stop may take at least: in-flight jobs' grace, then TERM→KILL of the workers.

    Every process manager's wait before SIGKILL must be strictly longer, leaving the margin
    for failing unfinished jobs (one cloud call each) and exiting.
    """
    return pool_setting(config, "graceful_timeout") + pool_setting(config, "kill_timeout")


def parse_duration(text: str) -> float:
    """Compose/Go-style durations such as ``90s``, ``1m30s``."""
    total, rest = 0.0, str(text)
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", rest):
        total += float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    if not re.fullmatch(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h))+", rest):
        raise ValueError(f"not a duration: {text!r}")
    return total


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def markdown_anchors(path: Path) -> set[str]:
    return {github_slug(match.group(1)) for match in re.finditer(r"^#{1,6}\s+(.+?)\s*$", path.read_text(), re.M)}


def run_tool(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def check_config(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``xenon-runner check-config --config path`` in a clean environment plus ``env``."""
    return run_tool([sys.executable, "-m", "supervisor", "check-config", "--config", str(path)],
                    env=runner_env(**env))


def yaml_files(root: Path) -> Iterator[Path]:
    yield from sorted(path for pattern in ("*.yaml", "*.yml") for path in root.rglob(pattern))
