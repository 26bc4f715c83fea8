"""The clocks the supervisor enforces on its workers, kept apart as lessons.md asks.

* boot: a worker that is not READY within ``boot_timeout`` (model load) is killed;
* sign of life: a READY worker silent for ``hung_timeout`` (its link thread sends ``Alive``
  even during a long model call, so only a stopped process goes quiet) is killed as hung. A
  worker without jobs waiting for the supervisor (``WantWork`` heard, nothing sent to it
  since: ``WorkerSlot.awaiting_work``; its link is quiet only when every job lane waits) is quiet by
  design and exempt; its silence counts again from the last check that saw it waiting, i.e.
  from about when the supervisor sent it something, so a worker that stopped while idle is
  found out when it is next asked to work;
* job-lane progress (``MainThreadClock``): a process that runs is not proof of a main
  thread (or job thread: one lane per ``pool.jobs_per_worker``) that does. Each lane declares
  each bounded wait it enters (a cloud call, a model round: ``Progress(within=S)``, S from the
  call's own bounds) and reports when back; a lane not heard from within S + ``hung_timeout``
  (S = 0 when it declared nothing) is stuck, and its worker is killed (``stuck``). A lane
  waiting for the supervisor (after ``WantWork``) is exempt until it speaks again;
* job deadline: a worker still on a job ``DEADLINE_GRACE`` seconds past ``job_timeout`` (it
  should have failed the job itself) is killed;
* TERM → KILL: a worker signalled to stop gets SIGKILL ``kill_timeout`` seconds later;
* memory (psutil RSS, only when ``max_worker_memory`` is set): over it the worker is recycled
  after its job; over ``memory_kill_factor`` times that it is killed mid-job (its job is then
  recovered like any other). Each worker is sampled every ``SAMPLE_EVERY`` seconds, or less
  often in a big pool: at most ``SAMPLES_PER_SECOND`` samples a second pool-wide.

The loop has the clocks checked at most every ``CHECK_EVERY`` seconds, however often it turns,
so the cost of an idle pool does not grow with the number of workers times the turns.
Killing means SIGTERM to the worker's process group now and SIGKILL later; the pool reaps it.
"""
from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from shared.config.sections import PoolConfig
from shared.pipe.messages import LANE_REPORTS, Progress, WantWork, lane_of

from .deaths import mib
from .slots import SlotState, WorkerSlot, WorkerStop

log = logging.getLogger("xenon.supervisor")

DEADLINE_GRACE = 30.0   # seconds past pool.job_timeout before the supervisor kills the worker itself
CHECK_EVERY = 0.5       # seconds between two checks of the clocks (the loop's tick bounds lateness anyway)
SAMPLE_EVERY = 1.0      # seconds between two psutil samples of one worker, at least ...
SAMPLES_PER_SECOND = 64.0   # ... and psutil samples per second for the whole pool, at most


@dataclass(frozen=True)
class MainThreadReport:
    """The last thing a worker's main thread said about itself."""

    at: float        # supervisor clock seconds
    within: float    # seconds it declared it may be away (0: none)
    what: str        # what it waits on ("POST /leaseWorkspaceJob", "model round 3"), or ""


class MainThreadClock:
    """When each job lane of each worker must be heard from next, by worker pid and lane.

    A worker runs ``pool.jobs_per_worker`` lanes (lane 0 on its main thread, the others on job
    threads); each lane is clocked on its own, and the worker is stuck when any lane is overdue.
    Lane messages (``LANE_REPORTS``): ``Ready`` (lane 0), ``WantWork``, ``LeaseResult``,
    ``JobFinished`` and ``Progress``, each naming its lane; ``Alive`` and log records come from
    other threads and do not count. A lane's "back" report (``Progress(within=0)``) may arrive up
    to one link tick (``alive_interval / 2``, under ``hung_timeout / 8``) late, or never when the
    lane's next report stands for it (``workers.link``): the wait it ends was declared, so the
    lane's deadline stays at least ``hung_timeout`` past its return if the wait kept to its bound
    (and ``7/8 hung_timeout`` if it overran), more than the delay: no lane is found stuck for it.
    """

    def __init__(self) -> None:
        self._reports: dict[int, dict[int, MainThreadReport]] = {}   # pid -> lane -> last report

    def heard(self, pid: int | None, message: Any, now: float) -> None:
        """Note ``message`` from the worker ``pid`` at ``now``."""
        if pid is None or not isinstance(message, LANE_REPORTS):
            return
        lane = lane_of(message)
        if isinstance(message, WantWork):
            self._reports.get(pid, {}).pop(lane, None)   # waiting for the supervisor: nothing to expect of it
        elif isinstance(message, Progress):
            self._reports.setdefault(pid, {})[lane] = MainThreadReport(now, max(0.0, message.within), message.what)
        else:   # Ready, LeaseResult, JobFinished: the lane is back
            self._reports.setdefault(pid, {})[lane] = MainThreadReport(now, 0.0, "")

    def overdue(self, pid: int | None, now: float, *, grace: float) -> MainThreadReport | None:
        """The report of a lane of ``pid`` that is past its declared time plus ``grace`` (the most
        overdue one), or None."""
        lanes = self._reports.get(pid) if pid is not None else None
        if not lanes:
            return None
        worst = min(lanes.values(), key=lambda report: report.at + report.within)
        return worst if now > worst.at + worst.within + grace else None

    def keep_only(self, pids: set[int]) -> None:
        """Forget workers that are gone."""
        for pid in [pid for pid in self._reports if pid not in pids]:
            del self._reports[pid]


