"""Keep secrets (runner keys, Firebase ID tokens, model API keys) out of every text we emit.

One process-wide registry: whoever learns a secret registers it (the config loader, the
clients), and log records, exception texts and status fields pass through ``redact``
before they leave the process. A runner key ``credentialId.secret`` is shown as
``credentialId.***`` so operators can still tell keys apart.
"""
from __future__ import annotations

import re
import threading

MASK = "***"
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")


class SecretRegistry:
    """The set of secret strings this process knows; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def register(self, secret: str | None) -> None:
        """Remember ``secret`` (and its part after the first '.') so it is masked from now on."""
        if not secret or len(secret) < _MIN_SECRET_LENGTH:
            return
        parts = {secret}
        _, dot, tail = secret.partition(".")
        if dot and len(tail) >= _MIN_SECRET_LENGTH:
            parts.add(tail)
        with self._lock:
            # Longest first, so a whole key is masked before its tail is.
            self._secrets = tuple(sorted(set(self._secrets) | parts, key=len, reverse=True))

    def redact(self, text: str) -> str:
        """``text`` with every known secret and every ``Bearer <value>`` masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return _BEARER.sub(lambda m: m.group(1) + MASK, text)

    def clear(self) -> None:
        with self._lock:
            self._secrets = ()


SECRETS = SecretRegistry()


def register_secret(secret: str | None) -> None:
    SECRETS.register(secret)


def redact(text: object) -> str:
    return SECRETS.redact(str(text))


def describe_token(token: str | None) -> str:
    """A safe name for a runner key: its credential id with the secret masked."""
    if not token:
        return "(none)"
    credential_id, dot, _ = token.partition(".")
    if dot and credential_id:
        return f"{credential_id}.{MASK}"
    return MASK
