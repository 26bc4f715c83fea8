"""``xenon-runner status``: the running supervisor's /status as a table."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import requests

from supervisor.exitcodes import EXIT_ERROR, EXIT_OK

HELP = "show a running pool's workers and jobs (reads /status)"
COLUMNS = ("slot", "pid", "state", "workspaceId", "attempt", "jobs_done", "restarts", "rss", "cpu%", "uptime")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("status", help=HELP, description=HELP + ".",
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   epilog="example:\n  xenon-runner status --url http://127.0.0.1:9464")
    parser.add_argument("--url", default="http://127.0.0.1:9464", help="the supervisor's metrics.listen URL")
    parser.add_argument("--json", action="store_true", help="print the raw /status JSON")
    parser.set_defaults(handler=show_status)


def show_status(args: argparse.Namespace) -> int:
    url = args.url.rstrip("/") + "/status"
    try:
        answer = requests.get(url, timeout=(3, 10))
        answer.raise_for_status()
        status = answer.json()
    except (requests.RequestException, ValueError) as exc:
        print(f"xenon-runner status: cannot read {url}: {exc}\n  Is the runner running, and is --url its "
              "metrics.listen address?", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print(render(status))
    return EXIT_OK


def render(status: dict[str, Any]) -> str:
    """The /status document as a header line plus one row per worker slot."""
    states = ", ".join(f"{count} {state}" for state, count in status.get("states", {}).items() if count)
    header = (f"xenon-runner {status.get('version', '?')} pid {status.get('pid')} · up "
              f"{_duration(status.get('uptime_seconds'))} · {states or 'no workers'}"
              f"{' · DRAINING (' + str(status.get('stop_reason')) + ')' if status.get('draining') else ''}"
              f" · model {status.get('model')} · cloud {status.get('cloud')}")
    rows = [COLUMNS]
    for worker in status.get("workers", []):
        rows.append((str(worker.get("slot")), str(worker.get("pid") or "-"), str(worker.get("state")),
                     worker.get("workspaceId") or "-", str(worker.get("attempt") or "-"),
                     str(worker.get("jobs_done")), str(worker.get("restarts")), _size(worker.get("rss_bytes", 0)),
                     f"{worker.get('cpu_percent', 0):.1f}", _duration(worker.get("uptime_seconds"))))
    widths = [max(len(row[column]) for row in rows) for column in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return "\n".join([header, *lines])


def _size(size: int) -> str:
    return f"{size / 2 ** 20:.0f}MiB" if size else "-"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
