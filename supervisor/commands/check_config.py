"""``xenon-runner check-config --config FILE``: validate without running anything."""
from __future__ import annotations

import argparse

from shared.http.escape import shown
from shared.http.redact import redact
from supervisor.exitcodes import EXIT_CONFIG, EXIT_OK

from .common import PROBLEM_LIMIT, load_or_report

HELP = "validate a config file (exit 0), or name every bad key (exit 2)"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check-config", help=HELP, description=HELP + ". Env references (${VAR}) and env overrides are "
        "resolved as `run` would resolve them, so run it in the same environment.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  RUNNER_TOKEN=... xenon-runner check-config --config /etc/xenon-runner/config.yaml")
    parser.add_argument("--config", required=True, metavar="FILE", help="YAML config file to check")
    parser.set_defaults(handler=check)


def check(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return EXIT_CONFIG
    cloud = "embedded emulator" if config.embedded_cloud else config.cloud.base_url
    keys = len(config.cloud.tokens) or 1
    summary = (f"{args.config}: OK — {config.pool.workers} workers, model {config.model.name}, cloud {cloud} "
               f"({keys} runner key{'s' if keys > 1 else ''}), metrics on {config.metrics.listen}")
    print(shown(redact(summary), PROBLEM_LIMIT))  # a URL password shows as ***
    return EXIT_OK
