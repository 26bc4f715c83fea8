"""``xenon-runner``: the command line. Each subcommand lives in ``supervisor.commands``.

Exit codes are the contract of ``supervisor.exitcodes``: 0 clean stop, 2 bad config or
usage, 3 runner key rejected. No command prints a traceback for an operator's mistake.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from supervisor import __version__

from .commands import check_config, emulator, instances, run, status
from .exitcodes import EXIT_CONFIG

DESCRIPTION = """\
Self-hosted runner for XenonFlare Studio jobs: a supervisor keeps a pool of worker
processes, each leasing one job at a time from the XenonFlare cloud, running a model
with tool calls that produce deliverables, and completing or failing the job."""

EPILOG = """\
start here:
  xenon-runner run --config config/local.yaml    # local trial: embedded cloud emulator, builtin model
  xenon-runner check-config --config my.yaml      # validate a config, naming any bad key
  RUNNER_TOKEN=... OPENAI_API_KEY=... xenon-runner run --workers 8
                                                  # real cloud, config from env alone
  xenon-runner status                             # the running pool as a table

signals (to the supervisor): TERM drain and exit 0 · second TERM or INT fail
in-flight jobs now and exit · HUP reload config and roll workers · TTIN/TTOU one
worker more/less.
exit codes: 0 clean stop · 2 bad config or usage · 3 runner key rejected (401/403)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xenon-runner", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"xenon-runner {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in (run, check_config, status, emulator, instances):
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_CONFIG if exit_.code not in (0, None) else 0
    handler: instances.Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
