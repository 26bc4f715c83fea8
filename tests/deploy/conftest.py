"""Fixtures for the tests of the operations kit in ``deploy/``."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.deploy import standin
from tests.deploy.containers import IMAGE_NAME, build_image, dockerfile_base, unique
from tests.deploy.engine import Podman
from tests.harness import installed_tool


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of promtool; tests that need it are skipped (with the reason) where it is absent."""
    return installed_tool("promtool", missing="promtool not installed (Debian: apt-get install prometheus); "
                                              "CI installs it")


@pytest.fixture(scope="session")
def systemd_analyze() -> str:
    """Path of systemd-analyze, or skip."""
    return installed_tool("systemd-analyze", missing="systemd-analyze not installed (Debian: apt-get install systemd)")


IMAGE_MARKER = "image: builds and runs the container image with podman (skipped where podman is missing)"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", IMAGE_MARKER)


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    """Podman with its config and storage in a folder of this test run; everything is removed after."""
    executable = installed_tool("podman", missing="podman not installed (Debian: apt-get install podman buildah "
                                                  "runc); .ci/run installs it")
    if os.geteuid() != 0:
        pytest.skip("the real-image tests need root (rootful podman, debootstrap); CI runs as root")
    engine = Podman(tmp_path_factory.mktemp("podman"), executable)
    try:
        problem = engine.works()
        if problem:
            pytest.skip(f"podman cannot run here: {problem}")
        yield engine
    finally:
        engine.reset()


@pytest.fixture(scope="session")
def runner_image(podman: Podman) -> str:
    """The Dockerfile built unchanged on the Debian stand-in for its base; the image's tag."""
    standin.load(podman, dockerfile_base())
    tag = f"{IMAGE_NAME}:{unique('test')}"
    build_image(podman, tag)
    return tag
