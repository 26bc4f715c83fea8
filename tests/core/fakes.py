"""Stand-ins for the supervisor core's unit tests: a clock moved by hand, scripted jitter,
a worker slot that records signals, a pipe end and a cloud client that record calls.

No processes, no sockets, no sleeps: every time a rule reads comes from ``FakeClock``.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from shared.cloud.jobs import FailOutcome
from shared.jobs import LeasedJob
from shared.pipe.failures import Failure
from supervisor.lease_gate import LeaseGate
from supervisor.pool_messages import WorkerMessages
from supervisor.recovery import Recovery
from supervisor.roller import Roller
from supervisor.slots import InFlightJob, SlotState, WorkerSlot, WorkerStop
from supervisor.stopping import Shutdown
from supervisor.watchdog import MainThreadClock
from workers.link import SupervisorLink

PID = 4242   # the pid of the one fake worker process a test needs


class FakeClock:
    """Seconds on a clock that moves only when ``advance`` is called (monotonic or epoch alike)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move the clock ``seconds`` forward; returns the new time."""
        self.now += seconds
        return self.now


class ScriptedRandom:
    """A ``random.Random`` stand-in: ``uniform(a, b)`` returns ``factor`` and records the range asked for.

    A factor outside the range asked for fails the test: the jitter range is part of the rule.
    """

    def __init__(self, factor: float = 1.0) -> None:
        self.factor = factor
        self.ranges: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.ranges.append((a, b))
        assert a <= self.factor <= b, f"jitter factor {self.factor} outside the rule's range {a}..{b}"
        return self.factor


@dataclass
class FakeSlot(WorkerSlot):
    """A slot whose signals are recorded instead of sent and whose RSS is set by the test."""

    signals: list[int] = field(default_factory=list)

    def signal_group(self, signum: int) -> None:
        self.signals.append(signum)

    def sample_memory(self) -> None:
        """Keep the RSS the test set (the real one asks psutil about a live pid)."""


def live_slot(index: int = 0, *, state: SlotState = SlotState.BUSY, now: float = 0.0, pid: int = PID,
              config_generation: int = 0) -> FakeSlot:
    """A slot with a (pretend) live worker process ``pid``, last heard from at ``now``."""
    slot = FakeSlot(slot=index, key="k.s", config_generation=config_generation)
    walk_to(slot, state, now=now)
    slot.process = SimpleNamespace(pid=pid)  # type: ignore[assignment]
    return slot


def walk_to(slot: WorkerSlot, state: SlotState, *, now: float = 0.0) -> None:
    """Take an empty (WAITING) slot to ``state`` through its named transitions, as the pool would.

    BUSY leaves ``slot.jobs`` empty: the tests that care about the jobs set their own.
    """
    if state in (SlotState.WAITING, SlotState.PARKED):
        if state == SlotState.PARKED:
            slot.parked()
        return
    slot.started(now=now)
    if state == SlotState.STOPPING:
        slot.stopping(WorkerStop.DRAIN)
    elif state in (SlotState.IDLE, SlotState.BUSY):
        slot.booted()
        if state == SlotState.BUSY:
            slot.assigned(InFlightJob(lease=LeasedJob(workspace_id="ws-0", lease_expires_at_ms=0), key="k.s",
                                      started_at=now))
            slot.jobs.clear()
    assert slot.state == state


class FakeConn:
    """The worker's end of its pipe: ``recv`` hands out ``incoming`` then reports EOF; ``send`` records."""

    def __init__(self, incoming: Iterable[Any] = (), *, broken: bool = False) -> None:
        self.incoming = deque(incoming)
        self.sent: list[Any] = []
        self.broken = broken   # True: every send fails as a closed pipe does

    def send(self, message: Any) -> None:
        if self.broken:
            raise BrokenPipeError("the supervisor is gone")
        self.sent.append(message)

    def poll(self) -> bool:
        return bool(self.incoming)

    def recv(self) -> Any:
        if not self.incoming:
            raise EOFError
        return self.incoming.popleft()


