"""Progress reports of the worker's job lanes, so the supervisor can tell slow from stuck.

A sign of life from the link thread only proves the process runs; it says nothing of a job
thread blocked in a socket read for ever. So each job lane says what it is doing: before a
bounded wait (a cloud call, a model round) it sends ``Progress(within=S, what=..., lane=L)``, S
being the longest the wait can take by its own bounds (seconds), and when it is back it sends
``Progress(within=0)`` (or any other message of that lane: a lease result, a finished job, a
request for work); the worker's link holds that "back" report until the lane's next report
replaces it or its ticker sends it (``workers.link``). The supervisor's rule
(``supervisor.watchdog.MainThreadClock``, one clock per lane): a lane that has not reported
within its declared seconds plus ``pool.hung_timeout`` is stuck and its worker is killed; a
lane waiting for the supervisor (``WantWork``) is exempt until it reports again.

A worker runs ``pool.jobs_per_worker`` lanes: lane 0 on its main thread (registered by
``install``), the others on job threads that call ``enter_lane`` first. Only lane threads
report: a heartbeat thread's call, or a call made in the supervisor's own process (recovery),
declares nothing. Until ``install`` is called (tests, the supervisor) every report is dropped.
Waits may nest (a cloud call inside a summary round): leaving the inner one declares what is
left of the outer one.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .messages import Progress, WorkerMessage

_send: Callable[[WorkerMessage], None] | None = None


class _LaneState(threading.local):
    """The calling thread's lane (None: not a lane thread) and its open waits' monotonic deadlines,
    outermost first."""

    lane: int | None = None

    def __init__(self) -> None:
        self.open_until: list[float] = []


_state = _LaneState()


def install(send: Callable[[WorkerMessage], None]) -> None:
    """Report the job lanes' progress through ``send`` (the worker's link); the calling thread
    (the worker's main thread) is lane 0."""
    global _send
    _send = send
    enter_lane(0)


def enter_lane(lane: int) -> None:
    """The calling thread runs job lane ``lane`` from now on: its bounded waits are reported."""
    _state.lane = lane
    _state.open_until = []


@contextmanager
def bounded_wait(seconds: float, *, what: str) -> Iterator[None]:
    """Declare that this lane waits up to ``seconds`` on ``what``; report back when done."""
    lane = _state.lane
    if _send is None or lane is None:
        yield
        return
    seconds = max(0.0, seconds)
    open_until = _state.open_until
    _report(seconds, what, lane)
    open_until.append(time.monotonic() + seconds)
    try:
        yield
    finally:
        open_until.pop()
        if open_until:  # back in an outer wait: declare what is left of it
            _report(max(0.0, open_until[-1] - time.monotonic()), what, lane)
        else:
            _report(0.0, "", lane)


def _report(seconds: float, what: str, lane: int) -> None:
    send = _send
    if send is not None:
        send(Progress(within=seconds, what=what, lane=lane))
