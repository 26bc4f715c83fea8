"""The worker's end of its pipe (workers/link.py) on a fake pipe and a fake clock.

Permits and assigned jobs queue for the lease loop; ``Stop`` ends the loop between jobs; ``Abort``
reaches the job at once; the ticker sends ``Alive`` only after ``alive_interval`` of silence (a
sign that the process runs); a broken pipe means the supervisor is gone and the worker stops.
The receiver is driven in the test's own thread (``_receive`` returns at the pipe's EOF).
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.jobs import LeasedJob
from shared.pipe.failures import Failure, FailureClass
from shared.pipe.messages import (
    Abort,
    Alive,
    AssignJob,
    JobFinished,
    JobOutcome,
    LeaseOutcome,
    LeasePermit,
    LeaseRenewed,
    LeaseResult,
    Progress,
    Ready,
    Stop,
    WantWork,
    WorkerExit,
)
from supervisor.watchdog import MainThreadClock, MainThreadReport
from tests.core.fakes import ALIVE, PID, FakeClock, FakeConn, LinkRig
from workers.link import SupervisorLink


def test_alive_is_sent_only_after_alive_interval_of_silence() -> None:
    rig = LinkRig()
    rig.clock.advance(ALIVE - 0.5)
    rig.link.send_alive_if_quiet()
    assert rig.conn.sent == []
    rig.link.send(LeaseResult(LeaseOutcome.EMPTY))   # any message resets the silence
    rig.clock.advance(ALIVE - 0.5)
    rig.link.send_alive_if_quiet()
    assert rig.conn.sent == [LeaseResult(LeaseOutcome.EMPTY)]
    rig.clock.advance(0.5)
    rig.link.send_alive_if_quiet()
    assert rig.conn.sent == [LeaseResult(LeaseOutcome.EMPTY), Alive()]


def test_a_worker_waiting_for_the_supervisor_is_quiet_until_it_is_sent_something() -> None:
    """After WantWork the supervisor expects nothing (watchdog: WorkerSlot.awaiting_work); any command ends that."""
    rig = LinkRig(LeasePermit())
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
    rig = LinkRig(LeasePermit(lane=1))
    rig.link.send(Ready(pid=1, jobs=2))
    rig.link.send(WantWork(lane=0))
    rig.link.send(WantWork(lane=1))
    both_waiting = rig.link.quiet          # a local: mypy would keep the property narrowed past _receive()
    assert both_waiting                    # both lanes wait: no sign of life owed
    rig.link._receive()                    # lane 1 gets a permit (then EOF: the pipe closes)
    assert not rig.link.quiet              # lane 1 leases and runs a job; lane 0 still waits
    rig.clock.advance(ALIVE)
    rig.link._closed.clear()               # (the fake pipe's EOF closed the link; keep it open for the tick)
    rig.link.send_alive_if_quiet()
    assert rig.conn.sent[-1] == Alive()


def test_stop_or_abort_speaks_to_every_lane() -> None:
    rig = LinkRig(Stop())
    rig.link.send(WantWork(lane=0))
    assert rig.link.quiet
    rig.link._receive()
    assert not rig.link.quiet


def test_permits_and_assigned_jobs_reach_the_lease_loop_in_order() -> None:
    job = AssignJob(LeasedJob(workspace_id="ws-1", lease_expires_at_ms=1_800_000_600_000, attempt=2))
    rig = LinkRig(LeasePermit(), job)
    rig.link._receive()
    assert [rig.link.next_work(timeout=0), rig.link.next_work(timeout=0), rig.link.next_work(timeout=0)] == \
        [LeasePermit(), job, None]


def test_stop_ends_the_loop_before_any_work_still_queued() -> None:
    rig = LinkRig(LeasePermit(), Stop(WorkerExit.RECYCLE))
    rig.link._receive()
    assert rig.link.next_work(timeout=0) == Stop(WorkerExit.RECYCLE) == rig.link.stop_requested
    assert rig.link.next_work(timeout=0) == Stop(WorkerExit.RECYCLE)


def test_abort_reaches_the_job_at_once_and_unknown_messages_are_ignored() -> None:
    failure = Failure(FailureClass.OTHER, "runner stopping: workers cannot boot")
    rig = LinkRig(WantWork(), Abort(failure))
    rig.link._receive()
    assert rig.aborts == [failure] and rig.link.next_work(timeout=0) is None


def test_the_supervisor_gone_stops_the_worker_and_later_sends_are_dropped() -> None:
    rig = LinkRig()
    rig.link._receive()                   # EOF at once
    assert rig.lost == 1
    rig.link.send(LeaseResult(LeaseOutcome.EMPTY))
    assert rig.conn.sent == [] and rig.lost == 1


def test_a_broken_pipe_on_send_stops_the_worker_once() -> None:
    rig = LinkRig(broken=True)
    rig.link.send(WantWork())
    rig.link.send(Alive())
    assert rig.lost == 1


# --- held "back" reports: a lane's Progress(within=0) waits for the lane's next report ----------

def test_a_back_report_is_held_and_the_lanes_next_report_replaces_it() -> None:
    rig = LinkRig()
    for follow_up in (Progress(5.0, "model round 2", lane=1), LeaseResult(LeaseOutcome.EMPTY, lane=1),
                      JobFinished("ws-1", JobOutcome.COMPLETED, lane=1), WantWork(lane=1)):
        rig.conn.sent.clear()
        rig.link.send(Progress(5.0, "POST /completeWorkspaceJob", lane=1))
        rig.link.send(Progress(0.0, lane=1))
        assert rig.conn.sent == [Progress(5.0, "POST /completeWorkspaceJob", lane=1)]   # held
        rig.link.send(follow_up)
        rig.link.send_held_reports()
        assert rig.conn.sent == [Progress(5.0, "POST /completeWorkspaceJob", lane=1), follow_up]


def test_only_the_same_lanes_report_replaces_it_and_the_ticker_sends_it_before_any_alive() -> None:
    """Another lane's report, an Alive, a log record or a renewal says nothing of this lane."""
    rig = LinkRig()
    rig.link.send(Progress(0.0, lane=0))
    rig.link.send(Progress(9.0, "model round 1", lane=1))
    rig.link.send(LeaseRenewed("ws-1", 1_800_000_000_000))
    rig.link.send(Alive())
    assert Progress(0.0, lane=0) not in rig.conn.sent
    rig.clock.advance(ALIVE)
    rig.link.send_held_reports()
    rig.link.send_alive_if_quiet()   # the held report just went: it is the sign of life
    assert rig.conn.sent[-1] == Progress(0.0, lane=0) and rig.conn.sent.count(Alive()) == 1
    rig.link.send_held_reports()     # sent once
    assert rig.conn.sent.count(Progress(0.0, lane=0)) == 1


