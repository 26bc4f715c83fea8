"""``xenon-runner emulator``: the local XenonFlare cloud, for dry runs and load tests."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from shared.http.escape import shown
from supervisor.exitcodes import EXIT_CONFIG, EXIT_OK
from supervisor.logs import TextFormatter

from .common import PROBLEM_LIMIT, load_or_report

if TYPE_CHECKING:  # the emulator is imported only when this command runs
    from emulator import EmulatorServer

HELP = "serve the local cloud emulator (all 9 routes, admin API, fault injection)"

EPILOG = """\
It prints its URL, an admin ID token and a ready runner key. Point a pool at it with:
  RUNNER_API_BASE=<url> RUNNER_TOKEN=<key> xenon-runner run --model builtin
Admin API (no auth: keep it on loopback): POST /admin/jobs, POST /admin/jobs/batch,
GET /admin/jobs[/<id>], GET /admin/stats, POST /admin/faults, POST /admin/instances,
POST /admin/accounts, POST /admin/reset. See docs/emulator.md."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("emulator", help=HELP, description=HELP + ".", epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", metavar="HOST:PORT", help="address to serve on (default 127.0.0.1:8080)")
    parser.add_argument("--config", metavar="FILE", help="YAML config whose emulator: section to use")
    parser.add_argument("--seed-jobs", type=int, metavar="N", help="sample jobs to enqueue at start")
    parser.add_argument("--lease-seconds", type=float, metavar="S", help="lease length in seconds")
    parser.set_defaults(handler=serve_emulator)


def serve_emulator(args: argparse.Namespace) -> int:
    overrides = {"emulator.listen": args.listen or ("127.0.0.1:8080" if not args.config else None),
                 "emulator.seed_jobs": args.seed_jobs, "emulator.lease_seconds": args.lease_seconds}
    config = load_or_report(args.config, {**overrides, "cloud.base_url": "embedded", "model.name": "builtin"})
    if config is None:
        return EXIT_CONFIG
    handler = logging.StreamHandler()
    handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))  # escapes request text
    logging.basicConfig(level=config.logging.level.upper(), handlers=[handler])
    from emulator import serve  # only this command loads the emulator

    def announce(server: EmulatorServer) -> None:
        key = server.create_instance(kind="global", name="emulator-cli")["runnerToken"]
        print(f"XenonFlare cloud emulator on {server.url}\n"
              f"  admin ID token (instances commands): {server.admin_id_token}\n"
              f"  runner key (global instance):        {key}\n"
              f"  try: RUNNER_API_BASE={server.url} RUNNER_TOKEN={key} xenon-runner run --model builtin\n"
              f"  seeded {config.emulator.seed_jobs} sample jobs; lease length {config.emulator.lease_seconds:g}s",
              flush=True)

    try:
        serve(config=config.emulator, on_ready=announce)
    except OSError as exc:
        print(f"xenon-runner emulator: cannot listen on {shown(config.emulator.listen, PROBLEM_LIMIT)}: "
              f"{exc.strerror}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK
