"""The worker pool as the supervisor's loop drives it: reaping, permits, timeouts, scaling, stopping.

Every method runs on the loop thread. ``PoolManager`` owns the slots and puts the parts
together: the handlers of worker messages (``pool_messages``), the stop decision and exit
code (``stopping``, shared with the ``Arbiter``), the snapshot for /status, what a worker's
death means (``deaths``), the lease gate (who may lease when), the restart policy (when a
crashed slot restarts or is parked), the watchdog (boot, sign-of-life, deadline and memory
clocks), the roller (SIGHUP), recovery (jobs of dead workers), the spawner and the loop's
waiter (each worker's sentinel and pipe). ``Arbiter`` calls it in the loop's order.
"""
from __future__ import annotations

import logging
import os
import random
import signal
import time
from collections.abc import Callable, Collection
from typing import Any

from prometheus_client import multiprocess

from shared.cloud.jobs import JobClient
from shared.config.sections import RunnerConfig
from shared.http.redact import describe_token
from shared.metrics import metrics
from shared.pipe.messages import Abort, JobOutcome, LeasePermit, WorkerExit
from supervisor import __version__

from .cloud_target import CloudTarget
from .deaths import FAILURES, death_cause, restart_reason
from .lease_gate import LeaseGate
from .observability.publisher import SnapshotPublisher
from .observability.snapshot import PoolSnapshot, WorkerView
from .pool_messages import WorkerMessages, stop_message
from .recovery import Recovery
from .restart_policy import RestartPolicy
from .roller import Roller
from .slots import SlotState, WorkerSlot, WorkerStop, slot_of
from .spawner import Spawner
from .stopping import FATAL_WORKER_EXITS, Shutdown, StopReason
from .waiter import Waiter
from .watchdog import Watchdog

log = logging.getLogger("xenon.supervisor")

DEFAULT_LEASES_PER_WORKER = 10.0   # lease requests per second per worker when pool.lease_rate is 0


