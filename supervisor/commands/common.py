"""Pieces the subcommands share: loading a config the way every command reports problems."""
from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from shared.http.escape import shown
from shared.http.redact import redact
from supervisor.config import ConfigError, RunnerConfig, load_config

PROBLEM_LIMIT = 1000  # characters of one printed config problem


def load_or_report(path: str | None, overrides: Mapping[str, Any] | None = None) -> RunnerConfig | None:
    """The config, or None after printing every problem (the caller exits 2)."""
    try:
        return load_config(path, overrides=overrides)
    except ConfigError as exc:
        source = path or "environment and defaults"
        print(f"xenon-runner: invalid configuration ({shown(source, PROBLEM_LIMIT)}):", file=sys.stderr)
        for problem in exc.problems:  # may quote the file: redacted, one line each, capped
            print(f"  {shown(redact(problem), PROBLEM_LIMIT)}", file=sys.stderr)
        return None
