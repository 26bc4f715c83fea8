"""Defect 5: a configuration error never echoes a secret, whole or in part.

Before: the secret registry was filled only after a config loaded, so ``check-config``
printed ``got "abc.SECRETVALUE123"`` for a runner key in a wrong-typed field, a value was cut
at 60 characters before any redaction, and a ``${file:/proc/self/environ}`` error printed the
environment. Now every candidate secret is registered before validation (runner keys, API
keys, URL passwords, ``${file:}`` contents, RUNNER_TOKEN / OPENAI_API_KEY /
XENONFLARE_ID_TOKEN), quoted values are redacted before they are cut, and a value read
through ``${file:}`` is never quoted.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor.config import ConfigError, load_config
from tests.harness import REPO, runner_env

PADDING = "x" * 50   # before a secret: the old 60-character cut kept the secret's first 10 characters
# Where a secret may be pasted by mistake: every kind of field (int, float, size, choice, listen,
# url, plain string, list, model name) and a key name. "{}" is the value.
PLACES = (("pool", "workers: {}"), ("pool", "poll_interval: {}"), ("pool", "max_worker_memory: {}"),
          ("pool", "start_method: {}"), ("logging", "level: {}"), ("metrics", "listen: {}"),
          ("model", "base_url: {}"), ("model", "name: {}"), ("cloud", "tokens: [{}, {}]"), ("pool", "{}: 1"),
          ("emulator", "lease_seconds: {}"))
BASE = "cloud: {base_url: embedded}\nmodel: {name: builtin}\n"


def windows(secret: str, size: int = 6) -> list[str]:
    """Every ``size``-character substring of ``secret``."""
    return [secret[i:i + size] for i in range(len(secret) - size + 1)]


def leaked(secret: str, text: str) -> list[str]:
    return [part for part in windows(secret) if part in text]


def check_config(tmp_path: Path, text: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``xenon-runner check-config`` on ``text`` as a real process, in a clean environment plus ``env``."""
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return subprocess.run([sys.executable, "-m", "supervisor", "check-config", "--config", str(path)], cwd=REPO,
                          env=runner_env(**env), capture_output=True, text=True, timeout=60)


RUNNER_KEY = "cred-4711.SECRETVALUE123abcdef"
LONG_KEY = "sk-proj-" + "Q9" * 40   # longer than the 60-character cut


@pytest.mark.parametrize("text, env, secret, key", [
    (BASE + "pool: {workers: cred-4711.SECRETVALUE123abcdef}\n", {"RUNNER_TOKEN": RUNNER_KEY}, RUNNER_KEY,
     "pool.workers"),
    (BASE + "pool: {workers: '${RUNNER_TOKEN}'}\n", {"RUNNER_TOKEN": RUNNER_KEY}, RUNNER_KEY, "pool.workers"),
    (BASE + f"logging: {{format: {PADDING}{LONG_KEY}}}\n", {"OPENAI_API_KEY": LONG_KEY}, LONG_KEY, "logging.format"),
    (f"cloud: {{token: {RUNNER_KEY}}}\nmodel: {{name: builtin, api_key: {LONG_KEY}}}\n"
     f"pool: {{start_method: {PADDING}{LONG_KEY}, workers: {RUNNER_KEY}}}\n", {}, LONG_KEY + RUNNER_KEY,
     "pool.start_method"),
    (BASE + "metrics: {listen: eyJhbGciOiJSUzI1NiJ9.idtoken}\n",
     {"XENONFLARE_ID_TOKEN": "eyJhbGciOiJSUzI1NiJ9.idtoken"}, "eyJhbGciOiJSUzI1NiJ9.idtoken", "metrics.listen"),
    ("cloud: {base_url: embedded}\n"
     "model: {name: openai-chat, base_url: 'ftp://runner:hunter2-hunter2@model.example.com/v1'}\n",
     {"OPENAI_API_KEY": "k" * 8}, "hunter2-hunter2", "model.base_url"),
])
def test_check_config_never_prints_a_secret_put_in_the_wrong_place(
        tmp_path: Path, text: str, env: dict[str, str], secret: str, key: str) -> None:
    done = check_config(tmp_path, text, **env)
    assert done.returncode == 2, done.stderr
    assert key in done.stderr
    assert "Traceback" not in done.stderr
    assert leaked(secret, done.stdout + done.stderr) == []


