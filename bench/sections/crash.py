"""e. Crash → replacement: kill -9 an idle worker, time until its slot's new worker is READY.

READY is the moment the replacement has created its cloud client and model handle and
told the supervisor so; it asks for work in the same breath and sends its first lease
request as soon as the pool-wide lease gate allows (at once when jobs wait; in an idle
pool at the pool's next poll, by design). The READY time comes from the new worker's
own log record (epoch ms) and the kill time from this process's clock: the same clock.
The builtin model loads in no time, so model load is excluded by construction. Kills
rotate over the slots, each on a worker READY for longer than ``pool.startsecs``, so every
kill is a first crash after a healthy run (the restart policy's shortest backoff).
"""
from __future__ import annotations

import functools
import os
import re
import signal
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from bench.numbers import mean, percentile
from bench.pool import RunnerPool
from bench.report import Row, SectionResult, Target

from .common import SectionContext

KEY = "e"
TITLE = "crash -> replacement READY (kill -9 an idle worker)"
READY_TARGET = Target(op="<=", value=1000.0, source="issue 4: crash -> replacement leasing again <= 1 s")
HEALTHY_AFTER = 1.5   # seconds READY before a kill (pool.startsecs is 1 s)
WAIT = 60.0           # seconds: safety net for each wait
T = TypeVar("T")
_READY = re.compile(r"^ready \(pid (\d+),")
_RESTART = re.compile(r"\(pid (\d+)\)\W.*restarting in ([0-9.]+)s")   # the supervisor's warning


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def _ready_records(pool: RunnerPool) -> dict[int, tuple[str, float]]:
    """Every worker READY record so far: pid -> (slot name, epoch seconds)."""
    found: dict[int, tuple[str, float]] = {}
    for record in pool.log_records():
        match = _READY.match(record.get("message", ""))
        if match:
            found[int(match.group(1))] = (record.get("slot", ""), _epoch(record["ts"]))
    return found


def _new_ready(pool: RunnerPool, slot: int, known: set[int]) -> float | None:
    """Epoch seconds of the READY record of a worker in ``slot`` whose pid is not in ``known``."""
    for pid, (name, at) in _ready_records(pool).items():
        if name == f"w{slot}" and pid not in known:
            return at
    return None


def _restart_delay(pool: RunnerPool, pid: int) -> float | None:
    """The restart backoff the supervisor chose after worker ``pid`` died (from its log line)."""
    for record in pool.log_records():
        match = _RESTART.search(record.get("message", ""))
        if match and int(match.group(1)) == pid:
            return float(match.group(2))
    return None


def _healthy_idle_pid(pool: RunnerPool, slot: int) -> int:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for worker in (pool.status() or {"workers": []})["workers"]:
            if (worker["slot"] == slot and worker["state"] == "idle" and worker["pid"]
                    and (worker["uptime_seconds"] or 0) >= HEALTHY_AFTER):
                pid: int = worker["pid"]
                return pid
        time.sleep(0.05)
    raise TimeoutError(f"worker slot {slot} was not idle and healthy within {WAIT:g}s:\n{pool.log_tail()}")


def _kill_healthy_idle(pool: RunnerPool, slot: int) -> tuple[int, float]:
    """SIGKILL the healthy idle worker of ``slot``; returns its pid and the kill time.

    /status is a snapshot published a few times a second, so the pid it names may already
    be gone (recycled or replaced since): look again rather than fail the section.
    """
    deadline = time.monotonic() + WAIT
    while True:
        pid = _healthy_idle_pid(pool, slot)
        killed_at = time.time()
        try:
            os.kill(pid, signal.SIGKILL)
            return pid, killed_at
        except ProcessLookupError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _wait(what: str, probe: Callable[[], T | None]) -> T:
    """Poll ``probe`` until it returns something; ``WAIT`` is a safety net."""
    deadline = time.monotonic() + WAIT
    while (value := probe()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {WAIT:g}s")
        time.sleep(0.02)
    return value


def run(ctx: SectionContext) -> SectionResult:
    workers, kills = ctx.settings.crash_workers, ctx.settings.crash_kills
    result = SectionResult(key=KEY, title=TITLE)
    ready_ms: list[float] = []
    backoff_ms: list[float] = []
    with ctx.cloud() as cloud, ctx.pool(cloud, workers=workers, name="e-crash") as pool:
        pool.wait_ready()
        for index in range(kills):
            slot = index % workers
            known = set(_ready_records(pool))
            old_pid, killed_at = _kill_healthy_idle(pool, slot)
            ready_at = _wait(f"READY record of the replacement in slot {slot}",
                             functools.partial(_new_ready, pool, slot, known))
            ready_ms.append(1000 * (ready_at - killed_at))
            delay = _restart_delay(pool, old_pid)
            if delay is not None:
                backoff_ms.append(1000 * delay)
    ctx.progress(f"[e] crash -> READY p50 {percentile(ready_ms, 0.5):.0f} ms, max {max(ready_ms):.0f} ms")
    complete = len(backoff_ms) == len(ready_ms)
    boot_ms = [ready - backoff for ready, backoff in zip(ready_ms, backoff_ms, strict=True)] if complete else []
    result.rows += [
        Row(metric="crash -> replacement READY, p50", unit="ms", ours=percentile(ready_ms, 0.5), target=READY_TARGET),
        Row(metric="crash -> replacement READY, max", unit="ms", ours=max(ready_ms), target=READY_TARGET),
        Row(metric="  of which restart backoff (mean)", unit="ms", ours=mean(backoff_ms) if backoff_ms else None),
        Row(metric="  of which spawn + boot (mean)", unit="ms", ours=mean(boot_ms) if boot_ms else None),
    ]
    result.details = {"workers": workers, "kills": kills, "ready_ms": ready_ms, "restart_backoff_ms": backoff_ms}
    if not complete:
        result.notes.append("the restart backoff could not be read from the supervisor's log for every kill "
                            "(its 'restarting in …s' warning changed?), so the split is left out")
    result.notes.append("measured to READY (the replacement is up and asking the lease gate for a permit); "
                        "the official runner has no replacement at all: its job waits for the lease to "
                        "expire (~10 min) and the runner stays down until someone restarts it")
    return result
