"""What the pool does with each worker message (supervisor/pool_messages.py ``WorkerMessages``),
with its collaborators passed in explicitly: a real lease gate, recovery and roller on a fake
clock, a fake pipe per worker, and recorders for the pool's actions.
"""
from __future__ import annotations

import multiprocessing

import pytest

from shared.jobs import LeasedJob
from shared.pipe.failures import Failure, FailureClass
from shared.pipe.messages import (
    AssignJob,
    Fatal,
    JobFinished,
    JobOutcome,
    LeaseOutcome,
    LeaseRenewed,
    LeaseResult,
    Ready,
    Stop,
    WantWork,
    WorkerExit,
)
from supervisor.pool_messages import MESSAGES_PER_TURN, WorkerMessages, has_message
from supervisor.roller import Roller
from supervisor.slots import InFlightJob, SlotState
from supervisor.stopping import StopReason
from supervisor.watchdog import MainThreadClock
from tests.core.fakes import KEY, MessagesRig

EXPIRES_MS = 1_800_000_600_000


def _leased(workspace_id: str = "ws-1") -> LeaseResult:
    return LeaseResult(LeaseOutcome.LEASED, lease=LeasedJob(workspace_id=workspace_id, lease_expires_at_ms=EXPIRES_MS))


def test_a_worker_boots_leases_runs_and_finishes_a_job(rig: MessagesRig) -> None:
    slot, conn = rig.worker(Ready(pid=1), WantWork())
    rig.deliver(slot)
    assert (slot.state, rig.messages.ever_ready, slot.ready_at) == (SlotState.IDLE, True, 1.0)
    assert rig.gate.grant() == [0]          # it asked for work: the gate holds its permit
    conn.incoming.extend([_leased(), LeaseRenewed("ws-1", EXPIRES_MS + 1)])
    rig.deliver(slot)
    assert slot.state == SlotState.BUSY and list(slot.jobs) == ["ws-1"]
    job = slot.jobs["ws-1"]
    assert (job.lease.workspace_id, job.lease.lease_expires_at_ms, job.started_at) == ("ws-1", EXPIRES_MS + 1, 2.0)
    conn.incoming.append(JobFinished("ws-1", JobOutcome.COMPLETED))
    rig.deliver(slot)
    assert (slot.state, slot.jobs, slot.jobs_done, rig.messages.outcomes["completed"]) == (SlotState.IDLE, {}, 1, 1)
    assert slot.last_seen == 3.0 and rig.changes == 5


def test_a_worker_that_did_its_jobs_is_recycled_once(rig: MessagesRig) -> None:
    slot, conn = rig.worker(state=SlotState.IDLE)
    slot.recycle_after = 1
    conn.incoming.extend([_leased(), JobFinished("ws-1", JobOutcome.FAILED, "x"), WantWork()])
    rig.deliver(slot)
    assert rig.stops == [(0, "recycle")] and slot.state == SlotState.STOPPING
    assert conn.sent == [Stop(WorkerExit.RECYCLE)]


def test_while_draining_an_idle_worker_is_told_to_stop(rig: MessagesRig) -> None:
    slot, conn = rig.worker(WantWork(), state=SlotState.IDLE)
    rig.shutdown.drain(StopReason.SIGTERM, graceful_timeout=30.0)
    rig.deliver(slot)
    assert conn.sent == [Stop(WorkerExit.STOPPED)] and rig.gate.grant() == []


def test_a_recovered_job_goes_to_the_next_idle_worker_of_its_key(rig: MessagesRig) -> None:
    job = InFlightJob(lease=LeasedJob(workspace_id="ws-9", lease_expires_at_ms=EXPIRES_MS * 10), key=KEY,
                      started_at=0.0)
    rig.recovery.worker_lost(job, Failure(FailureClass.WORKER_CRASHED, "worker crashed (exit code 1)"),
                             may_retry=True)
    slot, conn = rig.worker(WantWork(), state=SlotState.IDLE)
    rig.deliver(slot)
    assert conn.sent == [AssignJob(LeasedJob(workspace_id="ws-9", lease_expires_at_ms=EXPIRES_MS * 10, attempt=2))]
    assert slot.state == SlotState.BUSY and list(slot.jobs) == ["ws-9"] and slot.jobs["ws-9"].started_at == 1.0


