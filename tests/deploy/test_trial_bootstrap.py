"""The compose trial's bootstrap against the real emulator on loopback: it mints a key the emulator
accepts, hands it to the command it execs, never prints it, and fails clearly otherwise."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator import EmulatorServer
from shared.config.sections import EmulatorConfig
from tests.deploy.support import DOCKER, run_tool
from tests.harness import free_port, runner_env

BOOTSTRAP = DOCKER / "trial_bootstrap.py"
# The exec'd command: leases with the key it was given and reports what the emulator said.
LEASE_WITH_GIVEN_KEY = """
import os, sys, requests
token = os.environ["RUNNER_TOKEN"]
open(sys.argv[1], "w").write(token)
reply = requests.post(os.environ["RUNNER_API_BASE"] + "/leaseWorkspaceJob", json={},
                      headers={"Authorization": "Bearer " + token}, timeout=10)
print(reply.status_code, reply.json().get("leased"))
"""


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(config=EmulatorConfig(listen="127.0.0.1:0", seed_jobs=1)) as server:
        yield server


def bootstrap(base_url: str, *command: str, wait: str | None = None) -> subprocess.CompletedProcess[str]:
    env = runner_env(RUNNER_API_BASE=base_url)
    if wait is not None:
        env["XENON_TRIAL_WAIT_SECONDS"] = wait
    return run_tool([sys.executable, str(BOOTSTRAP), *command], env=env, timeout=90)


def test_mints_a_working_key_and_execs_the_command_with_it(emulator: EmulatorServer, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    result = bootstrap(emulator.url, sys.executable, "-c", LEASE_WITH_GIVEN_KEY, str(key_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "True"]   # the emulator accepted the key and leased a job
    token = key_file.read_text()
    credential_id, _, secret = token.partition(".")
    assert f"{credential_id}.***" in result.stderr
    assert secret not in result.stderr + result.stdout


def test_waits_for_an_emulator_that_starts_later(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(BOOTSTRAP), sys.executable, "-c", "print('ran')"],
                               env=runner_env(RUNNER_API_BASE=f"http://127.0.0.1:{port}"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with EmulatorServer(config=EmulatorConfig(listen=f"127.0.0.1:{port}", seed_jobs=0)):
            stdout, stderr = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert stdout.strip() == "ran"


def test_gives_up_when_the_emulator_never_answers() -> None:
    result = bootstrap(f"http://127.0.0.1:{free_port()}", sys.executable, "-c", "print('ran')", wait="1")
    assert result.returncode == 1
    assert "did not answer within 1 s" in result.stderr
    assert "ran" not in result.stdout


@pytest.mark.parametrize("base_url", ["http://emulator:8080", "https://cloud.xenonflare.com", "", "127.0.0.1:8080"])
def test_refuses_anything_but_a_loopback_url(base_url: str) -> None:
    result = bootstrap(base_url, sys.executable, "-c", "print('ran')")
    assert result.returncode == 2
    assert "RUNNER_API_BASE must be the emulator's loopback URL" in result.stderr


def test_refuses_a_bad_wait(emulator: EmulatorServer) -> None:
    result = bootstrap(emulator.url, sys.executable, "-c", "print('ran')", wait="soon")
    assert result.returncode == 2 and "XENON_TRIAL_WAIT_SECONDS must be a number" in result.stderr


def test_usage_without_a_command(emulator: EmulatorServer) -> None:
    result = bootstrap(emulator.url)
    assert result.returncode == 2 and "usage" in result.stderr


def test_reports_a_command_that_cannot_run(emulator: EmulatorServer) -> None:
    result = bootstrap(emulator.url, "no-such-command-xenon")
    assert result.returncode == 127 and "cannot run 'no-such-command-xenon'" in result.stderr
