"""What the pool does with each message a worker sends (``WorkerMessages``, a collaborator of ``PoolManager``).

Workers speak over their own pipes (``shared.pipe.messages``): READY after boot, WantWork when
idle, the result of each permitted lease request, renewed leases, finished jobs, log
records and last words before a planned exit code. Any message is a sign of life; the main
thread's own messages (``Progress`` included) also feed the watchdog's ``MainThreadClock``.
Everything here runs on the supervisor's loop thread.
"""
from __future__ import annotations

import logging
import select
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from shared.pipe.messages import (
    Alive,
    AssignJob,
    Fatal,
    JobFinished,
    JobOutcome,
    LeaseOutcome,
    LeaseRenewed,
    LeaseResult,
    LogRecordMessage,
    Progress,
    Ready,
    Stop,
    WantWork,
    WorkerExit,
)

from .lease_gate import LeaseGate
from .log_once import OncePerPool
from .logs import emit_worker_record
from .recovery import Recovery
from .roller import Roller
from .slots import InFlightJob, WorkerSlot, WorkerStop, seat
from .stopping import Shutdown
from .watchdog import MainThreadClock

log = logging.getLogger("xenon.supervisor")

MESSAGES_PER_TURN = 200        # per worker per loop turn, so one chatty worker cannot starve the others
MODEL_PAUSE_MIN, MODEL_PAUSE_MAX = 30.0, 600.0   # seconds of leasing pause after the model refused us
RECYCLE_STOPS = (WorkerStop.RECYCLE, WorkerStop.MEMORY)   # stop reasons whose exit is a planned recycle


class WorkerMessages:
    """Reads the workers' pipes and acts on each message: the slot's transitions, the lease gate,
    recovered jobs, job outcomes and the model pause."""

    def __init__(self, *, slots: Mapping[int, WorkerSlot], gate: LeaseGate, recovery: Recovery, roller: Roller,
                 main_thread: MainThreadClock, shutdown: Shutdown,
                 request_stop: Callable[[WorkerSlot, WorkerStop], None], key_rejected: Callable[[str, str], None],
                 changed: Callable[[], None], clock: Callable[[], float],
                 pending: Callable[[Connection], bool] | None = None) -> None:
        self._slots = slots                 # the pool's slots, by index (the pool adds and removes them)
        self._gate = gate
        self._recovery = recovery
        self._roller = roller
        self._main_thread = main_thread     # the watchdog's clock of each worker's main thread
        self._shutdown = shutdown
        self._request_stop = request_stop   # ask a worker to exit after its job, with a reason
        self._key_rejected = key_rejected   # the cloud rejected a runner key (key, detail): stop the pool
        self._changed = changed             # something /status shows changed
        self._clock = clock
        self._pending = pending or has_message   # whether a pipe has a message (or EOF) to read now
        self.model_pause = ModelPause()
        self._once = OncePerPool()          # worker notices already relayed once for the whole pool
        self.outcomes: Counter[str] = Counter()   # jobs ended during this run, by outcome (for the exit line)
        self.ever_ready = False             # some worker reported READY during this run

    def read(self, ready: Collection[Any], slots: Iterable[WorkerSlot]) -> None:
        """Handle what the workers of ``slots`` (those the loop found ready) whose pipe is in ``ready`` have sent."""
        for slot in slots:
            if slot.conn is not None and slot.conn in ready:
                self.drain(slot, limit=MESSAGES_PER_TURN)

    def drain(self, slot: WorkerSlot, *, limit: int | None) -> None:
        """Handle up to ``limit`` waiting messages of ``slot``'s worker (None: all of them)."""
        count = 0
        conn = slot.conn
        while conn is not None and (limit is None or count < limit):
            try:
                if not self._pending(conn):
                    return
                message = conn.recv()
            except (EOFError, OSError):
                return   # the worker is gone; reaping deals with it
            except Exception:  # a garbled message must not take the supervisor down
                log.exception("unreadable message from worker %s", slot.name)
                continue
            count += 1
            slot.last_seen = self._clock()
            self._main_thread.heard(slot.pid, message, slot.last_seen)
            self._handle(slot, message)

    def _handle(self, slot: WorkerSlot, message: Any) -> None:
        if isinstance(message, LogRecordMessage):
            if self._once.admits(message.record):
                emit_worker_record(message.record)
            return
        if isinstance(message, (Alive, Progress)):
            return   # a sign of life, or of the main thread's progress (already noted)
        self._changed()
        if isinstance(message, WantWork):
            self._on_want_work(slot, message)
        elif isinstance(message, LeaseResult):
            self._on_lease_result(slot, message)
        elif isinstance(message, JobFinished):
            self._on_job_finished(slot, message)
        elif isinstance(message, LeaseRenewed):
            job = slot.jobs.get(message.workspace_id)
            if job is not None:
                slot.jobs[message.workspace_id] = job.renewed(message.lease_expires_at_ms)
        elif isinstance(message, Ready):
            self._on_ready(slot, message)
        elif isinstance(message, Fatal):
            slot.fatal = message.reason   # the worker logged it; the pool acts on it when it exits
        else:
            log.warning("ignored unknown message from worker %s: %s", slot.name, type(message).__name__)

    def _on_ready(self, slot: WorkerSlot, ready: Ready) -> None:
        slot.ready_at = self._clock()
        slot.lanes = max(1, ready.jobs)
        slot.booted()
        self.ever_ready = True
        self._roller.on_ready(slot.slot)

    def _on_want_work(self, slot: WorkerSlot, want: WantWork) -> None:
        slot.wants_work()
        if self._shutdown.draining or slot.stop_reason:
            slot.send(stop_message(slot.stop_reason))
            return
        job = self._recovery.take(slot.key)
        if job is not None:
            slot.assigned(replace(job, started_at=self._clock()))
            slot.send(AssignJob(job.lease, lane=want.lane))
            return
        self._gate.want(seat(slot.slot, want.lane), slot.key)

    def _on_lease_result(self, slot: WorkerSlot, result: LeaseResult) -> None:
        self._gate.report(seat(slot.slot, result.lane), slot.key, result.result, result.retry_after)
        if result.result == LeaseOutcome.LEASED and result.lease is not None:
            slot.assigned(InFlightJob(lease=result.lease, key=slot.key, started_at=self._clock()))
        elif result.result == LeaseOutcome.THROTTLED:
            log.warning("the cloud throttled leasing (%s); the whole pool pauses %.1fs", result.detail,
                        result.retry_after or self._gate.poll_interval)
        elif result.result == LeaseOutcome.ERROR:
            log.warning("worker %s: lease request failed: %s", slot.name, result.detail)
        elif result.result == LeaseOutcome.REJECTED:
            self._key_rejected(slot.key, result.detail)

    def _on_job_finished(self, slot: WorkerSlot, finished: JobFinished) -> None:
        if finished.model_unavailable:
            pause = self.model_pause.refused(now=self._clock())
            if pause is not None:
                self._gate.pause(pause)
                log.error("the model endpoint refused the runner (%s): pausing leasing for %gs so the queue is not "
                          "burnt through; fix the model settings (api_key, billing, base_url) or the model "
                          "server and send SIGHUP to resume at once", finished.reason, pause)
        elif finished.outcome == JobOutcome.COMPLETED:
            self.model_pause.clear()
        self.outcomes[finished.outcome] += 1
        slot.finished(finished.workspace_id)
        if slot.recycle_after and slot.jobs_done >= slot.recycle_after and not slot.stop_reason:
            log.info("worker %s did %d jobs (pool.max_jobs_per_worker): recycling it", slot.name, slot.jobs_done)
            self._request_stop(slot, WorkerStop.RECYCLE)


