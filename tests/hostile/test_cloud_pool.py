"""Defects 2 and 3 of issue 9 with a real pool: a trickling lease answer and malformed lease fields.

The emulator sits behind ``HostileProxy``, which makes up the hostile answers (the emulator is
not asked for them, so no job is leased behind the runner's back) and relays the rest.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator import EmulatorServer
from tests.cloud.hostile_proxy import Hostile, HostileProxy
from tests.harness import enqueue, wait_final
from tests.integration.conftest import StartRunner

LEASE = "/leaseWorkspaceJob"
CALL_TIMEOUT = 2.0   # seconds: cloud.call_timeout of the pools below
TRICKLE = Hostile(body=b'{"leased": false}' + b" " * 4000, byte_delay=0.2)   # ~14 min at one byte per 0.2 s
BAD_LEASES = [
    b'{"leased": true, "workspaceId": "ws-bad", "leaseExpiresAt": 1' + b"0" * 400 + b', "workspace": {}}',
    b'{"leased": true, "workspaceId": "", "leaseExpiresAt": 1700000000000, "workspace": {}}',
]


@pytest.fixture
def trickling_first_lease(cloud: EmulatorServer) -> Iterator[HostileProxy]:
    """The first lease request is answered one byte every 0.2 s; read_timeout (1 s) never trips."""
    with HostileProxy(cloud.url, lambda route, n: TRICKLE if route == LEASE and n == 0 else None) as proxy:
        yield proxy


def test_a_trickling_lease_answer_ends_at_call_timeout_and_the_pool_keeps_serving(
        trickling_first_lease: HostileProxy, cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=2, cloud_url=trickling_first_lease.url,
                          cloud_options={"read_timeout": 1, "call_timeout": CALL_TIMEOUT})
    jobs = enqueue(cloud, "Job one: a table of costs.", "Job two: a short note.")

    # Before: the worker sat in the lease call for ever and the gate waited for its report.
    assert all(job["state"] == "completed" for job in wait_final(cloud, jobs, timeout=40).values())
    assert trickling_first_lease.hostile_sent == 1
    assert runner.metric("xenon_runner_api_requests_total", endpoint=LEASE, code="timeout") == 1
    assert runner.metric("xenon_runner_lease_requests_total", result="error") >= 1
    assert "lease request failed: POST /leaseWorkspaceJob: timeout error" in runner.log()
    assert not any(worker["state"] == "parked" for worker in runner.workers())
    runner.expect_running()


@pytest.fixture
def malformed_leases(cloud: EmulatorServer) -> Iterator[HostileProxy]:
    """The first 6 lease answers are leased: true with a 401-digit leaseExpiresAt or an empty workspaceId."""
    def script(route: str, n: int) -> Hostile | None:
        return Hostile(body=BAD_LEASES[n % 2]) if route == LEASE and n < 6 else None

    with HostileProxy(cloud.url, script) as proxy:
        yield proxy


def test_malformed_lease_fields_are_failed_leases_not_crashed_workers(
        malformed_leases: HostileProxy, cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=2, cloud_url=malformed_leases.url, pool={"max_crashes": 2})
    jobs = enqueue(cloud, "Job one: a table of costs.")

    # Before: OverflowError / ValueError inside fail() crashed the workers until both slots were parked.
    assert all(job["state"] == "completed" for job in wait_final(cloud, jobs, timeout=40).values())
    assert malformed_leases.hostile_sent == 6
    assert runner.metric("xenon_runner_lease_requests_total", result="error") == 6
    assert not any(worker["state"] == "parked" for worker in runner.workers())
    assert runner.metric("xenon_runner_worker_restarts_total", reason="crash") == 0
    log = runner.log()
    assert "Traceback" not in log
    assert log.count("field 'leaseExpiresAt' should be epoch milliseconds") == 3   # logged once per answer
    assert log.count("field 'workspaceId' is empty") == 3
    # Each answer naming a usable id had that job failed at once with the reason (not left to expire).
    assert malformed_leases.seen("/failWorkspaceJob") == 3
    runner.expect_running()
