"""How config errors quote values (redact → escape → cut) and the path checks against the machine."""
from __future__ import annotations

import os
from pathlib import Path

from shared.http.redact import register_secret
from supervisor.config.errors import QUOTE_CHARS, ConfigError, Problem, quote
from supervisor.config.usable import directory_problem, log_file_problem


def test_quote_redacts_before_it_cuts_so_no_part_of_a_secret_survives() -> None:
    secret = "sk-unit-" + "Z7" * 40
    register_secret(secret)
    shown = quote("p" * 50 + secret)
    assert shown == '"' + "p" * 50 + '***"'
    assert "Z7Z7Z7" not in shown


def test_quote_escapes_control_characters_and_caps_the_rest() -> None:
    assert quote("a\nb\x1b[31m\u2028\"") == '"a\\nb\\u001b[31m\\u2028\\""'
    assert quote("x" * 100) == '"' + "x" * QUOTE_CHARS + '"…'
    assert quote(10 ** 5000) == "a number of more than 24 digits"
    assert quote(["list"]) == "list" and quote(True) == "true" and quote(2.5) == "2.5"


def test_an_unregistered_key_shaped_string_is_described_not_shown() -> None:
    assert quote("cred9.Ab12Cd34Ef56Gh78") == "a 22-character string (not shown: it looks like a key)"
    assert quote("/var/log/xenon-runner/runner2024.log") == '"/var/log/xenon-runner/runner2024.log"'


def test_config_error_escapes_paths_and_messages() -> None:
    error = ConfigError([Problem("pool.\nforged", "bad\r\nERROR line")])
    assert str(error) == "pool.\\nforged: bad\\r\\nERROR line"


def test_log_file_must_be_appendable_or_creatable(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    assert log_file_problem(str(tmp_path / "new.log")) is None
    assert "does not exist" in (log_file_problem(str(tmp_path / "missing" / "x.log")) or "")
    assert "is a directory" in (log_file_problem(str(tmp_path)) or "")
    assert "FIFO" in (log_file_problem(str(tmp_path / "fifo")) or "")
    assert not (tmp_path / "new.log").exists(), "checking creates nothing"


def test_metrics_dir_must_be_or_become_a_writable_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert directory_problem(str(tmp_path / "a" / "b")) is None
    assert "is not a directory" in (directory_problem(str(tmp_path / "file" / "sub")) or "")
    assert not (tmp_path / "a").exists(), "checking creates nothing"
