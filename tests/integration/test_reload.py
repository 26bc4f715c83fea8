"""SIGHUP reloads the configuration and rolls the workers; SIGTTIN/SIGTTOU resize the pool."""
from __future__ import annotations

import signal
from typing import Any

import yaml

from emulator import EmulatorServer
from tests.harness import StatusRecorder, enqueue, revoke, wait_final
from tests.integration.conftest import StartRunner


def test_sighup_applies_a_valid_config_rolling_workers_one_at_a_time(
        cloud: EmulatorServer, instance: dict[str, Any], start_runner: StartRunner) -> None:
    second = cloud.create_instance(kind="global")
    runner = start_runner(workers=2, tokens=[instance["runnerToken"], second["runnerToken"]])
    old_pids = runner.pids()
    fresh = cloud.create_instance(kind="global")
    runner.config["pool"]["workers"] = 3
    del runner.config["cloud"]["tokens"]
    runner.config["cloud"]["token"] = fresh["runnerToken"]   # two keys → one new key
    runner.write_config()

    with StatusRecorder(runner) as seen:
        runner.signal(signal.SIGHUP)
        status = runner.wait_status(lambda s: s["ready_workers"] == 3 and len(s["workers"]) == 3
                                    and not {w["pid"] for w in s["workers"]} & old_pids,
                                    what="3 ready workers, none of the old ones")

    assert status["desired_workers"] == 3
    assert min(sample["ready_workers"] for sample in seen.samples) >= 1, "never fewer than N-1 ready while rolling"
    assert "SIGHUP: configuration reloaded; 3 workers wanted; rolling 2 workers one at a time" in runner.log()
    # The old keys are gone for good: only workers on the new key can still lease and complete.
    revoke(cloud, instance["instanceId"])
    revoke(cloud, second["instanceId"])
    jobs = enqueue(cloud, *(f"Job {n}: a table of costs." for n in range(4)))
    assert all(job["state"] == "completed" for job in wait_final(cloud, jobs).values())
    runner.expect_running()


def test_sighup_with_an_invalid_config_keeps_the_running_one(cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=2)
    pids = runner.pids()
    broken = dict(runner.config, pool={**runner.config["pool"], "workers": "many"})
    runner.config_path.write_text(yaml.safe_dump(broken))

    runner.signal(signal.SIGHUP)

    runner.wait_log("SIGHUP: the new configuration is invalid, keeping the running one")
    assert "pool.workers" in runner.log()
    [workspace_id] = enqueue(cloud, "A table of costs.")
    assert wait_final(cloud, [workspace_id])[workspace_id]["state"] == "completed"
    assert runner.pids() == pids, "no worker was restarted"
    status = runner.status()
    assert status is not None and status["desired_workers"] == 2


def test_sighup_keeps_settings_that_need_a_restart(start_runner: StartRunner) -> None:
    runner = start_runner(workers=1)
    runner.config["metrics"]["listen"] = "127.0.0.1:1"
    runner.config["pool"]["start_method"] = "spawn"
    runner.write_config()

    runner.signal(signal.SIGHUP)

    runner.wait_log("SIGHUP: metrics.listen, pool.start_method cannot change without a restart; "
                    "keeping the running value(s)")
    runner.wait_log("SIGHUP: configuration reloaded")
    assert runner.wait_ready(1)["ready_workers"] == 1   # still served on the address it started with
    runner.expect_running()


def test_sigttin_and_sigttou_add_and_remove_one_worker(start_runner: StartRunner) -> None:
    runner = start_runner(workers=2)

    runner.signal(signal.SIGTTIN)
    runner.wait_status(lambda s: s["desired_workers"] == 3 and s["ready_workers"] == 3, what="3 workers")
    assert runner.metric("xenon_runner_pool_workers_desired") == 3

    # One at a time: the kernel merges a signal sent while the same one is still pending.
    runner.signal(signal.SIGTTOU)
    runner.wait_status(lambda s: s["desired_workers"] == 2, what="2 workers wanted")
    runner.signal(signal.SIGTTOU)
    status = runner.wait_status(lambda s: s["desired_workers"] == 1 and len(s["workers"]) == 1,
                                what="1 worker left")
    assert status["workers"][0]["slot"] == 0
    assert runner.metric("xenon_runner_worker_restarts_total", reason="crash") == 0
