"""Fixtures for tests with real processes: an emulator on loopback and real `xenon-runner run` pools.

``cloud`` is an in-process emulator (no seed jobs, 60 s leases unless a test asks for other:
long enough for a re-run, short enough that nothing a test does waits for one). ``start_runner`` starts a pool
against it with the chaos model and fast test timings, waits until its workers are READY
and kills whatever is left of it when the test ends.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator import EmulatorServer
from shared.config.sections import EmulatorConfig
from tests.harness import Runner

LEASE_SECONDS = 60.0


@pytest.fixture
def cloud(request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    """The emulator. ``@pytest.mark.parametrize("cloud", [SECONDS], indirect=True)`` sets another lease
    length; a dict instead sets any ``EmulatorConfig`` fields."""
    wanted = getattr(request, "param", {})
    settings = {"lease_seconds": LEASE_SECONDS, **(wanted if isinstance(wanted, dict) else {"lease_seconds": wanted})}
    server = EmulatorServer(config=EmulatorConfig(listen="127.0.0.1:0", seed_jobs=0, **settings), seed=7)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def instance(cloud: EmulatorServer) -> dict[str, Any]:
    """A global runner instance: ``instanceId`` and ``runnerToken``."""
    return cloud.create_instance(kind="global")


StartRunner = Callable[..., Runner]


@pytest.fixture
def start_runner(tmp_path: Path, cloud: EmulatorServer, instance: dict[str, Any]) -> Iterator[StartRunner]:
    """``start_runner(workers=2, pool={...}, ..., ready=True)``: a started pool (READY unless ready=False).

    Options are ``Runner``'s; ``cloud_url`` defaults to the emulator's, ``token`` to ``instance``'s key.
    """
    started: list[Runner] = []

    def start(*, workers: int = 2, ready: bool = True, **options: Any) -> Runner:
        options.setdefault("token", instance["runnerToken"])
        options.setdefault("cloud_url", cloud.url)
        runner = Runner(tmp_path / f"runner{len(started)}", workers=workers, **options)
        started.append(runner)
        runner.start()
        if ready:
            runner.wait_ready()
        return runner

    yield start
    for runner in started:
        runner.kill_tree()
