"""One worker slot: its process, pipe, state and the jobs it holds, as the supervisor sees them.

A slot outlives its workers: when a worker dies, the slot keeps its crash history, job count
and restart count, and a replacement starts in it. Only one live process per slot ever exists
(a replacement starts after the old worker is reaped), which is what lets metrics files be
named by slot.

The slot's state changes only through its named transitions (``started``, ``booted``,
``wants_work``, ``assigned``, ``finished``, ``stopping``, ``reaped``, ``parked``,
``unparked``), all in ``TRANSITIONS``; a transition from a state it does not list raises
``InvalidTransition`` (a bug in the pool, never a worker's doing).

A worker runs up to ``lanes`` jobs at once (``pool.jobs_per_worker``; its ``Ready`` says how
many): the slot holds each in-flight job by workspace id, is BUSY while it holds any, and the
lease gate counts its job lanes as seats (``seat``), not the slot.
"""
from __future__ import annotations

import enum
import os
import signal
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import psutil

from shared.config.sections import MAX_JOBS_PER_WORKER
from shared.enums import StrEnum
from shared.jobs import LeasedJob
from shared.pipe.failures import Failure
from shared.pipe.messages import SupervisorMessage


class WorkerStop(StrEnum):
    """Why the supervisor asked a worker to exit after its job, or killed it (``WorkerSlot.stop_reason``)."""

    DRAIN = "drain"          # the pool stops
    SCALE = "scale"          # the pool shrank
    ROLL = "roll"            # SIGHUP: replaced by a worker of the new config
    RECYCLE = "recycle"      # pool.max_jobs_per_worker reached
    MEMORY = "memory"        # over pool.max_worker_memory (recycled, or killed far over it)
    HUNG = "hung"            # killed: no sign of life
    STUCK = "stuck"          # killed: its main thread did not come back
    BOOT = "boot"            # killed: not READY within pool.boot_timeout
    DEADLINE = "deadline"    # killed: far past the job deadline
    SHUTDOWN = "shutdown"    # killed: the abort's kill timeout is over


class SlotState(str, enum.Enum):
    STARTING = "starting"    # process started, model loading, not READY yet
    IDLE = "idle"            # READY, waiting for a permit or leasing
    BUSY = "busy"            # holds one job or more
    STOPPING = "stopping"    # asked to stop (or killed), not reaped yet
    PARKED = "parked"        # crashed too often: left empty until SIGHUP
    WAITING = "waiting"      # empty, a replacement starts after a backoff delay


_LIVE = (SlotState.STARTING, SlotState.IDLE, SlotState.BUSY, SlotState.STOPPING)   # a worker process exists
# transition → {from state: to state}. A worker asked to stop stays STOPPING whatever it reports next,
# except that a lease it already had in flight makes it BUSY (it runs that job before it exits).
# ``finished_one`` and ``wants_more`` are the same events while the worker still holds other jobs.
TRANSITIONS: dict[str, dict[SlotState, SlotState]] = {
    "started": {SlotState.WAITING: SlotState.STARTING},
    "booted": {SlotState.STARTING: SlotState.IDLE, SlotState.STOPPING: SlotState.STOPPING},
    "wants_work": {SlotState.STARTING: SlotState.IDLE, SlotState.IDLE: SlotState.IDLE,
                   SlotState.BUSY: SlotState.IDLE, SlotState.STOPPING: SlotState.STOPPING},
    "wants_more": {SlotState.BUSY: SlotState.BUSY, SlotState.STOPPING: SlotState.STOPPING},
    "assigned": {SlotState.IDLE: SlotState.BUSY, SlotState.BUSY: SlotState.BUSY,
                 SlotState.STOPPING: SlotState.BUSY},
    "finished": {SlotState.BUSY: SlotState.IDLE, SlotState.IDLE: SlotState.IDLE,
                 SlotState.STOPPING: SlotState.STOPPING},
    "finished_one": {SlotState.BUSY: SlotState.BUSY, SlotState.STOPPING: SlotState.STOPPING},
    "stopping": {state: SlotState.STOPPING for state in _LIVE},
    "reaped": {state: SlotState.WAITING for state in _LIVE},
    "parked": {SlotState.WAITING: SlotState.PARKED},
    "unparked": {SlotState.PARKED: SlotState.WAITING},
}


