"""``xenon-runner status``: the running supervisor's /status as a table.

Every value in the table comes from an HTTP answer and may hold anything a cloud sent (a
workspaceId with a newline or an ANSI escape): each cell is redacted, escaped and capped
(``shared.http.escape.shown``), so one worker is one line and nothing moves the cursor.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import requests

from shared.http.escape import shown
from shared.http.redact import redact
from supervisor.exitcodes import EXIT_ERROR, EXIT_OK

HELP = "show a running pool's workers and jobs (reads /status)"
COLUMNS = ("slot", "pid", "state", "jobs", "workspaceId", "attempt", "jobs_done", "restarts", "rss", "cpu%", "uptime")
CELL_LIMIT = 80      # characters of one table cell
HEADER_LIMIT = 200   # characters of one header value (version, model, cloud URL, stop reason)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        print(f"xenon-runner status: cannot read {_text(url, HEADER_LIMIT)}: {_text(exc, HEADER_LIMIT)}\n"
              "  Is the runner running, and is --url its metrics.listen address?", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(status, indent=2))  # ASCII-only JSON: every control character is escaped
        return EXIT_OK
    try:
        print(render(status))
    except (AttributeError, TypeError, ValueError) as exc:
        print(f"xenon-runner status: {_text(url, HEADER_LIMIT)} answered an unexpected document "
              f"({type(exc).__name__}); see it with --json", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def render(status: dict[str, Any]) -> str:
    """The /status document as a header line plus one row per worker slot."""
    states = ", ".join(f"{count} {state}" for state, count in status.get("states", {}).items() if count)
    header = (f"xenon-runner {_text(status.get('version', '?'))} pid {_text(status.get('pid'))} · up "
              f"{_duration(status.get('uptime_seconds'))} · {_text(states or 'no workers')}"
              f"{' · DRAINING (' + _text(status.get('stop_reason')) + ')' if status.get('draining') else ''}"
              f" · model {_text(status.get('model'))} · cloud {_text(status.get('cloud'))}")
    rows: list[tuple[str, ...]] = [COLUMNS]
    for worker in status.get("workers", []):
        cells = (worker.get("slot"), worker.get("pid") or "-", worker.get("state"), _jobs(worker),
                 worker.get("workspaceId") or "-",
                 worker.get("attempt") or "-", worker.get("jobs_done"), worker.get("restarts"),
                 _size(worker.get("rss_bytes", 0)), f"{worker.get('cpu_percent', 0):.1f}",
                 _duration(worker.get("uptime_seconds")))
        rows.append(tuple(_text(cell, CELL_LIMIT) for cell in cells))
    widths = [max(len(row[column]) for row in rows) for column in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join([header, *lines])


def _text(value: object, limit: int = HEADER_LIMIT) -> str:
    """``value`` as one safe line: redacted (URL passwords), control characters escaped, capped."""
    return shown(redact(value), limit)


def _jobs(worker: dict[str, Any]) -> str:
    """``busy/slots`` of a worker's job lanes (``2/4``); ``-`` when /status does not say (an older
    supervisor) or says something that is not a list and a count."""
    jobs, slots = worker.get("jobs"), worker.get("job_slots")
    if not isinstance(jobs, list) or not isinstance(slots, int) or isinstance(slots, bool):
        return "-"
    return f"{len(jobs)}/{slots}"


def _size(size: int) -> str:
    return f"{size / 2 ** 20:.0f}MiB" if size else "-"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"
