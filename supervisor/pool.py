"""The worker pool as the supervisor's loop drives it: messages, deaths, permits, timeouts, scaling.

Every method runs on the loop thread. The pool owns the slots, the lease gate, the restart
policy and the recovery of in-flight jobs; ``Arbiter`` calls it in the loop's fixed order.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import random
import signal
import time
from collections import deque
from dataclasses import replace
from typing import Any, Callable, Iterable

import psutil
from prometheus_client import multiprocess

from supervisor import __version__
from supervisor.config.sections import RunnerConfig
from workers.cloud.jobs import JobClient
from workers.http.redact import describe_token
from workers.main import run_worker
from workers.messages import (EXIT_BOOT_FAILED, EXIT_CREDENTIAL_REJECTED, EXIT_RECYCLE, EXIT_STOPPED, Abort,
                              Alive, AssignJob, Fatal, JobFinished, LeasePermit, LeaseRenewed, LeaseResult,
                              LogRecordMessage, Ready, Stop, WantWork)
from workers.metrics import metrics
from workers.spec import WorkerSpec

from .cloud_target import CloudTarget
from .exitcodes import EXIT_CONFIG, EXIT_CREDENTIAL_REJECTED as EXIT_POOL_CREDENTIAL, EXIT_OK
from .lease_gate import LeaseGate
from .logs import emit_worker_record
from .observability.snapshot import PoolSnapshot, WorkerView
from .recovery import Recovery
from .restart_policy import RestartPolicy
from .slots import InFlightJob, SlotState, WorkerSlot

log = logging.getLogger("xenon.supervisor")

MESSAGES_PER_TURN = 200        # per worker per loop turn, so one chatty worker cannot starve the others
SAMPLE_EVERY = 1.0             # seconds between psutil samples of the workers
PUBLISH_EVERY = 0.25           # seconds between snapshots for the HTTP thread
DEFAULT_LEASES_PER_WORKER = 10.0   # lease requests per second per worker when pool.lease_rate is 0
DEADLINE_GRACE = 30.0
MODEL_PAUSE_MIN, MODEL_PAUSE_MAX = 30.0, 600.0   # seconds of leasing pause after the model refused us          # seconds past pool.job_timeout before the supervisor kills the worker itself
# Restart reasons by why we stopped a worker; anything we did not ask for is a crash.
PLANNED_RESTART = {"recycle": "recycle", "roll": "recycle", "memory": "memory", "hung": "hung", "deadline": "hung"}


class PoolManager:
    def __init__(self, *, config: RunnerConfig, cloud: CloudTarget, metrics_dir: str, wake: Callable[[], None],
                 started: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._cloud = cloud
        self._metrics_dir = metrics_dir
        self._clock = clock
        self._started = started
        self._rng = random.Random()
        self._ctx = multiprocessing.get_context(config.pool.start_method)
        if config.pool.start_method == "forkserver":
            self._ctx.set_forkserver_preload(["workers.main"])  # import once in the fork server, not per worker
        self.slots: dict[int, WorkerSlot] = {}
        self.desired = config.pool.workers
        self.gate = self._new_gate()
        self.policy = self._new_policy()
        self.recovery = Recovery(clients=self._clients(), max_attempts=config.pool.max_job_attempts, wake=wake)
        self.draining = False
        self.drain_reason: str | None = None
        self._drain_deadline: float | None = None
        self._abort_deadline: float | None = None
        self.exit_code = EXIT_OK
        self._ever_ready = False
        self._config_generation = 0
        self._rolling: deque[int] = deque()
        self._rolling_slot: int | None = None
        self._sampled_at = 0.0
        self._published_at = 0.0
        self._model_pause = 0.0   # seconds; doubles while the model endpoint keeps refusing us
        self._snapshot = PoolSnapshot(started_at=started, loop_heartbeat=clock())
        self._self_process = psutil.Process()
        self._self_process.cpu_percent(None)

    # --- setup ---------------------------------------------------------------------------

    def _new_gate(self) -> LeaseGate:
        pool = self.config.pool
        return LeaseGate(keys=len(self._cloud.tokens), burst=self.desired, poll_interval=pool.poll_interval,
                         rate=self._lease_rate(), clock=self._clock, rng=self._rng)

    def _lease_rate(self) -> float:
        """Lease requests per second allowed for the pool (pool.lease_rate, default 10 per worker)."""
        return self.config.pool.lease_rate or DEFAULT_LEASES_PER_WORKER * self.desired

    def _new_policy(self) -> RestartPolicy:
        pool = self.config.pool
        return RestartPolicy(base=pool.restart_backoff, cap=pool.restart_backoff_max, window=pool.crash_window,
                             max_crashes=pool.max_crashes, startsecs=pool.startsecs, rng=self._rng)

    def _clients(self) -> list[JobClient]:
        return [JobClient.from_config(self.config.cloud, base_url=self._cloud.url, token=token)
                for token in self._cloud.tokens]

    def start_workers(self) -> None:
        for index in range(self.desired):
            self.slots[index] = WorkerSlot(slot=index, key=self._cloud.key_for_slot(index))
        self.manage_workers()

    # --- waiting and messages ------------------------------------------------------------

    def waitables(self) -> list[Any]:
        objects: list[Any] = []
        for slot in self.slots.values():
            if slot.process is not None:
                objects.append(slot.process.sentinel)
                if slot.conn is not None:
                    objects.append(slot.conn)
        return objects

    def next_wakeup(self, longest: float) -> float:
        """Seconds the loop may sleep: until the gate or a restart is due, at most ``longest``."""
        now = self._clock()
        times = [now + longest]
        gate_at = self.gate.next_change()
        if gate_at is not None:
            times.append(gate_at)
        times.extend(s.restart_at for s in self.slots.values() if s.restart_at is not None)
        return max(0.0, min(times) - now)

    def read_messages(self, ready: Iterable[Any]) -> None:
        ready_ids = {id(obj) for obj in ready}
        for slot in list(self.slots.values()):
            if slot.conn is not None and id(slot.conn) in ready_ids:
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
                return
            count += 1
            slot.last_seen = self._clock()
            self._handle(slot, message)

    def _handle(self, slot: WorkerSlot, message: Any) -> None:
        if isinstance(message, LogRecordMessage):
            emit_worker_record(message.record)
        elif isinstance(message, Alive):
            pass
        elif isinstance(message, WantWork):
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
            slot.fatal = message.reason
            log.error("worker %s: %s", slot.name, message.reason)

    def _on_ready(self, slot: WorkerSlot) -> None:
        slot.ready_at = self._clock()
        if slot.state == SlotState.STARTING:
            slot.state = SlotState.IDLE
        self._ever_ready = True
        if self._rolling_slot == slot.slot:
            self._rolling_slot = None

    def _on_want_work(self, slot: WorkerSlot) -> None:
        if slot.state != SlotState.STOPPING:
            slot.state = SlotState.IDLE
        if self.draining or slot.stop_reason:
            self._send(slot, Stop(EXIT_RECYCLE if slot.stop_reason in ("recycle", "memory") else EXIT_STOPPED))
            return
        job = self.recovery.take(slot.key)
        if job is not None:
            slot.job = replace(job, started_at=self._clock())
            slot.state = SlotState.BUSY
            self._send(slot, AssignJob(job.workspace_id, job.lease_expires_at_ms, job.attempt, dict(job.workspace)))
            return
        slot.wants_work = True
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
            log.warning("lease request failed: %s", result.detail)
        elif result.result == "rejected":
            self._credential_rejected(slot, result.detail)

    def _on_job_finished(self, slot: WorkerSlot, finished: JobFinished) -> None:
        if finished.model_unavailable:
            self._model_pause = min(MODEL_PAUSE_MAX, max(MODEL_PAUSE_MIN, self._model_pause * 2))
            self.gate.pause(self._model_pause)
            log.error("the model endpoint refused the runner (%s): pausing leasing for %gs so the queue is not "
                      "burnt through; fix model.api_key / billing and send SIGHUP to resume at once",
                      finished.reason, self._model_pause)
        elif finished.outcome == "completed":
            self._model_pause = 0.0
        slot.job = None
        slot.jobs_done += 1
        slot.jobs_total += 1
        if slot.state != SlotState.STOPPING:
            slot.state = SlotState.IDLE
        if slot.recycle_after and slot.jobs_done >= slot.recycle_after and not slot.stop_reason:
            log.info("worker %s did %d jobs (pool.max_jobs_per_worker): recycling it", slot.name, slot.jobs_done)
            self.request_stop(slot, "recycle")

    def _credential_rejected(self, slot: WorkerSlot, detail: str) -> None:
        if self.exit_code == EXIT_POOL_CREDENTIAL:
            return
        log.error("the cloud rejected runner key %s (%s): stopping the pool (exit 3). Mint a new key in "
                  "Studio → Settings → Runners and update RUNNER_TOKEN.",
                  describe_token(self._cloud.token_for_slot(slot.slot)), detail)
        self.abort("runner stopping: the cloud rejected its runner key", exit_code=EXIT_POOL_CREDENTIAL)

    def _send(self, slot: WorkerSlot, message: Any) -> None:
        if slot.conn is None:
            return
        try:
            slot.conn.send(message)
        except (OSError, ValueError):
            pass  # the worker is dying; reaping will deal with it

    # --- reaping -------------------------------------------------------------------------

    def reap_workers(self) -> None:
        for slot in list(self.slots.values()):
            if slot.process is None or slot.process.exitcode is None:
                continue
            self._drain_conn(slot, limit=None)   # its last words (JobFinished, Fatal) come first
            self._reap(slot)
        for result in self.recovery.results():
            if result.action == "fail" and not result.ok and result.detail:
                log.debug("supervisor fail call for %s: %s", result.workspace_id, result.detail)

    def _reap(self, slot: WorkerSlot) -> None:
        process = slot.process
        assert process is not None
        code, pid = process.exitcode, process.pid
        now = self._clock()
        ready_for = now - slot.ready_at if slot.ready_at is not None else None
        cause = self._death_cause(slot, code)
        multiprocess.mark_process_dead(slot.name, self._metrics_dir)
        self.gate.forget(slot.slot)
        job, reason, fatal = slot.job, slot.stop_reason, slot.fatal
        slot.clear_worker()
        if job is not None:
            self.recovery.worker_lost(job, cause, may_retry=not self.draining and reason != "deadline")
        if code == EXIT_CREDENTIAL_REJECTED:
            self._credential_rejected(slot, fatal or "exit 3")
        elif code == EXIT_BOOT_FAILED and not self._ever_ready:
            log.error("workers cannot boot with this configuration: %s", fatal or "see the log above")
            self.abort("runner stopping: workers cannot boot", exit_code=EXIT_CONFIG)
        if self.draining or slot.slot >= self.desired:
            if slot.slot >= self.desired:
                del self.slots[slot.slot]
            else:
                slot.state = SlotState.WAITING
            return
        planned = PLANNED_RESTART.get(reason or "")
        if planned is not None or code == EXIT_RECYCLE:
            metrics().restarts.labels(planned or "recycle").inc()
            slot.state, slot.restart_at = SlotState.WAITING, now
            return
        decision = self.policy.on_crash(slot.slot, now=now, ready_for=ready_for)
        metrics().restarts.labels("crash").inc()
        if decision.park:
            slot.state, slot.restart_at = SlotState.PARKED, None
            log.error("slot %s crashed %d times within %gs: parked (FATAL) until SIGHUP; last cause: %s",
                      slot.name, self.config.pool.max_crashes, self.config.pool.crash_window, cause)
        else:
            slot.state, slot.restart_at = SlotState.WAITING, now + decision.delay
            log.warning("worker %s (pid %s) %s; restarting in %.2fs", slot.name, pid, cause, decision.delay)

    def _death_cause(self, slot: WorkerSlot, code: int | None) -> str:
        if slot.stop_reason == "hung":
            return f"worker hung (no sign of life for {self.config.pool.hung_timeout:g}s)"
        if slot.stop_reason == "memory":
            return f"worker killed: memory over {_mib(self.config.pool.max_worker_memory)} limit"
        if slot.stop_reason == "deadline":
            return f"job deadline exceeded ({self.config.pool.job_timeout:g}s)"
        if slot.stop_reason == "shutdown":
            return "runner shutting down"
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            hint = ", possible OOM" if -code == signal.SIGKILL else ""
            return f"worker crashed (signal {-code} {name}{hint})"
        if slot.fatal:
            return slot.fatal
        return f"worker crashed (exit code {code})"

    # --- permits, timeouts, scaling ------------------------------------------------------

    def grant_leases(self) -> None:
        if self.draining:
            return
        for index in self.gate.grant():
            slot = self.slots.get(index)
            if slot is None or slot.conn is None:
                self.gate.forget(index)
                continue
            slot.wants_work = False
            self._send(slot, LeasePermit())

    def enforce_timeouts(self) -> None:
        now = self._clock()
        pool = self.config.pool
        if self._drain_deadline is not None and now >= self._drain_deadline and self._abort_deadline is None:
            log.warning("graceful timeout (%gs) over: failing the jobs still running", pool.graceful_timeout)
            self.abort("runner shutting down", exit_code=self.exit_code)
        for slot in self.slots.values():
            if slot.process is None:
                continue
            if slot.term_sent_at is not None:
                if now - slot.term_sent_at >= pool.kill_timeout:
                    slot.signal_group(signal.SIGKILL)
                continue
            if self._abort_deadline is not None and now >= self._abort_deadline:
                slot.terminate(now=now, reason="shutdown")
            elif slot.state == SlotState.STARTING and now - slot.started_at > pool.boot_timeout:
                log.error("worker %s did not become READY within pool.boot_timeout (%gs): killing it",
                          slot.name, pool.boot_timeout)
                slot.terminate(now=now, reason="hung")
            elif now - slot.last_seen > pool.hung_timeout:
                log.error("worker %s sent no sign of life for %gs (pool.hung_timeout): killing it",
                          slot.name, pool.hung_timeout)
                slot.terminate(now=now, reason="hung")
            elif slot.job is not None and now - slot.job.started_at > pool.job_timeout + DEADLINE_GRACE:
                log.error("worker %s overran the job deadline on %s: killing it", slot.name, slot.job.workspace_id)
                slot.terminate(now=now, reason="deadline")
        if now - self._sampled_at >= SAMPLE_EVERY:
            self._sampled_at = now
            self._sample_and_police_memory(now)
        self.recovery.keep_alive()

    def _sample_and_police_memory(self, now: float) -> None:
        limit = self.config.pool.max_worker_memory
        for slot in self.slots.values():
            slot.sample_resources()
            if not limit or slot.process is None or slot.term_sent_at is not None or not slot.rss_bytes:
                continue
            if slot.rss_bytes > limit * self.config.pool.memory_kill_factor and slot.job is not None:
                log.error("worker %s uses %s, far over pool.max_worker_memory (%s): killing it mid-job",
                          slot.name, _mib(slot.rss_bytes), _mib(limit))
                slot.terminate(now=now, reason="memory")
            elif slot.rss_bytes > limit and slot.stop_reason is None:
                log.warning("worker %s uses %s, over pool.max_worker_memory (%s): recycling it after its job",
                            slot.name, _mib(slot.rss_bytes), _mib(limit))
                self.request_stop(slot, "memory")

    def manage_workers(self) -> None:
        now = self._clock()
        if not self.draining:
            for index in range(self.desired):
                if index not in self.slots:
                    self.slots[index] = WorkerSlot(slot=index, key=self._cloud.key_for_slot(index))
        for slot in list(self.slots.values()):
            if slot.slot >= self.desired:
                if slot.process is None:
                    del self.slots[slot.slot]
                elif not slot.stop_reason:
                    self.request_stop(slot, "scale")
            elif (slot.process is None and slot.state == SlotState.WAITING and not self.draining
                  and (slot.restart_at or 0) <= now):
                self._spawn(slot)
        self._continue_rolling()

    def _spawn(self, slot: WorkerSlot) -> None:
        now = self._clock()
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        pool = self.config.pool
        slot.key = self._cloud.key_for_slot(slot.slot)
        spec = WorkerSpec(slot=slot.slot, generation=slot.generation, config=self.config, cloud_url=self._cloud.url,
                          token=self._cloud.token_for_slot(slot.slot), metrics_dir=self._metrics_dir,
                          supervisor_pid=os.getpid(), alive_interval=min(5.0, max(0.2, pool.hung_timeout / 4)))
        process = self._ctx.Process(target=run_worker, args=(spec, child_conn), name=f"xenon-worker-{slot.slot}")
        process.start()
        child_conn.close()
        if slot.generation > 0:
            slot.restarts += 1
        slot.process, slot.conn = process, parent_conn
        slot.generation += 1
        slot.config_generation = self._config_generation
        slot.state, slot.started_at, slot.last_seen, slot.restart_at = SlotState.STARTING, now, now, None
        jitter = self._rng.uniform(0.9, 1.1)
        slot.recycle_after = max(1, round(pool.max_jobs_per_worker * jitter)) if pool.max_jobs_per_worker else 0
        log.debug("started worker %s (pid %d, generation %d)", slot.name, process.pid, slot.generation)

    def request_stop(self, slot: WorkerSlot, reason: str) -> None:
        """Ask the worker to exit after its job (if any): drain, scale, roll, recycle or memory."""
        slot.stop_reason = slot.stop_reason or reason
        self.gate.forget(slot.slot)
        slot.wants_work = False
        if slot.job is None:
            slot.state = SlotState.STOPPING
        self._send(slot, Stop(EXIT_RECYCLE if reason in ("recycle", "memory") else EXIT_STOPPED))

    def scale(self, delta: int) -> None:
        """SIGTTIN/SIGTTOU: one worker more or less (never below one)."""
        if self.draining:
            return
        self.desired = max(1, self.desired + delta)
        self.gate.resize(burst=self.desired, rate=self._lease_rate())
        log.info("pool size is now %d workers", self.desired)

    def reload(self, config: RunnerConfig, cloud: CloudTarget) -> None:
        """Apply a reloaded config: new size, policies and keys; roll every worker, one at a time."""
        keys_changed = cloud.tokens != self._cloud.tokens
        self.config, self._cloud = config, cloud
        self.desired = config.pool.workers
        self.gate = self._new_gate()
        self.policy = self._new_policy()
        if keys_changed:
            self.recovery.replace_clients(self._clients())
        for slot in self.slots.values():
            if slot.state == SlotState.PARKED:
                slot.state, slot.restart_at = SlotState.WAITING, self._clock()
        self._config_generation += 1
        self._rolling = deque(sorted(index for index, slot in self.slots.items() if slot.process is not None))
        self._rolling_slot = None
        log.info("SIGHUP: configuration reloaded; %d workers wanted; rolling %d workers one at a time",
                 self.desired, len(self._rolling))

    def _continue_rolling(self) -> None:
        if self._rolling_slot is not None:
            slot = self.slots.get(self._rolling_slot)
            if slot is not None and slot.state not in (SlotState.PARKED,) and not self.draining:
                return   # wait for the replacement to report READY
            self._rolling_slot = None
        while self._rolling and not self.draining:
            slot = self.slots.get(self._rolling.popleft())
            if slot is not None and slot.process is not None and slot.config_generation < self._config_generation:
                self._rolling_slot = slot.slot
                self.request_stop(slot, "roll")
                return

    # --- stopping ------------------------------------------------------------------------

    def drain(self, reason: str, *, graceful_timeout: float) -> None:
        """Stop leasing; let in-flight jobs finish within ``graceful_timeout`` seconds."""
        if self.draining:
            return
        self.draining, self.drain_reason = True, reason
        self._drain_deadline = self._clock() + graceful_timeout
        self.recovery.fail_queued("runner shutting down")
        for slot in self.slots.values():
            if slot.process is not None:
                self.request_stop(slot, "drain")

    def abort(self, reason: str, *, exit_code: int) -> None:
        """Fail in-flight jobs now and stop every worker (second signal, graceful timeout, fatal error)."""
        self.exit_code = exit_code
        if self._abort_deadline is not None:
            return
        self.drain(reason, graceful_timeout=0)
        self._abort_deadline = self._clock() + self.config.pool.kill_timeout
        for slot in self.slots.values():
            if slot.job is not None:
                self._send(slot, Abort(reason))

    @property
    def stopped(self) -> bool:
        """True once draining is over: no worker left and no cloud call under way."""
        return self.draining and all(s.process is None for s in self.slots.values()) and not self.recovery.busy

    @property
    def consecutive_empty_polls(self) -> int:
        return self.gate.consecutive_empty

    def kill_all(self) -> None:
        """Last resort at exit: SIGKILL whatever still runs and fail its job (no orphans, no stuck jobs)."""
        for slot in self.slots.values():
            if slot.process is not None and slot.process.exitcode is None:
                slot.signal_group(signal.SIGKILL)
                slot.process.join(timeout=5)
            if slot.process is not None:
                self._drain_conn(slot, limit=None)
                if slot.job is not None:
                    self.recovery.fail(slot.job, "runner shutting down")
                slot.clear_worker()

    def close(self) -> None:
        self.recovery.close(timeout=self.config.cloud.read_timeout)

    # --- status --------------------------------------------------------------------------

    def publish_snapshot(self, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._published_at < PUBLISH_EVERY:
            return
        self._published_at = now
        views = tuple(WorkerView(
            slot=slot.slot, pid=slot.pid, state=slot.state.value,
            workspaceId=slot.job.workspace_id if slot.job else None,
            attempt=slot.job.attempt if slot.job else None, jobs_done=slot.jobs_total, restarts=slot.restarts,
            rss_bytes=slot.rss_bytes, cpu_percent=slot.cpu_percent,
            uptime_seconds=round(now - slot.started_at, 3) if slot.process is not None else None,
            generation=slot.generation, key=describe_token(self._cloud.token_for_slot(slot.slot)))
            for slot in sorted(self.slots.values(), key=lambda s: s.slot))
        try:
            rss, cpu = self._self_process.memory_info().rss, self._self_process.cpu_percent(None)
        except psutil.Error:
            rss, cpu = 0, 0.0
        self._snapshot = PoolSnapshot(
            workers=views, draining=self.draining, desired_workers=self.desired, loop_heartbeat=now,
            started_at=self._started, supervisor_pid=os.getpid(), supervisor_rss_bytes=rss,
            supervisor_cpu_percent=cpu, memory_limit_bytes=self.config.pool.max_worker_memory,
            cloud_url=self._cloud.url, model=self.config.model.name,
            recovering_jobs=sum(self.recovery.queued(key) for key in range(len(self._cloud.tokens))),
            lease_backoff_seconds=self.gate.backoff_left(), version=__version__, stop_reason=self.drain_reason)

    def snapshot(self) -> PoolSnapshot:
        """The latest published snapshot (safe from any thread: a reference read)."""
        return self._snapshot


def _mib(size: int | float) -> str:
    return f"{size / 2 ** 20:.0f} MiB"