def has_message(conn: Connection) -> bool:
    """True when ``conn`` has a message or EOF to read now (``recv`` will not block), as ``conn.poll()``.

    ``Connection.poll`` builds, fills and closes a selector on every call (~3 µs here against
    ~0.5 µs for one ``poll(2)``), and the loop asks once per message plus once per ready pipe:
    under steady arrivals at 1,000 in flight that is ~1,150 times a second (issue 12).
    A pipe at EOF or a closed fd reports POLLHUP/POLLNVAL, so ``recv`` then raises as before.
    """
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class ModelPause:
    """How long leasing pauses while the model endpoint refuses the runner (bad API key, no quota).

    Every job would fail the same way, so the pool stops leasing: 30 s at first, doubling per
    refusal up to 10 min. Refusals from jobs that were already running when the pause began
    do not double it again.
    """

    def __init__(self) -> None:
        self.seconds = 0.0   # length of the current (or last) pause
        self.until = 0.0     # supervisor clock seconds
        self.count = 0       # pauses begun since start (for xenon_runner_model_pauses_total)

    @property
    def active(self) -> bool:
        return self.seconds > 0

    def refused(self, *, now: float) -> float | None:
        """A job failed because the model refused us: the new pause in seconds, or None if paused already."""
        if now < self.until:
            return None
        self.seconds = min(MODEL_PAUSE_MAX, max(MODEL_PAUSE_MIN, self.seconds * 2))
        self.until = now + self.seconds
        self.count += 1
        return self.seconds

    def left(self, *, now: float) -> float:
        """Seconds until the current pause ends; 0 when leasing is not paused for the model."""
        return max(0.0, self.until - now)

    def clear(self) -> None:
        """The model answered (a job completed, or the operator reloaded the config)."""
        self.seconds = self.until = 0.0


def stop_message(reason: WorkerStop | None) -> Stop:
    """The ``Stop`` for a worker asked to exit for ``reason``: a recycle or a plain stop."""
    return Stop(WorkerExit.RECYCLE if reason in RECYCLE_STOPS else WorkerExit.STOPPED)