class FakeCloud:
    """A job client with scripted answers: ``leases`` and ``heartbeats`` are consumed in order;
    an exception in a script is raised. Fails are recorded."""

    def __init__(self, *, leases: Iterable[Any] = (), heartbeats: Iterable[Any] = ()) -> None:
        self.leases = deque(leases)
        self.heartbeats = deque(heartbeats)
        self.heartbeat_calls: list[str] = []
        self.failed: list[tuple[str, str]] = []
        self.closed = False

    @staticmethod
    def _answer(script: deque[Any]) -> Any:
        answer = script.popleft() if len(script) > 1 else script[0]   # the last answer repeats
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def lease(self) -> Any:
        return self._answer(self.leases)

    def heartbeat(self, workspace_id: str) -> int:
        self.heartbeat_calls.append(workspace_id)
        expires_at_ms: int = self._answer(self.heartbeats)
        return expires_at_ms

    def fail(self, workspace_id: str, reason: str) -> FailOutcome:
        self.failed.append((workspace_id, reason))
        return FailOutcome.FAILED

    def close(self) -> None:
        self.closed = True


class Wakes:
    """Counts ``wake()`` calls from another thread, so a test can wait for N results without sleeping."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def __call__(self) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Block until ``count`` wakes in all (a safety net on a hang, not a timing assertion)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._count >= count, timeout=timeout):
                raise AssertionError(f"only {self._count} of {count} cloud calls came back")


KEY = "k.s"   # the one API key of a MessagesRig's recovery
ALIVE = 4.0   # seconds: a LinkRig's alive_interval


class MessagesRig:
    """A pool's worker-message handling (``WorkerMessages``) on a fake clock, gate, recovery and pipes."""

    def __init__(self) -> None:
        self.clock = FakeClock(0.0)
        self.slots: dict[int, WorkerSlot] = {}
        self.gate = LeaseGate(burst=1, rate=10.0, poll_interval=5.0, clock=self.clock)
        self.recovery = Recovery(make_client=lambda key: FakeCloud(), keys=[KEY], max_attempts=2, wake=Wakes())
        self.shutdown = Shutdown(clock=self.clock)
        self.stops: list[tuple[int, WorkerStop]] = []
        self.rejected: list[tuple[str, str]] = []
        self.changes = 0
        self.messages = WorkerMessages(
            slots=self.slots, gate=self.gate, recovery=self.recovery, roller=Roller(), main_thread=MainThreadClock(),
            shutdown=self.shutdown, request_stop=self._stop, key_rejected=lambda *args: self.rejected.append(args),
            changed=self._changed, clock=self.clock, pending=lambda conn: conn.poll())   # FakeConn has no fd

    def _stop(self, slot: WorkerSlot, reason: WorkerStop) -> None:
        self.stops.append((slot.slot, reason))
        slot.stopping(reason)

    def _changed(self) -> None:
        self.changes += 1

    def worker(self, *incoming: Any, state: SlotState = SlotState.STARTING) -> tuple[WorkerSlot, FakeConn]:
        slot = live_slot(0, state=state)
        conn = FakeConn(incoming)
        slot.conn = conn   # type: ignore[assignment]
        self.slots[0] = slot
        return slot, conn

    def deliver(self, slot: WorkerSlot) -> None:
        self.clock.advance(1.0)
        self.messages.read({slot.conn}, [slot])


class LinkRig:
    """A worker's ``SupervisorLink`` on a fake pipe (``incoming`` to receive) and a fake clock."""

    def __init__(self, *incoming: object, broken: bool = False) -> None:
        self.clock = FakeClock()
        self.conn = FakeConn(incoming, broken=broken)
        self.aborts: list[Failure] = []
        self.lost = 0
        self.link = SupervisorLink(conn=self.conn, alive_interval=ALIVE,  # type: ignore[arg-type]
                                   on_abort=self.aborts.append, on_lost=self.on_lost, clock=self.clock)

    def on_lost(self) -> None:
        self.lost += 1
