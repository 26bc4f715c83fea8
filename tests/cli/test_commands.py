"""The command line as operators use it: help, status, emulator, and run's refusals."""
from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from emulator import EmulatorServer
from shared.config.sections import EmulatorConfig
from tests.harness import REPO, Runner, free_port, runner_env, wait_for


def cli(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "supervisor", *args], cwd=REPO, env=runner_env(**env),
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("command", [[], ["run"], ["check-config"], ["status"], ["emulator"],
                                     ["instances"], ["instances", "create"]])
def test_every_command_has_help_with_examples_or_options(command: list[str]) -> None:
    done = cli(*command, "--help")
    assert done.returncode == 0, done.stderr
    assert "usage: xenon-runner" in done.stdout


def test_an_unknown_command_is_a_usage_error() -> None:
    done = cli("launch")
    assert done.returncode == 2 and "invalid choice" in done.stderr and "Traceback" not in done.stderr


def test_run_refuses_a_bad_config_with_exit_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("cloud: {base_url: embedded}\nmodel: {name: builtin}\npool: {workers: -3}\n")
    done = cli("run", "--config", str(config))
    assert done.returncode == 2
    assert "pool.workers: expected an integer between 1 and 512, got -3" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_flags_win_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("cloud: {base_url: embedded}\nmodel: {name: builtin}\n")
    done = cli("run", "--config", str(config), "--workers", "0")
    assert done.returncode == 2 and "pool.workers (from flag)" in done.stderr



def test_jobs_per_worker_flag_is_validated_with_its_bound_and_shown_in_help(tmp_path: Path) -> None:
    config = tmp_path / "local.yaml"
    config.write_text("cloud: {base_url: embedded}\nmodel: {name: builtin}\n")
    done = cli("run", "--config", str(config), "--jobs-per-worker", "65")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "pool.jobs_per_worker (from flag): expected an integer between 1 and 64, got 65" in done.stderr
    assert "--jobs-per-worker N" in cli("run", "--help").stdout


def test_run_exits_2_when_the_metrics_address_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "local.yaml"
        config.write_text("cloud: {base_url: embedded}\nmodel: {name: builtin}\nemulator: {seed_jobs: 0}\n")
        done = cli("run", "--config", str(config), "--metrics-listen", f"127.0.0.1:{port}")
    assert done.returncode == 2
    assert f"cannot listen on metrics.listen 127.0.0.1:{port}" in done.stderr


@pytest.fixture
def running_pool(tmp_path: Path) -> Iterator[tuple[Runner, str]]:
    with EmulatorServer(config=EmulatorConfig(listen="127.0.0.1:0", seed_jobs=0)) as cloud:
        token = cloud.create_instance(kind="global")["runnerToken"]
        with Runner(tmp_path, cloud_url=cloud.url, token=token, workers=2, model={"name": "builtin"}) as runner:
            runner.wait_ready()
            yield runner, token


def test_status_renders_the_pool_as_a_table_and_as_json(running_pool: tuple[Runner, str]) -> None:
    runner, token = running_pool
    table = cli("status", "--url", runner.url)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert "2 idle" in lines[0] and "model builtin" in lines[0]
    assert lines[1].split()[:4] == ["slot", "pid", "state", "jobs"]
    assert [line.split()[2:4] for line in lines[2:]] == [["idle", "0/1"], ["idle", "0/1"]]   # state, jobs
    raw = cli("status", "--url", runner.url, "--json")
    document = json.loads(raw.stdout)
    assert [worker["slot"] for worker in document["workers"]] == [0, 1]
    secret = token.split(".", 1)[1]
    assert secret not in table.stdout and secret not in raw.stdout


def test_status_says_what_to_check_when_nothing_answers() -> None:
    done = cli("status", "--url", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert "cannot read" in done.stderr and "metrics.listen" in done.stderr and "Traceback" not in done.stderr


def test_the_emulator_command_serves_until_sigterm() -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "supervisor", "emulator", "--listen", f"127.0.0.1:{port}",
                                "--seed-jobs", "3"], cwd=REPO, env=runner_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None   # stdout=PIPE
        banner = [process.stdout.readline() for _ in range(3)]
        assert banner[0].strip() == f"XenonFlare cloud emulator on http://127.0.0.1:{port}"
        key = banner[2].split(":", 1)[1].strip()
        stats = wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/admin/stats", timeout=5).json(),
                         what="the emulator's admin API")
        assert stats
        lease = requests.post(f"http://127.0.0.1:{port}/leaseWorkspaceJob", json={},
                              headers={"Authorization": f"Bearer {key}"}, timeout=5).json()
        assert lease["leased"] is True     # the printed key works and the seeded jobs are there
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)