class PoolManager:
    """The pool's slots and what each turn of the supervisor's loop does to them."""

    def __init__(self, *, config: RunnerConfig, cloud: CloudTarget, metrics_dir: str, waiter: Waiter,
                 wake: Callable[[], None], started: float, shutdown: Shutdown,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._waiter = waiter          # the loop's selector: each worker's sentinel and pipe are added
        self._cloud = cloud
        self._metrics_dir = metrics_dir
        self._clock = clock
        self._started = started        # clock seconds
        self._rng = random.Random()
        self._spawner = Spawner(start_method=config.pool.start_method, metrics_dir=metrics_dir)
        self.slots: dict[int, WorkerSlot] = {}
        self.desired = config.pool.workers
        self.gate = LeaseGate(burst=self._job_slots(), rate=self._lease_rate(), poll_interval=config.pool.poll_interval,
                              clock=clock, rng=self._rng)
        self.policy = self._new_policy()
        self.recovery = Recovery(make_client=self._make_client, keys=cloud.tokens,
                                 max_attempts=config.pool.max_job_attempts, wake=wake)
        self.watchdog = Watchdog(pool=config.pool, recycle=self.request_stop)
        self.roller = Roller()
        self.shutdown = shutdown
        self.status = SnapshotPublisher(started=started, clock=clock)
        self.messages = WorkerMessages(slots=self.slots, gate=self.gate, recovery=self.recovery, roller=self.roller,
                                       main_thread=self.watchdog.main_thread, shutdown=shutdown,
                                       request_stop=self.request_stop,
                                       key_rejected=self._credential_rejected, changed=self.status.touch, clock=clock)

    # --- setup ---------------------------------------------------------------------------

    def _lease_rate(self) -> float:
        """Lease requests per second allowed for the pool (pool.lease_rate, default 10 per worker)."""
        return self.config.pool.lease_rate or DEFAULT_LEASES_PER_WORKER * self.desired

    def _job_slots(self) -> int:
        """Jobs the pool aims to run at once: the lease gate's burst (it counts job slots, not processes)."""
        return self.desired * self.config.pool.jobs_per_worker

    def _forget_seats(self, slot: WorkerSlot) -> None:
        """Drop the lease requests and permits of every job lane of ``slot``."""
        for seat_id in slot.seats():
            self.gate.forget(seat_id)

    def _new_policy(self) -> RestartPolicy:
        pool = self.config.pool
        return RestartPolicy(base=pool.restart_backoff, cap=pool.restart_backoff_max, window=pool.crash_window,
                             max_crashes=pool.max_crashes, startsecs=pool.startsecs, rng=self._rng)

    def _make_client(self, token: str) -> JobClient:
        """The supervisor's own client for one runner key (recovery heartbeats and fails)."""
        return JobClient.from_config(self.config.cloud, base_url=self._cloud.url, token=token)

    def start_workers(self) -> None:
        """Start the first workers (the loop's ``manage_workers`` keeps them running)."""
        self.manage_workers()

    # --- waiting ------------------------------------------------------------------------

    def next_wakeup(self, longest: float) -> float:
        """Seconds the loop may sleep: until the gate or a restart is due, at most ``longest``."""
        now = self._clock()
        times = [now + longest]
        gate_at = self.gate.next_change()
        if gate_at is not None:
            times.append(gate_at)
        times.extend(s.restart_at for s in self.slots.values() if s.restart_at is not None)
        publish_at = self.status.next_due()
        if publish_at is not None:
            times.append(publish_at)
        return max(0.0, min(times) - now)

    # --- messages and reaping ----------------------------------------------------------

    def _ready_slots(self, ready: Collection[Any]) -> list[WorkerSlot]:
        """The slots whose pipe or sentinel is in ``ready``, by index (O(ready), not O(slots))."""
        return sorted(self._waiter.owners(ready), key=lambda slot: slot.slot)

    def read_messages(self, ready: Collection[Any]) -> None:
        """Handle what the workers whose pipe is in ``ready`` have sent."""
        self.messages.read(ready, self._ready_slots(ready))

    def reap_workers(self, ready: Collection[Any]) -> None:
        """Reap the workers whose sentinel is in ``ready`` (reading every exit code costs O(N) per turn)."""
        for slot in self._ready_slots(ready):
            if slot.process is None or slot.process.sentinel not in ready or slot.process.exitcode is None:
                continue
            self.messages.drain(slot, limit=None)   # its last words (JobFinished, Fatal) come first
            self._reap(slot)
        for result in self.recovery.results():
            if result.action == "fail" and (result.ok or result.lease_lost):
                self.messages.outcomes[JobOutcome.FAILED if result.ok else JobOutcome.LEASE_LOST] += 1

    def outcome_summary(self) -> str:
        """``12 completed, 1 failed, 0 lease lost`` for the jobs this run ended."""
        return ", ".join(f"{self.messages.outcomes[outcome]} {outcome.replace('_', ' ')}"
                         for outcome in JobOutcome)

    def _reap(self, slot: WorkerSlot) -> None:
        process = slot.process
        assert process is not None
        code, pid, now = process.exitcode, process.pid, self._clock()
        ready_for = now - slot.ready_at if slot.ready_at is not None else None
        stop_reason, fatal, jobs, key = slot.stop_reason, slot.fatal, list(slot.jobs.values()), slot.key
        cause = death_cause(stop_reason=stop_reason, exit_code=code, fatal=fatal, pool=self.config.pool)
        restart = restart_reason(stop_reason=stop_reason, exit_code=code, killed=slot.term_sent_at is not None)
        self._forget_seats(slot)
        self._release(slot)
        for job in jobs:   # each of its jobs is re-run or failed; one past its deadline is never re-run
            overran = stop_reason == WorkerStop.DEADLINE and now - job.started_at > self.config.pool.job_timeout
            self.recovery.worker_lost(job, cause, may_retry=not self.shutdown.draining and not overran)
        if code == WorkerExit.CREDENTIAL_REJECTED:
            self._credential_rejected(key, fatal or f"exit {code}")
        elif code == WorkerExit.BOOT_FAILED and not self.messages.ever_ready:
            self._cannot_boot(fatal)
        if slot.slot >= self.desired:
            del self.slots[slot.slot]
            return
        slot.reaped(restart_at=now)
        if self.shutdown.draining or restart is None:
            return
        metrics().restarts.labels(restart).inc()
        if restart in FAILURES:
            self._after_failure(slot, now=now, ready_for=ready_for,
                                what=f"worker {slot.name} (pid {pid}): {cause.reason}")

    def _after_failure(self, slot: WorkerSlot, *, now: float, ready_for: float | None, what: str) -> None:
        """Back off before the slot's next worker, or park the slot if it keeps failing."""
        decision = self.policy.on_crash(slot.slot, now=now, ready_for=ready_for)
        if decision.park:
            slot.parked()
            log.error("%s; slot crashed %d times within %gs: parked (FATAL) until SIGHUP", what,
                      self.config.pool.max_crashes, self.config.pool.crash_window)
        else:
            slot.backing_off(until=now + decision.delay)
            log.warning("%s; restarting in %.2fs", what, decision.delay)

    # --- permits, timeouts, scaling ------------------------------------------------------

    def grant_leases(self) -> None:
        """Send a lease permit to each idle worker the gate lets lease now (none while draining)."""
        if self.shutdown.draining:
            return
        for seat_id in self.gate.grant():
            index, lane = slot_of(seat_id)
            slot = self.slots.get(index)
            if slot is None or slot.conn is None:
                self.gate.forget(seat_id)
                continue
            slot.send(LeasePermit(lane=lane))

    def enforce_timeouts(self) -> None:
        """The drain's graceful timeout and the abort's kill timeout, the watchdog's clocks, and
        heartbeats for jobs waiting for a re-run."""
        now = self._clock()
        if self.shutdown.graceful_timeout_over():
            log.warning("graceful timeout (%gs) over: failing the jobs still running",
                        self.config.pool.graceful_timeout)
            self.abort(StopReason.SHUTTING_DOWN, exit_code=None)
        if self.shutdown.kill_due():
            for slot in self.slots.values():
                if slot.process is not None:
                    slot.terminate(now=now, reason=WorkerStop.SHUTDOWN)
        self.watchdog.check_due(self.slots.values(), now)
        self.recovery.keep_alive()

    def manage_workers(self) -> None:
        """Create wanted slots, start workers whose restart is due, stop unwanted ones, roll."""
        now = self._clock()
        if not self.shutdown.draining:
            for index in range(self.desired):   # a slot is built only when missing (this runs every turn)
                if index not in self.slots:
                    self.slots[index] = WorkerSlot(slot=index, key=self._cloud.token_for_slot(index))
        for slot in list(self.slots.values()):
            if slot.slot >= self.desired:
                if slot.process is None:
                    del self.slots[slot.slot]
                elif not slot.stop_reason:
                    self.request_stop(slot, WorkerStop.SCALE)
            elif (slot.process is None and slot.state == SlotState.WAITING and not self.shutdown.draining
                  and (slot.restart_at or 0) <= now):
                self._spawn(slot, now)
        if not self.shutdown.draining:
            rolled = self.roller.next_to_stop(self.slots)
            if rolled is not None:
                self.request_stop(rolled, WorkerStop.ROLL)

    def _spawn(self, slot: WorkerSlot, now: float) -> None:
        slot.key = self._cloud.token_for_slot(slot.slot)
        try:
            slot.process, slot.conn = self._spawner.start(slot=slot.slot, config=self.config, cloud_url=self._cloud.url,
                                                          token=slot.key)
        except OSError as exc:
            self._after_failure(slot, now=now, ready_for=None, what=f"cannot start worker {slot.name} ({exc})")
            return
        self._waiter.watch(slot.process.sentinel, slot.conn, owner=slot)
        self.status.touch()
        if slot.generation > 0:
            slot.restarts += 1
        slot.generation += 1
        slot.config_generation = self.roller.generation
        slot.started(now=now)
        jobs = self.config.pool.max_jobs_per_worker
        slot.recycle_after = max(1, round(jobs * self._rng.uniform(0.9, 1.1))) if jobs else 0
        log.debug("started worker %s (pid %s, generation %d)", slot.name, slot.pid, slot.generation)

    def request_stop(self, slot: WorkerSlot, reason: WorkerStop) -> None:
        """Ask the worker to exit after its job (if any): drain, scale, roll, recycle or memory."""
        slot.stopping(reason)
        self.status.touch()
        self._forget_seats(slot)
        slot.send(stop_message(slot.stop_reason))

    def scale(self, delta: int) -> None:
        """SIGTTIN/SIGTTOU: one worker more or less (never below one)."""
        if self.shutdown.draining:
            return
        self.desired = max(1, self.desired + delta)
        self.status.touch()
        self.gate.resize(burst=self._job_slots(), rate=self._lease_rate())
        log.info("pool size is now %d workers", self.desired)

    def reload(self, config: RunnerConfig, cloud: CloudTarget) -> None:
        """Apply a reloaded config: size, policies, keys; un-park slots; roll every worker, one at a time."""
        self.config, self._cloud = config, cloud
        self.desired = config.pool.workers
        self.gate.resize(burst=self._job_slots(), rate=self._lease_rate(), poll_interval=config.pool.poll_interval)
        self.gate.resume()
        self.policy = self._new_policy()
        self.watchdog.pool = config.pool
        self.recovery.reconfigure(make_client=self._make_client, keys=cloud.tokens,
                                  max_attempts=config.pool.max_job_attempts)
        for slot in self.slots.values():
            if slot.state == SlotState.PARKED:
                slot.unparked(now=self._clock())
        rolling = self.roller.start(self.slots)
        if self.messages.model_pause.active:
            # Workers of the old config would only burn jobs on the model that refused us.
            self.messages.model_pause.clear()
            for slot in self.slots.values():
                if slot.process is not None:
                    self.request_stop(slot, WorkerStop.ROLL)
            log.info("SIGHUP: configuration reloaded; %d workers wanted; replacing all %d workers at once (the "
                     "old ones' model refused us)", self.desired, rolling)
        else:
            log.info("SIGHUP: configuration reloaded; %d workers wanted; rolling %d workers one at a time "
                     "(pool.jobs_per_worker=%d applies to each replacement)", self.desired, rolling,
                     config.pool.jobs_per_worker)

    # --- stopping ------------------------------------------------------------------------

    def drain(self, reason: StopReason, *, graceful_timeout: float) -> None:
        """Stop leasing; let in-flight jobs finish within ``graceful_timeout`` seconds."""
        if not self.shutdown.drain(reason, graceful_timeout=graceful_timeout):
            return
        self.status.touch()
        self.recovery.fail_queued(StopReason.SHUTTING_DOWN.failure)
        for slot in self.slots.values():
            if slot.process is not None:
                self.request_stop(slot, WorkerStop.DRAIN)

    def abort(self, reason: StopReason, *, exit_code: int | None) -> None:
        """Fail in-flight jobs now and stop every worker (second signal, graceful timeout, fatal error);
        exit with ``exit_code`` (None: keep the exit code decided so far)."""
        if not self.shutdown.abort(exit_code=exit_code, kill_timeout=self.config.pool.kill_timeout):
            return
        self.drain(reason, graceful_timeout=0)
        for slot in self.slots.values():
            if slot.jobs:
                slot.send(Abort(reason.failure))

    def check_stop_conditions(self) -> None:
        """Drain on pool.max_runtime or pool.max_empty_polls; end the run once a drain is over."""
        limit = self.shutdown.limit_reached(started=self._started, limits=self.config.pool,
                                            empty_polls=self.gate.consecutive_empty)
        if limit is not None:
            self.drain(limit, graceful_timeout=self.config.pool.graceful_timeout)
        self.shutdown.settle(pool_empty=all(s.process is None for s in self.slots.values())
                             and not self.recovery.busy)

    def _credential_rejected(self, key: str, detail: str) -> None:
        reason, exit_code = FATAL_WORKER_EXITS[WorkerExit.CREDENTIAL_REJECTED]
        if self.shutdown.exit_code == exit_code:
            return
        log.error("the cloud rejected runner key %s (%s): stopping the pool (exit %d). Mint a new key in "
                  "Studio → Settings → Runners and update RUNNER_TOKEN.", describe_token(key), detail, exit_code)
        self.abort(reason, exit_code=exit_code)

    def _cannot_boot(self, fatal: str | None) -> None:
        reason, exit_code = FATAL_WORKER_EXITS[WorkerExit.BOOT_FAILED]
        if self.shutdown.exit_code == exit_code:
            return
        log.error("workers cannot boot with this configuration (%s): stopping the pool (exit %d)",
                  fatal or "see the log above", exit_code)
        self.abort(reason, exit_code=exit_code)

    def kill_all(self) -> None:
        """Last resort at exit: SIGKILL whatever still runs and fail its job (no orphans, no stuck jobs)."""
        for slot in self.slots.values():
            if slot.process is None:
                continue
            if slot.process.exitcode is None:
                slot.signal_group(signal.SIGKILL)
                slot.process.join(timeout=5)
            self.messages.drain(slot, limit=None)
            for job in slot.jobs.values():
                self.recovery.fail(job, StopReason.SHUTTING_DOWN.failure)
            self._release(slot)
        self.recovery.fail_queued(StopReason.SHUTTING_DOWN.failure)

    def _release(self, slot: WorkerSlot) -> None:
        """Forget a dead worker: its fds leave the loop's selector, its live gauges the metrics."""
        assert slot.process is not None
        self._waiter.unwatch(slot.process.sentinel, slot.conn)
        multiprocess.mark_process_dead(slot.name, self._metrics_dir)
        slot.clear_worker()
        self.status.touch()

    def close(self) -> None:
        """Let cloud calls under way finish (at most a read timeout), then stop recovery's threads."""
        self.recovery.close(timeout=self.config.cloud.read_timeout)

    # --- status --------------------------------------------------------------------------

    def publish_snapshot(self) -> None:
        """Hand the HTTP thread a fresh picture: soon after a change, and every second regardless."""
        now = self._clock()
        if not self.status.due(now):
            return
        self.status.publish(PoolSnapshot(
            workers=tuple(WorkerView.of(slot, now=now) for slot in sorted(self.slots.values(), key=lambda s: s.slot)),
            draining=self.shutdown.draining, desired_workers=self.desired, loop_heartbeat=now, taken_at=now,
            started_at=self._started, supervisor_pid=os.getpid(),
            memory_limit_bytes=self.config.pool.max_worker_memory, cloud_url=self._cloud.url,
            model=self.config.model.name, recovering_jobs=self.recovery.queued(),
            lease_backoff_seconds=self.gate.backoff_left(), model_pauses=self.messages.model_pause.count,
            model_pause_left=self.messages.model_pause.left(now=now), version=__version__,
            stop_reason=self.shutdown.reason))

    def snapshot(self) -> PoolSnapshot:
        """The latest published snapshot (safe from any thread: a reference read)."""
        return self.status.snapshot()
