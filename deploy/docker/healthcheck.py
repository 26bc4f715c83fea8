#!/usr/bin/env python3
"""Container health probe: exit 0 when a URL answers 200, 1 otherwise (Docker HEALTHCHECK).

Written in Python because the slim image has Python and no curl. Without arguments it asks
the supervisor's ``/healthz`` on the metrics port the image's command sets; the compose file
passes another URL for the emulator. Only the standard library: this runs every few seconds
and must start fast and never depend on the runner's own imports.
"""
from __future__ import annotations

import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:9464/healthz"
TIMEOUT_SECONDS = 3.0  # well under the HEALTHCHECK --timeout, so we report instead of being killed


def probe(url: str, *, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """Why ``url`` is unhealthy, or None when it answered 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        return f"{url} answered {error.code}"
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return f"{url} unreachable: {reason}"
    return None if status == 200 else f"{url} answered {status}"


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print("usage: xenon-healthcheck [URL]", file=sys.stderr)
        return 2
    url = argv[0] if argv else DEFAULT_URL
    problem = probe(url)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
