"""Register every value that may be a secret before the configuration is validated.

Validation errors quote values (``got "…"``); the quoting redacts through the process-wide
registry, so a secret must be known there before the first check runs, even when it sits
in the wrong field or the file is invalid. Candidates: the official env names, the secret
fields as written (``cloud.token``, ``cloud.tokens``, ``model.api_key``), the password of
every URL anywhere in the file or in those env variables, and (in ``interpolate``) the
content of every ``${file:}``.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from shared.http.redact import register_secret

# Env variables that hold credentials, with the official runner's names and the Studio token's.
SECRET_ENV = ("RUNNER_TOKEN", "OPENAI_API_KEY", "XENONFLARE_ID_TOKEN")
# Env variables that hold URLs, which may carry user:password@.
URL_ENV = ("RUNNER_API_BASE", "OPENAI_BASE_URL")
SECRET_KEYS = (("cloud", "token"), ("cloud", "tokens"), ("model", "api_key"))
# scheme://user:password@ — the whole userinfo is group 1, the password group 3. Every part has a
# length bound so that a 256 KiB string without "://" or "@" costs linear time, not quadratic.
_URL_USERINFO = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{0,31}://(([^/?#@\s:]{0,256}):([^/?#@\s]{1,1024}))@")


def register_env_candidates(env: Mapping[str, str]) -> None:
    """Register the secret env values and the passwords in the URL env values (before the file is read)."""
    for name in SECRET_ENV:
        register_secret(env.get(name, "").strip() or None)
    for name in URL_ENV:
        register_url_passwords(env.get(name, ""))


def register_file_candidates(raw: Any) -> None:
    """Register the secret fields of the interpolated file ``raw`` as written, and every URL password in it."""
    if isinstance(raw, Mapping):
        for section, key in SECRET_KEYS:
            given = raw.get(section)
            if isinstance(given, Mapping) and key in given:
                for value in _scalars(given[key]):
                    register_secret(value)
    for text in _scalars(raw):
        register_url_passwords(text)


def register_url_passwords(text: str) -> None:
    """Register the ``user:password`` and the password of every URL in ``text``."""
    for match in _URL_USERINFO.finditer(text):
        register_secret(match.group(1))
        register_secret(match.group(3))


def _scalars(value: Any) -> Iterator[str]:
    """Every scalar in ``value`` (walking mappings, keys included, and lists) as text."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _scalars(key)
            yield from _scalars(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _scalars(item)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        if isinstance(value, int) and abs(value) >= 10 ** 24:
            return   # no key is a 25-digit number, and str() of a huge int is slow or refused
        yield value if isinstance(value, str) else str(value)
