"""Job lanes (``pool.jobs_per_worker``): every rule on fakes and fake clocks, no wall-clock timing.

A worker runs N lanes; each lane asks for work, leases and reports on its own, and its
messages name it. The supervisor counts lanes as lease-gate seats, holds each lane's job,
clocks each lane's progress, and shows busy and free job slots.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config.sections import MAX_JOBS_PER_WORKER, PoolConfig
from shared.jobs import LeasedJob
from shared.pipe import liveness
from shared.pipe.failures import Failure, FailureClass
from shared.pipe.messages import (
    AssignJob,
    JobFinished,
    JobOutcome,
    LeaseOutcome,
    LeasePermit,
    LeaseResult,
    Progress,
    Ready,
    Stop,
    WantWork,
    WorkerExit,
)
from supervisor.observability.snapshot import PoolSnapshot, WorkerView
from supervisor.slots import InFlightJob, SlotState, seat, slot_of
from supervisor.watchdog import MainThreadClock, Watchdog
from tests.core.fakes import PID, LinkRig, MessagesRig, live_slot
from workers.lanes import lanes_for, run_lanes
from workers.logs import JobTag

HUNG = 10.0   # seconds: pool.hung_timeout
EXPIRES_MS = 1_800_000_600_000


def _leased(workspace_id: str, lane: int) -> LeaseResult:
    return LeaseResult(LeaseOutcome.LEASED, lease=LeasedJob(workspace_id=workspace_id, lease_expires_at_ms=EXPIRES_MS),
                       lane=lane)


# --- the supervisor: seats, slots, gate ---------------------------------------------------------

@settings(max_examples=50)
@given(st.integers(min_value=0, max_value=512), st.integers(min_value=0, max_value=MAX_JOBS_PER_WORKER - 1))
def test_a_seat_names_one_lane_of_one_slot(slot: int, lane: int) -> None:
    assert slot_of(seat(slot, lane)) == (slot, lane)


def test_a_worker_with_three_lanes_asks_for_three_permits_and_holds_three_jobs(rig: MessagesRig) -> None:
    rig.gate.resize(burst=3, rate=10.0)
    slot, conn = rig.worker(Ready(pid=1, jobs=3), WantWork(lane=0), WantWork(lane=1), WantWork(lane=2))
    rig.deliver(slot)
    assert slot.lanes == 3 and list(slot.seats()) == [seat(0, 0), seat(0, 1), seat(0, 2)]
    assert rig.gate.grant() == [seat(0, 0)]          # slow start: one request first
    conn.incoming.append(_leased("ws-1", 0))
    rig.deliver(slot)
    assert rig.gate.grant() == [seat(0, 1), seat(0, 2)]   # a success doubles it: the other two lanes lease
    assert rig.gate.grant() == []                         # one permit per lane that asked, no more
    conn.incoming.extend([_leased("ws-2", 1), _leased("ws-3", 2)])
    rig.deliver(slot)
    assert slot.state == SlotState.BUSY and list(slot.jobs) == ["ws-1", "ws-2", "ws-3"]

    conn.incoming.extend([JobFinished("ws-2", JobOutcome.COMPLETED, lane=1), WantWork(lane=1)])
    rig.deliver(slot)
    assert (slot.state, list(slot.jobs), slot.jobs_done) == (SlotState.BUSY, ["ws-1", "ws-3"], 1)
    assert rig.gate.grant() == [seat(0, 1)]   # the freed lane asks again, the others still work


def test_a_recovered_job_goes_back_to_the_lane_that_asked(rig: MessagesRig) -> None:
    job = InFlightJob(lease=LeasedJob(workspace_id="ws-9", lease_expires_at_ms=EXPIRES_MS * 10), key="k.s",
                      started_at=0.0)
    rig.recovery.worker_lost(job, Failure(FailureClass.WORKER_CRASHED, "worker crashed"), may_retry=True)
    slot, conn = rig.worker(Ready(pid=1, jobs=4), WantWork(lane=3))
    rig.deliver(slot)
    assert conn.sent == [AssignJob(LeasedJob(workspace_id="ws-9", lease_expires_at_ms=EXPIRES_MS * 10, attempt=2),
                                   lane=3)]


def test_recycling_waits_for_every_job_of_the_worker(rig: MessagesRig) -> None:
    slot, conn = rig.worker(Ready(pid=1, jobs=2), state=SlotState.STARTING)
    slot.recycle_after = 1
    conn.incoming.extend([_leased("ws-1", 0), _leased("ws-2", 1), JobFinished("ws-1", JobOutcome.COMPLETED)])
    rig.deliver(slot)
    assert rig.stops == [(0, "recycle")]
    assert (slot.state, list(slot.jobs)) == (SlotState.BUSY, ["ws-2"])   # asked to stop, its other job runs on
    conn.incoming.extend([WantWork(lane=0), JobFinished("ws-2", JobOutcome.COMPLETED, lane=1), WantWork(lane=1)])
    rig.deliver(slot)
    assert slot.jobs == {} and conn.sent == [Stop(WorkerExit.RECYCLE), Stop(WorkerExit.RECYCLE)]


# --- the watchdog: one clock per lane ---------------------------------------------------------------

def test_a_stuck_job_lane_is_caught_while_the_other_lanes_keep_reporting() -> None:
    watchdog = Watchdog(pool=PoolConfig(hung_timeout=HUNG), recycle=lambda *_: None)
    slot = live_slot(now=0.0)
    clock = watchdog.main_thread
    clock.heard(PID, Progress(within=60.0, what="model round 1", lane=2), 0.0)
    for now in range(0, 70, 5):   # lane 0 keeps coming back, and the link thread keeps the process alive
        clock.heard(PID, Progress(within=0.0, lane=0), float(now))
        slot.last_seen = float(now)
        watchdog.check([slot], float(now))
    assert slot.term_sent_at is None
    slot.last_seen = 70.5
    clock.heard(PID, Progress(within=0.0, lane=0), 70.5)
    watchdog.check([slot], 70.5)    # lane 2: 0 + 60 declared + 10 grace
    assert slot.stop_reason == "stuck"


def test_each_lane_waiting_for_the_supervisor_is_exempt_on_its_own() -> None:
    clock = MainThreadClock()
    clock.heard(PID, Ready(pid=PID, jobs=2), 0.0)
    clock.heard(PID, WantWork(lane=0), 0.1)
    clock.heard(PID, LeaseResult(LeaseOutcome.EMPTY, lane=1), 0.2)
    assert clock.overdue(PID, 10.5, grace=HUNG) is not None    # lane 1 came back and said nothing since
    clock.heard(PID, WantWork(lane=1), 10.5)
    assert clock.overdue(PID, 10_000.0, grace=HUNG) is None    # both lanes wait for the supervisor
    clock.heard(PID, JobFinished("ws-1", JobOutcome.COMPLETED, lane=1), 10_000.0)
    assert clock.overdue(PID, 10_011.0, grace=HUNG) is not None


def test_the_deadline_rule_watches_the_oldest_of_a_workers_jobs() -> None:
    watchdog = Watchdog(pool=PoolConfig(hung_timeout=HUNG, job_timeout=100.0), recycle=lambda *_: None)
    slot = live_slot(now=0.0)
    for workspace_id, started in (("ws-new", 50.0), ("ws-old", 10.0)):
        slot.jobs[workspace_id] = InFlightJob(lease=LeasedJob(workspace_id=workspace_id, lease_expires_at_ms=0),
                                              key="k.s", started_at=started)
    slot.last_seen = 140.0
    watchdog.check([slot], 140.0)
    assert slot.term_sent_at is None
    slot.last_seen = 140.5
    watchdog.check([slot], 140.5)   # ws-old: 10 + 100 + 30 grace
    assert slot.stop_reason == "deadline"


# --- /status and the job_slots metric ------------------------------------------------------------

def test_job_slots_count_busy_and_free_lanes_of_ready_workers_only() -> None:
    busy = live_slot(0, state=SlotState.IDLE)
    busy.lanes = 4
    for workspace_id in ("ws-1", "ws-2"):
        busy.assigned(InFlightJob(lease=LeasedJob(workspace_id=workspace_id, lease_expires_at_ms=0, attempt=2),
                                  key="k.s", started_at=1.0))
    starting = live_slot(1, state=SlotState.STARTING)
    starting.lanes = 4
    views = tuple(WorkerView.of(slot, now=3.5) for slot in (busy, starting))
    snapshot = PoolSnapshot(workers=views, taken_at=3.5)   # built by the loop at 3.5
    assert snapshot.job_slot_counts() == {"busy": 2, "free": 2}
    worker = snapshot.to_json(now=3.5)["workers"][0]
    assert list(worker["jobs"]) == [{"workspaceId": "ws-1", "attempt": 2, "running_seconds": 2.5},
                                    {"workspaceId": "ws-2", "attempt": 2, "running_seconds": 2.5}]
    later = snapshot.to_json(now=5.5)["workers"][0]   # read 2 s after it was built: aged to the read
    assert [job["running_seconds"] for job in later["jobs"]] == [4.5, 4.5]
    assert (worker["workspaceId"], worker["attempt"], worker["job_slots"]) == ("ws-1", 2, 4)


# --- the worker: link, liveness, log tags, lanes ---------------------------------------------------

def test_permits_reach_the_lane_they_name_and_stop_reaches_every_lane() -> None:
    link = LinkRig(LeasePermit(lane=1), LeasePermit(lane=0)).link
    link._receive()
    assert link.next_work(2, timeout=0) is None
    assert [link.next_work(1, timeout=0), link.next_work(0, timeout=0)] == [LeasePermit(lane=1), LeasePermit(lane=0)]

    link = LinkRig(Stop(WorkerExit.RECYCLE)).link
    assert link.next_work(2, timeout=0) is None    # lane 2 waited before the Stop came: its queue gets it
    link._receive()
    assert link.next_work(2, timeout=0) == Stop(WorkerExit.RECYCLE)
    assert link.next_work(5, timeout=0) == Stop(WorkerExit.RECYCLE)   # a lane that never waited before


def test_a_job_lane_thread_reports_its_waits_under_its_lane(sent: list[Progress]) -> None:
    def lane_thread() -> None:
        liveness.enter_lane(3)
        with liveness.bounded_wait(30.0, what="POST /getWorkspaceRunnerContext"):
            pass

    thread = threading.Thread(target=lane_thread)
    thread.start()
    thread.join()
    assert [(m.within, m.what, m.lane) for m in sent] == [(30.0, "POST /getWorkspaceRunnerContext", 3),
                                                          (0.0, "", 3)]


def test_the_job_tag_belongs_to_the_thread_that_set_it() -> None:
    seen: list[str] = []
    JobTag.workspace_id = "ws-main"

    def other() -> None:
        seen.append(JobTag.workspace_id)
        JobTag.workspace_id = "ws-other"
        seen.append(JobTag.workspace_id)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen == ["-", "ws-other"] and JobTag.workspace_id == "ws-main"
    JobTag.workspace_id = "-"


class _Handle:
    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)


@pytest.mark.parametrize(("handle", "wanted", "lanes", "logged"), [
    (_Handle(concurrent_sessions=True), 8, 8, None),
    (_Handle(concurrent_sessions=False), 8, 1, "cannot run sessions concurrently"),
    (_Handle(), 8, 1, "does not declare concurrent_sessions"),
    (_Handle(), 1, 1, None),
])
def test_a_handle_runs_as_many_lanes_as_it_declares(handle: Any, wanted: int, lanes: int, logged: str | None,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="xenon.worker"):
        assert lanes_for(handle, wanted=wanted, model_name="plugins.mine:make") == lanes
    if logged is None:
        assert caplog.records == []
    else:
        [record] = caplog.records
        assert logged in record.getMessage() and "plugins.mine:make" in record.getMessage()
        assert "pool.jobs_per_worker=8" in record.getMessage()


class _Loop:
    """A ``LeaseLoop`` stand-in for ``run_lanes``: returns ``outcome`` as its exit code, or raises it."""

    def __init__(self, lane: int, outcome: int | BaseException) -> None:
        self.lane, self._outcome = lane, outcome

    def run(self) -> int:
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        return self._outcome


def test_lane_0_returns_the_exit_code_and_a_lane_that_must_end_the_worker_ends_it() -> None:
    exits: list[int] = []
    loops: list[Any] = [_Loop(0, WorkerExit.RECYCLE), _Loop(1, 0)]
    assert run_lanes(loops, exit_now=exits.append) == WorkerExit.RECYCLE
    assert exits == []
    loops = [_Loop(0, 0), _Loop(1, SystemExit(WorkerExit.CREDENTIAL_REJECTED)), _Loop(2, RuntimeError("bug"))]
    run_lanes(loops, exit_now=exits.append)
    assert sorted(exits) == [1, WorkerExit.CREDENTIAL_REJECTED]


def test_the_network_handles_declare_concurrent_sessions_and_llama_cpp_does_not() -> None:
    from workers.models.builtin import BuiltinModelHandle
    from workers.models.llama_cpp_handle import LlamaCppHandle
    from workers.models.openai_chat import OpenAIChatHandle
    from workers.models.openai_responses import OpenAIResponsesHandle

    assert [handle.concurrent_sessions for handle in (OpenAIResponsesHandle, OpenAIChatHandle, BuiltinModelHandle)] \
        == [True, True, True]
    assert LlamaCppHandle.concurrent_sessions is False
