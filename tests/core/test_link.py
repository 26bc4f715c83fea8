"""The worker's end of its pipe (workers/link.py) on a fake pipe and a fake clock.

Permits and assigned jobs queue for the lease loop; ``Stop`` ends the loop between jobs; ``Abort``
reaches the job at once; the ticker sends ``Alive`` only after ``alive_interval`` of silence (a
sign that the process runs); a broken pipe means the supervisor is gone and the worker stops.
The receiver is driven in the test's own thread (``_receive`` returns at the pipe's EOF).
"""
from __future__ import annotations

from shared.cloud.jobs import LeasedJob
from shared.pipe.failures import Failure, FailureClass
from shared.pipe.messages import Abort, Alive, AssignJob, LeasePermit, LeaseResult, Ready, Stop, WantWork
from tests.core.fakes import FakeClock, FakeConn
from workers.link import SupervisorLink

ALIVE = 4.0   # seconds: alive_interval


class Rig:
    def __init__(self, *incoming: object, broken: bool = False) -> None:
        self.clock = FakeClock()
        self.conn = FakeConn(incoming, broken=broken)
        self.aborts: list[Failure] = []
        self.lost = 0
        self.link = SupervisorLink(conn=self.conn, alive_interval=ALIVE,  # type: ignore[arg-type]
                                   on_abort=self.aborts.append, on_lost=self.on_lost, clock=self.clock)

    def on_lost(self) -> None:
        self.lost += 1


def test_alive_is_sent_only_after_alive_interval_of_silence() -> None:
    rig = Rig()
    rig.clock.advance(ALIVE - 0.5)
    rig.link.send_alive_if_quiet()
    assert rig.conn.sent == []
    rig.link.send(LeaseResult("empty"))   # any message resets the silence
    rig.clock.advance(ALIVE - 0.5)
    rig.link.send_alive_if_quiet()
    assert rig.conn.sent == [LeaseResult("empty")]
    rig.clock.advance(0.5)
    rig.link.send_alive_if_quiet()
    assert rig.conn.sent == [LeaseResult("empty"), Alive()]


def test_a_worker_waiting_for_the_supervisor_is_quiet_until_it_is_sent_something() -> None:
    """After WantWork the supervisor expects nothing (watchdog: WorkerSlot.awaiting_work); any command ends that."""
    rig = Rig(LeasePermit())
    rig.link.send(WantWork())
    rig.clock.advance(10 * ALIVE)
    rig.link.send_alive_if_quiet()
    assert rig.conn.sent == [WantWork()]
    ticks: list[list[object]] = []

    def tick_then_eof() -> object:   # the ticker fires after the permit, while the pipe is still open
        if not rig.conn.incoming:
            rig.link.send_alive_if_quiet()
            ticks.append(list(rig.conn.sent))
            raise EOFError
        return rig.conn.incoming.popleft()

    rig.conn.recv = tick_then_eof   # type: ignore[method-assign]
    rig.link._receive()
    assert ticks == [[WantWork(), Alive()]]


def test_a_worker_with_a_lane_still_busy_is_never_quiet() -> None:
    """Quiet only when EVERY job lane waits: a lane on a long model call sends nothing for minutes,
    so a worker going quiet because another lane asked for work would be killed as hung."""
    rig = Rig(LeasePermit(lane=1))
    rig.link.send(Ready(pid=1, jobs=2))
    rig.link.send(WantWork(lane=0))
    rig.link.send(WantWork(lane=1))
    assert rig.link.quiet                  # both lanes wait: no sign of life owed
    rig.link._receive()                    # lane 1 gets a permit (then EOF: the pipe closes)
    assert not rig.link.quiet              # lane 1 leases and runs a job; lane 0 still waits
    rig.clock.advance(ALIVE)
    rig.link._closed.clear()               # (the fake pipe's EOF closed the link; keep it open for the tick)
    rig.link.send_alive_if_quiet()
    assert rig.conn.sent[-1] == Alive()


def test_stop_or_abort_speaks_to_every_lane() -> None:
    rig = Rig(Stop())
    rig.link.send(WantWork(lane=0))
    assert rig.link.quiet
    rig.link._receive()
    assert not rig.link.quiet


def test_permits_and_assigned_jobs_reach_the_lease_loop_in_order() -> None:
    job = AssignJob(LeasedJob(workspace_id="ws-1", lease_expires_at_ms=1_800_000_600_000, attempt=2))
    rig = Rig(LeasePermit(), job)
    rig.link._receive()
    assert [rig.link.next_work(timeout=0), rig.link.next_work(timeout=0), rig.link.next_work(timeout=0)] == \
        [LeasePermit(), job, None]


def test_stop_ends_the_loop_before_any_work_still_queued() -> None:
    rig = Rig(LeasePermit(), Stop(5))
    rig.link._receive()
    assert rig.link.next_work(timeout=0) == Stop(5) == rig.link.stop_requested
    assert rig.link.next_work(timeout=0) == Stop(5)


def test_abort_reaches_the_job_at_once_and_unknown_messages_are_ignored() -> None:
    failure = Failure(FailureClass.OTHER, "runner stopping: workers cannot boot")
    rig = Rig(WantWork(), Abort(failure))
    rig.link._receive()
    assert rig.aborts == [failure] and rig.link.next_work(timeout=0) is None


def test_the_supervisor_gone_stops_the_worker_and_later_sends_are_dropped() -> None:
    rig = Rig()
    rig.link._receive()                   # EOF at once
    assert rig.lost == 1
    rig.link.send(LeaseResult("empty"))
    assert rig.conn.sent == [] and rig.lost == 1


def test_a_broken_pipe_on_send_stops_the_worker_once() -> None:
    rig = Rig(broken=True)
    rig.link.send(WantWork())
    rig.link.send(Alive())
    assert rig.lost == 1
