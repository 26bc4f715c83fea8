"""Containers of the real-image tests: start one, reach its published ports, stop it and read how it ended.

Ports are published on 127.0.0.1 only, on free host ports. Every container gets a unique name
and is removed by :meth:`Container.remove` (the session's ``podman`` fixture resets the whole
storage folder at the end as well).
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from tests.deploy.engine import Podman
from tests.deploy.support import DOCKER, load_yaml, parse_duration
from tests.harness import REPO, free_port, wait_for

IMAGE_NAME = "xenonflare-runner"
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
METRICS_PORT = 9464   # the image's EXPOSE and its command's --metrics-listen
EMULATOR_PORT = 8080
HTTP_TIMEOUT = 5.0   # seconds per request to a container
# Seconds between SIGTERM and SIGKILL when a test stops a runner: compose.yaml's stop_grace_period.
STOP_GRACE = parse_duration(load_yaml(DOCKER / "compose.yaml")["x-runner"]["stop_grace_period"])
# Our build flags: the Docker image format keeps HEALTHCHECK (OCI has no field for it); never pull.
BUILD_FLAGS = ("--format", "docker", "--pull=never")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def dockerfile_base() -> str:
    """The image the Dockerfile builds ``FROM`` (its ``ARG PYTHON_IMAGE`` default)."""
    found = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.M)
    assert found is not None, f"no ARG PYTHON_IMAGE=<image> line in {DOCKERFILE}"
    return found.group(1)


def build_image(podman: Podman, tag: str) -> None:
    """``podman build`` of the Dockerfile, unchanged, from the repository root."""
    podman.run("build", *BUILD_FLAGS, "-f", str(DOCKERFILE), "-t", tag, str(REPO), timeout=600)


def http_get(port: int, path: str) -> tuple[int, str]:
    """(status, body) of GET http://127.0.0.1:PORT/PATH; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def metric_value(text: str, series: str) -> float | None:
    """The value of one exposition line such as ``xenon_runner_jobs_total{outcome="completed"}``."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


class Container:
    """One container started detached with ``podman run``."""

    def __init__(self, podman: Podman, image: str, *args: str, options: tuple[str, ...] = (),
                 ports: tuple[int, ...] = (METRICS_PORT,), mounts: dict[Path, str] | None = None) -> None:
        self.podman = podman
        self.name = unique("xrt")
        self.ports = {port: free_port() for port in ports}   # container port -> host port on 127.0.0.1
        argv = ["run", "--detach", "--name", self.name, "--health-interval=disable", *options]
        for inside, outside in self.ports.items():
            argv += ["--publish", f"127.0.0.1:{outside}:{inside}"]
        for source, target in (mounts or {}).items():
            argv += ["--volume", f"{source}:{target}:ro"]
        podman.run(*argv, image, *args)

    def port(self, inside: int = METRICS_PORT) -> int:
        return self.ports[inside]

    def inspect(self) -> dict[str, Any]:
        inspected: list[dict[str, Any]] = json.loads(self.podman.run("inspect", self.name).stdout)
        return inspected[0]

    def logs(self) -> str:
        result = self.podman.run("logs", self.name, check=False)
        return result.stdout + result.stderr

    def wait_http(self, path: str, *, inside: int = METRICS_PORT, timeout: float = 60) -> str:
        """The body of ``path`` once it answers 200 (the test fails with the logs otherwise)."""
        def answered() -> tuple[str] | None:
            status, body = http_get(self.port(inside), path)
            return (body,) if status == 200 else None

        [body] = wait_for(answered, timeout=timeout, interval=0.2,
                          what=lambda: f"{path} answering 200 on {self.name}; logs:\n{self.logs()[-3000:]}")
        return body

    def stop(self, grace: float) -> int:
        """``podman stop`` (SIGTERM, SIGKILL after ``grace`` seconds); the container's exit code."""
        self.podman.run("stop", "--time", str(int(grace)), self.name, timeout=grace + 60)
        return int(self.inspect()["State"]["ExitCode"])

    def remove(self) -> None:
        self.podman.run("rm", "--force", "--time", "0", self.name, check=False)
