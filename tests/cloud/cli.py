"""Run ``xenon-runner instances …`` in-process, as the CLI module will: register, parse, call the handler."""
from __future__ import annotations

import argparse
from collections.abc import Sequence

from supervisor.commands import instances


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="xenon-runner")
    instances.register(top.add_subparsers(dest="command", required=True))
    return top


def run(argv: Sequence[str]) -> int:
    """Parse ``argv`` (after ``xenon-runner``) and return the handler's exit code."""
    args = parser().parse_args(list(argv))
    code: int = args.handler(args)   # set_defaults(handler=...) of the subcommand
    return code
