"""URL rules shared by every client: HTTPS everywhere except loopback."""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and any 127.0.0.0/8 or ::1 address."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def insecure_url_problem(url: str) -> str | None:
    """Why ``url`` may not carry credentials, or None when it may.

    Credentials (runner keys, ID tokens, API keys) travel only over HTTPS; plain HTTP is
    accepted for loopback hosts, where the local emulator and local model servers live.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"expected an http(s) URL like https://host[:port][/path], got {url!r}"
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return (f"plain http is allowed only for loopback hosts (127.0.0.1, ::1, localhost); "
                f"use https:// for {parts.hostname}")
    return None
