"""The clocks the supervisor enforces on its workers, kept apart as lessons.md asks.

* boot: a worker that is not READY within ``boot_timeout`` (model load) is killed;
* sign of life: a READY worker silent for ``hung_timeout`` (its link thread sends ``Alive``
  even during a long model call, so only a stuck process goes quiet) is killed as hung;
* job deadline: a worker still on a job ``DEADLINE_GRACE`` seconds past ``job_timeout`` (it
  should have failed the job itself) is killed;
* TERM → KILL: a worker signalled to stop gets SIGKILL ``kill_timeout`` seconds later;
* memory (psutil RSS, sampled every ``SAMPLE_EVERY`` seconds): over ``max_worker_memory`` the
  worker is recycled after its job; over ``memory_kill_factor`` times that it is killed mid-job
  (its job is then recovered like any other).

Killing means SIGTERM to the worker's process group now and SIGKILL later; the pool reaps it.
"""
from __future__ import annotations

import logging
import signal
from typing import Callable, Iterable

from supervisor.config.sections import PoolConfig

from .deaths import mib
from .slots import SlotState, WorkerSlot

log = logging.getLogger("xenon.supervisor")

DEADLINE_GRACE = 30.0   # seconds past pool.job_timeout before the supervisor kills the worker itself
SAMPLE_EVERY = 1.0      # seconds between psutil samples of the workers


class Watchdog:
    """Enforces the clocks above on every live worker, once per loop turn (``check``)."""

    def __init__(self, *, pool: PoolConfig, recycle: Callable[[WorkerSlot, str], None]) -> None:
        self.pool = pool              # replaced on reload
        self._recycle = recycle       # ask a worker to exit after its job, with a reason
        self._sampled_at = float("-inf")

    def check(self, slots: Iterable[WorkerSlot], now: float) -> None:
        """Kill workers that overran a clock; escalate TERM to KILL; sample and police memory."""
        sample = now - self._sampled_at >= SAMPLE_EVERY
        if sample:
            self._sampled_at = now
        for slot in slots:
            if slot.process is None:
                continue
            if slot.term_sent_at is not None:
                if now - slot.term_sent_at >= self.pool.kill_timeout:
                    slot.signal_group(signal.SIGKILL)
                continue
            self._check_clocks(slot, now)
            if sample:
                slot.sample_resources()
                self._check_memory(slot, now)

    def _check_clocks(self, slot: WorkerSlot, now: float) -> None:
        pool = self.pool
        if slot.state == SlotState.STARTING:
            if now - slot.started_at > pool.boot_timeout:
                log.error("worker %s did not become READY within pool.boot_timeout (%gs): killing it",
                          slot.name, pool.boot_timeout)
                slot.terminate(now=now, reason="boot")
        elif now - slot.last_seen > pool.hung_timeout:
            log.error("worker %s sent no sign of life for %gs (pool.hung_timeout): killing it",
                      slot.name, pool.hung_timeout)
            slot.terminate(now=now, reason="hung")
        elif slot.job is not None and now - slot.job.started_at > pool.job_timeout + DEADLINE_GRACE:
            log.error("worker %s overran the job deadline on %s: killing it", slot.name, slot.job.workspace_id)
            slot.terminate(now=now, reason="deadline")

    def _check_memory(self, slot: WorkerSlot, now: float) -> None:
        limit = self.pool.max_worker_memory
        if not limit or not slot.rss_bytes or slot.term_sent_at is not None:
            return
        if slot.job is not None and slot.rss_bytes > limit * self.pool.memory_kill_factor:
            log.error("worker %s uses %s, far over pool.max_worker_memory (%s): killing it mid-job",
                      slot.name, mib(slot.rss_bytes), mib(limit))
            slot.terminate(now=now, reason="memory")
        elif slot.rss_bytes > limit and slot.stop_reason is None:
            log.warning("worker %s uses %s, over pool.max_worker_memory (%s): recycling it after its job",
                        slot.name, mib(slot.rss_bytes), mib(limit))
            self._recycle(slot, "memory")