def test_a_file_reference_error_never_prints_the_file(tmp_path: Path) -> None:
    marker = "ENVIRONMENT-MARKER-0451-do-not-print"
    environ = check_config(tmp_path, BASE + "pool: {workers: '${file:/proc/self/environ}'}\n", XENON_MARKER=marker)
    secret_file = tmp_path / "token"
    secret_file.write_text("not-a-number-but-a-secret-0451\n")
    content = check_config(tmp_path, BASE + f"pool: {{workers: '${{file:{secret_file}}}'}}\n")

    for done in (environ, content):
        assert done.returncode == 2 and "pool.workers" in done.stderr and "Traceback" not in done.stderr
    assert "/proc/self/environ" in environ.stderr and "XENON_MARKER" not in environ.stderr
    assert leaked(marker, environ.stderr) == []
    assert leaked("not-a-number-but-a-secret-0451", content.stderr) == []
    assert "(value hidden)" in content.stderr


def secret_of(seed: bytes, length: int) -> str:
    """A key-shaped secret no error text could contain by chance (pseudo-random hex)."""
    return "sk-" + hashlib.sha256(seed).hexdigest()[:length]


@settings(max_examples=60)
@given(seed=st.binary(min_size=1, max_size=8), length=st.integers(min_value=8, max_value=64),
       place=st.sampled_from(PLACES), source=st.sampled_from(("RUNNER_TOKEN", "OPENAI_API_KEY",
                                                              "XENONFLARE_ID_TOKEN", "cloud.token", "model.api_key",
                                                              "url", "file", "reference")),
       padded=st.booleans())
def test_no_registered_secret_appears_in_any_config_error(
        tmp_path_factory: pytest.TempPathFactory, seed: bytes, length: int, place: tuple[str, str], source: str,
        padded: bool) -> None:
    """A secret from any source, pasted anywhere (whole, after 50 characters, in a URL): never in the error."""
    secret = secret_of(seed, length)
    value = (PADDING if padded else "") + secret
    env: dict[str, str] = {}
    sections: dict[str, list[str]] = {"emulator": ["seed_jobs: -1"]}   # always one error besides
    if source in ("RUNNER_TOKEN", "OPENAI_API_KEY", "XENONFLARE_ID_TOKEN"):
        env[source] = secret
    elif source == "cloud.token":
        sections["cloud"] = [f"token: {secret}"]
    elif source == "model.api_key":
        sections["model"] = [f"api_key: {secret}"]
    elif source == "url":
        value = f"'https://user:{secret}@example.com/{'x' * (50 if padded else 0)}'"
    elif source == "file":
        secret_file = tmp_path_factory.mktemp("secret") / "key"
        secret_file.write_text(secret)
        value = f"'${{file:{secret_file}}}'"
    else:   # an env variable of the operator's naming, used as the runner key and pasted elsewhere
        env["MY_KEY"] = secret
        sections["cloud"] = ["token: '${MY_KEY}'"]
        value = "'${MY_KEY}'"
    section, entry = place
    sections.setdefault(section, []).append(entry.format(value, value))
    path = tmp_path_factory.mktemp("config") / "config.yaml"
    path.write_text("".join(f"{name}: {{{', '.join(entries)}}}\n" for name, entries in sections.items()))
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), env=env)
    assert "emulator.seed_jobs" in str(caught.value)
    assert leaked(secret, str(caught.value)) == []


def test_check_config_ok_line_masks_a_url_password(tmp_path: Path) -> None:
    done = check_config(tmp_path, "cloud: {base_url: 'https://runner:pw-hunter2-0451@cloud.example.com', "
                                  f"token: {RUNNER_KEY}}}\nmodel: {{name: builtin}}\n")
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout and "cloud.example.com" in done.stdout
    assert leaked("pw-hunter2-0451", done.stdout + done.stderr) == []