class Watchdog:
    """Enforces the clocks above on every live worker, once per loop turn (``check``)."""

    def __init__(self, *, pool: PoolConfig, recycle: Callable[[WorkerSlot, WorkerStop], None]) -> None:
        self.pool = pool              # replaced on reload
        self._recycle = recycle       # ask a worker to exit after its job, with a reason
        self._checked_at = float("-inf")
        self._sampled_at: dict[int, float] = {}    # pid -> clock seconds of its last memory sample
        self._answer_from: dict[int, float] = {}   # pid -> last check that saw it waiting (silence counts after)
        self.main_thread = MainThreadClock()   # fed by the message handlers (pool_messages)

    def check_due(self, slots: Iterable[WorkerSlot], now: float) -> None:
        """The loop's call, every turn: ``check`` unless the last check was less than ``CHECK_EVERY`` ago."""
        if now - self._checked_at >= CHECK_EVERY:
            self.check(slots, now)

    def check(self, slots: Iterable[WorkerSlot], now: float) -> None:
        """Kill workers that overran a clock; escalate TERM to KILL; sample and police memory."""
        self._checked_at = now
        live = [slot for slot in slots if slot.process is not None]
        pids = {slot.pid for slot in live if slot.pid is not None}
        self.main_thread.keep_only(pids)
        for table in (self._sampled_at, self._answer_from):
            for pid in [pid for pid in table if pid not in pids]:
                del table[pid]
        limit = self.pool.max_worker_memory
        sample_every = max(SAMPLE_EVERY, len(live) / SAMPLES_PER_SECOND)   # seconds per worker
        for slot in live:
            if slot.term_sent_at is not None:
                if now - slot.term_sent_at >= self.pool.kill_timeout:
                    slot.signal_group(signal.SIGKILL)
                continue
            self._check_clocks(slot, now)
            if limit and slot.pid is not None and now - self._sampled_at.get(slot.pid, float("-inf")) >= sample_every:
                self._sampled_at[slot.pid] = now
                slot.sample_memory()
                self._check_memory(slot, now)

    def _silent_for(self, slot: WorkerSlot, now: float) -> float:
        """Seconds the worker owes a sign of life for (0 while it waits for the supervisor)."""
        if slot.pid is None:
            return now - slot.last_seen
        if slot.awaiting_work and not slot.jobs:   # a worker with a job in hand is never quiet
            self._answer_from[slot.pid] = now
            return 0.0
        return now - max(slot.last_seen, self._answer_from.get(slot.pid, float("-inf")))

    def _check_clocks(self, slot: WorkerSlot, now: float) -> None:
        pool = self.pool
        if slot.state == SlotState.STARTING:
            if now - slot.started_at > pool.boot_timeout:
                log.error("worker %s did not become READY within pool.boot_timeout (%gs): killing it",
                          slot.name, pool.boot_timeout)
                slot.terminate(now=now, reason=WorkerStop.BOOT)
        elif self._silent_for(slot, now) > pool.hung_timeout:
            log.error("worker %s sent no sign of life for %gs (pool.hung_timeout): killing it",
                      slot.name, pool.hung_timeout)
            slot.terminate(now=now, reason=WorkerStop.HUNG)
        elif (stuck := self.main_thread.overdue(slot.pid, now, grace=pool.hung_timeout)) is not None:
            log.error("worker %s: its main thread has not come back from %s for %.0fs (declared %gs + "
                      "pool.hung_timeout %gs): killing it as stuck", slot.name, stuck.what or "its work",
                      now - stuck.at, stuck.within, pool.hung_timeout)
            slot.terminate(now=now, reason=WorkerStop.STUCK)
        elif (late := slot.oldest_job()) is not None and now - late.started_at > pool.job_timeout + DEADLINE_GRACE:
            log.error("worker %s overran the job deadline on %s: killing it", slot.name, late.lease.workspace_id)
            slot.terminate(now=now, reason=WorkerStop.DEADLINE)

    def _check_memory(self, slot: WorkerSlot, now: float) -> None:
        limit = self.pool.max_worker_memory
        if not limit or not slot.rss_bytes or slot.term_sent_at is not None:
            return
        if slot.jobs and slot.rss_bytes > limit * self.pool.memory_kill_factor:
            log.error("worker %s uses %s, far over pool.max_worker_memory (%s): killing it mid-job",
                      slot.name, mib(slot.rss_bytes), mib(limit))
            slot.terminate(now=now, reason=WorkerStop.MEMORY)
        elif slot.rss_bytes > limit and slot.stop_reason is None:
            log.warning("worker %s uses %s, over pool.max_worker_memory (%s): recycling it after its job",
                        slot.name, mib(slot.rss_bytes), mib(limit))
            self._recycle(slot, WorkerStop.MEMORY)