def seat(slot: int, lane: int) -> int:
    """The lease gate's id of job lane ``lane`` of slot ``slot``: the gate counts job lanes, not
    processes, and a permit goes back to the lane that asked (``slot_of`` undoes it)."""
    return slot * MAX_JOBS_PER_WORKER + lane


def slot_of(seat_id: int) -> tuple[int, int]:
    """The (slot, lane) of a lease gate seat."""
    return divmod(seat_id, MAX_JOBS_PER_WORKER)


class InvalidTransition(RuntimeError):
    """A slot was asked to make a transition its state does not allow."""

    def __init__(self, slot: str, transition: str, state: SlotState) -> None:
        super().__init__(f"slot {slot}: {transition} is not allowed in state {state.value}")
        self.transition, self.from_state = transition, state


@dataclass(frozen=True, kw_only=True)
class InFlightJob:
    """The supervisor's copy of a job a worker holds, kept so it can be re-run or failed if the worker dies.

    ``lease`` is the job record itself (the one the cloud client made); this wraps it with what
    only the supervisor needs. ``key`` is the runner key that leased it: only that key may
    heartbeat, complete or fail it. A renewal or a re-run replaces the record (``renewed``,
    ``dataclasses.replace``).
    """

    lease: LeasedJob
    key: str = field(repr=False)
    started_at: float                      # supervisor clock seconds
    renew_at: float = 0.0                  # epoch seconds: next heartbeat while it waits for a re-run
    lost_to: Failure | None = None      # why its last worker died, while it waits for a re-run

    def renewed(self, lease_expires_at_ms: int) -> InFlightJob:
        """This job with its lease extended to ``lease_expires_at_ms`` (epoch ms)."""
        return replace(self, lease=replace(self.lease, lease_expires_at_ms=lease_expires_at_ms))


