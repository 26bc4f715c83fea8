"""Malformed cloud answers (non-JSON, missing fields, wrong types, huge bodies) end in clean failures.

A garbling proxy sits between the pool and the emulator. A garbled context fails its job
with a reason that says what was wrong, except a huge one: it is refused at
``cloud.max_answer_bytes`` as it arrives, a transient error retried like a 5xx (issue 9); a garbled lease answer is
a failed lease request (the emulator did lease the job, so it comes back when that lease expires, then completes);
a garbled answer to a completion that landed does not matter. No worker crashes.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator import EmulatorServer
from tests.chaos.mangler import Mangler, huge, missing_fields, not_json, wrong_types
from tests.harness import enqueue, wait_final
from tests.integration.conftest import StartRunner

LEASE_SECONDS = 4.0   # a lease answer the runner could not read strands its job this long
CONTEXT = "/getWorkspaceRunnerContext"


@pytest.fixture
def mangler(cloud: EmulatorServer) -> Iterator[Mangler]:
    with Mangler(cloud.url) as proxy:
        yield proxy


@pytest.mark.parametrize("cloud", [LEASE_SECONDS], indirect=True)
def test_malformed_answers_fail_jobs_cleanly_with_reasons(
        cloud: EmulatorServer, mangler: Mangler, start_runner: StartRunner) -> None:
    mangler.arm(CONTEXT, not_json, missing_fields, wrong_types, huge)
    mangler.arm("/leaseWorkspaceJob", wrong_types, not_json, only_if=lambda body: b'"leased":true' in body)
    mangler.arm("/completeWorkspaceJob", huge, not_json)
    runner = start_runner(workers=2, cloud_url=mangler.url)
    ids = enqueue(cloud, *(f"Job {n}: a table of costs." for n in range(8)))

    jobs = wait_final(cloud, ids, timeout=60)

    assert len(mangler.garbled) == 8, mangler.garbled
    failed = sorted(job["error"] for job in jobs.values() if job["state"] == "failed")
    assert len(failed) == 3, "one failure per garbled context but the huge one (retried), nothing else"
    assert [reason.split(":")[0] for reason in failed] == ["cloud error", "invalid_runner_context",
                                                           "invalid_runner_context"]
    assert sum(f"POST {CONTEXT}: HTTP 200 answer unusable: the body is not JSON" in r for r in failed) == 1
    assert all(len(reason) <= 500 for reason in failed), "reasons stay short"
    assert runner.metric("xenon_runner_api_requests_total", endpoint=CONTEXT, code="too_large") == 1
    completed = [job for job in jobs.values() if job["state"] == "completed"]
    assert len(completed) == 5 and all(job["completeCount"] == 1 for job in completed)
    assert sorted(job["leaseCount"] for job in jobs.values()) == [1] * 6 + [2] * 2, \
        "the two jobs behind unreadable lease answers came back after their lease expired"
    log = runner.log()
    assert "lease request failed: POST /leaseWorkspaceJob: HTTP 200 answer unusable: field 'leased' should be a " \
           "boolean" in log
    assert runner.metric("xenon_runner_worker_restarts_total", reason="crash") == 0
    assert runner.metric("xenon_runner_lease_requests_total", result="error") == 2
    runner.expect_running()
