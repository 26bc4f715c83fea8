"""The container image, built from deploy/docker/Dockerfile and run for real with podman.

Each test starts its own container on the image the session built (see conftest's
``runner_image``), publishes ports on 127.0.0.1 only and removes the container after. The
pool runs on the embedded emulator (config/local.yaml: 12 seeded jobs, builtin model) so no
cloud or model account is needed. Times are seconds.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.containers import EMULATOR_PORT, METRICS_PORT, STOP_GRACE, Container, http_get, metric_value
from tests.deploy.engine import Podman
from tests.harness import REPO, wait_for

pytestmark = [pytest.mark.image, pytest.mark.timeout(240, func_only=True)]

IMAGE_UID = 10001   # the Dockerfile's USER
IMAGE_USER = "xenon"   # its name in the image
BAKED_CONFIG = "/etc/xenon-runner/config.yaml"
DEMO_CONFIG = REPO / "config" / "local.yaml"
SEEDED_JOBS: int = yaml.safe_load(DEMO_CONFIG.read_text())["emulator"]["seed_jobs"]
COMPLETED = 'xenon_runner_jobs_total{outcome="completed"}'
# The image's own command (its CMD); the configs the tests mount choose the builtin model.
RUN_COMMAND = ("run", "--config", BAKED_CONFIG, "--metrics-listen", f"0.0.0.0:{METRICS_PORT}")
READ_ONLY = ("--read-only", "--tmpfs", "/tmp")   # as compose.yaml and the Kubernetes manifest run it


@pytest.fixture
def start(podman: Podman, runner_image: str) -> Iterator[Callable[..., Container]]:
    """Start containers of the image (``start(*args, **Container options)``); all removed after the test."""
    started: list[Container] = []

    def starter(*args: str, **options: Any) -> Container:   # options: Container's keywords, passed through
        started.append(Container(podman, runner_image, *args, **options))
        return started[-1]

    yield starter
    for container in started:
        container.remove()


@pytest.fixture
def demo_pool(start: Callable[..., Container]) -> Container:
    """The pool on the embedded emulator, read-only root, the demo config mounted over the baked one."""
    return start(*RUN_COMMAND, options=READ_ONLY, mounts={DEMO_CONFIG: BAKED_CONFIG})


def process_status(podman: Podman, container: Container, pid: str) -> dict[str, str]:
    """/proc/PID/status inside the container as a dict (Name, Uid, PPid, ...)."""
    text = podman.run("exec", container.name, "cat", f"/proc/{pid}/status").stdout
    return {key: value.strip() for key, _, value in (line.partition(":") for line in text.splitlines())}


def test_runs_as_non_root_with_tini_as_pid_1(podman: Podman, demo_pool: Container) -> None:
    demo_pool.wait_http("/healthz")
    init = process_status(podman, demo_pool, "1")
    assert init["Name"] == "tini"
    assert init["Uid"].split() == [str(IMAGE_UID)] * 4   # real, effective, saved, filesystem
    rows = [line.split() for line in podman.run("top", demo_pool.name, "pid", "ppid", "user", "comm").stdout
            .splitlines()[1:]]
    assert [row[3] for row in rows if row[1] == "1"] == ["xenon-runner"]   # tini's one child: the supervisor
    assert len(rows) > 2 and {row[2] for row in rows} == {IMAGE_USER}, rows   # workers too, all unprivileged


def test_health_readiness_and_metrics_answer(demo_pool: Container) -> None:
    assert demo_pool.wait_http("/healthz") is not None
    demo_pool.wait_http("/readyz")
    metrics = demo_pool.wait_http("/metrics")
    assert metric_value(metrics, COMPLETED) is not None, metrics[:2000]
    assert http_get(demo_pool.port(), "/nonexistent")[0] == 404


def test_seeded_jobs_complete_on_the_embedded_cloud(demo_pool: Container) -> None:
    def all_done() -> bool:
        metrics = http_get(demo_pool.port(), "/metrics")[1]
        status = json.loads(demo_pool.wait_http("/status"))
        return (metric_value(metrics, COMPLETED) == SEEDED_JOBS
                and sum(worker["jobs_done"] for worker in status["workers"]) == SEEDED_JOBS)

    wait_for(all_done, timeout=120, interval=0.5,
             what=lambda: f"{SEEDED_JOBS} completed jobs; logs:\n{demo_pool.logs()[-3000:]}")
    assert metric_value(http_get(demo_pool.port(), "/metrics")[1], 'xenon_runner_jobs_total{outcome="failed"}') == 0


def test_image_healthcheck_reports_healthy(podman: Podman, runner_image: str, demo_pool: Container) -> None:
    healthcheck = json.loads(podman.run("image", "inspect", runner_image).stdout)[0].get("Healthcheck")
    assert healthcheck and healthcheck["Test"] == ["CMD", "xenon-healthcheck"]   # kept by the Docker format
    demo_pool.wait_http("/healthz")
    result = podman.run("healthcheck", "run", demo_pool.name, check=False)
    assert result.returncode == 0 and "unhealthy" not in result.stdout, result.stdout + result.stderr
    assert demo_pool.inspect()["State"]["Health"]["Status"] == "healthy"


def test_stop_with_jobs_in_flight_drains_and_exits_0(start: Callable[..., Container], tmp_path: Path) -> None:
    config = tmp_path / "drain.yaml"
    config.write_text(yaml.safe_dump({
        "cloud": {"base_url": "embedded"},
        "pool": {"workers": 2, "graceful_timeout": 60, "poll_interval": 0.2},
        "model": {"name": "builtin", "latency": 2.0},   # seconds per round: jobs take a few seconds
        "emulator": {"seed_jobs": 50},
        "logging": {"format": "text"},
    }))
    pool = start(*RUN_COMMAND, options=READ_ONLY, mounts={config: BAKED_CONFIG})
    wait_for(lambda: json.loads(pool.wait_http("/status"))["states"]["busy"] == 2, timeout=60, interval=0.2,
             what=lambda: f"two busy workers; logs:\n{pool.logs()[-3000:]}")
    assert pool.stop(STOP_GRACE) == 0
    logs = pool.logs()
    assert "SIGTERM: draining" in logs, logs[-3000:]
    drained = logs.split("SIGTERM: draining", 1)[1]
    assert drained.count("completed ws-") >= 2, drained[-3000:]   # both in-flight jobs finished
    assert "runner shutting down" not in drained and "stopped (exit 0)" in drained, drained[-3000:]


def test_baked_config_without_runner_token_exits_2_naming_it(podman: Podman, runner_image: str) -> None:
    result = podman.run("run", "--rm", "--health-interval=disable", runner_image, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "RUNNER_TOKEN" in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_emulator_mode_serves_and_stops_on_sigterm(start: Callable[..., Container]) -> None:
    emulator = start("emulator", "--listen", f"0.0.0.0:{EMULATOR_PORT}", options=READ_ONLY, ports=(EMULATOR_PORT,))
    stats = json.loads(emulator.wait_http("/admin/stats", inside=EMULATOR_PORT))
    assert stats["jobs"]["pending"] > 0   # seeded, waiting for a runner
    assert emulator.stop(grace=30) == 0   # not 137: it stopped on SIGTERM, SIGKILL was not needed
    assert "emulator stopping on signal" in emulator.logs()
