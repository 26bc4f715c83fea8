#!/usr/bin/env python3
"""Compose ``trial`` profile only: mint a runner key on the local emulator, then become the runner.

The emulator keeps its runner instances in memory, so no key for it can be written into an
env file in advance. This waits until the emulator at ``RUNNER_API_BASE`` answers, creates a
global runner instance through its admin API (``POST /admin/instances``), puts the new key
in ``RUNNER_TOKEN`` and replaces itself with the command line it was given
(``xenon-runner run ...``), which then reads the key like any other deployment does.

The admin API has no authentication, so only loopback URLs are accepted: in the compose
file the trial runner shares the emulator's network namespace. The key is never printed.
"""
from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from shared.http.redact import describe_token, register_secret
from shared.http.urls import is_loopback_host

WAIT_ENV = "XENON_TRIAL_WAIT_SECONDS"
DEFAULT_WAIT_SECONDS = 60.0   # how long the emulator may take to start answering
RETRY_PAUSE_SECONDS = 0.5     # between attempts while it does not answer yet
REQUEST_TIMEOUT_SECONDS = 5.0
INSTANCE_NAME = "compose-trial"
EXIT_UNAVAILABLE = 1          # the emulator did not give a key (compose restarts us)
EXIT_USAGE = 2                # same meaning as the runner's exit code 2: bad configuration
EXIT_CANNOT_EXEC = 127        # the shell's code for "command not found"


class BootstrapError(Exception):
    """The emulator could not give us a runner key; the message says why."""


def emulator_base_url(environ: dict[str, str]) -> str:
    """``RUNNER_API_BASE`` without a trailing slash, checked to be a loopback http(s) URL."""
    base = environ.get("RUNNER_API_BASE", "").rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not is_loopback_host(parts.hostname):
        raise BootstrapError(f"RUNNER_API_BASE must be the emulator's loopback URL such as "
                             f"http://127.0.0.1:8080, got {base!r}")
    return base


def wait_seconds(environ: dict[str, str]) -> float:
    """How long to wait for the emulator (``XENON_TRIAL_WAIT_SECONDS``, default 60)."""
    raw = environ.get(WAIT_ENV, "")
    if not raw:
        return DEFAULT_WAIT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise BootstrapError(f"{WAIT_ENV} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise BootstrapError(f"{WAIT_ENV} must be positive, got {raw!r}")
    return value


def mint_runner_key(base_url: str, *, wait: float) -> str:
    """Create a global runner instance on the emulator and return its runner key.

    Retries connection failures until ``wait`` seconds have passed; an HTTP error answer
    is final (the emulator is up but refuses).
    """
    body = json.dumps({"kind": "global", "name": INSTANCE_NAME}).encode()
    deadline = time.monotonic() + wait
    while True:
        request = urllib.request.Request(f"{base_url}/admin/instances", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
                answer = json.load(response)
            break
        except urllib.error.HTTPError as error:
            raise BootstrapError(f"{base_url}/admin/instances answered {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            if time.monotonic() >= deadline:
                reason = getattr(error, "reason", error)
                raise BootstrapError(f"the emulator at {base_url} did not answer within {wait:g} s "
                                     f"({reason})") from None
            time.sleep(RETRY_PAUSE_SECONDS)
    token = answer.get("runnerToken") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise BootstrapError(f"{base_url}/admin/instances answered without a runnerToken")
    register_secret(token)
    return token


def main(argv: list[str]) -> int:
    """Mint the key, export it and exec ``argv``; returns only on failure."""
    if not argv:
        print("usage: trial_bootstrap.py COMMAND [ARG...]   (e.g. xenon-runner run --model builtin)",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        base = emulator_base_url(dict(os.environ))
        wait = wait_seconds(dict(os.environ))
    except BootstrapError as error:
        print(f"trial bootstrap: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        token = mint_runner_key(base, wait=wait)
    except BootstrapError as error:
        print(f"trial bootstrap: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    print(f"trial bootstrap: runner key {describe_token(token)} minted on {base}", file=sys.stderr, flush=True)
    os.environ["RUNNER_TOKEN"] = token
    try:
        os.execvp(argv[0], argv)
    except OSError as error:
        print(f"trial bootstrap: cannot run {argv[0]!r}: {error.strerror}", file=sys.stderr)
        return EXIT_CANNOT_EXEC


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