def test_a_pipe_broken_while_sending_held_reports_stops_the_worker_once() -> None:
    rig = LinkRig(broken=True)
    rig.link.send(Progress(0.0, lane=0))
    rig.link.send(Progress(0.0, lane=1))
    assert rig.lost == 0
    rig.link.send_held_reports()
    rig.link.send_held_reports()
    assert rig.lost == 1


class _TimedConn(FakeConn):
    """Records each message with the fake clock's time it was sent at."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.timed: list[tuple[float, object]] = []

    def send(self, message: object) -> None:
        self.timed.append((self.clock(), message))


def _overdue_at(conn: _TimedConn, now: float, *, grace: float) -> MainThreadReport | None:
    """What the supervisor's clock says at ``now``, having heard what the link sent by then."""
    clock = MainThreadClock()
    for at, message in conn.timed:
        if at <= now:
            clock.heard(PID, message, at)
    return clock.overdue(PID, now, grace=grace)


@settings(max_examples=150)
@given(hung=st.floats(1.0, 120.0), declared=st.floats(0.0, 300.0), back_share=st.floats(0.0, 1.0),
       busy_share=st.floats(0.0, 0.99), phase=st.floats(0.0, 1.0))
def test_held_back_reports_never_make_a_returned_lane_look_stuck_and_delay_a_stuck_one_by_a_tick_at_most(
        hung: float, declared: float, back_share: float, busy_share: float, phase: float) -> None:
    """The safety argument of holding, on the supervisor's real clock rule: a lane that came back
    within its declared wait and is busy (no report) for less than ``hung_timeout`` is never
    overdue; one that never reports again is overdue by one link tick past today's rule at most."""
    alive = min(15.0, max(0.2, hung / 4))   # supervisor.spawner's alive interval
    tick = alive / 2
    fake = FakeClock(0.0)
    conn = _TimedConn(fake)
    link = SupervisorLink(conn=conn, alive_interval=alive, on_abort=lambda _: None,   # type: ignore[arg-type]
                          on_lost=lambda: None, clock=fake)
    back = declared * back_share            # seconds: when the lane is back (within its bound)
    busy_until = back + hung * busy_share   # seconds: its next report (if it is not stuck)
    ticks = [phase * tick + k * tick for k in range(int((back + 2 * hung) / tick) + 3)]
    link.send(Progress(declared, "model round 1", lane=0))
    events = sorted([(back, "back"), *((t, "tick") for t in ticks)])
    for at, event in events:
        fake.now = at
        if event == "back":
            link.send(Progress(0.0, lane=0))
        else:
            link.send_held_reports()
            link.send_alive_if_quiet()
        # never overdue while it is busy for less than hung_timeout since it came back
        for now in (at, min(at + tick, busy_until)):
            if back <= now < busy_until:
                assert _overdue_at(conn, now, grace=hung) is None, (now, conn.timed)
    stuck_seen = back + hung + tick + 1e-6   # today's rule finds it at back + hung
    assert _overdue_at(conn, stuck_seen, grace=hung) is not None
