"""Progress reports of the worker's main thread, so the supervisor can tell slow from stuck.

A sign of life from the link thread only proves the process runs; it says nothing of a main
thread blocked in a socket read for ever. So the main thread says what it is doing: before a
bounded wait (a cloud call, a model round) it sends ``Progress(within=S, what=...)``, S being
the longest the wait can take by its own bounds (seconds), and when it is back it sends
``Progress(within=0)`` (or any other message of the main thread: a lease result, a finished
job, a request for work). The supervisor's rule (``supervisor.watchdog.MainThreadClock``):
a main thread that has not reported within its declared seconds plus ``pool.hung_timeout``
is stuck and its worker is killed; a main thread waiting for the supervisor (``WantWork``)
is exempt until it reports again.

Only the main thread reports: a heartbeat thread's call, or a call made in the supervisor's
own process (recovery), declares nothing. Until ``install`` is called (tests, the supervisor)
every report is dropped. Waits may nest (a cloud call inside a summary round): leaving the
inner one declares what is left of the outer one.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .messages import Progress, WorkerMessage

_send: Callable[[WorkerMessage], None] | None = None
_open_until: list[float] = []  # monotonic deadlines of the main thread's open waits, outermost first


def install(send: Callable[[WorkerMessage], None]) -> None:
    """Report the main thread's progress through ``send`` (the worker's link)."""
    global _send
    _send = send
    _open_until.clear()


@contextmanager
def bounded_wait(seconds: float, *, what: str) -> Iterator[None]:
    """Declare that the main thread waits up to ``seconds`` on ``what``; report back when done."""
    if _send is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    seconds = max(0.0, seconds)
    _report(seconds, what)
    _open_until.append(time.monotonic() + seconds)
    try:
        yield
    finally:
        _open_until.pop()
        if _open_until:  # back in an outer wait: declare what is left of it
            _report(max(0.0, _open_until[-1] - time.monotonic()), what)
        else:
            _report(0.0, "")


def _report(seconds: float, what: str) -> None:
    send = _send
    if send is not None:
        send(Progress(within=seconds, what=what))
