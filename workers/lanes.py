"""A worker's job lanes: how many jobs it runs at once, and the threads that run them.

``pool.jobs_per_worker`` lanes share the worker's one model handle and one cloud client; each
lane is a ``LeaseLoop`` with its own ``JobRunner`` (its job's lease keeper, deadline, abort
state and log tag). Lane 0 runs on the main thread, the others on job threads. The lanes are
threads, not asyncio tasks: the jobs wait on blocking HTTP (requests), and a thread per job
costs about 0.15 MiB against ~11 MiB for a process per job (docs/design-notes.md, "Jobs per worker").

A handle that does not declare ``concurrent_sessions = True`` runs one lane, whatever the
setting asks: its sessions may share state that is not safe across threads (a local model).
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from shared.pipe import liveness
from shared.pipe.messages import WorkerExit

from .lease_loop import LeaseLoop

log = logging.getLogger("xenon.worker")


def lanes_for(model: object, *, wanted: int, model_name: str) -> int:
    """Job lanes for ``model``: ``wanted`` (pool.jobs_per_worker) if its sessions may run
    concurrently, else 1, saying so once when that lowers the setting."""
    if wanted <= 1 or getattr(model, "concurrent_sessions", False) is True:
        return max(1, wanted)
    declared = getattr(model, "concurrent_sessions", None)
    why = "cannot run sessions concurrently" if declared is False else "does not declare concurrent_sessions"
    log.warning("model %s %s: pool.jobs_per_worker=%d lowered to 1 job at a time in this worker", model_name,
                why, wanted)
    return 1


def run_lanes(loops: list[LeaseLoop], *, exit_now: Callable[[int], None] = os._exit) -> int:
    """Run every lane until told to stop; the worker's exit code.

    Lane 0 runs here (the main thread). When it returns (a ``Stop``), every other lane has the
    same ``Stop`` and returns after its job: the worker waits for all of its jobs. A lane thread
    that must end the worker (the cloud rejected the key) or that meets a bug ends the process
    at once (``exit_now``); the supervisor recovers the jobs of the other lanes.
    """
    threads = [threading.Thread(target=_lane_thread, args=(loop, exit_now), name=f"job-lane-{lane}", daemon=True)
               for lane, loop in enumerate(loops) if lane > 0]
    for thread in threads:
        thread.start()
    code = loops[0].run()
    for thread in threads:
        thread.join()
    return code


def _lane_thread(loop: LeaseLoop, exit_now: Callable[[int], None]) -> None:
    liveness.enter_lane(loop.lane)
    try:
        loop.run()
    except SystemExit as exc:   # the cloud rejected the runner key: the Fatal is already sent
        exit_now(exc.code if isinstance(exc.code, int) else WorkerExit.CREDENTIAL_REJECTED)
    except Exception:  # a bug in one lane must not leave its seat silently empty
        log.exception("job lane %d failed; the worker exits and its jobs are recovered", loop.lane)
        exit_now(1)
