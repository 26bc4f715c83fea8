"""Run one leased job: context → model input → generation → complete, or fail with a reason.

Every way a job can end is decided here and reported once: completed, failed (with a short
reason the Studio user sees, and its class decided where the failure is) or lease_lost (the
job is no longer ours: we neither complete nor fail it). The lease is kept alive by a
``LeaseKeeper`` thread; the job checks it, the abort flag and its deadline between model
rounds and before completing.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from shared.cloud.errors import CloudError, LeaseLost, ValidationRejected
from shared.cloud.jobs import CompleteOutcome, FailOutcome
from shared.http.redact import redact, redact_and_cut
from shared.jobs import LeasedJob
from shared.metrics import metrics
from shared.pipe.failures import Failure, FailureClass, JobFailure
from shared.pipe.liveness import bounded_wait
from shared.pipe.messages import JobFinished, JobOutcome, LeaseRenewed, WorkerMessage

from .context import compose_model_input, parse_context
from .deliverables.validate import validate_completion
from .generation import GenerationFailed, generate
from .heartbeat import LeaseKeeper
from .logs import JobTag
from .models.base import ModelError, ModelHandle, ModelUnavailable
from .summaries import resolve_prior_section

log = logging.getLogger("xenon.worker.job")

MAX_REASON_CHARS = 500
# Renew before completing when less than this is left: a complete must not race the expiry.
COMPLETE_LEASE_MARGIN = 30.0  # seconds


class JobClientLike(Protocol):
    """What a job needs of the cloud (``shared.cloud.jobs.JobClient``; a fake in tests)."""

    def heartbeat(self, workspace_id: str) -> int: ...

    def get_context(self, workspace_id: str) -> dict[str, Any]: ...

    def update_summary(self, *, workspace_id: str, summary_text: str, from_message_id: str,
                       through_message_id: str) -> None: ...

    def complete(self, payload: dict[str, Any]) -> CompleteOutcome: ...

    def fail(self, workspace_id: str, error: str) -> FailOutcome: ...


class JobStopped(Exception):
    """The job must stop now: failed with ``failure`` (deadline, abort), or its lease is lost (None)."""

    def __init__(self, failure: Failure | None, reason: str) -> None:
        super().__init__(reason)
        self.failure = failure
        self.reason = reason


class JobRunner:
    """Runs the jobs of one job lane, one at a time, with the worker's client and model handle
    (shared by every lane: both are safe to call from several threads)."""

    def __init__(self, *, client: JobClientLike, model: ModelHandle, job_timeout: float,
                 send: Callable[[WorkerMessage], None], clock: Callable[[], float] = time.monotonic,
                 model_call_limit: float = float("inf"), lane: int = 0) -> None:
        self.lane = lane   # the job lane this runner serves (0 to pool.jobs_per_worker - 1)
        self._client = client
        self._model = model
        self._job_timeout = job_timeout   # seconds from lease to complete
        self._model_call_limit = model_call_limit  # seconds one model call may take by the model config
        self._send = send
        self._clock = clock
        self._finish_lock = threading.Lock()
        self._current: LeasedJob | None = None
        self._finished = True          # someone has ended the job in hand (guarded by _finish_lock)
        self._ended_by_main = False    # ... and it was the job thread, not an abort
        self._reported = threading.Event()   # the outcome of the job in hand went to the supervisor
        self._reported.set()
        self._abort: Failure | None = None   # set by the link thread: fail the job in hand with it
        self._started = 0.0

    def run(self, job: LeasedJob) -> JobFinished:
        """Run ``job`` to its end and report the outcome to the supervisor."""
        with self._finish_lock:
            self._current, self._started = job, self._clock()
            self._finished = self._ended_by_main = False
            self._reported.clear()
        JobTag.workspace_id, JobTag.attempt = job.workspace_id, job.attempt
        metrics().jobs_in_progress.inc()
        keeper = LeaseKeeper(heartbeat=self._client.heartbeat, workspace_id=job.workspace_id,
                             lease_expires_at_ms=job.lease_expires_at_ms,
                             on_renewed=lambda ms: self._send(LeaseRenewed(job.workspace_id, ms)))
        keeper.start()
        try:
            return self._run(job, keeper)
        finally:
            keeper.stop()
            metrics().jobs_in_progress.dec()
            JobTag.workspace_id, JobTag.attempt = "-", 0

    def abort(self, failure: Failure) -> None:
        """Fail the job in hand with ``failure`` now (called from the link thread).

        If the job thread is already ending the job (a completion on its way), wait for that
        outcome to be reported instead: the caller exits the process right after, and a
        completion cut off mid-call would leave the supervisor to fail a job that may be done.
        The supervisor's TERM → KILL bounds the wait.
        """
        self._abort = failure
        with self._finish_lock:
            job, ending_elsewhere = self._current, self._finished
            self._finished = True
        if job is None or ending_elsewhere:
            self._reported.wait()
            return
        log.warning("aborting job %s: %s", job.workspace_id, failure.reason)
        self._report(job, self._fail(job, failure))

    def _run(self, job: LeasedJob, keeper: LeaseKeeper) -> JobFinished:
        timings: dict[str, float] = {}

        def checkpoint() -> float:
            """Raise if the job must stop; otherwise the seconds the next step may take."""
            if self._abort is not None:
                raise JobStopped(self._abort, self._abort.reason)
            if keeper.lost.is_set():
                raise JobStopped(None, "lease lost (409 on heartbeat)")
            left = self._job_timeout - (self._clock() - self._started)
            if left <= 0:
                deadline = Failure(FailureClass.DEADLINE, f"job deadline exceeded ({self._job_timeout:g}s)")
                raise JobStopped(deadline, deadline.reason)
            return left

        try:
            with _timed(timings, "context"):
                context = parse_context(self._client.get_context(job.workspace_id),
                                        workspace_id=job.workspace_id)
                left = checkpoint()
                with bounded_wait(min(left, self._model_call_limit), what="the prior-context summary"):
                    prior, prior_source = resolve_prior_section(
                        context, model=self._model, timeout=left,
                        persist=lambda text, first, last: self._client.update_summary(
                            workspace_id=job.workspace_id, summary_text=text, from_message_id=first,
                            through_message_id=last))
                model_input = compose_model_input(context, prior)
            with _timed(timings, "model"):
                generation = generate(model=self._model, model_input=model_input, checkpoint=checkpoint,
                                      round_limit=self._model_call_limit)
            payload = generation.collector.payload(workspace_id=job.workspace_id, message=generation.message)
            problems = validate_completion(payload)
            if problems:
                raise GenerationFailed("invalid_payload: " + "; ".join(problems[:5]))
            checkpoint()
            keeper.ensure(COMPLETE_LEASE_MARGIN)
            checkpoint()
            with _timed(timings, "complete"):
                if not self._claim_finish():
                    return self._aborted(job)
                if self._client.complete(payload) is CompleteOutcome.PROBABLY_COMPLETED_EARLIER:
                    log.warning("the completion of %s was answered 409 on a retry: an earlier try most likely "
                                "landed after its answer was lost; counting it as completed", job.workspace_id)
        except JobStopped as stop:
            return self._end(job, stop.failure) if stop.failure else self._lease_lost(job, stop.reason)
        except LeaseLost as exc:
            return self._lease_lost(job, f"lease lost: {exc}")
        except ValidationRejected as exc:
            return self._end(job, Failure(FailureClass.CLOUD_REJECTED,
                                             f"cloud rejected the completion: {exc.detail or exc}"))
        except JobFailure as exc:
            return self._end(job, Failure(exc.kind, exc.reason))
        except ModelUnavailable as exc:  # refused key, no quota, endpoint down or wrong: pause the pool
            return self._end(job, Failure(FailureClass.MODEL_ERROR, f"model error: {exc.reason}"),
                             model_unavailable=True)
        except ModelError as exc:
            return self._end(job, Failure(FailureClass.MODEL_ERROR, f"model error: {exc.reason}"))
        except CloudError as exc:
            return self._end(job, Failure(FailureClass.OTHER, f"cloud error: {exc}"))
        except Exception as exc:  # a bug must fail the job, not strand it
            log.exception("unexpected error in job %s", job.workspace_id)
            return self._end(job, Failure(FailureClass.OTHER, f"internal error: {type(exc).__name__}: {exc}"))
        counts = generation.collector.counts()
        for kind, count in counts.items():
            if count:
                metrics().deliverables.labels(kind).inc(count)
        finished = self._result(job, JobOutcome.COMPLETED, "")
        self._report(job, finished)
        log.info("completed %s attempt=%d rounds=%d repairs=%d prior=%s deliverables=%s "
                 "context=%.2fs model=%.2fs %s complete=%.2fs total=%.2fs",
                 job.workspace_id, job.attempt, generation.model_rounds, generation.repair_rounds,
                 prior_source, _format_counts(counts), timings.get("context", 0), timings.get("model", 0),
                 _throughput(generation.output_tokens, timings.get("model", 0)), timings.get("complete", 0),
                 finished.duration)
        return finished

    def _claim_finish(self) -> bool:
        """Take the right to end the job; False when an abort already ended it."""
        with self._finish_lock:
            if self._finished:
                return self._ended_by_main
            self._finished = self._ended_by_main = True
            return True

    def _end(self, job: LeasedJob, failure: Failure, *, model_unavailable: bool = False) -> JobFinished:
        """Fail the job with ``failure`` unless an abort already ended it."""
        if not self._claim_finish():
            return self._aborted(job)
        finished = self._fail(job, failure)
        if model_unavailable:
            finished = replace(finished, model_unavailable=True)
        self._report(job, finished)
        return finished

    def _lease_lost(self, job: LeasedJob, reason: str) -> JobFinished:
        """End the job as lease_lost (neither completed nor failed) unless an abort already ended it."""
        if not self._claim_finish():
            return self._aborted(job)
        finished = self._result(job, JobOutcome.LEASE_LOST, reason)
        self._report(job, finished)
        return finished

    def _fail(self, job: LeasedJob, failure: Failure) -> JobFinished:
        """Report the failure to the cloud; the outcome is lease_lost if the lease was already gone."""
        reason = redact_and_cut(failure.reason, MAX_REASON_CHARS)  # redact first: a cut could halve a secret
        try:
            self._client.fail(job.workspace_id, reason)
        except LeaseLost:
            return self._result(job, JobOutcome.LEASE_LOST,
                                f"lease lost before the failure was reported: {reason}")
        except CloudError as exc:
            log.error("could not report the failure of %s (%s); the cloud will re-queue it when the lease "
                      "expires", job.workspace_id, exc)
        except Exception as exc:  # failing a job must end it, whatever the client does
            log.error("could not report the failure of %s (internal error %s: %s); the cloud will re-queue it "
                      "when the lease expires", job.workspace_id, type(exc).__name__, redact(str(exc)))
        return self._result(job, JobOutcome.FAILED, reason, failure=failure.kind)

    def _result(self, job: LeasedJob, outcome: JobOutcome, reason: str,
                failure: FailureClass | None = None) -> JobFinished:
        return JobFinished(job.workspace_id, outcome, reason, self._clock() - self._started, failure=failure,
                           lane=self.lane)

    def _report(self, job: LeasedJob, finished: JobFinished) -> None:
        if finished.outcome != JobOutcome.COMPLETED:
            log.warning("%s %s attempt=%d after %.2fs: %s", finished.outcome.replace("_", " "),
                        job.workspace_id, job.attempt, finished.duration, finished.reason)
        installed = metrics()
        installed.jobs.labels(finished.outcome).inc()
        installed.job_duration.observe(finished.duration)
        if finished.failure is not None:
            installed.job_failures.labels(finished.failure).inc()
        self._send(finished)
        self._reported.set()

    def _aborted(self, job: LeasedJob) -> JobFinished:
        """What the job thread returns when an abort ended the job first (the abort reported it)."""
        abort = self._abort or Failure(FailureClass.OTHER, "aborted")
        return self._result(job, JobOutcome.FAILED, abort.reason, failure=abort.kind)


class _timed:
    """Adds the seconds a block took to ``timings[name]``."""

    def __init__(self, timings: dict[str, float], name: str) -> None:
        self._timings, self._name = timings, name

    def __enter__(self) -> None:
        self._start = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        self._timings[self._name] = self._timings.get(self._name, 0.0) + time.monotonic() - self._start


def _format_counts(counts: Mapping[str, int]) -> str:
    return ",".join(f"{kind}:{count}" for kind, count in counts.items() if count) or "none"


def _throughput(output_tokens: int | None, model_seconds: float) -> str:
    """``tokens_out=N (R tok/s)`` for the job log line: what operators compare models by."""
    if output_tokens is None:
        return "tokens_out=n/a"
    if model_seconds <= 0:
        return f"tokens_out={output_tokens}"
    return f"tokens_out={output_tokens} ({output_tokens / model_seconds:.1f} tok/s)"
