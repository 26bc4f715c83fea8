"""compose.yaml's ``trial`` profile run for real with podman-compose on the image the session built.

The file is used as written (read-only root filesystem, tmpfs mounts, restart policy, the trial
runner in the emulator's network namespace) but for two things an override file changes: the
published ports (free host ports on 127.0.0.1 instead of 8080 and 9464, which other pools on a
shared machine may hold) and the image tag (the session's build). Prometheus and Grafana are
not started: their images come from a registry CI cannot reach. Times are seconds.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.config.sections import EmulatorConfig
from tests.deploy.containers import EMULATOR_PORT, METRICS_PORT, STOP_GRACE, http_get, metric_value, unique
from tests.deploy.engine import Podman
from tests.deploy.support import DOCKER
from tests.harness import free_port, wait_for

pytestmark = [pytest.mark.image, pytest.mark.timeout(240, func_only=True)]

COMPOSE = DOCKER / "compose.yaml"
TRIAL_SERVICES = ("emulator", "runner-trial")
SEEDED_JOBS = EmulatorConfig().seed_jobs   # the default: the emulator's compose command sets none


def podman_compose() -> str:
    """podman-compose from the project's venv (the ``test`` extra) or PATH, else skip."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("podman-compose", path=path)
    if not found:
        pytest.skip("podman-compose not installed (pip install -e '.[test]' brings it)")
    return found


class Trial:
    """One compose project of the trial profile with its own name, ports and override file."""

    def __init__(self, podman: Podman, folder: Path, image: str) -> None:
        self.podman = podman
        self.project = unique("xrt")
        self.emulator_port, self.metrics_port = free_port(), free_port()
        self.override = folder / "compose.override.yaml"
        # `!override` replaces the list instead of appending to it (compose spec merge rules).
        self.override.write_text(
            "services:\n  emulator:\n    ports: !override\n"
            f'      - "127.0.0.1:{self.emulator_port}:{EMULATOR_PORT}"\n'
            f'      - "127.0.0.1:{self.metrics_port}:{METRICS_PORT}"\n')
        self.env = podman.env() | {"XENON_RUNNER_TAG": image.split(":", 1)[1]}
        self.executable = podman_compose()

    def compose(self, *args: str, timeout: float = 180) -> str:
        argv = [self.executable, "--project-name", self.project, "--file", str(COMPOSE), "--file",
                str(self.override), "--profile", "trial", *args]
        result = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"{' '.join(args)}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
        return result.stdout

    def container(self, service: str) -> dict[str, Any]:
        inspected: list[dict[str, Any]] = json.loads(self.podman.run("inspect", f"{self.project}_{service}_1").stdout)
        return inspected[0]

    def logs(self, service: str) -> str:
        result = self.podman.run("logs", f"{self.project}_{service}_1", check=False)
        return (result.stdout + result.stderr)[-3000:]


@pytest.fixture
def trial(podman: Podman, runner_image: str, tmp_path: Path) -> Iterator[Trial]:
    project = Trial(podman, tmp_path, runner_image)
    try:
        yield project
    finally:
        project.compose("down", "--timeout", "5")


def test_trial_profile_completes_its_jobs_on_a_read_only_root(trial: Trial) -> None:
    trial.compose("up", "--detach", *TRIAL_SERVICES)

    def stats() -> dict[str, Any] | None:
        status, body = http_get(trial.emulator_port, "/admin/stats")
        return json.loads(body) if status == 200 else None

    def all_completed() -> bool:
        # A crash-looping runner (restart: on-failure:5) fails the test at once, not at the timeout.
        assert trial.container("runner-trial")["RestartCount"] == 0, trial.logs("runner-trial")
        completed: int | None = (stats() or {}).get("jobs", {}).get("completed")
        return completed == SEEDED_JOBS

    wait_for(all_completed, timeout=120, interval=0.5,
             what=lambda: f"{SEEDED_JOBS} completed trial jobs; runner logs:\n{trial.logs('runner-trial')}")
    runner = trial.container("runner-trial")
    assert runner["HostConfig"]["ReadonlyRootfs"] is True
    assert runner["State"]["Running"] and runner["RestartCount"] == 0, trial.logs("runner-trial")
    final = stats()
    assert final is not None and final["jobs"]["failed"] == 0 and final["instancesCreated"] >= 1
    # The trial runner's /metrics, published through the emulator's namespace, counts the same jobs.
    metrics = http_get(trial.metrics_port, "/metrics")[1]
    assert metric_value(metrics, 'xenon_runner_jobs_total{outcome="completed"}') == SEEDED_JOBS
    trial.compose("stop", "--timeout", str(int(STOP_GRACE)), "runner-trial", timeout=STOP_GRACE + 60)
    assert trial.container("runner-trial")["State"]["ExitCode"] == 0, trial.logs("runner-trial")
