"""Defect 7: the config loader is bounded; every hostile file is a ConfigError naming where, never a crash.

Before: alias bombs (even under unknown keys) ran for 77 s into MemoryError, 500-deep nesting
raised RecursionError, non-UTF-8 / Latin-1 / UTF-16 files a UnicodeDecodeError traceback,
4,300+-digit numbers ValueError, overflowing sizes OverflowError, ``${file:/dev/zero}`` read
2.6 GB, ``${file:}`` of a FIFO hung, ``emulator.lease_seconds: 1e308`` passed, and duplicate
keys silently kept the last value.
"""
from __future__ import annotations

import codecs
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor.config import ConfigError, RunnerConfig, load_config
from supervisor.config.files import MAX_CONFIG_BYTES, MAX_SECRET_FILE_BYTES
from supervisor.config.yaml_loader import MAX_ALIASES, MAX_DEPTH
from tests.harness import REPO, runner_env

BASE = "cloud: {base_url: embedded}\nmodel: {name: builtin}\n"
MEMORY_CAP = 512 * 2 ** 20   # bytes of address space for a check-config run: a bomb must fail fast, not swap


def alias_bomb(levels: int = 12, under: str = "unknown_section:", base: str = BASE, indent: str = "  ") -> str:
    """The "billion laughs": each level lists the previous one 9 times (9^12 values once expanded)."""
    lines = [under, f"{indent}l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        lines.append(f"{indent}l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]")
    return base + "\n".join(lines) + "\n"


def refusal(path: Path, data: bytes, env: dict[str, str] | None = None) -> str:
    """The ConfigError text for ``data`` written to ``path``; fails if it loads or raises anything else."""
    path.write_bytes(data)
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), env=env or {})
    return str(caught.value)


def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("data, expected", [
    (alias_bomb().encode(), "unknown_section.l5: "),   # a bomb under an unknown key
    (alias_bomb(under="model:\n  name: builtin\n  options:", base="cloud: {base_url: embedded}\n",
                indent="    ").encode(),
     "model.options.l5: "),
    ((BASE + "x: &a [1]\n" + "".join(f"y{n}: *a\n" for n in range(MAX_ALIASES + 1))).encode(),
     f"more than {MAX_ALIASES} aliases"),
    ((BASE + "a: &a [1, *a]\n").encode(), "a[1]: "),
    ((BASE + "model:\n  options: " + "[" * 500 + "]" * 500 + "\n").encode(), f"nested more than {MAX_DEPTH} levels"),
    ((BASE + "pool:\n  workers: " + "1" * 5000 + "\n").encode(), "pool.workers: "),
    ((BASE + "pool:\n  max_worker_memory: " + "9" * 400 + "GiB\n").encode(), "pool.max_worker_memory: expected"),
    ((BASE + "pool:\n  max_worker_memory: '" + "9" * 300 + ".5TiB'\n").encode(), "pool.max_worker_memory: expected"),
    ((BASE + "emulator:\n  lease_seconds: 1e308\n").encode(), "emulator.lease_seconds: expected"),
    ((BASE + "emulator:\n  lease_seconds: 1.0e+308\n").encode(), "emulator.lease_seconds: expected"),
    ((BASE + "pool:\n  workers: 2\n  workers: 3\n").encode(), 'pool.workers: '),
    ((BASE + "pool: {workers: 2}\npool: {workers: 3}\n").encode(), 'pool: '),
    (b"pool:\n  workers: \xff\n", "--config: "),
    ("pool:\n  start_method: 'forkserv\u00e9'\n".encode("latin-1"), "byte 0xe9 at byte offset 31 (line 2)"),
    (codecs.BOM_UTF16_LE + (BASE + "pool: {workers: 2}\n").encode("utf-16-le"), "UTF-16"),
    ((BASE + "pool: {workers: 2}\n").encode("utf-16-le"), "NUL byte at byte offset 1"),
    (b"#" * (MAX_CONFIG_BYTES + 1), f"larger than {MAX_CONFIG_BYTES} bytes"),
    ((BASE + "pool:\n  workers: '${file:/dev/zero}'\n").encode(), "pool.workers: /dev/zero is not a regular file"),
    ((BASE + "a: 2001-13-45\n").encode(), "!!timestamp value YAML cannot convert"),
    ((BASE + "metrics:\n  listen: '127.0.0.1:\u00b2'\n").encode(), "metrics.listen: expected HOST:PORT"),
    (b"cloud: {base_url: embedded}\nmodel: {name: builtin, base_url: 'http://[::1'}\n", "model.base_url: "),
    ((BASE + "pool:\n  workers: '" + "7" * 5000 + "'\n").encode(), "more than 30 digits"),
])
def test_each_hostile_file_is_a_config_error_naming_where(tmp_path: Path, data: bytes, expected: str) -> None:
    text = refusal(tmp_path / "config.yaml", data)
    assert expected in text
    assert len(text) < 2000, "the error stays short whatever the input"


