"""The worker's end of its pipe to the supervisor.

One receiver thread reads commands and files them: permits and assigned jobs go to the
queue of the job lane they name (each lane's lease loop waits on its own); ``Stop`` goes to
every lane and ``Abort`` calls back at once. Sends are serialised with a lock because the
job lanes, the heartbeat threads, the logging handler and the sign-of-life ticker all send.
The ticker's ``Alive`` proves only that the process runs; each job lane's progress travels
as ``Progress`` (``shared.pipe.liveness``). A worker whose every job lane waits for the
supervisor (``WantWork`` sent, no command for that lane received since) is quiet: the
supervisor does not expect a sign of life from it until it sends the worker something
(``supervisor.watchdog``), so an idle pool costs the supervisor nothing per worker. If the
pipe breaks (the supervisor is gone), the worker stops: a worker never outlives its supervisor.

A lane's "back" report (``Progress(within=0)``, sent when a bounded wait ends) is held, not
sent: the lane's next report (``LANE_REPORTS``: the next wait's ``Progress``, its
``LeaseResult``, ``JobFinished`` or ``WantWork``) says as much, usually milliseconds later, and
replaces it; the ticker sends whatever is still held (a lane busy between waits, or stuck after
one). That is a third of a busy pool's messages (issue 12: ~7 of 21 per job), and the
supervisor's clock stays safe (``supervisor.watchdog.MainThreadClock``).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

from shared.pipe.failures import Failure
from shared.pipe.messages import (
    LANE_REPORTS,
    Abort,
    Alive,
    AssignJob,
    LeasePermit,
    Progress,
    Ready,
    Stop,
    WantWork,
    WorkerMessage,
    lane_of,
)

Work = LeasePermit | AssignJob | Stop


class SupervisorLink:
    """Thread-safe messaging with the supervisor, plus the commands it has sent."""

    def __init__(self, *, conn: Connection, alive_interval: float,
                 on_abort: Callable[[Failure], None], on_lost: Callable[[], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._conn = conn
        self._clock = clock   # monotonic seconds: when the last message was sent
        self._send_lock = threading.Lock()
        self._work: dict[int, queue.Queue[Work]] = {}   # per job lane; made on first use
        self._work_lock = threading.Lock()   # guards _work and orders a Stop against a lane's first wait
        self._alive_interval = alive_interval  # seconds of silence before an Alive is sent
        self._last_sent = clock()
        self._held_back: dict[int, Progress] = {}   # lane -> its held "back" report (under _send_lock)
        self._lanes = 1                   # job lanes of this worker, as its Ready says
        self._waiting_lanes: set[int] = set()   # WantWork sent, no command for the lane since
        self._quiet_lock = threading.Lock()     # guards _lanes and _waiting_lanes (sender and receiver threads)
        self._on_abort = on_abort
        self._on_lost = on_lost
        self.stop_requested: Stop | None = None
        self._closed = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._receive, name="link-receiver", daemon=True).start()
        threading.Thread(target=self._tick, name="link-alive", daemon=True).start()

    def send(self, message: WorkerMessage) -> None:
        """Send ``message`` (a lane's "back" report is held, see above); a broken pipe means the
        supervisor is gone, so the worker stops."""
        with self._send_lock:
            if self._closed.is_set():
                return
            if isinstance(message, LANE_REPORTS):
                if isinstance(message, Progress) and message.within <= 0:
                    self._held_back[message.lane] = message
                    return
                self._held_back.pop(lane_of(message), None)   # this report tells the supervisor more
            self._note_sent(message)   # before the send: the supervisor's answer may be read at once
            lost = not self._send_locked(message)
        if lost:
            self._on_lost()

    def send_held_reports(self) -> None:
        """Send the lanes' held "back" reports (the ticker's first duty: a lane busy or stuck since)."""
        with self._send_lock:
            held, self._held_back = list(self._held_back.values()), {}
            lost = not all(self._send_locked(message) for message in held)
        if lost:
            self._on_lost()

    def _send_locked(self, message: WorkerMessage) -> bool:
        """Send under ``_send_lock``; False when the pipe broke on this send (the link is closed)."""
        if self._closed.is_set():
            return True   # already lost and reported
        try:
            self._conn.send(message)
        except (OSError, EOFError, ValueError):
            self._closed.set()
            return False
        self._last_sent = self._clock()
        return True

    def next_work(self, lane: int = 0, timeout: float | None = None) -> Work | None:
        """Block until the supervisor grants job lane ``lane`` a lease, assigns it a job, or says stop."""
        work = self._lane_queue(lane)
        if self.stop_requested is not None:
            return self.stop_requested
        try:
            return work.get(timeout=timeout)
        except queue.Empty:
            return None

    def _lane_queue(self, lane: int) -> queue.Queue[Work]:
        with self._work_lock:
            return self._work.setdefault(lane, queue.Queue())

    def _receive(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (OSError, EOFError):
                break
            self._note_received(message)   # the supervisor expects signs of life again
            if isinstance(message, Abort):
                self._on_abort(message.failure)
            elif isinstance(message, Stop):
                with self._work_lock:   # a lane whose queue is made after this sees stop_requested
                    self.stop_requested = message
                    for work in self._work.values():
                        work.put(message)
            elif isinstance(message, (LeasePermit, AssignJob)):
                self._lane_queue(message.lane).put(message)
            else:
                logging.getLogger("xenon.worker").warning("ignored unknown message from supervisor: %r",
                                                          type(message).__name__)
        self._closed.set()
        self._on_lost()

    def _note_sent(self, message: WorkerMessage) -> None:
        with self._quiet_lock:
            if isinstance(message, Ready):
                self._lanes = max(1, message.jobs)
            elif isinstance(message, WantWork):
                self._waiting_lanes.add(message.lane)

    def _note_received(self, message: object) -> None:
        with self._quiet_lock:
            if isinstance(message, (LeasePermit, AssignJob)):
                self._waiting_lanes.discard(message.lane)
            else:   # Stop, Abort (or anything unknown): every lane is spoken to
                self._waiting_lanes.clear()

    @property
    def quiet(self) -> bool:
        """Every job lane waits for the supervisor: it expects no sign of life until it sends something."""
        with self._quiet_lock:
            return len(self._waiting_lanes) >= self._lanes

    def _tick(self) -> None:
        while not self._closed.wait(self._alive_interval / 2):
            self.send_held_reports()
            self.send_alive_if_quiet()

    def send_alive_if_quiet(self) -> None:
        """Send ``Alive`` when nothing was sent for ``alive_interval`` seconds, unless the worker is
        ``quiet`` (the ticker's rule)."""
        if not self.quiet and self._clock() - self._last_sent >= self._alive_interval:
            self.send(Alive())
