"""Keep secrets (runner keys, Firebase ID tokens, model API keys) out of every text we emit.

One process-wide registry: whoever learns a secret registers it (the config loader, the
clients), and log records, exception texts and status fields pass through ``redact``
before they leave the process. A runner key ``credentialId.secret`` is shown as
``credentialId.***`` so operators can still tell keys apart.

Two rules need no registry: ``Bearer <value>`` and the password of a URL's userinfo
(``scheme://user:pass@host`` → ``scheme://user:***@host``; a userinfo with no password is
masked whole, as tokens often travel as the user name) are masked wherever they appear, and
such a password is registered so it is masked on its own from then on too.

Text is always redacted *before* it is cut (``redact_and_cut``): cutting first can leave half
a secret that no longer matches the registry. As defence in depth against text that someone
else cut, a trailing prefix of a secret (``MIN_PARTIAL`` characters or more) is masked too.
"""
from __future__ import annotations

import re
import threading

from .escape import cut_point, marker

MASK = "***"
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words
MIN_PARTIAL = 6  # characters: a cut-off secret prefix this long is masked at the end of a text
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
# scheme://userinfo@ — the userinfo runs to the last '@' before the end of the authority. The scheme is
# bounded (32 characters) so a long run of letters costs linear time, not quadratic.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,31}://)([^\s/?#@]*(?:@[^\s/?#@]*)*)@(?=[^\s/?#@]*(?:[\s/?#]|$))")


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
        """``text`` with every known secret, URL password and ``Bearer <value>`` masked."""
        if "://" in text:
            text = _URL_USERINFO.sub(self._mask_userinfo, text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return _BEARER.sub(lambda m: m.group(1) + MASK, text)

    def _mask_userinfo(self, match: re.Match[str]) -> str:
        """``scheme://user:***@`` for one URL's userinfo; the password is registered."""
        user, colon, password = match.group(2).partition(":")
        if not colon:
            return f"{match.group(1)}{MASK}@" if user else match.group(0)
        self.register(password)
        return f"{match.group(1)}{user}:{MASK}@"

    def mask_partial_tail(self, text: str) -> str:
        """``text`` with a trailing prefix (``MIN_PARTIAL``+ characters) of a known secret masked."""
        for secret in self._secrets:
            start = max(0, len(text) - len(secret) + 1)
            while (start := text.find(secret[0], start)) != -1 and len(text) - start >= MIN_PARTIAL:
                if secret.startswith(text[start:]):
                    return text[:start] + MASK
                start += 1
        return text

    def clear(self) -> None:
        with self._lock:
            self._secrets = ()


SECRETS = SecretRegistry()


def register_secret(secret: str | None) -> None:
    SECRETS.register(secret)


def redact(text: object) -> str:
    return SECRETS.redact(str(text))


def redact_and_cut(text: object, limit: int) -> str:
    """``text`` redacted, then cut to at most ``limit`` characters (with a ``…[+N chars]`` marker).

    The order matters: a secret that straddles the cut is masked whole before the cut, and
    a secret prefix left at the end by an earlier, careless cut is masked as well.
    """
    redacted = SECRETS.redact(str(text))
    keep = cut_point(redacted, limit)
    head = SECRETS.mask_partial_tail(redacted[:keep])
    return head if keep == len(redacted) else head + marker(len(redacted) - keep)


def describe_token(token: str | None) -> str:
    """A safe name for a runner key: its credential id with the secret masked."""
    if not token:
        return "(none)"
    credential_id, dot, _ = token.partition(".")
    if dot and credential_id:
        return f"{credential_id}.{MASK}"
    return MASK
