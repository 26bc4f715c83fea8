"""Defect 1: a SIGHUP whose reload fails at any step leaves the pool exactly as it was.

Before: ``pool:\\n  workers: \\xff`` or an unwritable ``logging.file`` followed by SIGHUP
stopped the whole pool ("the supervisor's loop failed"), failed its in-flight jobs and
exited 1. Now the reload is all or nothing: one error naming the key, the running config,
workers and log handlers kept, ``xenon_runner_config_reloads_total{result="error"}`` counted.
"""
from __future__ import annotations

import errno
import logging
import signal
from pathlib import Path
from typing import Any

import pytest

from emulator import EmulatorServer
from supervisor.arbiter import Arbiter
from supervisor.config import load_config
from supervisor.observability.pool_collector import PoolCollector
from supervisor.observability.snapshot import PoolSnapshot
from tests.harness import Runner, enqueue, wait_final, wait_for
from tests.integration.conftest import StartRunner

REFUSED = "SIGHUP: the new configuration is invalid, keeping the running one"


def reload_refused(runner: Runner, count: int) -> None:
    """SIGHUP, then wait for the ``count``-th refusal; fails at once, with the log, if the runner exits."""
    runner.signal(signal.SIGHUP)

    def refused() -> bool:
        runner.expect_running()
        return runner.log().count(REFUSED) >= count

    wait_for(refused, what=lambda: f"reload refusal #{count}\n{runner.log_tail()}")


def busy_with(status: dict[str, Any], workspace_ids: list[str]) -> bool:
    return {w["workspaceId"] for w in status["workers"] if w["state"] == "busy"} == set(workspace_ids)


def test_a_reload_failing_at_any_step_keeps_workers_jobs_and_log_file(
        cloud: EmulatorServer, start_runner: StartRunner, tmp_path: Path) -> None:
    log_file = tmp_path / "pool.log"
    runner = start_runner(workers=2, logging={"file": str(log_file)})
    pids = runner.pids()
    running = enqueue(cloud, "Slow job one. [[sleep:3]]", "Slow job two. [[sleep:3]]")
    runner.wait_status(lambda s: busy_with(s, running), what="both slow jobs running")
    good = dict(runner.config)

    runner.config_path.write_bytes(b"pool:\n  workers: \xff\n")                 # bad bytes
    reload_refused(runner, 1)
    runner.config = {**good, "logging": {"level": "info", "file": "/nonexistent/dir/x.log"}}
    runner.write_config()                                                         # unwritable log file
    reload_refused(runner, 2)
    runner.config = {**good, "emulator": {"lease_seconds": "1e308"}}            # a value out of range
    runner.write_config()
    reload_refused(runner, 3)

    jobs = wait_final(cloud, running)
    assert [jobs[w]["state"] for w in running] == ["completed", "completed"], "in-flight jobs finished"
    assert runner.pids() == pids, "no worker was replaced"
    refusals = [line for line in runner.log().splitlines() if REFUSED in line]
    assert len(refusals) == 3, "one error record per failed reload"
    assert "--config" in refusals[0] and "not UTF-8" in refusals[0] and "byte offset 17" in refusals[0]
    assert "logging.file" in refusals[1] and "/nonexistent/dir" in refusals[1]
    assert "emulator.lease_seconds" in refusals[2]
    assert log_file.read_text().count(REFUSED) == 3, "the running log handlers still write the old file"
    assert runner.metric("xenon_runner_config_reloads_total", result="error") == 3
    assert runner.metric("xenon_runner_config_reloads_total", result="ok") == 0

    runner.config = good
    runner.write_config()
    runner.signal(signal.SIGHUP)
    runner.wait_log("SIGHUP: configuration reloaded")
    wait_for(lambda: runner.metric("xenon_runner_config_reloads_total", result="ok") == 1, what="ok counted")
    [later] = enqueue(cloud, "A table of costs.")
    assert wait_final(cloud, [later])[later]["state"] == "completed"

    runner.signal(signal.SIGTERM)
    assert runner.wait_exit(timeout=30) == 0
    assert "the supervisor's loop failed" not in runner.log()


class RecordingPool:
    """Stands in for the worker processes (the edge here): records whether a reload reached them."""

    def __init__(self) -> None:
        self.reloaded: list[Any] = []

    def reload(self, config: Any, cloud: Any) -> None:
        self.reloaded.append(config)

    def snapshot(self) -> PoolSnapshot:
        return PoolSnapshot()


def reload_counts(arbiter: Arbiter) -> dict[str, float]:
    """``xenon_runner_config_reloads_total`` by result, as /metrics would show it."""
    [family] = [f for f in PoolCollector(arbiter.snapshot).collect() if f.name == "xenon_runner_config_reloads"]
    return {sample.labels["result"]: sample.value for sample in family.samples}


def test_a_log_handler_that_fails_to_open_after_validation_changes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The one step validation cannot foresee (the disk fails between check and open): nothing is swapped."""
    path = tmp_path / "runner.yaml"
    path.write_text(f"cloud: {{base_url: embedded}}\nmodel: {{name: builtin}}\nlogging: {{file: {tmp_path}/a.log}}\n")
    config = load_config(str(path), env={})
    arbiter = Arbiter(config=config, config_path=str(path))
    pool = RecordingPool()
    arbiter.pool = pool   # type: ignore[assignment]
    running = list(logging.getLogger().handlers)
    path.write_text(f"cloud: {{base_url: embedded}}\nmodel: {{name: builtin}}\npool: {{workers: 9}}\n"
                    f"logging: {{file: {tmp_path}/b.log}}\n")

    def disk_failure(*args: Any, **kwargs: Any) -> logging.FileHandler:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(logging, "FileHandler", disk_failure)
    with caplog.at_level(logging.INFO):
        arbiter.reload()

    assert logging.getLogger().handlers == running, "the running handlers are kept, none added or closed"
    assert arbiter.config is config and pool.reloaded == [], "config and workers untouched"
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert f'logging.file: cannot open "{tmp_path}/b.log": Input/output error' in record.getMessage()
    assert reload_counts(arbiter) == {"ok": 0, "error": 1}
    monkeypatch.undo()
    arbiter.reload()
    assert reload_counts(arbiter) == {"ok": 1, "error": 1} and pool.reloaded[0].pool.workers == 9
