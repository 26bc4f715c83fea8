"""Failure classes travel with the failure (shared/pipe/failures.py), never read back from its text.

Each way a job fails in ``JobRunner`` carries its class to ``JobFinished.failure`` and to the
``xenon_runner_job_failures_total{reason}`` label; the enums keep the exact metric label words.
The job runs on fakes: a scripted cloud client, a model that must not be called, a fake clock.
"""
from __future__ import annotations

import time
from typing import Any

import pytest

from shared.cloud.errors import CloudError, LeaseLost, ValidationRejected
from shared.jobs import LeasedJob
from shared.metrics import FAILURE_REASONS, JOB_OUTCOMES, LEASE_RESULTS, metrics
from shared.pipe.failures import Failure, FailureClass, JobFailure
from shared.pipe.messages import JobFinished, JobOutcome, LeaseOutcome
from supervisor.stopping import StopReason
from tests.core.fakes import FakeClock
from workers.generation import GenerationFailed
from workers.job import JobRunner

EXPIRES_MS = int((time.time() + 3600) * 1000)   # epoch ms: far enough that the lease keeper never renews
CONTEXT = {"workspaceId": "ws-1", "messageCount": 1, "recentText": "make a plan"}


class ScriptedClient:
    """A job client whose ``get_context`` answers (or raises) ``context``; fails are recorded."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.failed: list[tuple[str, str]] = []

    def get_context(self, workspace_id: str) -> Any:
        if isinstance(self.context, BaseException):
            raise self.context
        return self.context

    def fail(self, workspace_id: str, error: str) -> None:
        self.failed.append((workspace_id, error))

    def heartbeat(self, workspace_id: str) -> int:
        raise AssertionError("no heartbeat expected: the lease has an hour left")


class NoModel:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError("the model must not be called")


def _run(context: Any, *, job_timeout: float = 60.0) -> tuple[JobFinished, ScriptedClient, list[Any]]:
    client = ScriptedClient(context)
    sent: list[Any] = []
    runner = JobRunner(client=client, model=NoModel(), job_timeout=job_timeout,  # type: ignore[arg-type]
                       send=sent.append, clock=FakeClock())
    finished = runner.run(LeasedJob(workspace_id="ws-1", lease_expires_at_ms=EXPIRES_MS))
    return finished, client, sent


def _failures(label: str) -> float:
    count: float = metrics().job_failures.labels(label)._value.get()
    return count


@pytest.mark.parametrize(("context", "kind", "reason"), [
    ({"workspaceId": "ws-1", "messageCount": 0, "legacyIdea": "  "}, FailureClass.EMPTY_CONTEXT, "empty_context"),
    ({"workspaceId": "ws-2", "messageCount": 0}, FailureClass.OTHER,
     "invalid_runner_context: workspaceId names another workspace than the job's"),
    (ValidationRejected("422", route="r", detail="bad"), FailureClass.CLOUD_REJECTED,
     "cloud rejected the completion: bad"),
    (CloudError("boom", route="GET /ctx"), FailureClass.OTHER, "cloud error: boom"),
    (GenerationFailed("deliverable_placeholder_mismatch: chart:q3", kind=FailureClass.PLACEHOLDER_MISMATCH),
     FailureClass.PLACEHOLDER_MISMATCH, "deliverable_placeholder_mismatch: chart:q3"),
    (RuntimeError("bug"), FailureClass.OTHER, "internal error: RuntimeError: bug"),
])
def test_each_failure_reports_its_own_class(context: Any, kind: FailureClass, reason: str) -> None:
    before = _failures(kind)
    finished, client, sent = _run(context)
    assert (finished.outcome, finished.reason, finished.failure) == (JobOutcome.FAILED, reason, kind)
    assert sent == [finished] and client.failed == [("ws-1", reason)]
    assert _failures(kind) == before + 1


def test_the_job_deadline_is_a_deadline_failure() -> None:
    finished, _, _ = _run(CONTEXT, job_timeout=0.0)
    assert (finished.reason, finished.failure) == ("job deadline exceeded (0s)", FailureClass.DEADLINE)


def test_a_lost_lease_is_no_failure() -> None:
    before = sum(_failures(label) for label in FAILURE_REASONS)
    finished, client, _ = _run(LeaseLost("409", route="GET /ctx"))
    assert (finished.outcome, finished.failure, client.failed) == (JobOutcome.LEASE_LOST, None, [])
    assert sum(_failures(label) for label in FAILURE_REASONS) == before


def test_a_job_failure_is_other_unless_its_raiser_says() -> None:
    assert JobFailure("x").kind is FailureClass.OTHER
    assert Failure(FailureClass.DEADLINE, "a").amended("b") == Failure(FailureClass.DEADLINE, "a; b")


def test_aborts_for_a_shutdown_count_as_shutdown_and_fatal_stops_as_other() -> None:
    assert StopReason.SHUTTING_DOWN.failure == Failure(FailureClass.SHUTDOWN, "runner shutting down")
    assert StopReason.KEY_REJECTED.failure == Failure(FailureClass.OTHER,
                                                      "runner stopping: the cloud rejected its runner key")


def test_the_enums_are_the_metric_label_words() -> None:
    assert tuple(FailureClass) == FAILURE_REASONS
    assert tuple(JobOutcome) == JOB_OUTCOMES[:3]
    assert set(LEASE_RESULTS) < set(LeaseOutcome)
    assert [f"{kind}" for kind in FailureClass] == list(FAILURE_REASONS)   # log text and labels: the bare word