def test_a_rejected_key_and_last_words_are_passed_on(rig: MessagesRig) -> None:
    fatal = Fatal("bad key", WorkerExit.CREDENTIAL_REJECTED)
    slot, _ = rig.worker(LeaseResult(LeaseOutcome.REJECTED, detail="401"), fatal, state=SlotState.IDLE)
    rig.deliver(slot)
    assert rig.rejected == [(KEY, "401")] and slot.fatal == "bad key"


def test_a_model_refusal_pauses_leasing_and_a_completion_clears_it(rig: MessagesRig) -> None:
    refused = JobFinished("ws-1", JobOutcome.FAILED, "model error: 401", model_unavailable=True)
    slot, conn = rig.worker(_leased(), refused, state=SlotState.IDLE)
    rig.deliver(slot)
    assert rig.messages.model_pause.active and rig.gate.backoff_left() == 30.0
    conn.incoming.extend([_leased("ws-2"), JobFinished("ws-2", JobOutcome.COMPLETED)])
    rig.deliver(slot)
    assert not rig.messages.model_pause.active


def test_a_stopping_worker_stays_stopping_whatever_it_reports(rig: MessagesRig) -> None:
    slot, conn = rig.worker(state=SlotState.STOPPING)
    conn.incoming.extend([Ready(pid=1), WantWork()])
    rig.deliver(slot)
    assert slot.state == SlotState.STOPPING and conn.sent == [Stop(WorkerExit.STOPPED)]


def test_has_message_answers_as_connection_poll_on_a_real_pipe() -> None:
    """The loop's cheap check (one poll(2)) says what ``Connection.poll`` says: nothing yet, a message
    waiting, EOF once the worker's end is closed (so ``recv`` raises and the drain stops), and a
    closed connection raises OSError, which the drain already catches."""
    ours, theirs = multiprocessing.Pipe(duplex=True)
    assert not has_message(ours) and not ours.poll()
    theirs.send(WantWork())
    assert has_message(ours) and ours.poll()
    ours.recv()
    assert not has_message(ours)
    theirs.close()
    assert has_message(ours) and ours.poll()
    with pytest.raises(EOFError):
        ours.recv()
    ours.close()
    with pytest.raises(OSError):
        has_message(ours)


def test_a_real_pipe_is_drained_up_to_the_turn_limit_and_then_to_the_end(rig: MessagesRig) -> None:
    """Through the default check: a real worker pipe's messages are all handled, at most
    ``MESSAGES_PER_TURN`` per turn, and a drain of a pipe whose worker has gone returns quietly."""
    messages = WorkerMessages(slots=rig.slots, gate=rig.gate, recovery=rig.recovery, roller=Roller(),
                              main_thread=MainThreadClock(), shutdown=rig.shutdown, request_stop=rig._stop,
                              key_rejected=lambda *args: None, changed=rig._changed, clock=rig.clock)
    ours, theirs = multiprocessing.Pipe(duplex=True)
    slot, _ = rig.worker(state=SlotState.IDLE)
    slot.conn = ours
    for _ in range(MESSAGES_PER_TURN + 5):
        theirs.send(LeaseRenewed("ws-none", EXPIRES_MS))   # changes /status, so each one is counted
    messages.read({ours}, [slot])
    assert rig.changes == MESSAGES_PER_TURN and ours.poll()
    rig.clock.advance(1.0)
    messages.read({ours}, [slot])
    assert rig.changes == MESSAGES_PER_TURN + 5 and not ours.poll() and slot.last_seen == 1.0
    theirs.close()
    messages.drain(slot, limit=None)
    assert rig.changes == MESSAGES_PER_TURN + 5
    ours.close()
