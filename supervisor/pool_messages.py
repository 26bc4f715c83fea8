"""What the pool does with each message a worker sends (``PoolManager`` mixes this in).

Workers speak over their own pipes (``workers.messages``): READY after boot, WantWork when
idle, the result of each permitted lease request, renewed leases, finished jobs, log
records and last words before a planned exit code. Any message is a sign of life.
Everything here runs on the supervisor's loop thread.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from typing import Any, Callable, Collection

from supervisor.config.sections import RunnerConfig
from workers.http.redact import describe_token
from workers.messages import (EXIT_RECYCLE, EXIT_STOPPED, Alive, AssignJob, Fatal, JobFinished, LeaseRenewed,
                              LeaseResult, LogRecordMessage, Ready, Stop, SupervisorMessage, WantWork)

from .exitcodes import EXIT_CONFIG, EXIT_CREDENTIAL_REJECTED
from .lease_gate import LeaseGate
from .logs import emit_worker_record
from .recovery import Recovery
from .roller import Roller
from .slots import InFlightJob, SlotState, WorkerSlot

log = logging.getLogger("xenon.supervisor")

MESSAGES_PER_TURN = 200        # per worker per loop turn, so one chatty worker cannot starve the others
MODEL_PAUSE_MIN, MODEL_PAUSE_MAX = 30.0, 600.0   # seconds of leasing pause after the model refused us
RECYCLE_STOPS = ("recycle", "memory")            # stop reasons whose exit is a planned recycle


class WorkerMessages:
    """The message handlers of ``PoolManager`` (split out to keep each file to one concern)."""

    # State and actions of the PoolManager this is mixed into.
    config: RunnerConfig
    slots: dict[int, WorkerSlot]
    gate: LeaseGate
    recovery: Recovery
    roller: Roller
    draining: bool
    exit_code: int
    outcomes: Counter[str]
    _clock: Callable[[], float]
    _ever_ready: bool
    status_changed: bool
    model_pause: ModelPause
    request_stop: Callable[[WorkerSlot, str], None]
    abort: Callable[..., None]

    def read_messages(self, ready: Collection[Any]) -> None:
        """Handle what the workers whose pipe is in ``ready`` have sent."""
        for slot in list(self.slots.values()):
            if slot.conn is not None and slot.conn in ready:
                self._drain_conn(slot, limit=MESSAGES_PER_TURN)

    def _drain_conn(self, slot: WorkerSlot, *, limit: int | None) -> None:
        count = 0
        conn = slot.conn
        while conn is not None and (limit is None or count < limit):
            try:
                if not conn.poll():
                    return
                message = conn.recv()
            except (EOFError, OSError):
                return   # the worker is gone; reaping deals with it
            except Exception:  # noqa: BLE001 - a garbled message must not take the supervisor down
                log.exception("unreadable message from worker %s", slot.name)
                continue
            count += 1
            slot.last_seen = self._clock()
            self._handle(slot, message)

    def _handle(self, slot: WorkerSlot, message: Any) -> None:
        if isinstance(message, LogRecordMessage):
            emit_worker_record(message.record)
            return
        if isinstance(message, Alive):
            return   # a sign of life only (already noted)
        self.status_changed = True
        if isinstance(message, WantWork):
            self._on_want_work(slot)
        elif isinstance(message, LeaseResult):
            self._on_lease_result(slot, message)
        elif isinstance(message, JobFinished):
            self._on_job_finished(slot, message)
        elif isinstance(message, LeaseRenewed):
            if slot.job is not None and slot.job.workspace_id == message.workspace_id:
                slot.job.lease_expires_at_ms = message.lease_expires_at_ms
        elif isinstance(message, Ready):
            self._on_ready(slot)
        elif isinstance(message, Fatal):
            slot.fatal = message.reason   # the worker logged it; the pool acts on it when it exits
        else:
            log.warning("ignored unknown message from worker %s: %s", slot.name, type(message).__name__)

    def _on_ready(self, slot: WorkerSlot) -> None:
        slot.ready_at = self._clock()
        if slot.state == SlotState.STARTING:
            slot.state = SlotState.IDLE
        self._ever_ready = True
        self.roller.on_ready(slot.slot)

    def _on_want_work(self, slot: WorkerSlot) -> None:
        if slot.state != SlotState.STOPPING:
            slot.state = SlotState.IDLE
        if self.draining or slot.stop_reason:
            self._send(slot, stop_message(slot.stop_reason))
            return
        job = self.recovery.take(slot.key)
        if job is not None:
            slot.job = replace(job, started_at=self._clock())
            slot.state = SlotState.BUSY
            self._send(slot, AssignJob(job.workspace_id, job.lease_expires_at_ms, job.attempt, dict(job.workspace)))
            return
        self.gate.want(slot.slot, slot.key)

    def _on_lease_result(self, slot: WorkerSlot, result: LeaseResult) -> None:
        self.gate.report(slot.slot, slot.key, result.result, result.retry_after)
        if result.result == "leased" and result.workspace_id and result.lease_expires_at_ms is not None:
            slot.job = InFlightJob(workspace_id=result.workspace_id, lease_expires_at_ms=result.lease_expires_at_ms,
                                   attempt=1, key=slot.key, started_at=self._clock(), workspace=result.workspace)
            slot.state = SlotState.BUSY
        elif result.result == "throttled":
            log.warning("the cloud throttled leasing (%s); the whole pool pauses %.1fs", result.detail,
                        result.retry_after or self.config.pool.poll_interval)
        elif result.result == "error":
            log.warning("worker %s: lease request failed: %s", slot.name, result.detail)
        elif result.result == "rejected":
            self._credential_rejected(slot.key, result.detail)

    def _on_job_finished(self, slot: WorkerSlot, finished: JobFinished) -> None:
        if finished.model_unavailable:
            pause = self.model_pause.refused(now=self._clock())
            if pause is not None:
                self.gate.pause(pause)
                log.error("the model endpoint refused the runner (%s): pausing leasing for %gs so the queue is not "
                          "burnt through; fix the model settings (api_key, billing, base_url) or the model "
                          "server and send SIGHUP to resume at once", finished.reason, pause)
        elif finished.outcome == "completed":
            self.model_pause.clear()
        self.outcomes[finished.outcome] += 1
        slot.job = None
        slot.jobs_done += 1
        slot.jobs_total += 1
        if slot.state != SlotState.STOPPING:
            slot.state = SlotState.IDLE
        if slot.recycle_after and slot.jobs_done >= slot.recycle_after and not slot.stop_reason:
            log.info("worker %s did %d jobs (pool.max_jobs_per_worker): recycling it", slot.name, slot.jobs_done)
            self.request_stop(slot, "recycle")

    def _credential_rejected(self, key: str, detail: str) -> None:
        if self.exit_code == EXIT_CREDENTIAL_REJECTED:
            return
        log.error("the cloud rejected runner key %s (%s): stopping the pool (exit 3). Mint a new key in "
                  "Studio → Settings → Runners and update RUNNER_TOKEN.", describe_token(key), detail)
        self.abort("runner stopping: the cloud rejected its runner key", exit_code=EXIT_CREDENTIAL_REJECTED)

    def _cannot_boot(self, fatal: str | None) -> None:
        if self.exit_code == EXIT_CONFIG:
            return
        log.error("workers cannot boot with this configuration (%s): stopping the pool (exit 2)",
                  fatal or "see the log above")
        self.abort("runner stopping: workers cannot boot", exit_code=EXIT_CONFIG)

    def _send(self, slot: WorkerSlot, message: SupervisorMessage) -> None:
        if slot.conn is None:
            return
        try:
            slot.conn.send(message)
        except (OSError, ValueError):
            pass  # the worker is dying; reaping will deal with it


class ModelPause:
    """How long leasing pauses while the model endpoint refuses the runner (bad API key, no quota).

    Every job would fail the same way, so the pool stops leasing: 30 s at first, doubling per
    refusal up to 10 min. Refusals from jobs that were already running when the pause began
    do not double it again.
    """

    def __init__(self) -> None:
        self.seconds = 0.0   # length of the current (or last) pause
        self.until = 0.0     # supervisor clock seconds

    @property
    def active(self) -> bool:
        return self.seconds > 0

    def refused(self, *, now: float) -> float | None:
        """A job failed because the model refused us: the new pause in seconds, or None if paused already."""
        if now < self.until:
            return None
        self.seconds = min(MODEL_PAUSE_MAX, max(MODEL_PAUSE_MIN, self.seconds * 2))
        self.until = now + self.seconds
        return self.seconds

    def clear(self) -> None:
        """The model answered (a job completed, or the operator reloaded the config)."""
        self.seconds = self.until = 0.0


def stop_message(reason: str | None) -> Stop:
    """The ``Stop`` for a worker asked to exit for ``reason``: a recycle or a plain stop."""
    return Stop(EXIT_RECYCLE if reason in RECYCLE_STOPS else EXIT_STOPPED)
