"""The worker's end of its pipe to the supervisor.

One receiver thread reads commands and files them: permits and assigned jobs go to a
queue the lease loop waits on; ``Stop`` and ``Abort`` set flags the job checks at safe
points. Sends are serialised with a lock because the job thread, the heartbeat thread, the
logging handler and the sign-of-life ticker all send. The ticker's ``Alive`` proves only
that the process runs; the main thread's progress travels as ``Progress`` (``shared.pipe.liveness``).
A worker waiting for the supervisor (``WantWork`` sent, no command received since) is quiet:
the supervisor does not expect a sign of life from it until it sends the worker something
(``supervisor.watchdog``), so an idle pool costs the supervisor nothing per worker. If the
pipe breaks (the supervisor is gone), the worker stops: a worker never outlives its supervisor.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from multiprocessing.connection import Connection
from typing import Callable, Optional, Union

from shared.pipe.failures import Failure
from shared.pipe.messages import Abort, Alive, AssignJob, LeasePermit, Stop, WantWork, WorkerMessage

Work = Union[LeasePermit, AssignJob, Stop]


class SupervisorLink:
    """Thread-safe messaging with the supervisor, plus the commands it has sent."""

    def __init__(self, *, conn: Connection, alive_interval: float,
                 on_abort: Callable[[Failure], None], on_lost: Callable[[], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._conn = conn
        self._clock = clock   # monotonic seconds: when the last message was sent
        self._send_lock = threading.Lock()
        self._work: "queue.Queue[Work]" = queue.Queue()
        self._alive_interval = alive_interval  # seconds of silence before an Alive is sent
        self._last_sent = clock()
        self._waiting = False   # WantWork sent and no command received since: no Alive needed
        self._on_abort = on_abort
        self._on_lost = on_lost
        self.stop_requested: Optional[Stop] = None
        self._closed = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._receive, name="link-receiver", daemon=True).start()
        threading.Thread(target=self._tick, name="link-alive", daemon=True).start()

    def send(self, message: WorkerMessage) -> None:
        """Send ``message``; a broken pipe means the supervisor is gone, so the worker stops."""
        with self._send_lock:
            if self._closed.is_set():
                return
            if isinstance(message, WantWork):
                self._waiting = True   # before the send: the supervisor's answer may be read at once
            try:
                self._conn.send(message)
                self._last_sent = self._clock()
            except (OSError, EOFError, ValueError):
                self._closed.set()
        if self._closed.is_set():
            self._on_lost()

    def next_work(self, timeout: float | None = None) -> Work | None:
        """Block until the supervisor grants a lease, assigns a job, or says stop."""
        if self.stop_requested is not None:
            return self.stop_requested
        try:
            return self._work.get(timeout=timeout)
        except queue.Empty:
            return None

    def _receive(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (OSError, EOFError):
                break
            self._waiting = False   # the supervisor expects signs of life again
            if isinstance(message, Abort):
                self._on_abort(message.failure)
            elif isinstance(message, Stop):
                self.stop_requested = message
                self._work.put(message)
            elif isinstance(message, (LeasePermit, AssignJob)):
                self._work.put(message)
            else:
                logging.getLogger("xenon.worker").warning("ignored unknown message from supervisor: %r",
                                                          type(message).__name__)
        self._closed.set()
        self._on_lost()

    def _tick(self) -> None:
        while not self._closed.wait(self._alive_interval / 2):
            self.send_alive_if_quiet()

    def send_alive_if_quiet(self) -> None:
        """Send ``Alive`` when nothing was sent for ``alive_interval`` seconds, unless the worker waits
        for the supervisor (the ticker's rule)."""
        if not self._waiting and self._clock() - self._last_sent >= self._alive_interval:
            self.send(Alive())
