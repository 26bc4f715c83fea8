"""One worker slot: its process, pipe, state and the job it holds, as the supervisor sees them.

A slot outlives its workers: when a worker dies, the slot keeps its crash history, job count
and restart count, and a replacement starts in it. Only one live process per slot ever exists
(a replacement starts after the old worker is reaped), which is what lets metrics files be
named by slot.
"""
from __future__ import annotations

import enum
import os
import signal
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Mapping, Optional

import psutil


class SlotState(str, enum.Enum):
    STARTING = "starting"    # process started, model loading, not READY yet
    IDLE = "idle"            # READY, waiting for a permit or leasing
    BUSY = "busy"            # holds a job
    STOPPING = "stopping"    # asked to stop (or killed), not reaped yet
    PARKED = "parked"        # crashed too often: left empty until SIGHUP
    WAITING = "waiting"      # empty, a replacement starts after a backoff delay


@dataclass
class InFlightJob:
    """The job a worker holds; kept so it can be recovered or failed if the worker dies.

    ``key`` is the runner key that leased it: only that key may heartbeat, complete or fail it.
    """

    workspace_id: str
    lease_expires_at_ms: int
    attempt: int
    key: str = field(repr=False)
    started_at: float                      # supervisor clock seconds
    workspace: Mapping[str, Any] = field(default_factory=dict)
    renew_at: float = 0.0                  # epoch seconds: next heartbeat while it waits for a re-run
    lost_to: str = ""                      # why its last worker died, while it waits for a re-run


@dataclass
class WorkerSlot:
    """A place in the pool for one worker at a time, with that worker's state and the slot's history."""

    slot: int
    key: str = field(repr=False)             # the runner key this slot's worker leases with
    state: SlotState = SlotState.WAITING
    process: Optional[BaseProcess] = None
    conn: Optional[Connection] = None
    generation: int = 0                      # workers started in this slot so far
    config_generation: int = 0               # config version the current worker runs with
    started_at: float = 0.0                  # supervisor clock seconds, like every time below
    ready_at: Optional[float] = None
    last_seen: float = 0.0                   # last message from the worker (sign of life)
    job: Optional[InFlightJob] = None
    jobs_done: int = 0                       # by the current worker
    jobs_total: int = 0                      # by every worker of this slot
    recycle_after: int = 0                   # jobs before a planned recycle (0 = never)
    restarts: int = 0
    restart_at: Optional[float] = None       # when a WAITING slot starts its next worker
    stop_reason: Optional[str] = None        # why we asked it to stop: drain, scale, roll, recycle, memory, hung
    term_sent_at: Optional[float] = None     # when we signalled it; KILL follows after kill_timeout
    fatal: Optional[str] = None              # what the worker said before a boot/credential exit
    rss_bytes: int = 0
    cpu_percent: float = 0.0
    _psutil: Optional[psutil.Process] = None

    @property
    def pid(self) -> Optional[int]:
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

    def terminate(self, *, now: float, reason: str) -> None:
        """Stop the worker now (SIGTERM to its group); the caller escalates to SIGKILL later."""
        self.stop_reason = self.stop_reason or reason
        self.state = SlotState.STOPPING
        if self.term_sent_at is None:
            self.term_sent_at = now
            self.signal_group(signal.SIGTERM)

    def sample_resources(self) -> None:
        """Refresh RSS and CPU% (psutil; one Process object per worker so cpu_percent has a baseline)."""
        if self.pid is None:
            self.rss_bytes, self.cpu_percent = 0, 0.0
            return
        try:
            if self._psutil is None or self._psutil.pid != self.pid:
                self._psutil = psutil.Process(self.pid)
                self._psutil.cpu_percent(None)
            self.rss_bytes = self._psutil.memory_info().rss
            self.cpu_percent = self._psutil.cpu_percent(None)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            self.rss_bytes, self.cpu_percent = 0, 0.0

    def clear_worker(self) -> None:
        """Forget the reaped worker; the slot's history stays."""
        if self.conn is not None:
            self.conn.close()
        if self.process is not None:
            self.process.close()
        self.process = self.conn = None
        self.ready_at = None
        self.job = None
        self.jobs_done = 0
        self.stop_reason = self.term_sent_at = self.fatal = None
        self.rss_bytes, self.cpu_percent = 0, 0.0
        self._psutil = None