@dataclass
class WorkerSlot:
    """A place in the pool for one worker at a time, with that worker's state and the slot's history."""

    slot: int
    key: str = field(repr=False)             # the runner key this slot's worker leases with
    _state: SlotState = field(default=SlotState.WAITING, init=False)   # changed by the transitions only
    process: BaseProcess | None = None
    conn: Connection | None = None
    generation: int = 0                      # workers started in this slot so far
    config_generation: int = 0               # config version the current worker runs with
    started_at: float = 0.0                  # supervisor clock seconds, like every time below
    ready_at: float | None = None
    last_seen: float = 0.0                   # last message from the worker (sign of life)
    jobs: dict[str, InFlightJob] = field(default_factory=dict)   # in flight, by workspace id, oldest first
    lanes: int = 1                           # jobs the current worker runs at once (its Ready says)
    awaiting_work: bool = False              # it asked for work and was sent nothing since (see watchdog)
    jobs_done: int = 0                       # by the current worker
    jobs_total: int = 0                      # by every worker of this slot
    recycle_after: int = 0                   # jobs before a planned recycle (0 = never)
    restarts: int = 0
    restart_at: float | None = None       # when a WAITING slot starts its next worker
    stop_reason: WorkerStop | None = None   # why we asked it to stop, or killed it
    term_sent_at: float | None = None     # when we signalled it; KILL follows after kill_timeout
    fatal: str | None = None              # what the worker said before a boot/credential exit
    rss_bytes: int = 0
    _psutil: psutil.Process | None = None

    @property
    def state(self) -> SlotState:
        return self._state

    def _move(self, transition: str) -> None:
        target = TRANSITIONS[transition].get(self._state)
        if target is None:
            raise InvalidTransition(self.name, transition, self._state)
        self._state = target

    def started(self, *, now: float) -> None:
        """A worker process was started in the empty slot at ``now``; it loads the model."""
        self._move("started")
        self.started_at = self.last_seen = now
        self.restart_at = None

    def booted(self) -> None:
        """The worker reported READY."""
        self._move("booted")

    def wants_work(self) -> None:
        """A job lane of the worker is idle and asks for work; a worker whose every lane waits
        sends no sign of life until it is sent something (the watchdog exempts it while it has no job)."""
        self._move("wants_more" if self.jobs else "wants_work")
        self.awaiting_work = True

    def assigned(self, job: InFlightJob) -> None:
        """The worker holds ``job`` (it leased it, or the supervisor handed it a recovered one)."""
        self._move("assigned")
        self.jobs[job.lease.workspace_id] = job

    def finished(self, workspace_id: str) -> None:
        """The worker ended the job ``workspace_id`` (outcome reported)."""
        self.jobs.pop(workspace_id, None)
        self._move("finished_one" if self.jobs else "finished")
        self.jobs_done += 1
        self.jobs_total += 1

    def oldest_job(self) -> InFlightJob | None:
        """The in-flight job that started first (the first to reach its deadline), or None."""
        return min(self.jobs.values(), key=lambda job: job.started_at, default=None)

    def seats(self) -> range:
        """The lease gate's seats of this slot's job lanes (see ``seat``)."""
        return range(seat(self.slot, 0), seat(self.slot, max(1, self.lanes)))

    def stopping(self, reason: WorkerStop) -> None:
        """The worker is asked to exit for ``reason`` after its jobs (STOPPING now if it holds none)."""
        self.stop_reason = self.stop_reason or reason
        if not self.jobs:
            self._move("stopping")

    def reaped(self, *, restart_at: float) -> None:
        """The worker is dead and forgotten; a replacement may start at ``restart_at``."""
        self._move("reaped")
        self.restart_at = restart_at

    def backing_off(self, *, until: float) -> None:
        """The empty slot's next worker starts no earlier than ``until`` (after a crash)."""
        if self._state != SlotState.WAITING:
            raise InvalidTransition(self.name, "backing_off", self._state)
        self.restart_at = until

    def parked(self) -> None:
        """The slot crashed too often: it stays empty until SIGHUP."""
        self._move("parked")
        self.restart_at = None

    def unparked(self, *, now: float) -> None:
        """SIGHUP: a parked slot starts a worker again at ``now``."""
        self._move("unparked")
        self.restart_at = now

    def send(self, message: SupervisorMessage) -> None:
        """Send ``message`` to the worker, if it has a pipe (a dying worker's broken pipe is ignored)."""
        self.awaiting_work = False   # it answers, and signs of life are due again
        if self.conn is None:
            return
        try:
            self.conn.send(message)
        except (OSError, ValueError):
            pass  # the worker is dying; reaping will deal with it

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def name(self) -> str:
        return f"w{self.slot}"

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the worker's process group (the worker and any children it made)."""
        if self.pid is None:
            return
        try:
            if os.getpgid(self.pid) == self.pid:
                os.killpg(self.pid, signum)
            else:  # still booting, not its own group leader yet: signal the process itself
                os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def terminate(self, *, now: float, reason: WorkerStop) -> None:
        """Stop the worker now (SIGTERM to its group); the caller escalates to SIGKILL later."""
        self.stop_reason = self.stop_reason or reason
        self._move("stopping")
        if self.term_sent_at is None:
            self.term_sent_at = now
            self.signal_group(signal.SIGTERM)

    def sample_memory(self) -> None:
        """Refresh ``rss_bytes`` for memory policing (psutil; one Process object per worker).
        What /status and /metrics show is sampled at scrape time (``observability.usage``)."""
        if self.pid is None:
            self.rss_bytes = 0
            return
        try:
            if self._psutil is None or self._psutil.pid != self.pid:
                self._psutil = psutil.Process(self.pid)
            self.rss_bytes = self._psutil.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            self.rss_bytes = 0

    def clear_worker(self) -> None:
        """Forget the reaped worker; the slot's history stays."""
        if self.conn is not None:
            self.conn.close()
        if self.process is not None:
            self.process.close()
        self.process = self.conn = None
        self.ready_at = None
        self.jobs = {}
        self.lanes = 1
        self.awaiting_work = False
        self.jobs_done = 0
        self.stop_reason = self.term_sent_at = self.fatal = None
        self.rss_bytes = 0
        self._psutil = None
