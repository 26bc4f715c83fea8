"""The pool-wide lease gate against the emulator: idle cost, the model refusing us, a revoked key."""
from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emulator import EmulatorServer
from tests.fakes.openai_server import FakeOpenAIServer, unauthorized
from tests.harness import cloud_stats, enqueue, job_states, revoke, route_requests, wait_final, wait_for
from tests.integration.conftest import StartRunner

LEASE = "/leaseWorkspaceJob"
POLL_INTERVAL = 0.5   # seconds
OPENAI_KEY = "sk-test-refused-model-key-0123456789abcdef"


@pytest.fixture
def refusing_model() -> Iterator[FakeOpenAIServer]:
    """An OpenAI-compatible server that answers every request 401 (a wrong or revoked API key)."""
    with FakeOpenAIServer() as server:
        server.set_fallback("responses", unauthorized("Incorrect API key provided: sk-test-***cdef."))
        yield server


def test_idle_pool_of_8_sends_about_one_lease_request_per_poll_interval(
        cloud: EmulatorServer, start_runner: StartRunner) -> None:
    start_runner(workers=8, pool={"poll_interval": POLL_INTERVAL})
    # Let the pool-wide backoff grow to a full poll interval (¼, ½, 1 × poll_interval).
    warm = route_requests(cloud, LEASE) + 3
    wait_for(lambda: route_requests(cloud, LEASE) >= warm, what="the first empty lease answers")

    began, start_count = time.monotonic(), route_requests(cloud, LEASE)
    wait_for(lambda: route_requests(cloud, LEASE) >= start_count + 8, timeout=30, what="8 more lease requests")
    elapsed = time.monotonic() - began

    # 8 naive pollers would send these 8 requests within one interval; we allow at most 2 per interval.
    # (A slow machine only makes ``elapsed`` longer, so this cannot fail for lack of speed.)
    assert elapsed >= 8 / 2 * POLL_INTERVAL, f"8 lease requests in {elapsed:.2f}s"


@pytest.mark.parametrize("cloud", [{"max_leases_per_instance": 1}], indirect=True)
def test_a_cloud_allowing_one_lease_per_key_is_served_by_one_key_per_worker(
        cloud: EmulatorServer, instance: dict[str, Any], start_runner: StartRunner) -> None:
    second = cloud.create_instance(kind="global")
    runner = start_runner(workers=2, tokens=[instance["runnerToken"], second["runnerToken"]])
    slow = enqueue(cloud, "Slow one. [[sleep:1]]", "Slow two. [[sleep:1]]")

    runner.wait_status(lambda s: all(w["state"] == "busy" for w in s["workers"]), what="both workers busy at once")

    assert all(job["state"] == "completed" for job in wait_final(cloud, slow).values())
    assert cloud_stats(cloud)["leasesRefusedAtLimit"] == 0
    assert {w["key"] for w in runner.workers()} == {f"{i['credentialId']}.***" for i in (instance, second)}


def test_throttled_lease_pauses_the_whole_pool_for_retry_after(
        cloud: EmulatorServer, start_runner: StartRunner) -> None:
    start_runner(workers=4, pool={"poll_interval": 0.2})
    retry_after = 0.8   # seconds, longer than the poll interval: only the server's hint can explain the pace
    requests.post(cloud.url + "/admin/faults", json={"route": LEASE, "throttle_rate": 1.0, "retry_after": retry_after},
                  timeout=5).raise_for_status()
    wait_for(lambda: cloud_stats(cloud)["faultsInjected"].get("throttle", 0) >= 1, what="a first 429")

    began, start_count = time.monotonic(), route_requests(cloud, LEASE)
    wait_for(lambda: route_requests(cloud, LEASE) >= start_count + 4, timeout=30, what="4 more lease requests")

    # 4 requests are 3 pauses apart at least; 4 workers ignoring Retry-After would send them at once.
    assert time.monotonic() - began >= 3 * retry_after * 0.95


def test_model_refusing_the_key_fails_the_job_and_pauses_leasing(
        cloud: EmulatorServer, start_runner: StartRunner, refusing_model: FakeOpenAIServer) -> None:
    model: dict[str, Any] = {"name": "openai-responses", "base_url": refusing_model.base_url, "api_key": OPENAI_KEY,
                             "max_attempts": 1}
    runner = start_runner(workers=2, model=model)
    jobs = enqueue(cloud, *(f"Job {n}: a table of costs." for n in range(6)))

    status = runner.wait_status(lambda s: s["lease_backoff_seconds"] > 20, what="leasing paused")

    assert not status["draining"], "the pool pauses, it does not stop"
    states = job_states(cloud)
    failed = [w for w in jobs if states[w]["state"] == "failed"]
    assert 1 <= len(failed) <= 2, "at most one job per worker is burnt before the pause"
    assert all(states[w]["error"].startswith("model error:") for w in failed)
    assert sum(states[w]["state"] == "pending" and states[w]["leaseCount"] == 0 for w in jobs) >= 4
    assert "the model endpoint refused the runner" in runner.log()
    assert len(refusing_model.requests) <= 2
    assert runner.metric("xenon_runner_model_pauses_total") == 1  # pauses are visible to alerting, too
    assert runner.metric("xenon_runner_model_pause_seconds") > 20

    # The operator fixes the model and sends SIGHUP: leasing resumes at once.
    runner.config["model"] = {"name": "tests.fakes.chaos_model:make_handle"}
    runner.write_config()
    runner.signal(signal.SIGHUP)
    pending = [w for w in jobs if states[w]["state"] == "pending"]
    assert all(job["state"] == "completed" for job in wait_final(cloud, pending, timeout=20).values())


def test_revoked_runner_key_stops_the_pool_with_exit_3(
        cloud: EmulatorServer, instance: dict[str, Any], start_runner: StartRunner) -> None:
    runner = start_runner(workers=2)
    running = enqueue(cloud, "Slow job one. [[sleep:1]]", "Slow job two. [[sleep:1]]")
    runner.wait_status(lambda s: sum(w["state"] == "busy" for w in s["workers"]) == 2, what="both jobs running")

    revoke(cloud, instance["instanceId"])

    assert runner.wait_exit(timeout=30) == 3
    log = runner.log()
    assert log.count("the cloud rejected runner key") == 1
    assert "restarting in" not in log, "no crash loop"
    jobs = job_states(cloud)
    # The emulator hands a revoked instance's leases back to the queue; nothing was completed twice
    # and nothing is left leased to a dead key.
    assert [(jobs[w]["state"], jobs[w]["completeCount"]) for w in running] == [("pending", 0)] * 2
    [later] = enqueue(cloud, "A table of costs.")
    assert job_states(cloud)[later]["leaseCount"] == 0
    fresh = cloud.create_instance(kind="global")
    replacement = start_runner(workers=1, token=fresh["runnerToken"])
    assert all(job["state"] == "completed" for job in wait_final(cloud, [*running, later]).values())
    replacement.expect_running()
