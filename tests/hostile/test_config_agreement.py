"""``check-config`` and a SIGHUP reload agree on every hostile file: one validation path.

Before: ``check-config`` passed an unwritable log file (and ``emulator.lease_seconds: 1e308``,
and duplicate keys) that a reload or ``run`` then failed on, so a systemd ``ExecReload``
guarded by ``check-config`` did not protect the pool. Each file below goes through the real
``check-config`` command and through a real pool's reload; the decisions must match, and
match what the file deserves.
"""
from __future__ import annotations

import codecs
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from emulator import EmulatorServer
from tests.harness import REPO, Runner, wait_for
from tests.integration.conftest import StartRunner

RELOADED = "SIGHUP: configuration reloaded"
REFUSED = "SIGHUP: the new configuration is invalid, keeping the running one"

Edit = Callable[[dict[str, Any], Path], bytes]   # (the running config, a scratch dir) → the bytes of the new file


def dump(config: dict[str, Any]) -> bytes:
    return yaml.safe_dump(config).encode()


def with_section(section: str, **values: object) -> Edit:
    return lambda config, _: dump({**config, section: {**config.get(section, {}), **values}})


def appended(text: str) -> Edit:
    return lambda config, _: dump(config) + text.encode()


def fifo(config: dict[str, Any], scratch: Path) -> bytes:
    path = scratch / "fifo"
    if not path.exists():
        os.mkfifo(path)
    return dump({**config, "model": {**config["model"], "summary_model": f"${{file:{path}}}"}})


def under_a_file(config: dict[str, Any], scratch: Path) -> bytes:
    blocker = scratch / "plain-file"
    blocker.write_text("x")
    return dump({**config, "metrics": {**config["metrics"], "multiproc_dir": str(blocker / "metrics")}})


def alias_bomb(config: dict[str, Any], _: Path) -> bytes:
    lines = ["unknown_section:", "  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 12)]
    return dump(config) + ("\n".join(lines) + "\n").encode()


# name, how to make the file from the running config, whether it deserves to be accepted
CASES: list[tuple[str, Edit, bool]] = [
    ("unchanged", lambda config, _: dump(config), True),
    ("3 workers", with_section("pool", workers=3), True),
    ("UTF-8 with BOM", lambda config, _: codecs.BOM_UTF8 + dump(config), True),
    ("log file in a writable dir",
     lambda config, scratch: dump({**config, "logging": {"file": str(scratch / "a.log")}}), True),
    ("not UTF-8", lambda config, _: b"pool:\n  workers: \xff\n", False),
    ("Latin-1", lambda config, _: dump(config) + "# caf\u00e9\n".encode("latin-1"), False),
    ("UTF-16", lambda config, _: dump(config).decode().encode("utf-16"), False),
    ("log file in a missing dir", with_section("logging", file="/nonexistent/dir/x.log"), False),
    ("log file is a directory", lambda config, scratch: dump({**config, "logging": {"file": str(scratch)}}), False),
    ("log file cannot be appended to", with_section("logging", file="/proc/version"), False),
    ("metrics dir under a file", under_a_file, False),
    ("lease_seconds 1e308", with_section("emulator", lease_seconds="1e308"), False),
    ("alias bomb under an unknown key", alias_bomb, False),
    ("500-deep nesting", appended("deep: " + "[" * 500 + "]" * 500 + "\n"), False),
    ("duplicate key", appended("pool: {workers: 1}\n"), False),
    ("4,301-digit number",
     lambda config, _: dump(config).replace(b"  workers: 1\n", b"  workers: " + b"9" * 4301 + b"\n"), False),
    ("number out of range", with_section("pool", max_jobs_per_worker=int("9" * 40)), False),
    ("size that overflows", with_section("pool", max_worker_memory="9" * 400 + "TiB"), False),
    ("${file:/dev/zero}", with_section("model", summary_model="${file:/dev/zero}"), False),
    ("${file:} of a FIFO", fifo, False),
    ("unknown key", with_section("pool", wrokers=2), False),
    ("timestamp out of range", appended("when: 2001-13-45\n"), False),
]


def reload_decision(runner: Runner) -> bool:
    """SIGHUP the runner; True when it reloaded, False when it refused (it must keep running either way)."""
    before = runner.log().count(RELOADED), runner.log().count(REFUSED)

    def decided() -> tuple[int, int] | None:
        runner.expect_running()
        log = runner.log()
        now = log.count(RELOADED), log.count(REFUSED)
        return now if now != before else None

    runner.signal(signal.SIGHUP)
    reloaded, _ = wait_for(decided, what=lambda: f"the reload's decision\n{runner.log_tail()}")
    return reloaded > before[0]


def check_config_decision(runner: Runner) -> bool:
    done = subprocess.run([sys.executable, "-m", "supervisor", "check-config", "--config", str(runner.config_path)],
                          cwd=REPO, env=runner.env, capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 2) and "Traceback" not in done.stderr, done.stderr[-2000:]
    return done.returncode == 0


def test_check_config_and_reload_agree_on_every_hostile_file(
        cloud: EmulatorServer, start_runner: StartRunner, tmp_path: Path) -> None:
    runner = start_runner(workers=1)
    good = dict(runner.config)
    decisions = {}
    for name, edit, deserved in CASES:
        runner.config_path.write_bytes(edit(good, tmp_path))
        decisions[name] = (check_config_decision(runner), reload_decision(runner), deserved)

    disagreements = {name: d for name, d in decisions.items() if len(set(d)) > 1}
    assert disagreements == {}, "(check-config, reload, deserved) differ"
    accepted = sum(deserved for _, _, deserved in CASES)
    assert runner.metric("xenon_runner_config_reloads_total", result="ok") == accepted
    assert runner.metric("xenon_runner_config_reloads_total", result="error") == len(CASES) - accepted
    runner.signal(signal.SIGTERM)
    assert runner.wait_exit(timeout=30) == 0