def test_duplicate_keys_name_the_key_path_and_line(tmp_path: Path) -> None:
    text = refusal(tmp_path / "config.yaml", (BASE + "pool:\n  workers: 2\n  workers: 3\n").encode())
    assert text == (f'pool.workers: {tmp_path / "config.yaml"} (line 5): the key "workers" appears twice in one '
                    "mapping")


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(codecs.BOM_UTF8 + (BASE + "pool: {workers: 3}\n").encode())
    assert load_config(str(path), env={}).pool.workers == 3


def test_file_references_read_only_small_regular_files(tmp_path: Path) -> None:
    pipe, big = fifo(tmp_path), tmp_path / "big"
    big.write_bytes(b"k" * (MAX_SECRET_FILE_BYTES + 1))
    tokens = f"['${{file:{pipe}}}', '${{file:{big}}}', '${{file:{tmp_path}}}']"
    text = refusal(tmp_path / "config.yaml", f"cloud: {{tokens: {tokens}}}\nmodel: {{name: builtin}}\n".encode())
    assert f"cloud.tokens[0]: {pipe} is not a regular file (it is a FIFO)" in text
    assert f"cloud.tokens[1]: {big} is larger than {MAX_SECRET_FILE_BYTES} bytes" in text
    assert f"cloud.tokens[2]: {tmp_path} is not a regular file (it is a directory)" in text


def test_check_config_refuses_an_alias_bomb_with_exit_2_within_a_small_memory_cap(tmp_path: Path) -> None:
    """The real command, under a 512 MiB address-space cap: exit 2 naming the key, no MemoryError traceback."""
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    done = subprocess.run([sys.executable, "-m", "supervisor", "check-config", "--config", str(path)], cwd=REPO,
                          env=runner_env(), capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP)))
    assert done.returncode == 2, done.stderr[-2000:]
    assert "unknown_section.l5" in done.stderr and "alias bomb" in done.stderr
    assert "Traceback" not in done.stderr


# Fragments a YAML file is made of, hostile ones included: anchors and aliases, deep flow nesting,
# huge numbers, tags, references, control characters, duplicate keys.
FRAGMENTS = st.sampled_from([
    "pool:", "  workers: ", "cloud:", "model:", "  options:", "logging:", "  file: ", "emulator:",
    "  lease_seconds: ", "&a ", "*a", "&b [*a, *a, *a]", "[", "]", "{", "}", ", ", ": ", "- ", "\n", "  ",
    "1e308", "9" * 60, "-1", "0x1F", "!!int ", "!!binary ", "!!timestamp ", "!!python/object:os.system ",
    "${file:/dev/zero}", "${file:/proc/self/environ}", "${HOME}", "${", "\x1b[31m", "'", '"', "\t", "<<: *a",
    "? ", "---", "...", "%YAML 1.1", "2001-13-45", "~", "true", "512MiB", "99999999999999999999TiB", "http://u:p@h",
    "\nwhen: 2001-13-45\n", "\nn: !!int ''\n", "\nbig: " + "9" * 4400 + "\n", "\n\xe9t\xe9: 1\n",
])


@settings(max_examples=150)
@given(pieces=st.lists(FRAGMENTS, max_size=40))
def test_any_yaml_made_of_hostile_fragments_loads_or_is_a_config_error(tmp_path_factory: pytest.TempPathFactory,
                                                                        pieces: list[str]) -> None:
    path = tmp_path_factory.mktemp("yaml") / "config.yaml"
    path.write_text(BASE + "".join(pieces))
    try:
        assert isinstance(load_config(str(path), env={}), RunnerConfig)
    except ConfigError as exc:
        assert all(problem.message for problem in exc.problems)


@settings(max_examples=150)
@given(data=st.binary(max_size=300))
def test_any_bytes_load_or_are_a_config_error(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "config.yaml"
    path.write_bytes(BASE.encode() + data)
    try:
        assert isinstance(load_config(str(path), env={}), RunnerConfig)
    except ConfigError as exc:
        assert all(problem.message for problem in exc.problems)
